//! The invalidation bus, ZEO's rule for many replicas on one database: each replica keeps
//! hot reads in memory (`ReadCache`) and never serves them stale after a write anywhere.
//!
//! Every committed write (`write::Write::commit`) leaves its surrogate keys in the invalidation log
//! with a number that follows commit order. Each replica's follower reads the log from its
//! cursor — woken at once by the transport (`Transport`: a Redis stream, else PostgreSQL's
//! `NOTIFY` sent at commit, else, in one process, the committing task), and in any case
//! every `HEARTBEAT` — and drops the cache entries named. The log is the truth and the
//! wake-ups only make it fast: a lost notification delays an invalidation by one heartbeat
//! at most. A follower that finds the log no longer reaches back to its cursor (trimmed
//! while it was away) drops its whole cache before serving from it again.
//!
//! The cache is trusted only under a lease: the log read within `LEASE` *and* the
//! transport alive (the Redis stream answered within `LEASE`; the `LISTEN` connection
//! up). While it has lapsed the replica reads through to the database and marks pages
//! uncacheable, until both are back.

mod stream;

pub use stream::RedisStream;

use std::{
    any::Any,
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use serde::Serialize;

use tokio::sync::Notify;

use crate::{
    ServiceError,
    write::{self, log},
};

/// How often the follower reads the log when nothing wakes it (also its heartbeat): a
/// third of the lease, so that two missed reads do not lapse it. Each read is one
/// transaction: with 100 replicas and 10 balancers, 110 a second of background.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a replica trusts its cache after the last successful read of the log.
pub const LEASE: Duration = Duration::from_secs(3);
/// How long the log keeps an entry.
pub const RETAIN: Duration = Duration::from_secs(3600);
/// How often a replica trims the log.
const TRIM_EVERY: Duration = Duration::from_secs(60);
/// Log rows read at a time.
const BATCH: i64 = 1000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Entry {
    /// Which entry this is, of all ever stored (so that the eviction of one entry never
    /// unfiles another stored under the same cache key since).
    id: u64,
    value: Arc<dyn Any + Send + Sync>,
    keys: Vec<String>,
    /// Its size in bytes, roughly (what the byte bound counts).
    weight: u32,
}

/// What follows the log: told which keys each write changed, or to drop everything.
pub trait Sink: Send + Sync + 'static {
    /// The write numbered `seq` changed `keys`.
    fn invalidate(&self, keys: &[&str], seq: u64);
    /// What changed up to `seq` is unknown: drop everything.
    fn flush(&self, seq: u64);
}

/// Hot reads kept in memory, bounded in bytes, each entry filed under the surrogate keys
/// of what it shows; an invalidation of a key drops every entry filed under it.
pub struct ReadCache {
    entries: moka::sync::Cache<String, Arc<Entry>>,
    /// Surrogate key → the cache keys filed under it, each with the id of the entry filed.
    index: Arc<Mutex<Index>>,
    next_id: AtomicU64,
    /// The last invalidation of each key (its log number), to refuse an entry read before
    /// it; only invalidations after `floor` are remembered.
    invalidated: Mutex<HashMap<String, u64>>,
    /// Entries read before the log reached this number are refused (a flush, or
    /// forgotten history).
    floor: AtomicU64,
}

type Index = HashMap<String, HashMap<String, u64>>;

/// How many invalidated keys to remember before forgetting the oldest half.
const REMEMBERED: usize = 100_000;

