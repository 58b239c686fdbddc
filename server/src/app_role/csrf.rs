//! May they post this? Every state-changing request (anything but GET, HEAD and OPTIONS)
//! must come from this site (`Sec-Fetch-Site` and `Origin`, when the browser sends them) and
//! carry the form token the `session` step chose for it: the session's for a logged-in
//! visitor, or the one in the anonymous token cookie (double submit, signed by this site)
//! for the log-in and register forms — never a token the request made up for both. Otherwise it is refused
//! with 403 before anything runs, so nothing changes.

use app::ssr::request::RequestContext;
use axum::{
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header::CONTENT_TYPE, header::HOST, header::ORIGIN},
    middleware::Next,
    response::Response,
};

use super::{forms, refusal::Refusal};

/// Forms are small; anything bigger is not a form this site renders.
const MAX_FORM_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct FormTokens {
    pub public_url: String,
}

/// The request comes from a page of this site: the browser says so (`Sec-Fetch-Site`), or
/// its `Origin` is this host or the public URL. Clients that send neither (scripts) pass
/// here and are held to the token alone.
fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin == public_url {
        return true;
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(HOST))
        .and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

fn refuse(status: StatusCode, why: &str) -> Response {
    tracing::warn!(reason = why, "request refused");
    Refusal::new(status, why).form_page()
}

pub async fn check(State(t): State<FormTokens>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if !same_origin(req.headers(), &t.public_url) {
        return refuse(
            StatusCode::FORBIDDEN,
            "It was sent from another site. Go back to the page on this site, reload it and try again.",
        );
    }
    let Some(ctx) = req.extensions().get::<RequestContext>().cloned() else {
        tracing::error!("the csrf step ran before the session step");
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, "Please try again.");
    };
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (parts, body) = req.into_parts();
    let (sent, body) = if content_type.starts_with("application/x-www-form-urlencoded") {
        let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
            return refuse(StatusCode::PAYLOAD_TOO_LARGE, "The form was too large.");
        };
        (forms::field(&bytes, "csrf"), Body::from(bytes))
    } else {
        // A multipart form (an upload) cannot be read here without holding the file: its
        // form names the token in the action's query instead. The request log writes paths
        // without queries, so the token stays out of logs.
        let header = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| {
                content_type
                    .starts_with("multipart/form-data")
                    .then(|| {
                        parts
                            .uri
                            .query()
                            .and_then(|q| forms::field(q.as_bytes(), "csrf"))
                    })
                    .flatten()
            });
        (header, body)
    };
    // A token made for this very request was never handed out: nothing can match it.
    let expected = (ctx.viewer.is_some() || !ctx.csrf_is_new).then_some(ctx.csrf.as_str());
    let ok =
        matches!((expected, sent.as_deref()), (Some(e), Some(s)) if domain::secret::same(e, s));
    if !ok {
        return refuse(
            StatusCode::FORBIDDEN,
            "Its security token was missing or out of date. Go back, reload the page and try again.",
        );
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("localhost:3000"));
        assert!(same_origin(&h, "http://127.0.0.1:3000"));
        h.insert(ORIGIN, HeaderValue::from_static("http://localhost:3000"));
        assert!(same_origin(&h, "http://127.0.0.1:3000"));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h, "http://127.0.0.1:3000"));
        let mut h = HeaderMap::new();
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h, "http://127.0.0.1:3000"));
    }
}
