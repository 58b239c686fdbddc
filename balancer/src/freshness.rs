//! What the origin allows a shared cache to do with a response (RFC 9111, RFC 9213
//! `CDN-Cache-Control`, RFC 5861 `stale-while-revalidate`/`stale-if-error`), read once
//! when the response arrives.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use super::config::CacheSettings;

pub static CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");

/// The longest stale window an origin can ask for; a typo of `stale-if-error=9999999999`
/// should not pin an object for years.
const MAX_STALE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Directives {
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub must_revalidate: bool,
    pub proxy_revalidate: bool,
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

impl Directives {
    pub fn parse<'a>(values: impl Iterator<Item = &'a HeaderValue>) -> Self {
        let mut d = Self::default();
        for value in values {
            let Ok(value) = value.to_str() else {
                // Unreadable directives: assume the strictest.
                d.no_store = true;
                continue;
            };
            for item in value.split(',') {
                let (name, arg) = match item.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (item.trim(), None),
                };
                let seconds = || arg.and_then(|a| a.parse::<u64>().ok());
                match name.to_ascii_lowercase().as_str() {
                    "no-store" => d.no_store = true,
                    // Qualified forms (`private="set-cookie"`) are treated as unqualified:
                    // stricter, and never wrong.
                    "no-cache" => d.no_cache = true,
                    "private" => d.private = true,
                    "must-revalidate" => d.must_revalidate = true,
                    "proxy-revalidate" => d.proxy_revalidate = true,
                    // A malformed delta-seconds makes the response stale (RFC 9111 §1.2.2).
                    "max-age" => d.max_age = Some(seconds().unwrap_or(0)),
                    "s-maxage" => d.s_maxage = Some(seconds().unwrap_or(0)),
                    "stale-while-revalidate" => d.stale_while_revalidate = seconds(),
                    "stale-if-error" => d.stale_if_error = seconds(),
                    _ => {}
                }
            }
        }
        d
    }
}

/// How long a stored response may be used, decided when it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub fresh: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
}

/// Statuses a cache may store without explicit freshness (RFC 9110 §15.1).
fn heuristically_cacheable(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Why a response was not stored, kept for the request's log line (`not_stored=private`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    Status,
    NoStore,
    Private,
    NoCache,
    SetCookie,
    VaryStar,
    NoLifetime,
    /// Larger than the cache keeps one object.
    TooLarge,
}

impl NotStored {
    pub fn as_str(self) -> &'static str {
        match self {
            NotStored::Status => "status",
            NotStored::NoStore => "no-store",
            NotStored::Private => "private",
            NotStored::NoCache => "no-cache",
            NotStored::SetCookie => "set-cookie",
            NotStored::VaryStar => "vary-star",
            NotStored::NoLifetime => "no-lifetime",
            NotStored::TooLarge => "too-large",
        }
    }
}

/// Whether a response to a GET may be stored, and for how long.
pub fn lifetime(
    status: StatusCode,
    headers: &HeaderMap,
    settings: &CacheSettings,
    now: SystemTime,
) -> Result<Lifetime, NotStored> {
    if status.is_informational()
        || status == StatusCode::PARTIAL_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Err(NotStored::Status);
    }
    // A targeted field, when present, replaces Cache-Control for this cache (RFC 9213 §2.1).
    let d = if headers.contains_key(&CDN_CACHE_CONTROL) {
        Directives::parse(headers.get_all(&CDN_CACHE_CONTROL).iter())
    } else {
        Directives::parse(headers.get_all(header::CACHE_CONTROL).iter())
    };
    if d.no_store {
        return Err(NotStored::NoStore);
    }
    if d.private {
        return Err(NotStored::Private);
    }
    if d.no_cache {
        return Err(NotStored::NoCache);
    }
    // The contract with the app: a response that sets a cookie is personal.
    if headers.contains_key(header::SET_COOKIE) {
        return Err(NotStored::SetCookie);
    }
    if headers.get_all(header::VARY).iter().any(|v| {
        v.to_str()
            .map_or(true, |v| v.split(',').any(|n| n.trim() == "*"))
    }) {
        return Err(NotStored::VaryStar);
    }

    let explicit = d
        .s_maxage
        .or(d.max_age)
        .map(Duration::from_secs)
        .or_else(|| {
            let expires = headers.get(header::EXPIRES)?;
            // An invalid Expires means "already expired" (RFC 9111 §5.3).
            let expires = expires
                .to_str()
                .ok()
                .and_then(|e| httpdate::parse_http_date(e).ok());
            let date = headers
                .get(header::DATE)
                .and_then(|d| d.to_str().ok())
                .and_then(|d| httpdate::parse_http_date(d).ok())
                .unwrap_or(now);
            Some(
                expires
                    .and_then(|e| e.duration_since(date).ok())
                    .unwrap_or_default(),
            )
        });
    let fresh = match explicit {
        Some(f) => f,
        None if heuristically_cacheable(status) => {
            settings.default_ttl.ok_or(NotStored::NoLifetime)?
        }
        None => return Err(NotStored::Status),
    };
    if fresh.is_zero() {
        return Err(NotStored::NoLifetime);
    }
    // s-maxage carries proxy-revalidate for a shared cache (RFC 9111 §5.2.2.10): then only
    // the origin's explicit stale-* directives allow serving stale.
    let may_go_stale = !(d.must_revalidate || d.proxy_revalidate || d.s_maxage.is_some());
    let window = |explicit: Option<u64>, default: Duration| {
        explicit
            .map(Duration::from_secs)
            .unwrap_or(if may_go_stale {
                default
            } else {
                Duration::ZERO
            })
            .min(MAX_STALE)
    };
    Ok(Lifetime {
        fresh,
        stale_while_revalidate: window(d.stale_while_revalidate, settings.grace),
        stale_if_error: window(d.stale_if_error, settings.stale_if_error),
    })
}

