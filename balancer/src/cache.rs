//! The anonymous page cache (Varnish's job): objects in memory, bounded in bytes, found by
//! host + path + sorted query and the request headers the response `Vary`s on.
//!
//! Lookups take a read lock and touch an atomic clock; eviction is an approximate LRU that
//! drops the least recently used objects in one batch down to 90 % of the budget. Misses
//! for one URL are coalesced through [`Cache::join_fill`]: one request goes upstream, the
//! others wait for its outcome.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use contract::header::{BUS_SEQ, SURROGATE_CONTROL, SURROGATE_KEY};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use tokio::sync::watch;

use super::{clock::Clock, freshness::Lifetime};

/// What the cache did for a request; sent as `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    /// Answered from a fresh object.
    Hit = 0,
    /// Looked up, not found (or not usable); fetched from the origin.
    Miss = 1,
    /// Answered from an expired object: revalidating in the background, or origin down.
    Stale = 2,
    /// Not looked up: the request is personal (session cookie, Authorization).
    Bypass = 3,
    /// Not cacheable by its method or route: passed straight through.
    Pass = 4,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
            Self::Bypass => "BYPASS",
            Self::Pass => "PASS",
        }
    }
}

/// How many purged keys to remember before forgetting them all (and refusing pages made
/// before the newest of them).
const REMEMBERED_PURGES: usize = 100_000;

#[derive(Default)]
struct Purges {
    /// Key → the log numbers of its last purges by the bus.
    at: HashMap<String, Purged>,
    /// Pages made before this number are not stored.
    floor: u64,
}

/// The log numbers of a key's last hard and last soft purge (0: none).
#[derive(Default, Clone, Copy)]
struct Purged {
    hard: u64,
    soft: u64,
}

impl Purged {
    fn last(&self) -> u64 {
        self.hard.max(self.soft)
    }
}

/// What may become of a page made when its replica had applied the log up to some number.
#[derive(Debug, PartialEq, Eq)]
enum Admission {
    /// Nothing it shows was purged since it was made.
    Fresh,
    /// Only soft purges came since: it is stored already stale, so it is served while one
    /// request fetches it anew — and each revalidation stores a newer copy, so a storm of
    /// soft purges (ratings every few milliseconds) cannot pin an old copy in place.
    Stale,
    /// A hard purge (or lost track of the log) came since: it may show what was removed.
    Refused,
}

impl Purges {
    fn admit(&self, made_at: u64, keys: &[String]) -> Admission {
        if made_at < self.floor {
            return Admission::Refused;
        }
        let mut admission = Admission::Fresh;
        for p in keys.iter().filter_map(|k| self.at.get(k)) {
            if p.hard > made_at {
                return Admission::Refused;
            }
            if p.soft > made_at {
                admission = Admission::Stale;
            }
        }
        admission
    }

    fn record(&mut self, named: &str, seq: u64) {
        let (key, soft) = contract::key::purged(named);
        let p = self.at.entry(key.to_owned()).or_default();
        let last = if soft { &mut p.soft } else { &mut p.hard };
        *last = (*last).max(seq);
    }
}

/// Fixed cost counted per object besides its body and headers (maps, Arc, bookkeeping).
const OVERHEAD: usize = 256;
/// Variants kept per URL; more means the `Vary` is too fine-grained to be worth caching.
const MAX_VARIANTS: usize = 16;

/// A rate limit's headers (`RateLimit-Limit` …) speak of the client that was answered, not
/// of those a stored copy is served to: they are not stored.
const RATELIMIT_HEADERS: [&str; 4] = [
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-policy",
];

/// One stored response.
pub struct Object {
    pub status: StatusCode,
    /// As sent to clients: no hop-by-hop headers, no `Age`, no `Surrogate-Key`, no
    /// `RateLimit-*`.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The request header values this variant was stored for, in `vary` order.
    vary_values: Vec<Option<HeaderValue>>,
    pub surrogate_keys: Vec<String>,
    stored_at: Instant,
    initial_age: Duration,
    pub lifetime: Lifetime,
    last_used: AtomicU64,
    /// Set while one background request revalidates this object.
    revalidating: AtomicBool,
    /// Purged softly: no longer fresh, but still served within its stale windows.
    expired: AtomicBool,
    size: usize,
}