impl ReadCache {
    pub fn new(max_bytes: u64, ttl: Duration) -> Self {
        let index: Arc<Mutex<Index>> = Arc::default();
        let on_evict = Arc::clone(&index);
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|_: &String, e: &Arc<Entry>| e.weight)
            .time_to_live(ttl)
            // Told late (moka tells of a replaced entry after the new one is in): only this
            // entry's filing goes, never that of the entry that replaced it. Unfiling the
            // new one left it where no invalidation could reach it — a list page stale
            // until its time to live ran out (seen: 40 s behind under a rating storm).
            .eviction_listener(move |key: Arc<String>, e: Arc<Entry>, _| {
                let mut index = lock(&on_evict);
                for k in &e.keys {
                    if let Some(filed) = index.get_mut(k) {
                        if filed.get(key.as_str()) == Some(&e.id) {
                            filed.remove(key.as_str());
                        }
                        if filed.is_empty() {
                            index.remove(k);
                        }
                    }
                }
            })
            .build();
        Self {
            entries,
            index,
            next_id: AtomicU64::new(0),
            invalidated: Mutex::default(),
            floor: AtomicU64::new(0),
        }
    }

    pub fn get<T: Clone + 'static>(&self, key: &str) -> Option<T> {
        self.filed(key).map(|(value, _)| value)
    }

    /// The entry at `key` and the surrogate keys it is filed under.
    pub fn filed<T: Clone + 'static>(&self, key: &str) -> Option<(T, Vec<String>)> {
        self.entries.get(key).and_then(|e| {
            e.value
                .downcast_ref::<T>()
                .map(|v| (v.clone(), e.keys.clone()))
        })
    }

    /// Keeps `value`, read from the database when the log stood at `read_at`, under
    /// `keys` — unless one of them was invalidated after that (the read may be older than
    /// the write), or the cache was flushed since. `bytes` is its size, roughly.
    pub fn insert<T: Send + Sync + 'static>(
        &self,
        key: String,
        value: T,
        keys: Vec<String>,
        read_at: u64,
        bytes: usize,
    ) -> bool {
        let weight = key.len() + bytes + keys.iter().map(String::len).sum::<usize>();
        // Checked, filed and stored under one lock, which `drop_keys` takes too: were the
        // entry stored after an invalidation had emptied the index, nothing would ever drop
        // it (seen under a storm of ratings: a list page stale for good).
        let invalidated = lock(&self.invalidated);
        if read_at < self.floor.load(Ordering::Acquire)
            || keys
                .iter()
                .any(|k| invalidated.get(k).is_some_and(|&at| at > read_at))
        {
            return false;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut index = lock(&self.index);
            for k in &keys {
                index.entry(k.clone()).or_default().insert(key.clone(), id);
            }
        }
        self.entries.insert(
            key,
            Arc::new(Entry {
                id,
                value: Arc::new(value),
                keys,
                weight: u32::try_from(weight).unwrap_or(u32::MAX),
            }),
        );
        drop(invalidated);
        true
    }

    /// The write numbered `seq` changed `keys`: every entry filed under one goes.
    fn drop_keys(&self, keys: &[&str], seq: u64) {
        let doomed: Vec<String> = {
            let mut invalidated = lock(&self.invalidated);
            for k in keys {
                invalidated.insert((*k).to_owned(), seq);
            }
            if invalidated.len() > REMEMBERED {
                // Forget the older half; entries read before that are refused from now on.
                let mut seqs: Vec<u64> = invalidated.values().copied().collect();
                seqs.sort_unstable();
                let cut = seqs[seqs.len() / 2];
                invalidated.retain(|_, at| *at > cut);
                self.floor.fetch_max(cut, Ordering::AcqRel);
            }
            let mut index = lock(&self.index);
            keys.iter()
                .filter_map(|k| index.remove(*k))
                .flat_map(HashMap::into_keys)
                .collect()
        };
        for key in doomed {
            self.entries.invalidate(&key);
        }
    }

    /// Everything goes, and nothing read before the log reached `seq` comes back.
    fn drop_all(&self, seq: u64) {
        let mut invalidated = lock(&self.invalidated);
        self.floor.fetch_max(seq, Ordering::AcqRel);
        invalidated.clear();
        self.entries.invalidate_all();
        lock(&self.index).clear();
    }

    pub fn len(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the entries weigh (what the bound counts), roughly.
    pub fn bytes(&self) -> u64 {
        self.entries.weighted_size()
    }
}

