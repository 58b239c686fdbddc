//! The last word on `Cache-Control` (DESIGN.md, cache contract). A page may ask to be
//! public; it stays public only when the request was an anonymous GET or HEAD and the
//! response is a success that sets no cookie. Everything else is `private, no-store`, and
//! `Surrogate-Key` only travels on responses a shared cache may keep.

use app::ssr::{
    cache::{PRIVATE, SURROGATE_KEY},
    cookies::{SESSION_COOKIE, request_cookie},
};
use axum::{
    extract::Request,
    http::{
        HeaderValue, Method,
        header::{AUTHORIZATION, CACHE_CONTROL, SET_COOKIE},
    },
    middleware::Next,
    response::Response,
};

pub async fn apply(req: Request, next: Next) -> Response {
    let anonymous = !req.headers().contains_key(AUTHORIZATION)
        && request_cookie(req.headers(), SESSION_COOKIE).is_none();
    let safe_method = matches!(*req.method(), Method::GET | Method::HEAD);
    let mut res = next.run(req).await;
    let declared_public = res
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("public"));
    let shareable = anonymous
        && safe_method
        && declared_public
        && res.status().is_success()
        && !res.headers().contains_key(SET_COOKIE);
    if !shareable {
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        res.headers_mut().remove(SURROGATE_KEY);
    }
    res
}
