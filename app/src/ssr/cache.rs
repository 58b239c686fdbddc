//! The app's half of the cache contract (`contract`): a page that every anonymous visitor
//! sees alike is loaded through [`shared`] — from this replica's read cache when it holds it,
//! filed under the surrogate keys of what it shows — and marked shareable for the balancer
//! under the same keys, named once. The `server` crate's cache-policy step has the last word
//! on every response (a session, a cookie or an error always makes it private).

use std::future::Future;

use contract::policy;
use http::{HeaderValue, header::CACHE_CONTROL};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::{
    error::AppError,
    ssr::{request::viewer, state::AppState},
};
use domain::ServiceError;

/// Seconds a shared cache may keep a page that is about to change by itself (a recording
/// whose preview is being made): long enough to absorb a crowd, short enough that nobody
/// waits a minute for the player to appear.
pub const CHANGING_TTL_S: u32 = 5;

/// A page's content and the surrogate keys of what it shows.
#[must_use = "say how the page may be shared: .public() or .public_for(ttl)"]
pub struct Shared<T> {
    value: T,
    keys: Vec<String>,
}

impl<T> Shared<T> {
    /// Something read for one viewer (not from the read cache), still named by its keys.
    pub fn uncached(value: T, keys: Vec<String>) -> Self {
        Self { value, keys }
    }

    /// The page may be kept by shared caches for the site's page TTL.
    pub fn public(self) -> T {
        let ttl = crate::ssr::state::state()
            .map(|s| s.settings.page_ttl_s)
            .unwrap_or(0);
        self.public_for(ttl)
    }

    /// The page may be kept by shared caches for `ttl` seconds — when the request is
    /// anonymous and this replica is current on the bus; otherwise it is private.
    pub fn public_for(self, ttl: u32) -> T {
        if let Some(res) = use_context::<ResponseOptions>() {
            let state = crate::ssr::state::state().ok();
            let headers = state
                .filter(|s| viewer().is_none() && may_share(s))
                .and_then(|_| policy::public_headers(&self.keys, ttl));
            match headers {
                Some((cc, keys)) => {
                    res.insert_header(CACHE_CONTROL, cc);
                    res.insert_header(contract::header::SURROGATE_KEY.clone(), keys);
                }
                None => res.insert_header(CACHE_CONTROL, HeaderValue::from_static(policy::PRIVATE)),
            }
        }
        self.value
    }

    pub fn value(&self) -> &T {
        &self.value
    }
}

/// The last word a handler outside Leptos (feeds, the API, the embed, the map's data) says
/// on sharing its answer: shareable for `ttl` seconds under `keys` when it is `shared` (the
/// same for everyone) and this replica is current on the bus; private otherwise.
pub fn set_sharing(
    h: &mut http::HeaderMap,
    state: &AppState,
    keys: &[String],
    ttl: u32,
    shared: bool,
) {
    match policy::public_headers(keys, ttl).filter(|_| shared && may_share(state)) {
        Some((cc, keys)) => {
            h.insert(CACHE_CONTROL, cc);
            h.insert(contract::header::SURROGATE_KEY.clone(), keys);
        }
        None => {
            h.insert(CACHE_CONTROL, HeaderValue::from_static(policy::PRIVATE));
        }
    }
}

/// Whether this replica's answers may be shared now: a replica whose lease on the bus has
/// lapsed may be behind, and nobody may keep what it says until it has caught up.
pub fn may_share(state: &AppState) -> bool {
    state.bus.current()
}

/// A page that every anonymous visitor sees alike, through this replica's read cache under
/// `cache_key`; `load` reads it and names the surrogate keys of what it shows.
pub async fn shared<T, F, Fut>(cache_key: String, load: F) -> Result<Shared<T>, AppError>
where
    T: Clone + serde::Serialize + Send + Sync + 'static,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(T, Vec<String>), ServiceError>>,
{
    let st = crate::ssr::state::state()?;
    let (value, keys) = st.bus.cached(cache_key, load).await?;
    Ok(Shared { value, keys })
}
