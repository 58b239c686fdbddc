//! The last word on `Cache-Control` (the cache contract, `contract::policy`). A page may ask
//! to be public; it stays public only when the request was an anonymous GET or HEAD and the
//! response is a success that sets no cookie. Everything else is made private, without
//! surrogate keys or any header a CDN or balancer obeys before `Cache-Control`.

use axum::{extract::Request, middleware::Next, response::Response};
use contract::policy;

pub async fn apply(req: Request, next: Next) -> Response {
    let (method, headers) = (req.method().clone(), req.headers().clone());
    let mut res = next.run(req).await;
    if !policy::shareable(&method, &headers, res.status(), res.headers()) {
        policy::make_private(res.headers_mut());
    }
    res
}

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