impl Object {
    pub fn new(
        status: StatusCode,
        mut headers: HeaderMap,
        body: Bytes,
        initial_age: Duration,
        lifetime: Lifetime,
        stored_at: Instant,
    ) -> Self {
        let surrogate_keys = headers
            .get_all(&SURROGATE_KEY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(contract::key::split)
            .map(str::to_owned)
            .collect();
        headers.remove(&SURROGATE_KEY);
        headers.remove(&SURROGATE_CONTROL);
        headers.remove(header::AGE);
        // Where the first client stood against its rate limit is nobody else's business.
        for name in RATELIMIT_HEADERS {
            headers.remove(name);
        }
        // Said explicitly, so a HEAD answered from the cache tells the true length.
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let size = OVERHEAD
            + body.len()
            + headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 32)
                .sum::<usize>();
        Self {
            status,
            headers,
            body,
            vary_values: Vec::new(),
            surrogate_keys,
            stored_at,
            initial_age,
            lifetime,
            last_used: AtomicU64::new(0),
            revalidating: AtomicBool::new(false),
            expired: AtomicBool::new(false),
            size,
        }
    }

    pub fn age(&self, now: Instant) -> Duration {
        self.initial_age + now.saturating_duration_since(self.stored_at)
    }
    pub fn is_fresh(&self, now: Instant) -> bool {
        !self.expired.load(Relaxed) && self.age(now) < self.lifetime.fresh
    }
    /// Expired, but the origin lets us serve it while revalidating.
    pub fn may_serve_while_revalidating(&self, now: Instant) -> bool {
        self.age(now) < self.lifetime.fresh + self.lifetime.stale_while_revalidate
    }
    /// Expired, but the origin lets us serve it when it cannot answer.
    pub fn may_serve_on_error(&self, now: Instant) -> bool {
        self.age(now) < self.lifetime.fresh + self.lifetime.stale_if_error
    }
    /// Expired, but the origin cannot be reached and did not forbid stale.
    pub fn may_serve_when_unreachable(&self, now: Instant) -> bool {
        self.age(now) < self.lifetime.fresh + self.lifetime.stale_if_unreachable
    }
    /// Past every window it may be served in, and without validators to revalidate it by
    /// (a copy with an `ETag` or `Last-Modified` stays, until evicted, so that a stale one
    /// is asked about conditionally — a 304 — instead of fetched whole: RFC 9111 §4.3.1).
    fn is_dead(&self, now: Instant) -> bool {
        let (etag, modified) = self.validators();
        if etag.is_some() || modified.is_some() {
            return false;
        }
        let keep = self
            .lifetime
            .stale_while_revalidate
            .max(self.lifetime.stale_if_error)
            .max(self.lifetime.stale_if_unreachable);
        self.age(now) >= self.lifetime.fresh + keep
    }
    /// Claims the one background revalidation; false if another request has it.
    pub fn start_revalidation(&self) -> bool {
        !self.revalidating.swap(true, Relaxed)
    }
    pub fn end_revalidation(&self) {
        self.revalidating.store(false, Relaxed);
    }

    pub fn validators(&self) -> (Option<&HeaderValue>, Option<&HeaderValue>) {
        (
            self.headers.get(header::ETAG),
            self.headers.get(header::LAST_MODIFIED),
        )
    }