/// The `Age` an arriving response already has (RFC 9111 §4.2.3, without clock-skew terms).
pub fn initial_age(headers: &HeaderMap) -> Duration {
    headers
        .get(header::AGE)
        .and_then(|a| a.to_str().ok())
        .and_then(|a| a.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> CacheSettings {
        CacheSettings {
            size_bytes: 1 << 20,
            max_object_bytes: 1 << 16,
            default_ttl: None,
            grace: Duration::from_secs(10),
            stale_if_error: Duration::from_secs(300),
            hit_for_miss: Duration::from_secs(10),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            if let (Ok(n), Ok(v)) = (HeaderName::try_from(*n), HeaderValue::try_from(*v)) {
                h.append(n, v);
            }
        }
        h
    }

    fn life(status: u16, pairs: &[(&str, &str)]) -> Result<Lifetime, NotStored> {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        lifetime(status, &headers(pairs), &settings(), SystemTime::now())
    }

    #[test]
    fn s_maxage_beats_max_age_beats_expires() {
        let l = life(200, &[("cache-control", "public, max-age=5, s-maxage=60")]).ok();
        assert_eq!(l.map(|l| l.fresh), Some(Duration::from_secs(60)));
        let l = life(
            200,
            &[
                ("cache-control", "max-age=5"),
                ("expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
            ],
        )
        .ok();
        assert_eq!(l.map(|l| l.fresh), Some(Duration::from_secs(5)));
        let l = life(
            200,
            &[
                ("date", "Thu, 01 Jan 2099 00:00:00 GMT"),
                ("expires", "Thu, 01 Jan 2099 00:02:00 GMT"),
            ],
        )
        .ok();
        assert_eq!(l.map(|l| l.fresh), Some(Duration::from_secs(120)));
        assert_eq!(
            life(200, &[("expires", "soon")]),
            Err(NotStored::NoLifetime)
        );
    }

    #[test]
    fn personal_and_forbidden_responses_are_not_stored() {
        assert_eq!(
            life(200, &[("cache-control", "private, max-age=60")]),
            Err(NotStored::Private)
        );
        assert_eq!(
            life(200, &[("cache-control", "no-store, s-maxage=60")]),
            Err(NotStored::NoStore)
        );
        assert_eq!(
            life(
                200,
                &[("cache-control", "s-maxage=60"), ("set-cookie", "a=b")]
            ),
            Err(NotStored::SetCookie)
        );
        assert_eq!(
            life(200, &[("cache-control", "s-maxage=60"), ("vary", "*")]),
            Err(NotStored::VaryStar)
        );
        assert_eq!(
            life(206, &[("cache-control", "s-maxage=60")]),
            Err(NotStored::Status)
        );
        assert_eq!(life(200, &[]), Err(NotStored::NoLifetime));
        assert_eq!(life(302, &[]), Err(NotStored::Status));
    }

    #[test]
    fn a_default_ttl_applies_only_when_configured_and_only_to_heuristic_statuses() {
        let mut s = settings();
        s.default_ttl = Some(Duration::from_secs(5));
        let now = SystemTime::now();
        let l = lifetime(StatusCode::OK, &headers(&[]), &s, now).ok();
        assert_eq!(l.map(|l| l.fresh), Some(Duration::from_secs(5)));
        let l = lifetime(StatusCode::NOT_FOUND, &headers(&[]), &s, now).ok();
        assert_eq!(l.map(|l| l.fresh), Some(Duration::from_secs(5)));
        assert_eq!(
            lifetime(StatusCode::FOUND, &headers(&[]), &s, now),
            Err(NotStored::Status)
        );
        assert_eq!(
            lifetime(StatusCode::INTERNAL_SERVER_ERROR, &headers(&[]), &s, now),
            Err(NotStored::Status)
        );
    }

    #[test]
    fn cdn_cache_control_replaces_cache_control() {
        let l = life(
            200,
            &[
                ("cache-control", "private"),
                ("cdn-cache-control", "max-age=30"),
            ],
        )
        .ok();
        assert_eq!(l.map(|l| l.fresh), Some(Duration::from_secs(30)));
        assert_eq!(
            life(
                200,
                &[
                    ("cache-control", "s-maxage=60"),
                    ("cdn-cache-control", "no-store")
                ]
            ),
            Err(NotStored::NoStore)
        );
    }

    #[test]
    fn stale_windows_follow_the_origin() {
        // s-maxage implies proxy-revalidate: no stale unless the origin says so.
        let l = life(200, &[("cache-control", "s-maxage=60")]).ok();
        assert_eq!(
            l.map(|l| (l.stale_while_revalidate, l.stale_if_error)),
            Some((Duration::ZERO, Duration::ZERO))
        );
        let l = life(
            200,
            &[(
                "cache-control",
                "s-maxage=60, stale-while-revalidate=30, stale-if-error=600",
            )],
        )
        .ok();
        assert_eq!(
            l.map(|l| (l.stale_while_revalidate, l.stale_if_error)),
            Some((Duration::from_secs(30), Duration::from_secs(600)))
        );
        let l = life(200, &[("cache-control", "max-age=60")]).ok();
        assert_eq!(
            l.map(|l| (l.stale_while_revalidate, l.stale_if_error)),
            Some((Duration::from_secs(10), Duration::from_secs(300)))
        );
    }
}