impl Sink for ReadCache {
    /// A soft purge (`contract::key::soft`) drops entries here like any other: the
    /// balancer in front serves the stale page while the one request that revalidates it
    /// reads the new state through this cache.
    fn invalidate(&self, keys: &[&str], seq: u64) {
        let keys: Vec<&str> = keys.iter().map(|k| contract::key::purged(k).0).collect();
        self.drop_keys(&keys, seq);
    }

    fn flush(&self, seq: u64) {
        self.drop_all(seq);
    }
}

/// A follower's place in the invalidation log, and what it tells (an app replica's read
/// cache, a balancer's page cache).
pub struct Bus<S: Sink = ReadCache> {
    db: DatabaseConnection,
    cache: S,
    link: Link,
    /// Woken by the transport (a stored permit: a nudge while reading is not lost).
    nudge: Arc<Notify>,
    cursor: AtomicU64,
    /// One reader of the log at a time (the follower, or a request after its write).
    reading: tokio::sync::Mutex<()>,
    /// When the log was last read successfully.
    last_ok: Mutex<Option<Instant>>,
    flushes: AtomicU64,
    /// The log's head as last read (how far behind the cursor is).
    head: AtomicU64,
    /// Reads through `cached`, by [`Read`].
    reads: [AtomicU64; 3],
    /// Whether this follower trims the log (the app replicas, which write it; a balancer
    /// following with a read-only role does not).
    trims: bool,
}

/// How a read through the read cache went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// Answered from the cache.
    Hit,
    /// Loaded from the database (and kept).
    Miss,
    /// Loaded from the database because the lease had lapsed (the cache was not trusted).
    Untrusted,
}

impl Read {
    pub const ALL: [Read; 3] = [Read::Hit, Read::Miss, Read::Untrusted];

    pub fn as_str(self) -> &'static str {
        match self {
            Read::Hit => "hit",
            Read::Miss => "miss",
            Read::Untrusted => "untrusted",
        }
    }
}

/// Where a follower stands, for `/metrics`.
#[derive(Debug, Clone)]
pub struct Standing {
    pub cursor: u64,
    /// The log's head when it was last read.
    pub head: u64,
    /// Since the log was last read successfully.
    pub since_read: Option<Duration>,
    /// `redis`, `listen` (PostgreSQL) or `in-process` (SQLite).
    pub transport: &'static str,
    pub transport_alive: bool,
    /// Whether the lease holds (the cache is trusted).
    pub current: bool,
    pub flushes: u64,
}

impl<S: Sink> std::fmt::Debug for Bus<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus")
            .field("cursor", &self.cursor())
            .field("current", &self.current())
            .finish()
    }
}

/// What carries new log numbers to followers. The log itself is always read from the
/// database.
#[derive(Debug, Clone, Default)]
pub enum Transport {
    /// PostgreSQL's `LISTEN`/`NOTIFY`; on SQLite (one process) the committing task.
    #[default]
    Database,
    /// A Redis stream (`--redis-url`).
    Redis(Arc<RedisStream>),
}

impl Transport {
    /// Redis when a URL is given, else the database.
    pub fn from_redis_url(url: Option<&str>) -> Result<Self, String> {
        match url.filter(|u| !u.is_empty()) {
            Some(url) => Ok(Self::Redis(Arc::new(RedisStream::open(url)?))),
            None => Ok(Self::Database),
        }
    }
}

/// The transport as the lease sees it.
enum Link {
    InProcess,
    /// Whether the `LISTEN` connection is up.
    Listen(Arc<std::sync::atomic::AtomicBool>),
    Redis(Arc<RedisStream>),
}

impl Link {
    fn alive(&self) -> bool {
        match self {
            Self::InProcess => true,
            Self::Listen(up) => up.load(Ordering::Acquire),
            Self::Redis(stream) => stream.alive(),
        }
    }
}

impl<S: Sink> Bus<S> {
    /// Starts following the log from where it stands now (the cache starts empty), woken
    /// by `transport`; with Redis, this process's commits are published on it too. Returns
    /// once the transport is up, or after `LEASE` when it is not.
    pub async fn start(
        db: DatabaseConnection,
        cache: S,
        transport: Transport,
    ) -> Result<Arc<Self>, DbErr> {
        Self::start_with(db, cache, transport, true).await
    }