    /// Whether a client's conditional request is satisfied by this object (RFC 9110 §13.2.2:
    /// If-None-Match wins over If-Modified-Since; weak comparison for GET).
    pub fn satisfies_conditional(&self, request: &HeaderMap) -> bool {
        if !self.status.is_success() {
            return false;
        }
        if let Some(inm) = request.get(header::IF_NONE_MATCH) {
            let Some(etag) = self.headers.get(header::ETAG).and_then(|e| e.to_str().ok()) else {
                return false;
            };
            let Ok(inm) = inm.to_str() else { return false };
            let weak = |t: &str| t.trim().trim_start_matches("W/").to_owned();
            return inm
                .split(',')
                .any(|t| t.trim() == "*" || weak(t) == weak(etag));
        }
        let since = request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let modified = self
            .headers
            .get(header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        matches!((since, modified), (Some(s), Some(m)) if m <= s)
    }

    /// A copy of this object with headers refreshed by a 304 from the origin (RFC 9111
    /// §4.3.4), or `None` when the merged headers no longer allow storing it.
    pub fn refreshed(
        &self,
        update: &HeaderMap,
        lifetime_of: impl FnOnce(&HeaderMap) -> Option<Lifetime>,
        initial_age: Duration,
        now: Instant,
    ) -> Option<Self> {
        let mut headers = self.headers.clone();
        for name in update.keys() {
            if name == header::CONTENT_LENGTH || name == header::CONTENT_ENCODING {
                continue;
            }
            headers.remove(name);
            for v in update.get_all(name) {
                headers.append(name.clone(), v.clone());
            }
        }
        let lifetime = lifetime_of(&headers)?;
        let mut o = Self::new(
            self.status,
            headers,
            self.body.clone(),
            initial_age,
            lifetime,
            now,
        );
        if o.surrogate_keys.is_empty() {
            o.surrogate_keys = self.surrogate_keys.clone();
        }
        Some(o)
    }
}

/// All stored variants of one URL.
struct Entry {
    vary: Vec<HeaderName>,
    variants: Vec<Arc<Object>>,
}

#[derive(Default)]
struct Store {
    entries: HashMap<String, Entry>,
    /// Surrogate key → URLs whose objects carry it.
    keys: HashMap<String, HashSet<String>>,
    bytes: usize,
    objects: usize,
}

impl Store {
    fn remove_url(&mut self, url: &str) -> usize {
        let Some(entry) = self.entries.remove(url) else {
            return 0;
        };
        let n = entry.variants.len();
        for o in &entry.variants {
            self.forget(url, o);
        }
        n
    }

    fn forget(&mut self, url: &str, o: &Object) {
        self.bytes = self.bytes.saturating_sub(o.size + url.len());
        self.objects = self.objects.saturating_sub(1);
        for k in &o.surrogate_keys {
            if let Some(urls) = self.keys.get_mut(k) {
                urls.remove(url);
                if urls.is_empty() {
                    self.keys.remove(k);
                }
            }
        }
    }
}

/// How a coalesced fill ended, for the requests that waited on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillOutcome {
    /// Stored: look it up again (the waiter's `Vary` values decide which variant it gets).
    Stored,
    /// The response could not be shared: each waiter goes upstream itself.
    NotShared,
    /// No usable answer came; waiters answer with this status (or stale, if they may).
    Failed(StatusCode),
}

pub enum Fill {
    /// This request fetches; the others wait until [`FillLeader::finish`] or drop.
    Leader(FillLeader),
    Waiter(watch::Receiver<Option<FillOutcome>>),
}

pub struct FillLeader {
    cache: Arc<Cache>,
    url: String,
    tx: watch::Sender<Option<FillOutcome>>,
}

impl FillLeader {
    pub fn finish(self, outcome: FillOutcome) {
        let _ = self.tx.send(Some(outcome));
    }
}

impl Drop for FillLeader {
    fn drop(&mut self) {
        if let Ok(mut fills) = self.cache.fills.lock() {
            fills.remove(&self.url);
        }
        // Waiters of a fill that ended without an outcome (an error, a cancelled task)
        // see the channel close and go upstream themselves.
    }
}

