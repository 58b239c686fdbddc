//! The app's half of the cache contract (DESIGN.md): a page says whether a shared cache may
//! keep it and which surrogate keys name what it shows. The `server` crate's cache-policy
//! middleware has the last word (a session, a cookie or an error always makes it private).

use http::{HeaderName, HeaderValue, header::CACHE_CONTROL};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::ssr::{request::viewer, state::state};

pub const SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");
pub const PRIVATE: &str = "private, no-store";

/// Marks the page being rendered as shareable for anonymous visitors, naming what it shows
/// (`catalog`, `recording:42`, `user:7`, `tag:birds`). For a logged-in viewer it is private.
pub fn public_page(keys: &[String]) {
    let ttl = state().map(|s| s.settings.page_ttl_s).unwrap_or(0);
    public_page_for(keys, ttl);
}

/// Seconds a shared cache may keep a page that is about to change by itself (a recording
/// whose preview is being made): long enough to absorb a crowd, short enough that nobody
/// waits a minute for the player to appear.
pub const CHANGING_TTL_S: u32 = 5;

/// [`public_page`] with its own `s-maxage`.
pub fn public_page_for(keys: &[String], ttl: u32) {
    let Some(res) = use_context::<ResponseOptions>() else {
        return;
    };
    // A replica whose lease on the bus has lapsed may be behind: nobody may keep its page.
    let behind = state().is_ok_and(|s| !s.bus.current());
    if viewer().is_some() || behind {
        res.insert_header(CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        return;
    }
    if let Some((cc, keys)) = public_headers(keys, ttl) {
        res.insert_header(CACHE_CONTROL, cc);
        res.insert_header(SURROGATE_KEY, keys);
    }
}

/// `Cache-Control` and `Surrogate-Key` of a shareable response kept `ttl` seconds (pages,
/// and the feeds that mirror them). s-maxage forbids a shared cache to serve stale (RFC 9111
/// §5.2.2.10) unless these say how long it may: half a lifetime while it asks again, ten
/// minutes if we are down.
pub fn public_headers(keys: &[String], ttl: u32) -> Option<(HeaderValue, HeaderValue)> {
    let grace = ttl / 2;
    let cc = HeaderValue::from_str(&format!(
        "public, max-age=0, s-maxage={ttl}, stale-while-revalidate={grace}, stale-if-error=600"
    ))
    .ok()?;
    Some((cc, HeaderValue::from_str(&keys.join(" ")).ok()?))
}
