//! Read replicas with read-your-writes (`domain::replica`): each request is told where its
//! own-page reads go — the replica once it has replayed the visitor's last write (the
//! `ambisonia_wrote_at` cookie), else the primary — and the answer to a request that may
//! have written (any method but GET/HEAD/OPTIONS) carries the primary's log position for the
//! visitor's next requests. Without a replica this does nothing.

use std::sync::Arc;

use app::ssr::cookies::{WROTE_AT_COOKIE, request_cookie, wrote_at_cookie};
use axum::{
    extract::{Request, State},
    http::{HeaderValue, Method, header::SET_COOKIE},
    middleware::Next,
    response::Response,
};
use domain::replica::{Lsn, Reads};

#[derive(Clone)]
pub struct Routing {
    pub reads: Arc<Reads>,
    pub secure_cookies: bool,
}

pub async fn route(State(r): State<Routing>, mut req: Request, next: Next) -> Response {
    if !r.reads.has_replica() {
        return next.run(req).await;
    }
    let after = request_cookie(req.headers(), WROTE_AT_COOKIE).and_then(Lsn::parse);
    let may_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let from = r.reads.choose(after).await;
    req.extensions_mut().insert(from);
    let mut res = next.run(req).await;
    if may_write
        && let Some(lsn) = r.reads.written_up_to().await
        && after.is_none_or(|a| lsn > a)
        && let Ok(cookie) = HeaderValue::from_str(&wrote_at_cookie(lsn, r.secure_cookies))
    {
        res.headers_mut().append(SET_COOKIE, cookie);
    }
    res
}