pub struct Cache {
    store: RwLock<Store>,
    capacity: AtomicUsize,
    max_object: AtomicUsize,
    clock: AtomicU64,
    fills: Mutex<HashMap<String, watch::Sender<Option<FillOutcome>>>>,
    /// URLs whose last response could not be stored: their misses are not coalesced.
    hit_for_miss: Mutex<HashMap<String, Instant>>,
    purges: Mutex<Purges>,
    pub evicted: AtomicU64,
    time: Clock,
}

impl Cache {
    pub fn new(capacity: usize, max_object: usize, time: Clock) -> Self {
        Self {
            time,
            store: RwLock::default(),
            capacity: AtomicUsize::new(capacity),
            max_object: AtomicUsize::new(max_object),
            clock: AtomicU64::new(1),
            fills: Mutex::default(),
            hit_for_miss: Mutex::default(),
            purges: Mutex::default(),
            evicted: AtomicU64::new(0),
        }
    }

    pub fn resize(&self, capacity: usize, max_object: usize) {
        self.capacity.store(capacity, Relaxed);
        self.max_object.store(max_object, Relaxed);
        if let Ok(mut store) = self.store.write() {
            self.evict(&mut store, capacity);
        }
    }

    /// The time the cache decides by.
    pub fn clock(&self) -> &Clock {
        &self.time
    }

    pub fn max_object(&self) -> usize {
        self.max_object.load(Relaxed)
    }
    pub fn capacity(&self) -> usize {
        self.capacity.load(Relaxed)
    }
    /// (bytes, objects) held now.
    pub fn usage(&self) -> (usize, usize) {
        self.store
            .read()
            .map(|s| (s.bytes, s.objects))
            .unwrap_or_default()
    }

    /// The variant of `url` stored for these request headers, fresh or not; dead objects
    /// (past every stale window) are not returned.
    pub fn lookup(&self, url: &str, request: &HeaderMap, now: Instant) -> Option<Arc<Object>> {
        let store = self.store.read().ok()?;
        let entry = store.entries.get(url)?;
        let object = if entry.vary.is_empty() {
            entry.variants.first()?
        } else {
            let wanted = vary_values(&entry.vary, request);
            entry.variants.iter().find(|o| o.vary_values == wanted)?
        };
        if object.is_dead(now) {
            return None;
        }
        object
            .last_used
            .store(self.clock.fetch_add(1, Relaxed), Relaxed);
        Some(Arc::clone(object))
    }

    /// Stores a response for `url` as requested with `request`'s headers. Returns the stored
    /// object, or `None` when it is too big for this cache.
    pub fn insert(
        &self,
        url: &str,
        request: &HeaderMap,
        mut object: Object,
    ) -> Option<Arc<Object>> {
        let capacity = self.capacity();
        if object.body.len() > self.max_object() || object.size + url.len() > capacity / 2 {
            return None;
        }
        let made_at = object
            .headers
            .get(&BUS_SEQ)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let admission = match (made_at, self.purges.lock()) {
            (Some(made_at), Ok(p)) => p.admit(made_at, &object.surrogate_keys),
            _ => Admission::Fresh,
        };
        match admission {
            Admission::Fresh => {}
            Admission::Stale => object.expired = AtomicBool::new(true),
            Admission::Refused => return None,
        }
        let vary = vary_names(&object.headers);
        object.vary_values = vary_values(&vary, request);
        object.last_used = AtomicU64::new(self.clock.fetch_add(1, Relaxed));
        let object = Arc::new(object);

        let mut store = self.store.write().ok()?;
        let store = &mut *store;
        // A different Vary from the origin makes the old variants unreachable: drop them.
        if store.entries.get(url).is_some_and(|e| e.vary != vary) {
            store.remove_url(url);
        }
        let entry = store
            .entries
            .entry(url.to_owned())
            .or_insert_with(|| Entry {
                vary,
                variants: Vec::new(),
            });
        let mut replaced = Vec::new();
        entry.variants.retain(|o| {
            let same = o.vary_values == object.vary_values;
            if same {
                replaced.push(Arc::clone(o));
            }
            !same
        });
        if entry.variants.len() >= MAX_VARIANTS {
            replaced.push(entry.variants.remove(0));
        }
        entry.variants.push(Arc::clone(&object));
        for old in &replaced {
            store.forget(url, old);
        }
        store.bytes += object.size + url.len();
        store.objects += 1;
        for k in &object.surrogate_keys {
            store
                .keys
                .entry(k.clone())
                .or_default()
                .insert(url.to_owned());
        }
        if store.bytes > capacity {
            self.evict(store, capacity);
        }
        Some(object)
    }