    /// [`Bus::start`] for a follower that only reads the log (a balancer, whose database role
    /// may read the log and nothing else: `write::log::create_reader`); the app replicas trim
    /// it.
    pub async fn start_reading(
        db: DatabaseConnection,
        cache: S,
        transport: Transport,
    ) -> Result<Arc<Self>, DbErr> {
        Self::start_with(db, cache, transport, false).await
    }

    async fn start_with(
        db: DatabaseConnection,
        cache: S,
        transport: Transport,
        trims: bool,
    ) -> Result<Arc<Self>, DbErr> {
        let head = log::head(&db).await?;
        let nudge = Arc::new(Notify::new());
        let link = match transport {
            Transport::Redis(stream) => {
                tokio::spawn(Arc::clone(&stream).publish());
                tokio::spawn(Arc::clone(&stream).follow(Arc::clone(&nudge)));
                Link::Redis(stream)
            }
            Transport::Database if db.get_database_backend() == DbBackend::Postgres => {
                let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
                tokio::spawn(listen(db.clone(), Arc::clone(&up), Arc::clone(&nudge)));
                Link::Listen(up)
            }
            Transport::Database => Link::InProcess,
        };
        let bus = Arc::new(Self {
            db,
            cache,
            link,
            nudge,
            cursor: AtomicU64::new(head),
            reading: tokio::sync::Mutex::new(()),
            last_ok: Mutex::new(Some(Instant::now())),
            flushes: AtomicU64::new(0),
            head: AtomicU64::new(head),
            reads: Default::default(),
            trims,
        });
        tokio::spawn(Arc::clone(&bus).follow());
        // A replica is trusted from its first request only if its transport is up by then:
        // wait for the LISTEN connection or Redis' first answer, but no longer than a lease
        // (with the transport down it starts anyway and reads through until it is back).
        let until = Instant::now() + LEASE;
        while !bus.link.alive() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(bus)
    }

    /// The number of the last write this replica has applied.
    pub fn cursor(&self) -> u64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// Whether the lease holds: the log was read within `LEASE` and the transport is
    /// alive. Only then is the cache trusted.
    pub fn current(&self) -> bool {
        self.caught_up() && self.link.alive()
    }

    /// Whether the log was read within `LEASE` (a replica is ready only then; without the
    /// transport it still answers, from the database).
    pub fn caught_up(&self) -> bool {
        lock(&self.last_ok).is_some_and(|at| at.elapsed() < LEASE)
    }

    /// Whether the transport is alive (Redis answers; the `LISTEN` connection is up).
    pub fn transport_alive(&self) -> bool {
        self.link.alive()
    }

