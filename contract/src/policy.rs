//! May a shared cache keep this? One rule, used by the app replica (which has the last word
//! on its own answers) and by the balancer (which never serves a personal request from its
//! cache, whatever the response said).

use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::header::{CDN_CACHE_CONTROL, SURROGATE_CONTROL, SURROGATE_KEY};

/// The session cookie's name (the balancer's `session_cookie` setting defaults to it).
pub const SESSION_COOKIE: &str = "ambisonia_session";

/// `Cache-Control` of anything about one person, or not meant to be kept.
pub const PRIVATE: &str = "private, no-store";

/// Whether a request may be about one person: it carries the session cookie or an
/// `Authorization` header. Such a request is never answered from a shared cache, and its
/// answer is never stored.
pub fn is_personal(headers: &HeaderMap, session_cookie: &str) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .any(|pair| {
                pair.trim()
                    .split_once('=')
                    .is_some_and(|(name, _)| name.trim() == session_cookie)
            })
}

/// Whether a response may be kept by a shared cache: the page asked to be public, the
/// request was an anonymous GET or HEAD, and the answer is a success that sets no cookie.
pub fn shareable(
    method: &Method,
    request: &HeaderMap,
    status: StatusCode,
    response: &HeaderMap,
) -> bool {
    let declared_public = response
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|d| d.trim() == "public"));
    matches!(*method, Method::GET | Method::HEAD)
        && !is_personal(request, SESSION_COOKIE)
        && declared_public
        && status.is_success()
        && !response.contains_key(header::SET_COOKIE)
}

/// Makes a response private: `Cache-Control: private, no-store`, and none of the headers
/// that a CDN or balancer obeys before `Cache-Control` (RFC 9213), nor its surrogate keys.
pub fn make_private(response: &mut HeaderMap) {
    response.insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
    response.remove(&SURROGATE_KEY);
    response.remove(&CDN_CACHE_CONTROL);
    response.remove(&SURROGATE_CONTROL);
}

/// `Cache-Control` and `Surrogate-Key` of a shareable page kept `ttl` seconds by shared
/// caches (browsers revalidate every time). `s-maxage` forbids a shared cache to serve
/// stale (RFC 9111 §5.2.2.10) unless told how long it may: half a lifetime while it asks
/// again, ten minutes while the replicas are down.
pub fn public_headers(keys: &[String], ttl: u32) -> Option<(HeaderValue, HeaderValue)> {
    let grace = ttl / 2;
    let cc = HeaderValue::from_str(&format!(
        "public, max-age=0, s-maxage={ttl}, stale-while-revalidate={grace}, stale-if-error=600"
    ))
    .ok()?;
    Some((cc, HeaderValue::from_str(&crate::key::join(keys)).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_the_session_cookie_or_authorization_makes_a_request_personal() {
        assert!(!is_personal(&headers(&[]), SESSION_COOKIE));
        assert!(!is_personal(
            &headers(&[("cookie", "ambisonia_csrf=x; theme=dark")]),
            SESSION_COOKIE
        ));
        assert!(is_personal(
            &headers(&[("cookie", "a=b; ambisonia_session=x")]),
            SESSION_COOKIE
        ));
        assert!(is_personal(
            &headers(&[("authorization", "Bearer amb_x")]),
            SESSION_COOKIE
        ));
        // A cookie whose value merely mentions the name is not it.
        assert!(!is_personal(
            &headers(&[("cookie", "x=ambisonia_session")]),
            SESSION_COOKIE
        ));
    }

    #[test]
    fn a_public_page_is_shareable_only_for_an_anonymous_safe_successful_request() {
        let public = headers(&[("cache-control", "public, s-maxage=60")]);
        let anon = headers(&[]);
        let ok = StatusCode::OK;
        assert!(shareable(&Method::GET, &anon, ok, &public));
        assert!(shareable(&Method::HEAD, &anon, ok, &public));
        assert!(!shareable(&Method::POST, &anon, ok, &public));
        assert!(!shareable(
            &Method::GET,
            &anon,
            StatusCode::NOT_FOUND,
            &public
        ));
        let session = headers(&[("cookie", "ambisonia_session=abc")]);
        assert!(!shareable(&Method::GET, &session, ok, &public));
        let sets_cookie = headers(&[
            ("cache-control", "public, s-maxage=60"),
            ("set-cookie", "a=b"),
        ]);
        assert!(!shareable(&Method::GET, &anon, ok, &sets_cookie));
        assert!(!shareable(&Method::GET, &anon, ok, &headers(&[])));
        // "public" as a directive, not as part of another word.
        let not_public = headers(&[("cache-control", "no-public-here")]);
        assert!(!shareable(&Method::GET, &anon, ok, &not_public));
    }

    #[test]
    fn a_private_response_keeps_no_shared_caching_header() {
        let mut h = headers(&[
            ("cache-control", "public, s-maxage=60"),
            ("cdn-cache-control", "max-age=600"),
            ("surrogate-control", "max-age=600"),
            ("surrogate-key", "catalog"),
        ]);
        make_private(&mut h);
        assert_eq!(
            h.get("cache-control").map(HeaderValue::as_bytes),
            Some(PRIVATE.as_bytes())
        );
        for gone in ["cdn-cache-control", "surrogate-control", "surrogate-key"] {
            assert!(h.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn public_headers_name_the_keys_and_the_grace() {
        let (cc, keys) = public_headers(&["catalog".into(), "recording:1".into()], 60)
            .unwrap_or_else(|| (HeaderValue::from_static(""), HeaderValue::from_static("")));
        assert_eq!(
            cc.to_str().ok(),
            Some("public, max-age=0, s-maxage=60, stale-while-revalidate=30, stale-if-error=600")
        );
        assert_eq!(keys.to_str().ok(), Some("catalog recording:1"));
    }
}
