//! Who is asking, and may they post this?
//!
//! Before a page or server function runs, this resolves the session cookie to a viewer
//! (one indexed lookup, only when the cookie is there), picks the form token, works out the
//! client address, and puts all of it into the request as a `RequestContext`.
//!
//! Every state-changing request (anything but GET, HEAD and OPTIONS) must come from this
//! site (`Sec-Fetch-Site` and `Origin`, when the browser sends them) and carry the form
//! token: the session's for a logged-in visitor, or the one in the anonymous token cookie
//! (double submit) for the log-in and register forms. Otherwise it is refused with 403
//! before anything runs, so nothing changes.

use std::net::SocketAddr;

use app::ssr::{
    cookies::{self, CSRF_COOKIE, SESSION_COOKIE},
    request::RequestContext,
};
use axum::{
    body::{Body, to_bytes},
    extract::{ConnectInfo, Request, State},
    http::{
        HeaderMap, HeaderValue, Method, StatusCode,
        header::{CONTENT_TYPE, HOST, ORIGIN, SET_COOKIE},
    },
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use domain::db::Db;
use domain::sessions;

/// Forms are small; anything bigger is not a form this site renders.
const MAX_FORM_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct SecurityState {
    pub db: Db,
    /// Sessions are resolved through this replica's read cache.
    pub bus: std::sync::Arc<domain::bus::Bus>,
    pub public_url: String,
    pub secure_cookies: bool,
    pub proxies: balancer::TrustedProxies,
}

/// The client's address, as far as the trusted proxies in front vouch for it.
fn client_ip(req: &Request, proxies: &balancer::TrustedProxies) -> String {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return String::new();
    };
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    proxies.client_address(peer.ip(), forwarded).to_string()
}

fn refuse(status: StatusCode, why: &str) -> Response {
    tracing::warn!(reason = why, "request refused");
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Refused · Ambisonia</title><link rel=\"stylesheet\" href=\"/style/main.css\"></head>\
         <body><main id=\"main\"><section class=\"error-page\"><h1>That form could not be sent</h1>\
         <p>{why}</p><p><a href=\"/\">Back to the home page</a></p></section></main></body></html>"
    );
    (status, Html(page)).into_response()
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

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url_decode_pairs(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// `application/x-www-form-urlencoded` pairs, decoded.
pub(crate) fn url_decode_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    body.split(|b| *b == b'&').filter_map(|pair| {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let key = percent_decode(it.next()?);
        let value = percent_decode(it.next().unwrap_or_default());
        Some((key, value))
    })
}

fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub async fn resolve(State(s): State<SecurityState>, req: Request, next: Next) -> Response {
    let session_token = cookies::request_cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let viewer = match &session_token {
        Some(token) => match sessions::resolve(&s.bus, &s.db, token).await {
            Ok(v) => v,
            Err(_) => {
                return refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The site cannot reach its database just now. Please try again in a moment.",
                );
            }
        },
        None => None,
    };
    let stale_session = session_token.is_some() && viewer.is_none();
    let anon_token = cookies::request_cookie(req.headers(), CSRF_COOKIE)
        .filter(|t| sessions::looks_like_token(t))
        .map(str::to_string);
    let (csrf, csrf_is_new) = match (&viewer, &anon_token) {
        (Some(v), _) => (v.csrf.clone(), false),
        (None, Some(t)) => (t.clone(), false),
        (None, None) => (sessions::random_token(), true),
    };

    let mut req = req;
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if !same_origin(req.headers(), &s.public_url) {
            return refuse(
                StatusCode::FORBIDDEN,
                "It was sent from another site. Go back to the page on this site, reload it and try again.",
            );
        }
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let (parts, body) = req.into_parts();
        let (sent, body) = if content_type.starts_with("application/x-www-form-urlencoded") {
            let bytes = match to_bytes(body, MAX_FORM_BYTES).await {
                Ok(b) => b,
                Err(_) => {
                    return refuse(StatusCode::PAYLOAD_TOO_LARGE, "The form was too large.");
                }
            };
            (form_field(&bytes, "csrf"), Body::from(bytes))
        } else {
            // A multipart form (an upload) cannot be read here without holding the file:
            // its form names the token in the action's query instead. The request log
            // writes paths without queries, so the token stays out of logs.
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
                                .and_then(|q| form_field(q.as_bytes(), "csrf"))
                        })
                        .flatten()
                });
            (header, body)
        };
        let expected = if viewer.is_some() || !csrf_is_new {
            Some(csrf.as_str())
        } else {
            None
        };
        let ok = matches!((expected, sent.as_deref()), (Some(e), Some(s)) if sessions::tokens_match(e, s));
        if !ok {
            return refuse(
                StatusCode::FORBIDDEN,
                "Its security token was missing or out of date. Go back, reload the page and try again.",
            );
        }
        req = Request::from_parts(parts, body);
    }

    let context = RequestContext {
        viewer,
        csrf,
        csrf_is_new,
        client_ip: client_ip(&req, &s.proxies),
        secure_cookies: s.secure_cookies,
    };
    req.extensions_mut().insert(context);
    let mut res = next.run(req).await;
    if stale_session
        && let Ok(v) = HeaderValue::from_str(&cookies::clear_session_cookie(s.secure_cookies))
    {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        let body = b"slug=a-b&csrf=ab%2Fc+d&body=x%3Dy";
        assert_eq!(form_field(body, "csrf").as_deref(), Some("ab/c d"));
        assert_eq!(form_field(body, "body").as_deref(), Some("x=y"));
        assert_eq!(form_field(body, "none"), None);
        assert_eq!(form_field(b"csrf=%zz%", "csrf").as_deref(), Some("%zz%"));
    }

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
