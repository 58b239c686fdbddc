//! A request whose writes changed public pages says which, by their surrogate keys, in
//! `X-Purge-Keys`: the balancer in front purges them before the answer goes on. The keys
//! come from the writes themselves (`domain::write`), so every way in — forms, the upload
//! API, direct uploads — names what it changed without knowing the pages.
//!
//! Every answer says where the log stood when it began (`X-Bus-Seq`). Before an answer
//! to a write goes, this replica also applies the invalidation log up to its own
//! write, so that the visitor's next request here (the page the form redirects to) never
//! comes from a read cache older than what they just wrote.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::HeaderValue,
    middleware::Next,
    response::Response,
};
use contract::header::{BUS_SEQ, PURGE_KEYS};
use domain::bus::Bus;

pub async fn name(State(bus): State<Arc<Bus>>, req: Request, next: Next) -> Response {
    // Where the log stood before anything was read for this answer: a balancer on the
    // bus will not keep the answer under a key purged after that.
    let made_at = HeaderValue::from(bus.cursor());
    let (mut res, changed) = domain::write::collecting(next.run(req)).await;
    res.headers_mut().insert(&BUS_SEQ, made_at);
    if changed.is_empty() {
        return res;
    }
    if let Err(e) = bus.catch_up().await {
        tracing::warn!(error = %e, "the invalidation log could not be read after a write");
    }
    if let Ok(keys) = HeaderValue::from_str(&contract::key::join(&changed)) {
        res.headers_mut().insert(&PURGE_KEYS, keys);
    }
    res
}
