//! A request whose writes changed public pages says which, by their surrogate keys, in
//! `X-Purge-Keys`: the balancer in front purges them before the answer goes on. The keys
//! come from the writes themselves (`domain::changes`), so every way in — forms, the upload
//! API, direct uploads — names what it changed without knowing the pages.

use axum::{extract::Request, http::HeaderValue, middleware::Next, response::Response};
use balancer::cache::PURGE_KEYS;

pub async fn name(req: Request, next: Next) -> Response {
    let (mut res, changed) = domain::changes::collecting(next.run(req)).await;
    if !changed.is_empty()
        && let Ok(keys) = HeaderValue::from_str(&changed.join(" "))
    {
        res.headers_mut().insert(&PURGE_KEYS, keys);
    }
    res
}