    /// Drops the least recently used objects until the store is under 90 % of `capacity`.
    fn evict(&self, store: &mut Store, capacity: usize) {
        if store.bytes <= capacity {
            return;
        }
        let target = capacity / 10 * 9;
        let mut by_age: Vec<(u64, String, usize)> = store
            .entries
            .iter()
            .flat_map(|(url, e)| {
                e.variants.iter().map(move |o| {
                    (
                        o.last_used.load(Relaxed),
                        url.clone(),
                        Arc::as_ptr(o) as usize,
                    )
                })
            })
            .collect();
        by_age.sort_unstable_by_key(|(t, ..)| *t);
        for (_, url, ptr) in by_age {
            if store.bytes <= target {
                break;
            }
            let Some(entry) = store.entries.get_mut(&url) else {
                continue;
            };
            let Some(i) = entry
                .variants
                .iter()
                .position(|o| Arc::as_ptr(o) as usize == ptr)
            else {
                continue;
            };
            let o = entry.variants.remove(i);
            if entry.variants.is_empty() {
                store.entries.remove(&url);
            }
            store.forget(&url, &o);
            self.evicted.fetch_add(1, Relaxed);
        }
    }

    /// Removes every variant of one URL; returns how many objects went.
    pub fn purge_url(&self, url: &str) -> usize {
        self.store
            .write()
            .map(|mut s| s.remove_url(url))
            .unwrap_or(0)
    }

    /// Removes every object tagged with one of `keys` — or, for a key named soft
    /// (`contract::key::soft`), marks it stale, to be served while one request fetches it
    /// anew; returns how many objects went or were marked.
    pub fn purge_keys<'a>(&self, keys: impl Iterator<Item = &'a str>) -> usize {
        let Ok(mut store) = self.store.write() else {
            return 0;
        };
        let (mut hard, mut soft) = (HashSet::new(), HashSet::new());
        for named in keys {
            let (key, is_soft) = contract::key::purged(named);
            if let Some(urls) = store.keys.get(key) {
                let into = if is_soft { &mut soft } else { &mut hard };
                into.extend(urls.iter().cloned());
            }
        }
        let mut n: usize = hard.iter().map(|u| store.remove_url(u)).sum();
        for url in soft.difference(&hard) {
            if let Some(entry) = store.entries.get(url) {
                for o in &entry.variants {
                    o.expired.store(true, Relaxed);
                    n += 1;
                }
            }
        }
        n
    }

    /// The bus says write `seq` changed `keys`: they are purged, and pages made before it
    /// are not stored under them from now on.
    pub fn purge_keys_at(&self, keys: &[&str], seq: u64) -> usize {
        if let Ok(mut p) = self.purges.lock() {
            for k in keys {
                p.record(k, seq);
            }
            if p.at.len() > REMEMBERED_PURGES {
                let newest = p.at.values().map(Purged::last).max().unwrap_or(seq);
                p.at.clear();
                p.floor = p.floor.max(newest);
            }
        }
        self.purge_keys(keys.iter().copied())
    }

    /// The bus lost track up to `seq`: everything goes, and nothing made before it is
    /// stored again.
    pub fn purge_all_at(&self, seq: u64) -> usize {
        if let Ok(mut p) = self.purges.lock() {
            p.at.clear();
            p.floor = p.floor.max(seq);
        }
        self.purge_all()
    }

    /// Removes everything; returns how many objects went.
    pub fn purge_all(&self) -> usize {
        let Ok(mut store) = self.store.write() else {
            return 0;
        };
        std::mem::take(&mut *store).objects
    }

    /// Joins the fetch in progress for `url`, or becomes the one that fetches.
    pub fn join_fill(self: &Arc<Self>, url: &str) -> Fill {
        let Ok(mut fills) = self.fills.lock() else {
            // A poisoned lock only loses coalescing, never correctness.
            let (tx, _) = watch::channel(None);
            return Fill::Leader(FillLeader {
                cache: Arc::clone(self),
                url: String::new(),
                tx,
            });
        };
        if let Some(tx) = fills.get(url) {
            return Fill::Waiter(tx.subscribe());
        }
        let (tx, _) = watch::channel(None);
        fills.insert(url.to_owned(), tx.clone());
        Fill::Leader(FillLeader {
            cache: Arc::clone(self),
            url: url.to_owned(),
            tx,
        })
    }

    pub fn mark_hit_for_miss(&self, url: &str, for_how_long: Duration) {
        if for_how_long.is_zero() {
            return;
        }
        if let Ok(mut m) = self.hit_for_miss.lock() {
            let now = self.time.now();
            if m.len() > 10_000 {
                m.retain(|_, until| *until > now);
            }
            m.insert(url.to_owned(), now + for_how_long);
        }
    }

    pub fn is_hit_for_miss(&self, url: &str) -> bool {
        self.hit_for_miss
            .lock()
            .ok()
            .and_then(|m| m.get(url).copied())
            .is_some_and(|until| self.time.now() < until)
    }

    pub fn clear_hit_for_miss(&self, url: &str) {
        if let Ok(mut m) = self.hit_for_miss.lock() {
            m.remove(url);
        }
    }
}

