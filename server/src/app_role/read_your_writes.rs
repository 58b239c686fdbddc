//! Read replicas with read-your-writes (`domain::replica`): the answer to a request that may
//! have written (any method but GET/HEAD/OPTIONS) carries the primary's log position, so
//! that the visitor's next own-page reads (`AppState::own_reads`) go to the replica only
//! once it has replayed that far. Without a replica this does nothing.

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

pub async fn remember(State(r): State<Routing>, req: Request, next: Next) -> Response {
    let may_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !may_write || !r.reads.has_replica() {
        return next.run(req).await;
    }
    let after = request_cookie(req.headers(), WROTE_AT_COOKIE).and_then(Lsn::parse);
    let mut res = next.run(req).await;
    if let Some(lsn) = r.reads.written_up_to().await
        && after.is_none_or(|a| lsn > a)
        && let Ok(cookie) = HeaderValue::from_str(&wrote_at_cookie(lsn, r.secure_cookies))
    {
        res.headers_mut().append(SET_COOKIE, cookie);
    }
    res
}
