//! How many API requests one token or one client address may make in a window, told to
//! the client as it goes (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`).
//! Fixed windows, counted in Redis when the site has one — so every replica behind the
//! balancer counts against the same allowance — and in this replica's memory otherwise
//! (or while Redis does not answer: a bound per replica is still a bound, and the API keeps
//! working).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use deadpool_redis::redis;

/// How long Redis may take to count before this replica counts alone.
const REDIS_WAIT: Duration = Duration::from_millis(250);

/// Whose requests are counted together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// A personal API token (by its id).
    Token(i32),
    /// An anonymous client, by its address.
    Address(String),
}

impl Client {
    fn key(&self) -> String {
        match self {
            Client::Token(id) => format!("t:{id}"),
            Client::Address(a) => format!("a:{a}"),
        }
    }
}

/// The allowance of a kind of client: `max` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub max: u32,
    pub window: Duration,
}

/// What one request left of its client's allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window ends and the allowance is whole again.
    pub reset_s: u64,
    /// This request is within the allowance.
    pub allowed: bool,
}

pub struct Quota {
    tokens: Allowance,
    addresses: Allowance,
    redis: Option<deadpool_redis::Pool>,
    /// Counters of this replica, one per client and window.
    local: moka::sync::Cache<String, Arc<AtomicU32>>,
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota")
            .field("tokens", &self.tokens)
            .field("addresses", &self.addresses)
            .field("shared", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl Quota {
    /// Counts in Redis at `redis_url` when given (the bus's Redis), else on this replica.
    pub fn new(
        tokens: Allowance,
        addresses: Allowance,
        redis_url: Option<&str>,
    ) -> Result<Self, String> {
        let redis = match redis_url {
            Some(url) => Some(
                deadpool_redis::Config::from_url(url)
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                    .map_err(|e| format!("the Redis URL is not usable: {e}"))?,
            ),
            None => None,
        };
        let longest = tokens.window.max(addresses.window);
        Ok(Self {
            tokens,
            addresses,
            redis,
            local: moka::sync::Cache::builder()
                .max_capacity(500_000)
                .time_to_live(longest)
                .build(),
        })
    }

    /// Counts one request of `client` and says where it stands.
    pub async fn take(&self, client: &Client) -> Standing {
        let allowance = match client {
            Client::Token(_) => self.tokens,
            Client::Address(_) => self.addresses,
        };
        let window_s = allowance.window.as_secs().max(1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let window = now / window_s;
        let reset_s = (window + 1) * window_s - now;
        let key = format!("ambisonia:quota:{}:{window}", client.key());
        let used = match self.shared_count(&key, window_s).await {
            Some(n) => n,
            None => {
                let counter = self.local.get_with(key, || Arc::new(AtomicU32::new(0)));
                counter.fetch_add(1, Ordering::Relaxed).saturating_add(1)
            }
        };
        Standing {
            limit: allowance.max,
            remaining: allowance.max.saturating_sub(used),
            reset_s,
            allowed: used <= allowance.max,
        }
    }

    /// The count after this request in Redis, or `None` without Redis or when it does not
    /// answer in time.
    async fn shared_count(&self, key: &str, window_s: u64) -> Option<u32> {
        let pool = self.redis.as_ref()?;
        let counted = async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let (n,): (u32,) = redis::pipe()
                .atomic()
                .incr(key, 1)
                .expire(key, i64::try_from(window_s + 1).unwrap_or(i64::MAX))
                .ignore()
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<u32, String>(n)
        };
        match tokio::time::timeout(REDIS_WAIT, counted).await {
            Ok(Ok(n)) => Some(n),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "API quota counted on this replica alone: Redis refused");
                None
            }
            Err(_) => {
                tracing::warn!("API quota counted on this replica alone: Redis is slow");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_is_allowed_its_allowance_and_no_more_while_others_are_not_charged() {
        let per_minute = |max| Allowance {
            max,
            window: Duration::from_secs(60),
        };
        let q = Quota::new(per_minute(3), per_minute(2), None).unwrap_or_else(|e| panic!("{e}"));
        let token = Client::Token(7);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let s = q.take(&token).await;
            assert_eq!(s.limit, 3);
            assert!(s.reset_s <= 60);
            seen.push((s.remaining, s.allowed));
        }
        assert_eq!(seen, [(2, true), (1, true), (0, true), (0, false)]);
        let address = Client::Address("192.0.2.1".into());
        assert!(q.take(&address).await.allowed);
        assert_eq!(q.take(&address).await.remaining, 0);
        assert!(!q.take(&address).await.allowed);
        assert!(
            q.take(&Client::Token(8)).await.allowed,
            "another token is not charged"
        );
    }

    #[tokio::test]
    async fn with_redis_gone_each_replica_still_counts() {
        let per_minute = |max| Allowance {
            max,
            window: Duration::from_secs(60),
        };
        // Nothing listens on port 1: every attempt is refused at once.
        let q = Quota::new(per_minute(2), per_minute(2), Some("redis://127.0.0.1:1/"))
            .unwrap_or_else(|e| panic!("{e}"));
        let token = Client::Token(1);
        let seen: Vec<bool> = [
            q.take(&token).await,
            q.take(&token).await,
            q.take(&token).await,
        ]
        .iter()
        .map(|s| s.allowed)
        .collect();
        assert_eq!(
            seen,
            [true, true, false],
            "the allowance holds on this replica"
        );
    }
}
