//! The Redis transport (`--redis-url`): a replica that commits a logged write appends the
//! log's number to a Redis stream (`XADD` after commit, capped in length); every follower
//! blocks on the stream (`XREAD BLOCK` from the last entry it saw, on a connection of its
//! own) and reads the log when an entry comes. A stream, not pub/sub: a reader that was
//! away for a moment gets what it missed. Each return of the block, empty or not, is the
//! transport's heartbeat and renews the lease; while Redis is gone the lease lapses and
//! the replica reads through to the database until Redis answers again.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use deadpool_redis::redis::{self, AsyncConnectionConfig};
use tokio::sync::Notify;

use super::{LEASE, lock};
use crate::write;

/// The stream's key.
pub const STREAM: &str = "ambisonia:invalidations";
/// How long one `XREAD` blocks: an empty return at least this often renews the lease.
const BLOCK: Duration = Duration::from_millis(1000);
/// About how many entries the stream keeps (the log, not the stream, is the truth).
const KEEP: u32 = 10_000;
/// How long to wait between attempts to reach Redis while it is gone.
const RETRY: Duration = Duration::from_millis(250);

/// One process's end of the stream: a pool for publishing, a dedicated connection (made
/// by `follow`) for the blocking reads.
pub struct RedisStream {
    client: redis::Client,
    pool: deadpool_redis::Pool,
    /// When the stream last answered a read.
    heard: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStream")
            .field("alive", &self.alive())
            .finish_non_exhaustive()
    }
}

type Entries = Option<Vec<(String, Vec<(String, redis::Value)>)>>;

impl RedisStream {
    /// Checks the URL; connects later (and again whenever Redis comes back).
    pub fn open(url: &str) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("the Redis URL is not usable: {e}"))?;
        let pool = deadpool_redis::Config::from_url(url)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| format!("the Redis URL is not usable: {e}"))?;
        Ok(Self {
            client,
            pool,
            heard: Mutex::new(None),
        })
    }

    /// Whether the stream answered within the lease.
    pub fn alive(&self) -> bool {
        lock(&self.heard).is_some_and(|at| at.elapsed() < LEASE)
    }

    /// Appends the number of each of this process's commits to the stream (commits that
    /// land while one is being appended are covered by the next, higher number).
    pub(super) async fn publish(self: Arc<Self>) {
        let mut committed = write::committed();
        let mut failing = false;
        while committed.changed().await.is_ok() {
            let seq = *committed.borrow_and_update();
            let added = async {
                let mut conn = self.pool.get().await.map_err(|e| e.to_string())?;
                redis::cmd("XADD")
                    .arg(STREAM)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(KEEP)
                    .arg("*")
                    .arg("seq")
                    .arg(seq)
                    .query_async::<String>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())
            }
            .await;
            match added {
                Ok(_) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "a commit could not be announced on Redis; other replicas find it by their heartbeat");
                }
                Err(_) => {}
            }
        }
    }

    /// Follows the stream forever, nudging the follower for each entry and after each
    /// reconnection (what came while away is read from the log).
    pub(super) async fn follow(self: Arc<Self>, nudge: Arc<Notify>) {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(BLOCK + Duration::from_secs(1)));
        let mut last = "$".to_owned();
        let mut gone_since: Option<Instant> = None;
        loop {
            // Connected, and answering (a missing or wrong password is told only by the
            // first command): at once, so that the lease holds from the start, not after a
            // first block.
            let answered = match self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(mut conn) => redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| conn),
                Err(e) => Err(e),
            };
            let mut conn = match answered {
                Ok(conn) => conn,
                Err(e) => {
                    if gone_since.is_none() {
                        gone_since = Some(Instant::now());
                        tracing::warn!(error = %e, "Redis is unreachable: the read cache is not trusted until it answers");
                    }
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            *lock(&self.heard) = Some(Instant::now());
            if let Some(since) = gone_since.take() {
                tracing::info!(
                    after_ms = since.elapsed().as_millis() as u64,
                    "Redis answers again"
                );
            }
            nudge.notify_one();
            loop {
                let read: redis::RedisResult<Entries> = redis::cmd("XREAD")
                    .arg("BLOCK")
                    .arg(BLOCK.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(STREAM)
                    .arg(&last)
                    .query_async(&mut conn)
                    .await;
                match read {
                    Ok(entries) => {
                        *lock(&self.heard) = Some(Instant::now());
                        let newest = entries
                            .into_iter()
                            .flatten()
                            .filter_map(|(_, entries)| entries.last().map(|(id, _)| id.clone()))
                            .next_back();
                        if let Some(id) = newest {
                            last = id;
                            nudge.notify_one();
                        }
                    }
                    Err(e) => {
                        gone_since = Some(Instant::now());
                        tracing::warn!(error = %e, "the Redis stream read failed: the read cache is not trusted until it answers");
                        break;
                    }
                }
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}
