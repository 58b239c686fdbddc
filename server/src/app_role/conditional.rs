//! Validators for everything a shared cache may keep (pages, feeds, cover art, torrents):
//! a strong `ETag` — a digest of the body — and a `Last-Modified` (the feed's newest entry,
//! or when the answer was made), and `304 Not Modified` for a conditional `GET` or `HEAD`
//! whose validator still holds (RFC 9110 §13: `If-None-Match` first, weak comparison;
//! `If-Modified-Since` only without it). The balancer keeps the validators with its copy,
//! answers clients' conditional requests from it, and revalidates a stale copy with them.
//!
//! A page's Content-Security-Policy names a nonce, drawn per render, that its inline
//! scripts carry; two renders of the same page would differ in it and no validator would
//! ever match. So a shareable page's nonce is made from the page itself: the digest of the
//! page with the nonce blanked out. The same page gets the same bytes, while markup that
//! someone slipped into a page changes the page and so its nonce, which they cannot know
//! beforehand.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{
        HeaderMap, HeaderValue, Method, StatusCode,
        header::{
            CACHE_CONTROL, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
            IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
        },
    },
    middleware::Next,
    response::Response,
};
use sha2::{Digest, Sha256};

/// The largest answer given validators (pages and feeds are far smaller; media is never
/// buffered: its types are not in [`validated`]).
const MAX_BODY: usize = 16 * 1024 * 1024;

pub async fn validate(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let asked = Asked::of(req.headers());
    let res = next.run(req).await;
    if res.status() != StatusCode::OK
        || res.headers().contains_key(ETAG)
        || !shared(res.headers())
        || !validated(res.headers())
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "a shareable answer could not be read to give it validators");
            return Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .body(Body::empty())
                .unwrap_or_default();
        }
    };
    let (body, digest) = settle_nonce(&mut parts.headers, body);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        parts.headers.insert(ETAG, v);
    }
    if !parts.headers.contains_key(LAST_MODIFIED)
        && let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now()))
    {
        parts.headers.insert(LAST_MODIFIED, v);
    }
    if asked.still_fresh(&etag, parts.headers.get(LAST_MODIFIED)) {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, Body::from(body))
}

/// The request's preconditions.
struct Asked {
    none_match: Option<String>,
    modified_since: Option<std::time::SystemTime>,
}

impl Asked {
    fn of(h: &HeaderMap) -> Self {
        Self {
            none_match: h
                .get(IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            modified_since: h
                .get(IF_MODIFIED_SINCE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| httpdate::parse_http_date(v).ok()),
        }
    }

    /// Whether the client's copy is the current one.
    fn still_fresh(&self, etag: &str, modified: Option<&HeaderValue>) -> bool {
        if let Some(list) = &self.none_match {
            let weak = |t: &str| t.trim().trim_start_matches("W/").to_string();
            return list
                .split(',')
                .any(|t| t.trim() == "*" || weak(t) == weak(etag));
        }
        let modified = modified
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        // Only the date this answer carries: a feed's date is its newest entry's, which can
        // move back when an entry leaves it, so an earlier or later date proves nothing.
        matches!((self.modified_since, modified), (Some(since), Some(m)) if m == since)
    }
}

/// A shared cache may keep it (the cache policy has had its say by now).
fn shared(h: &HeaderMap) -> bool {
    h.get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|d| d.trim() == "public"))
}

/// Pages, feeds, JSON, pictures made here and torrents: small answers, read whole.
fn validated(h: &HeaderMap) -> bool {
    let ct = h
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    ct.starts_with("text/")
        || ct.starts_with("application/rss+xml")
        || ct.starts_with("application/atom+xml")
        || ct.starts_with("application/json")
        || ct.starts_with("application/geo+json")
        || ct.starts_with("application/x-bittorrent")
        || ct.starts_with("image/png")
        || ct.starts_with("image/svg+xml")
}