/// host + path + query with its parameters sorted, so `?b=2&a=1` and `?a=1&b=2` share one
/// object (as Varnish's `std.querysort`).
pub fn url_key(host: &str, path: &str, query: Option<&str>) -> String {
    let mut key = String::with_capacity(host.len() + path.len() + query.map_or(0, str::len) + 1);
    key.push_str(host);
    key.push_str(path);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        let mut params: Vec<&str> = q.split('&').filter(|p| !p.is_empty()).collect();
        // By name only, and stable: `?b=1&a=2` is `?a=2&b=1`, but a name given twice keeps
        // its values in order (`?q=b&q=a` is another page than `?q=a&q=b`).
        params.sort_by_key(|p| p.split_once('=').map_or(*p, |(name, _)| name));
        if !params.is_empty() {
            key.push('?');
            key.push_str(&params.join("&"));
        }
    }
    key
}

fn vary_names(headers: &HeaderMap) -> Vec<HeaderName> {
    let mut names: Vec<HeaderName> = headers
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    names.dedup();
    names
}

fn vary_values(names: &[HeaderName], request: &HeaderMap) -> Vec<Option<HeaderValue>> {
    names
        .iter()
        .map(|n| {
            if n == header::ACCEPT_ENCODING {
                normalise_accept_encoding(request.get(n))
            } else {
                request.get(n).cloned()
            }
        })
        .collect()
}

