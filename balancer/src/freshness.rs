//! What the origin allows a shared cache to do with a response (RFC 9111, RFC 9213
//! `CDN-Cache-Control`, RFC 5861 `stale-while-revalidate`/`stale-if-error`), read once
//! when the response arrives.

use std::time::{Duration, SystemTime};

use contract::header::CDN_CACHE_CONTROL;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::config::CacheSettings;

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

/// `name[=token|"quoted string"]` items separated by commas (RFC 9110 §5.6): a comma or an
/// `=` inside a quoted string belongs to the string, so `private="x, max-age=100"` is one
/// directive, not two.
fn items(value: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return out;
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            name.push(c);
            chars.next();
        }
        let mut arg = None;
        if chars.peek() == Some(&'=') {
            chars.next();
            let mut a = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => a.extend(chars.next()),
                        '"' => break,
                        c => a.push(c),
                    }
                }
                while chars.peek().is_some_and(|c| *c != ',') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    a.push(c);
                    chars.next();
                }
            }
            arg = Some(a.trim().to_owned());
        }
        out.push((name.trim().to_ascii_lowercase(), arg));
    }
}

/// Whether a field value is a Structured Field Dictionary (RFC 8941 §3.2) — what
/// `CDN-Cache-Control` must be, or be ignored (RFC 9213 §2.1). Inner lists are not
/// accepted: no cache directive uses them.
pub fn is_sf_dictionary(value: &str) -> bool {
    fn key(s: &str) -> bool {
        let mut b = s.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == b'*')
            && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-.*".contains(&c))
    }
    fn bare_item(s: &str) -> bool {
        let b = s.as_bytes();
        match b.first() {
            Some(b'"') => {
                s.len() >= 2
                    && s.ends_with('"')
                    && s[1..s.len() - 1].bytes().all(|c| (0x20..0x7f).contains(&c))
            }
            Some(b'?') => s == "?0" || s == "?1",
            Some(b':') => s.len() >= 2 && s.ends_with(':'),
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let digits = s.trim_start_matches('-');
                let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
                !int.is_empty()
                    && int.len() <= 15
                    && int.bytes().all(|c| c.is_ascii_digit())
                    && frac.len() <= 3
                    && frac.bytes().all(|c| c.is_ascii_digit())
                    && (frac.is_empty() || !digits.ends_with('.'))
            }
            Some(c) if c.is_ascii_alphabetic() || *c == b'*' => s
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c)),
            _ => false,
        }
    }
    fn param_or_member(s: &str) -> bool {
        match s.split_once('=') {
            Some((k, v)) => key(k) && bare_item(v),
            None => key(s),
        }
    }
    if value.trim().is_empty() {
        return false;
    }
    value.split(',').all(|member| {
        let member = member.trim_matches([' ', '\t']);
        let mut parts = member.split(';');
        parts.next().is_some_and(param_or_member)
            && parts.all(|p| param_or_member(p.trim_start_matches(' ')))
    })
}