/// Replaces a page's per-render nonce by one made from the page, in the body and in its
/// policy; the body's digest either way.
fn settle_nonce(h: &mut HeaderMap, body: bytes::Bytes) -> (bytes::Bytes, [u8; 32]) {
    let nonce = h
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .and_then(|p| p.split("'nonce-").nth(1))
        .and_then(|rest| rest.split('\'').next())
        .filter(|n| n.len() >= 8)
        .map(str::to_owned);
    let Some(nonce) = nonce else {
        return (body.clone(), Sha256::digest(&body).into());
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return (body.clone(), Sha256::digest(&body).into());
    };
    let blank = text.replace(&nonce, "");
    let digest: [u8; 32] = Sha256::digest(blank.as_bytes()).into();
    let settled = hex::encode(&digest[16..]);
    let policy = h
        .get(CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|p| p.replace(&nonce, &settled))
        .and_then(|p| HeaderValue::from_str(&p).ok());
    if let Some(p) = policy {
        h.insert(CONTENT_SECURITY_POLICY, p);
    }
    let body = bytes::Bytes::from(text.replace(&nonce, &settled));
    h.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    (body, digest)
}

#[cfg(test)]
mod tests {
    use axum::{Router, middleware, routing::get};
    use tower::ServiceExt;

    use super::*;

    /// A page drawn with a fresh nonce each time, as Leptos does.
    async fn page() -> Response {
        let n = format!("{:032x}", rand::random::<u128>());
        Response::builder()
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .header(CACHE_CONTROL, "public, max-age=0, s-maxage=60")
            .header(LAST_MODIFIED, "Thu, 01 Jan 2026 00:00:00 GMT")
            .header(
                CONTENT_SECURITY_POLICY,
                format!("script-src 'self' 'nonce-{n}'"),
            )
            .body(Body::from(format!(
                "<p>hi</p><script nonce=\"{n}\">go()</script>"
            )))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    async fn get_with(app: &Router, header: Option<(&str, &str)>) -> Response {
        let mut req = axum::http::Request::get("/")
            .body(Body::empty())
            .unwrap_or_else(|e| panic!("{e:?}"));
        if let Some((k, v)) = header {
            req.headers_mut().insert(
                axum::http::HeaderName::from_bytes(k.as_bytes())
                    .unwrap_or_else(|e| panic!("{e:?}")),
                v.parse().unwrap_or_else(|e| panic!("{e:?}")),
            );
        }
        app.clone()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[tokio::test]
    async fn the_same_page_has_the_same_bytes_and_etag_and_answers_304_to_it() {
        let app = Router::new()
            .route("/", get(page))
            .layer(middleware::from_fn(validate));
        let (a, b) = (get_with(&app, None).await, get_with(&app, None).await);
        let etag = a.headers()[ETAG].clone();
        assert_eq!(etag, b.headers()[ETAG]);
        assert!(a.headers().contains_key(LAST_MODIFIED));
        let policy = a.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap_or_else(|e| panic!("{e:?}"))
            .to_owned();
        let body = to_bytes(a.into_body(), 1 << 20)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .unwrap_or_default()
            .trim_end_matches('\'');
        assert!(
            std::str::from_utf8(&body)
                .unwrap_or_else(|e| panic!("{e:?}"))
                .contains(&format!("nonce=\"{nonce}\"")),
            "the script still carries the policy's nonce"
        );
        let again = get_with(
            &app,
            Some((
                "if-none-match",
                etag.to_str().unwrap_or_else(|e| panic!("{e:?}")),
            )),
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[ETAG], etag);
        assert!(
            to_bytes(again.into_body(), 1)
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
                .is_empty()
        );
        // If-Modified-Since: the date the answer carries, and no other.
        let modified = b.headers()[LAST_MODIFIED]
            .to_str()
            .unwrap_or_else(|e| panic!("{e:?}"))
            .to_owned();
        let same = get_with(&app, Some(("if-modified-since", modified.as_str()))).await;
        assert_eq!(same.status(), StatusCode::NOT_MODIFIED);
        let later = get_with(
            &app,
            Some(("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT")),
        )
        .await;
        assert_eq!(later.status(), StatusCode::OK);
        let other = get_with(&app, Some(("if-none-match", "\"something-else\""))).await;
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn private_answers_get_no_validators() {
        async fn private() -> Response {
            Response::builder()
                .header(CONTENT_TYPE, "text/html")
                .header(CACHE_CONTROL, "private, no-store")
                .body(Body::from("mine"))
                .unwrap_or_else(|e| panic!("{e:?}"))
        }
        let app = Router::new()
            .route("/", get(private))
            .layer(middleware::from_fn(validate));
        let res = get_with(&app, Some(("if-none-match", "*"))).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(!res.headers().contains_key(ETAG));
    }
}