/// `gzip, deflate, br` and `br;q=1, gzip` name the same thing: the codings accepted, sorted,
/// without weights, and without those refused with `q=0`. The balancer also sends this
/// normalised value upstream, so the stored variant matches its key.
pub fn normalise_accept_encoding(value: Option<&HeaderValue>) -> Option<HeaderValue> {
    let value = value?.to_str().ok()?;
    let mut codings: Vec<String> = value
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (!coding.is_empty() && !refused).then_some(coding)
        })
        .collect();
    codings.sort();
    codings.dedup();
    if codings.is_empty() {
        return None;
    }
    HeaderValue::from_str(&codings.join(",")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifetime(secs: u64) -> Lifetime {
        Lifetime {
            fresh: Duration::from_secs(secs),
            stale_while_revalidate: Duration::ZERO,
            stale_if_error: Duration::ZERO,
            stale_if_unreachable: Duration::ZERO,
        }
    }

    fn object(body: &'static [u8], headers: &[(&'static str, &'static str)]) -> Object {
        let mut h = HeaderMap::new();
        for (n, v) in headers {
            h.append(HeaderName::from_static(n), HeaderValue::from_static(v));
        }
        Object::new(
            StatusCode::OK,
            h,
            Bytes::from_static(body),
            Duration::ZERO,
            lifetime(60),
            Instant::now(),
        )
    }

    #[test]
    fn the_order_of_names_does_not_matter_but_a_repeated_name_keeps_its_order() {
        assert_eq!(
            url_key("h", "/c", Some("b=2&a=1")),
            url_key("h", "/c", Some("a=1&b=2&"))
        );
        assert_eq!(url_key("h", "/c", Some("")), "h/c");
        assert_ne!(
            url_key("h", "/c", Some("q=b&q=a")),
            url_key("h", "/c", Some("q=a&q=b")),
            "two different pages"
        );
        assert_eq!(
            url_key("h", "/c", Some("q=b&x=1&q=a")),
            url_key("h", "/c", Some("x=1&q=b&q=a"))
        );
    }

    #[test]
    fn accept_encoding_is_normalised() {
        let v = |s: &'static str| normalise_accept_encoding(Some(&HeaderValue::from_static(s)));
        assert_eq!(v("gzip, deflate, br"), v("br;q=1.0, deflate,gzip"));
        assert_eq!(
            v("gzip;q=0, identity"),
            Some(HeaderValue::from_static("identity"))
        );
    }

    #[test]
    fn variants_follow_vary() {
        let cache = Cache::new(1 << 20, 1 << 16, Clock::system());
        let mut fr = HeaderMap::new();
        fr.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("fr"));
        let mut en = HeaderMap::new();
        en.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        cache.insert(
            "h/",
            &fr,
            object(b"bonjour", &[("vary", "Accept-Language")]),
        );
        let now = Instant::now();
        assert_eq!(
            cache.lookup("h/", &fr, now).map(|o| o.body.clone()),
            Some(Bytes::from_static(b"bonjour"))
        );
        assert!(cache.lookup("h/", &en, now).is_none());
        cache.insert("h/", &en, object(b"hello", &[("vary", "Accept-Language")]));
        assert_eq!(
            cache.lookup("h/", &en, now).map(|o| o.body.clone()),
            Some(Bytes::from_static(b"hello"))
        );
        assert_eq!(cache.usage().1, 2);
    }

    #[test]
    fn the_byte_budget_holds_and_recent_objects_stay() {
        let capacity = 64 * 1024;
        let cache = Cache::new(capacity, 8 * 1024, Clock::system());
        let body = Bytes::from(vec![b'x'; 4000]);
        let none = HeaderMap::new();
        for i in 0..100 {
            let o = Object::new(
                StatusCode::OK,
                HeaderMap::new(),
                body.clone(),
                Duration::ZERO,
                lifetime(60),
                Instant::now(),
            );
            cache.insert(&format!("h/{i}"), &none, o);
            // Keep touching the first page: it is the popular one.
            cache.lookup("h/0", &none, Instant::now());
            assert!(cache.usage().0 <= capacity);
        }
        assert!(cache.lookup("h/0", &none, Instant::now()).is_some());
        assert!(cache.lookup("h/1", &none, Instant::now()).is_none());
        assert!(cache.evicted.load(Relaxed) > 50);
    }

    #[test]
    fn purge_by_url_and_by_surrogate_key() {
        let cache = Cache::new(1 << 20, 1 << 16, Clock::system());
        let none = HeaderMap::new();
        cache.insert(
            "h/a",
            &none,
            object(b"a", &[("surrogate-key", "recording:1 catalog")]),
        );
        cache.insert(
            "h/b",
            &none,
            object(b"b", &[("surrogate-key", "recording:2 catalog")]),
        );
        cache.insert("h/c", &none, object(b"c", &[("surrogate-key", "user:7")]));
        let stored = cache.lookup("h/a", &none, Instant::now());
        assert!(stored.is_some_and(|o| !o.headers.contains_key(&SURROGATE_KEY)));
        assert_eq!(cache.purge_keys(["recording:2"].into_iter()), 1);
        assert!(cache.lookup("h/b", &none, Instant::now()).is_none());
        assert_eq!(cache.purge_keys(["catalog", "nothing"].into_iter()), 1);
        assert_eq!(cache.purge_url("h/c"), 1);
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn a_page_made_before_a_bus_purge_of_its_keys_is_not_stored() {
        let cache = Cache::new(1 << 20, 1 << 16, Clock::system());
        let none = HeaderMap::new();
        let page = |seq: &'static str| {
            object(
                b"p",
                &[("surrogate-key", "recording:1 catalog"), ("x-bus-seq", seq)],
            )
        };
        assert_eq!(cache.purge_keys_at(&["recording:1"], 7), 0);
        // Made when the replica had applied up to 6: it may predate write 7.
        assert!(cache.insert("h/p", &none, page("6")).is_none());
        assert!(cache.insert("h/p", &none, page("7")).is_some());
        assert_eq!(cache.purge_keys_at(&["catalog"], 9), 1);
        assert!(cache.insert("h/p", &none, page("8")).is_none());
        // Lost track: everything goes, nothing older comes back.
        assert!(cache.insert("h/p", &none, page("9")).is_some());
        assert_eq!(cache.purge_all_at(12), 1);
        assert!(
            cache
                .insert("h/q", &none, object(b"q", &[("x-bus-seq", "11")]))
                .is_none()
        );
        assert!(
            cache
                .insert("h/q", &none, object(b"q", &[("x-bus-seq", "12")]))
                .is_some()
        );
    }

    #[test]
    fn a_page_made_before_a_soft_purge_is_stored_stale_so_each_revalidation_moves_it_on() {
        let cache = Cache::new(1 << 20, 1 << 16, Clock::system());
        let none = HeaderMap::new();
        let page = |seq: &'static str| {
            object(
                b"p",
                &[("surrogate-key", "card:1 card:2"), ("x-bus-seq", seq)],
            )
        };
        let now = Instant::now();
        assert!(
            cache
                .insert("h/p", &none, page("5"))
                .is_some_and(|o| o.is_fresh(now))
        );
        // Ratings keep coming: each soft purge is newer than the page being made.
        assert_eq!(cache.purge_keys_at(&["~card:1"], 7), 1);
        let stored = cache.insert("h/p", &none, page("6"));
        assert!(
            stored.is_some_and(|o| !o.is_fresh(now) && o.may_serve_while_revalidating(now)),
            "newer than the copy it replaces, but already stale"
        );
        assert!(
            cache
                .insert("h/p", &none, page("7"))
                .is_some_and(|o| o.is_fresh(now))
        );
        // A hard purge of the same key still refuses what was made before it, whatever the
        // soft purges after it.
        cache.purge_keys_at(&["card:2"], 9);
        cache.purge_keys_at(&["~card:2"], 10);
        assert!(cache.insert("h/p", &none, page("8")).is_none());
        assert!(
            cache
                .insert("h/p", &none, page("9"))
                .is_some_and(|o| !o.is_fresh(now))
        );
        assert!(
            cache
                .insert("h/p", &none, page("10"))
                .is_some_and(|o| o.is_fresh(now))
        );
    }

    #[test]
    fn conditional_requests_match_validators() {
        let o = object(
            b"x",
            &[
                ("etag", "\"v1\""),
                ("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT"),
            ],
        );
        let mut req = HeaderMap::new();
        req.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"v1\""));
        assert!(o.satisfies_conditional(&req));
        req.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"v2\""));
        assert!(!o.satisfies_conditional(&req));
        let mut req = HeaderMap::new();
        req.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Fri, 02 Jan 2026 00:00:00 GMT"),
        );
        assert!(o.satisfies_conditional(&req));
    }
}