/// Whether a `CDN-Cache-Control` value may be obeyed: a Structured Field Dictionary whose
/// directives that take seconds have an Integer (`max-age="10"` is a String: the wrong type
/// makes the whole field ignored, RFC 9213 §2.1).
pub fn is_targeted_field(value: &str) -> bool {
    const SECONDS: [&str; 4] = [
        "max-age",
        "s-maxage",
        "stale-while-revalidate",
        "stale-if-error",
    ];
    is_sf_dictionary(value)
        && value.split(',').all(|member| {
            let item = member.trim().split(';').next().unwrap_or_default();
            match item.split_once('=') {
                Some((k, v)) if SECONDS.contains(&k) => {
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
                }
                None if SECONDS.contains(&item) => false,
                _ => true,
            }
        })
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
            for (name, arg) in items(value) {
                let arg = arg.as_deref();
                let seconds = || arg.and_then(|a| a.parse::<u64>().ok());
                match name.as_str() {
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
    /// Stale allowed when the origin answers 5xx: only what it said (`stale-if-error`).
    pub stale_if_error: Duration,
    /// Stale allowed while the origin cannot be reached at all (RFC 9111 §4.2.4's
    /// "disconnected"): its `stale-if-error`, or the configured grace.
    pub stale_if_unreachable: Duration,
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
    // A targeted field, when present and valid, replaces Cache-Control for this cache
    // (RFC 9213 §2.1); one that is not a Structured Field Dictionary is ignored.
    let targeted = headers.get_all(&CDN_CACHE_CONTROL);
    let valid_targeted = targeted.iter().next().is_some()
        && targeted
            .iter()
            .all(|v| v.to_str().is_ok_and(is_targeted_field));
    let d = if valid_targeted {
        Directives::parse(targeted.iter())
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
            let date = date_of(headers).unwrap_or(now);
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
    // must-revalidate (and proxy-revalidate, for a shared cache) always revalidates, even
    // with the origin unreachable (RFC 9111 §5.2.2.2). s-maxage carries proxy-revalidate's
    // meaning (§5.2.2.10) for the defaults: then only explicit stale-* directives count.
    let never_stale = d.must_revalidate || d.proxy_revalidate;
    let defaults_apply = !never_stale && d.s_maxage.is_none();
    let window = |explicit: Option<u64>, default: Duration| {
        if never_stale {
            return Duration::ZERO;
        }
        explicit
            .map(Duration::from_secs)
            .unwrap_or(if defaults_apply {
                default
            } else {
                Duration::ZERO
            })
            .min(MAX_STALE)
    };
    // Disconnected, a cache may serve stale unless a directive forbids it (§4.2.4) — and
    // must-revalidate, proxy-revalidate and s-maxage each do, leaving only stale-if-error.
    let unreachable = window(d.stale_if_error, settings.stale_if_error);
    Ok(Lifetime {
        fresh,
        stale_while_revalidate: window(d.stale_while_revalidate, settings.grace),
        stale_if_error: window(d.stale_if_error, Duration::ZERO),
        stale_if_unreachable: unreachable,
    })
}

fn date_of(headers: &HeaderMap) -> Option<SystemTime> {
    headers
        .get(header::DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
}

/// The age an arriving response already has: its `Age` (RFC 9111 §4.2.3). A list-valued
/// `Age` (`Age: 10, 20`, or two `Age` lines) counts by its first member; an `Age` that is
/// then not one non-negative integer is ignored, as if absent (§5.1), so the response is as
/// fresh as its other fields say; one too large to hold counts as 2^31 seconds. The
/// apparent age (now − `Date`) is left out, as Varnish does: `Date` has whole seconds and
/// the origin's clock is not ours, so it would age every response by skew; `Expires` is
/// read against the response's own `Date` instead, which no skew changes.
pub fn initial_age(headers: &HeaderMap) -> Duration {
    let first = headers
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    match first {
        Some(a) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) => {
            Duration::from_secs(a.parse::<u64>().unwrap_or(MAX_AGE).min(MAX_AGE))
        }
        _ => Duration::ZERO,
    }
}

/// What an `Age` too large to hold counts as (RFC 9111 §1.2.2).
const MAX_AGE: u64 = 1 << 31;

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
            if let (Ok(n), Ok(v)) = (http::HeaderName::try_from(*n), HeaderValue::try_from(*v)) {
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

    /// (stale-while-revalidate, stale-if-error on a 5xx, stale while unreachable).
    fn windows(pairs: &[(&str, &str)]) -> Option<(Duration, Duration, Duration)> {
        life(200, pairs).ok().map(|l| {
            (
                l.stale_while_revalidate,
                l.stale_if_error,
                l.stale_if_unreachable,
            )
        })
    }

    #[test]
    fn nothing_stale_unless_the_origin_allows_it_or_is_unreachable() {
        let secs = Duration::from_secs;
        // Origin silent: the configured grace while revalidating (0 unless set), nothing on
        // its own 5xx, the configured stale-if-error only while it cannot be reached.
        assert_eq!(
            windows(&[("cache-control", "max-age=60")]),
            Some((secs(10), secs(0), secs(300)))
        );
        // s-maxage means proxy-revalidate: no stale at all but what it says.
        assert_eq!(
            windows(&[("cache-control", "s-maxage=60")]),
            Some((secs(0), secs(0), secs(0)))
        );
        assert_eq!(
            windows(&[("cache-control", "s-maxage=60, stale-if-error=600")]),
            Some((secs(0), secs(600), secs(600)))
        );
        // must-revalidate always revalidates, whatever else it says, reachable or not.
        for cc in [
            "max-age=60, must-revalidate, stale-while-revalidate=30, stale-if-error=600",
            "max-age=60, proxy-revalidate",
        ] {
            assert_eq!(
                windows(&[("cache-control", cc)]),
                Some((secs(0), secs(0), secs(0))),
                "{cc}"
            );
        }
        // The shipped default grace serves no stale to a conforming client.
        let shipped = super::super::config::Settings::from_toml(
            "[pools.app]\nupstreams = [\"127.0.0.1:1\"]\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n",
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        )
        .map(|s| s.cache.grace);
        assert_eq!(shipped, Ok(Duration::ZERO));
    }

    #[test]
    fn quoted_strings_hold_no_directives() {
        for cc in [
            "private=\"x, max-age=100\", max-age=5",
            "max-age=5, no-cache=\"a, s-maxage=900\"",
            "community=\"s-maxage=900\\\", max-age=900\", max-age=5",
        ] {
            let d = Directives::parse(std::iter::once(&HeaderValue::from_static(cc)));
            assert_eq!((d.max_age, d.s_maxage), (Some(5), None), "{cc}");
        }
    }

    #[test]
    fn a_list_valued_age_counts_by_its_first_member_and_an_invalid_one_is_ignored() {
        let age = |pairs: &[(&str, &str)]| initial_age(&headers(pairs));
        assert_eq!(age(&[("age", "30")]), Duration::from_secs(30));
        assert_eq!(age(&[]), Duration::ZERO);
        // RFC 9111 §5.1: the first member of a list.
        assert_eq!(age(&[("age", "30, 40")]), Duration::from_secs(30));
        assert_eq!(age(&[("age", "30, old")]), Duration::from_secs(30));
        assert_eq!(
            age(&[("age", "1"), ("age", "2")]),
            Duration::from_secs(1),
            "two Age fields: the first"
        );
        // Invalid: ignored, not stale — as fresh as the other fields say.
        for bad in ["-1", "1.5", "ten", "", "old, 30"] {
            assert_eq!(age(&[("age", bad)]), Duration::ZERO, "Age: {bad:?}");
        }
        assert_eq!(
            age(&[("age", "99999999999999999999")]),
            Duration::from_secs(1 << 31),
            "too large to hold: 2^31"
        );
    }

    #[test]
    fn expires_minus_date_holds_whatever_the_origin_clock_and_age_counts() {
        // The origin's clock 100 s slow or fast: Expires − Date is 120 s either way, and an
        // Age of 100 leaves 20 of them.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000);
        let at = |offset: i64| {
            httpdate::fmt_http_date(if offset < 0 {
                now - Duration::from_secs(offset.unsigned_abs())
            } else {
                now + Duration::from_secs(offset.unsigned_abs())
            })
        };
        for skew in [-100, 100] {
            let h = headers(&[
                ("date", &at(skew)),
                ("expires", &at(skew + 120)),
                ("age", "100"),
            ]);
            let l = lifetime(StatusCode::OK, &h, &settings(), now)
                .ok()
                .map(|l| l.fresh);
            assert_eq!(l, Some(Duration::from_secs(120)), "Date {skew} s off");
            assert_eq!(initial_age(&h), Duration::from_secs(100), "20 s remain");
        }
    }

    #[test]
    fn interim_responses_are_never_stored() {
        for status in [100, 101, 103] {
            assert_eq!(
                life(status, &[("cache-control", "s-maxage=60")]),
                Err(NotStored::Status)
            );
        }
    }

    #[test]
    fn a_shorter_cdn_max_age_wins_and_an_invalid_one_is_ignored() {
        let fresh = |pairs: &[(&str, &str)]| life(200, pairs).ok().map(|l| l.fresh.as_secs());
        assert_eq!(
            fresh(&[
                ("cache-control", "s-maxage=600"),
                ("cdn-cache-control", "max-age=10")
            ]),
            Some(10)
        );
        for invalid in [
            "max-age=10, MaxAge=5",
            "max-age=\"10",
            "max-age=1.2345",
            "max-age=10,,",
            "Max-Age=10",
        ] {
            assert_eq!(
                fresh(&[
                    ("cache-control", "s-maxage=600"),
                    ("cdn-cache-control", invalid)
                ]),
                Some(600),
                "{invalid} is not a Structured Field: Cache-Control applies"
            );
        }
        assert!(is_sf_dictionary(
            "max-age=10, stale-if-error=60, private, foo=?1;a=\"b\""
        ));
    }

    /// RFC 9213 §2.1: a `CDN-Cache-Control` of the wrong type is ignored as a whole — here
    /// `max-age` as a String — and `Cache-Control` (`no-store`) decides.
    #[test]
    fn a_cdn_cache_control_of_the_wrong_type_is_ignored_as_a_whole() {
        assert_eq!(
            life(
                200,
                &[
                    ("cache-control", "no-store"),
                    ("cdn-cache-control", "max-age=\"10000\"")
                ]
            ),
            Err(NotStored::NoStore)
        );
        assert_eq!(
            life(
                200,
                &[
                    ("cache-control", "no-store"),
                    ("cdn-cache-control", "max-age=10000, &&&&&")
                ]
            ),
            Err(NotStored::NoStore),
            "an unknown type"
        );
        assert!(is_targeted_field("foobar, max-age=3600"));
        assert!(!is_targeted_field("max-age=?1"));
        assert!(!is_targeted_field("max-age"));
    }

    #[test]
    fn stale_windows_follow_the_origin() {
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
    }
}
