//! The last word on `Cache-Control` (DESIGN.md, cache contract). A page may ask to be
//! public; it stays public only when the request was an anonymous GET or HEAD and the
//! response is a success that sets no cookie. Everything else is `private, no-store`, and
//! `Surrogate-Key` only travels on responses a shared cache may keep, and neither do
//! `CDN-Cache-Control` or `Surrogate-Control`.

use app::ssr::{
    cache::{PRIVATE, SURROGATE_KEY},
    cookies::{SESSION_COOKIE, request_cookie},
};
use axum::{
    extract::Request,
    http::{
        HeaderName, HeaderValue, Method,
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
        let h = res.headers_mut();
        h.insert(CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        h.remove(SURROGATE_KEY);
        // A CDN or a balancer obeys these before Cache-Control (RFC 9213): a private
        // answer must not keep them.
        h.remove(CDN_CACHE_CONTROL);
        h.remove(SURROGATE_CONTROL);
    }
    res
}

const CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");
const SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");

#[cfg(test)]
mod tests {
    use axum::{Router, body::Body, http::Request, middleware, routing::get};
    use tower::ServiceExt;

    /// A page that asks for every kind of shared caching.
    async fn greedy() -> impl axum::response::IntoResponse {
        (
            [
                ("cache-control", "public, s-maxage=60"),
                ("cdn-cache-control", "max-age=600"),
                ("surrogate-control", "max-age=600"),
                ("surrogate-key", "catalog"),
            ],
            "page",
        )
    }

    #[tokio::test]
    async fn a_personal_answer_keeps_no_shared_caching_header_of_any_kind() {
        let app = Router::new()
            .route("/", get(greedy))
            .layer(middleware::from_fn(super::apply));
        let personal = Request::get("/")
            .header("cookie", "ambisonia_session=abc")
            .body(Body::empty())
            .unwrap_or_default();
        let res = app.clone().oneshot(personal).await.unwrap_or_default();
        let h = res.headers();
        assert_eq!(
            h.get("cache-control").map(|v| v.as_bytes()),
            Some(&b"private, no-store"[..])
        );
        for gone in ["cdn-cache-control", "surrogate-control", "surrogate-key"] {
            assert!(h.get(gone).is_none(), "{gone}");
        }
        let anonymous = Request::get("/").body(Body::empty()).unwrap_or_default();
        let res = app.oneshot(anonymous).await.unwrap_or_default();
        assert!(
            res.headers().get("cdn-cache-control").is_some(),
            "an anonymous page keeps them"
        );
    }
}
