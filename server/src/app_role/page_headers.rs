//! Security headers on every response (security by default): no content sniffing,
//! no framing (but for the embeddable player, marked [`Framable`]), referrers only to this site in full, HSTS when the site is served over
//! https, and on HTML a Content-Security-Policy — the shell's, which names its render's
//! nonce, or for pages made outside Leptos (refusals, plain 404s) the same policy without
//! one, which no inline script passes.

use app::ssr::headers::content_security_policy;
use axum::{
    extract::{Request, State},
    http::{
        HeaderValue,
        header::{
            CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
            X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
        },
    },
    middleware::Next,
    response::Response,
};

/// Marks an answer that other sites may frame (the embeddable player): its own
/// Content-Security-Policy says who (`frame-ancestors`), and no `X-Frame-Options` overrides it.
#[derive(Debug, Clone, Copy)]
pub struct Framable;

#[derive(Clone)]
pub struct PageHeaders {
    /// The policy for HTML without a nonce of its own.
    fallback_policy: HeaderValue,
    https: bool,
}

impl PageHeaders {
    pub fn new(
        https: bool,
        media_origin: Option<&str>,
        payment_origins: Option<&str>,
        tile_origin: Option<&str>,
    ) -> Self {
        let policy = content_security_policy(None, media_origin, payment_origins, tile_origin);
        Self {
            fallback_policy: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")),
            https,
        }
    }
}

pub async fn apply(State(p): State<PageHeaders>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let framable = res.extensions().get::<Framable>().is_some();
    let h = res.headers_mut();
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !framable {
        h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    if p.https {
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    let html = h
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !h.contains_key(CONTENT_SECURITY_POLICY) {
        h.insert(CONTENT_SECURITY_POLICY, p.fallback_policy.clone());
    }
    res
}