    /// How many times the whole cache was dropped because the log no longer reached back.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    pub fn cache(&self) -> &S {
        &self.cache
    }

    /// Where this follower stands now.
    pub fn standing(&self) -> Standing {
        // Its own statement: the guard must be gone before `current()` locks it again.
        let since_read = lock(&self.last_ok).map(|at| at.elapsed());
        Standing {
            cursor: self.cursor(),
            head: self.head.load(Ordering::Acquire),
            since_read,
            transport: match self.link {
                Link::InProcess => "in-process",
                Link::Listen(_) => "listen",
                Link::Redis(_) => "redis",
            },
            transport_alive: self.link.alive(),
            current: self.current(),
            flushes: self.flushes(),
        }
    }

    /// How many reads through the read cache went each way.
    pub fn reads(&self, how: Read) -> u64 {
        self.reads[how as usize].load(Ordering::Relaxed)
    }

    fn count(&self, how: Read) {
        self.reads[how as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Reads the log until woken, every heartbeat, forever; trims it now and then.
    async fn follow(self: Arc<Self>) {
        let mut trimmed = Instant::now();
        let mut committed = write::committed();
        loop {
            tokio::select! {
                _ = committed.changed() => {}
                _ = self.nudge.notified() => {}
                _ = tokio::time::sleep(HEARTBEAT) => {}
            }
            match self.catch_up().await {
                Ok(()) => *lock(&self.last_ok) = Some(Instant::now()),
                Err(e) => {
                    tracing::warn!(error = %e, "the invalidation log could not be read; the cache is not trusted until it can")
                }
            }
            if self.trims && trimmed.elapsed() > TRIM_EVERY {
                trimmed = Instant::now();
                if let Err(e) = log::trim(&self.db, RETAIN).await {
                    tracing::warn!(error = %e, "the invalidation log could not be trimmed");
                }
            }
        }
    }

    /// Applies every logged write after the cursor.
    pub async fn catch_up(&self) -> Result<(), DbErr> {
        let _one = self.reading.lock().await;
        loop {
            let cursor = self.cursor();
            let head = log::head(&self.db).await?;
            self.head.fetch_max(head, Ordering::AcqRel);
            if head <= cursor {
                return Ok(());
            }
            let rows = log::since(&self.db, cursor, BATCH).await?;
            if rows.first().is_none_or(|(seq, _)| *seq != cursor + 1) {
                // The log was trimmed past our cursor: what changed meanwhile is unknown.
                tracing::warn!(
                    cursor,
                    head,
                    "the invalidation log no longer reaches this replica's cursor: the read cache is dropped"
                );
                self.cache.flush(head);
                self.flushes.fetch_add(1, Ordering::Relaxed);
                self.cursor.store(head, Ordering::Release);
                return Ok(());
            }
            for (seq, keys) in &rows {
                let keys: Vec<&str> = keys.split(' ').filter(|k| !k.is_empty()).collect();
                self.cache.invalidate(&keys, *seq);
                self.cursor.store(*seq, Ordering::Release);
            }
            if (rows.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }
}

impl Bus<ReadCache> {
    /// `load`'s answer and the surrogate keys it named: from the cache when the lease holds
    /// and it is there; else loaded (and kept, filed under those keys, when the lease holds).
    pub async fn cached<T, F, Fut>(
        &self,
        key: String,
        load: F,
    ) -> Result<(T, Vec<String>), ServiceError>
    where
        T: Clone + Serialize + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(T, Vec<String>), ServiceError>>,
    {
        if !self.current() {
            self.count(Read::Untrusted);
            return load().await;
        }
        if let Some(filed) = self.cache.filed::<T>(&key) {
            self.count(Read::Hit);
            return Ok(filed);
        }
        self.count(Read::Miss);
        let read_at = self.cursor();
        let (value, keys) = load().await?;
        let bytes = serde_json::to_vec(&value).map_or(1024, |b| b.len());
        self.cache
            .insert(key, value.clone(), keys.clone(), read_at, bytes);
        Ok((value, keys))
    }
}

/// PostgreSQL: `LISTEN`s for new log numbers and nudges the follower; `up` says whether
/// the connection is. A lost connection is a gap too: the follower is nudged to read the
/// log (which it does anyway every heartbeat).
async fn listen(
    db: DatabaseConnection,
    up: Arc<std::sync::atomic::AtomicBool>,
    nudge: Arc<Notify>,
) {
    use sqlx::postgres::PgListener;
    loop {
        let listener = async {
            let mut l = PgListener::connect_with(db.get_postgres_connection_pool()).await?;
            l.listen(log::CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let mut listener = match listener {
            Ok(l) => l,
            Err(e) => {
                up.store(false, Ordering::Release);
                tracing::warn!(error = %e, "cannot LISTEN for invalidations; the read cache is not trusted until it can");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        up.store(true, Ordering::Release);
        nudge.notify_one();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => nudge.notify_one(),
                Ok(None) => {
                    // The connection was lost; the next `try_recv` remakes it (and LISTENs
                    // again). What was sent meanwhile is read from the log.
                    up.store(false, Ordering::Release);
                    tracing::warn!("the LISTEN connection was lost; reconnecting");
                    nudge.notify_one();
                    if let Err(e) = listener.listen(log::CHANNEL).await {
                        tracing::warn!(error = %e, "cannot LISTEN again");
                        break;
                    }
                    up.store(true, Ordering::Release);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the LISTEN connection failed");
                    break;
                }
            }
        }
        up.store(false, Ordering::Release);
        nudge.notify_one();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> ReadCache {
        ReadCache::new(1 << 20, Duration::from_secs(60))
    }

    #[test]
    fn a_redis_url_that_is_not_one_is_refused_at_start() {
        let refused = Transport::from_redis_url(Some("http://127.0.0.1:6379/"));
        assert!(refused.is_err_and(|e| e.contains("Redis URL")));
        assert!(matches!(
            Transport::from_redis_url(Some("")),
            Ok(Transport::Database)
        ));
    }

    #[test]
    fn an_entry_that_replaced_another_is_still_dropped_by_its_keys() {
        let c = cache();
        assert!(c.insert("page/list".into(), 1u32, vec!["card:1".into()], 5, 10));
        // Two renders of one page: the second replaces the first, and moka tells of the
        // first one's leaving afterwards.
        assert!(c.insert("page/list".into(), 2u32, vec!["card:1".into()], 5, 10));
        c.entries.run_pending_tasks();
        assert_eq!(c.get::<u32>("page/list"), Some(2));
        c.invalidate(&["~card:1"], 6);
        assert_eq!(c.get::<u32>("page/list"), None, "still filed under card:1");
    }

    #[test]
    fn an_invalidation_drops_what_is_filed_under_its_keys() {
        let c = cache();
        assert!(c.insert(
            "page/a".into(),
            1u32,
            vec!["recording:1".into(), "catalog".into()],
            5,
            10
        ));
        assert!(c.insert("page/b".into(), 2u32, vec!["recording:2".into()], 5, 10));
        c.invalidate(&["catalog"], 6);
        assert_eq!(c.get::<u32>("page/a"), None);
        assert_eq!(c.get::<u32>("page/b"), Some(2));
        // A soft purge drops here like any other.
        assert!(c.insert("page/c".into(), 3u32, vec!["card:3".into()], 6, 10));
        c.invalidate(&["recording:3", "~card:3"], 7);
        assert_eq!(c.get::<u32>("page/c"), None);
    }

    /// An entry stored while an invalidation of its key runs must not outlive it: stored
    /// after the invalidation emptied the index, nothing would ever drop it. Raced many
    /// times from two threads, each round's read predating its write.
    #[test]
    fn an_entry_stored_during_an_invalidation_never_outlives_it() {
        let c = cache();
        let barrier = std::sync::Barrier::new(2);
        for round in 0..5_000u64 {
            let (read_at, write) = (2 * round, 2 * round + 1);
            std::thread::scope(|s| {
                s.spawn(|| {
                    barrier.wait();
                    c.insert("page".into(), round, vec!["k".into()], read_at, 10);
                });
                s.spawn(|| {
                    barrier.wait();
                    c.invalidate(&["k"], write);
                });
            });
            assert_eq!(
                c.get::<u64>("page"),
                None,
                "round {round}: a stale entry stayed"
            );
        }
    }

    #[test]
    fn a_read_older_than_an_invalidation_is_refused() {
        let c = cache();
        c.invalidate(&["recording:1"], 7);
        // Read when the replica had applied up to 6: it may predate write 7.
        assert!(!c.insert("page/a".into(), 1u32, vec!["recording:1".into()], 6, 10));
        assert_eq!(c.get::<u32>("page/a"), None);
        assert!(c.insert("page/a".into(), 1u32, vec!["recording:1".into()], 7, 10));
        assert_eq!(c.get::<u32>("page/a"), Some(1));
    }

    #[test]
    fn a_flush_drops_everything_and_refuses_older_reads() {
        let c = cache();
        assert!(c.insert("page/a".into(), 1u32, vec!["catalog".into()], 3, 10));
        c.flush(10);
        assert_eq!(c.get::<u32>("page/a"), None);
        assert!(!c.insert("page/a".into(), 1u32, vec!["catalog".into()], 9, 10));
        assert!(c.insert("page/a".into(), 1u32, vec!["catalog".into()], 10, 10));
    }
}
