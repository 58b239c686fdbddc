//! `server --role balancer`: the front door (the `balancer` crate), and — with
//! `--bus-database-url` — its page cache on the invalidation bus: every write anywhere
//! purges the pages it changed here too, whichever replica and balancer it went through,
//! with no list of balancers to fan purges out to. With `--redis-url` it is woken by the
//! same Redis stream as the replicas.

use std::{net::SocketAddr, sync::Arc};

use balancer::{BalancerFlags, TrustedProxies, cache::Cache};
use domain::bus::{Bus, Sink};

use crate::config::BusConfig;

/// The balancer's page cache as a follower of the invalidation log.
pub struct PageCache(pub Arc<Cache>);

impl Sink for PageCache {
    fn invalidate(&self, keys: &[&str], seq: u64) {
        self.0.purge_keys_at(keys, seq);
    }

    fn flush(&self, seq: u64) {
        let gone = self.0.purge_all_at(seq);
        tracing::warn!(
            gone,
            "the invalidation log no longer reaches this balancer's cursor: every cached page purged"
        );
    }
}

pub async fn run(
    listen: SocketAddr,
    flags: BalancerFlags,
    proxies: TrustedProxies,
    bus: BusConfig,
) -> Result<(), String> {
    let transport = bus.transport()?;
    let db = match bus.bus_database_url.filter(|u| !u.is_empty()) {
        Some(url) => Some(
            domain::db::connect(&url)
                .await
                .map_err(|e| format!("cannot open the bus database: {e}"))?,
        ),
        None => None,
    };
    balancer::run(listen, flags, proxies, crate::shutdown::signal(), move |shared| {
        if let Some(db) = db {
            let cache = PageCache(Arc::clone(&shared.cache));
            tokio::spawn(async move {
                match Bus::start(db, cache, transport).await {
                    Ok(bus) => tracing::info!(cursor = bus.cursor(), "balancer following the invalidation bus"),
                    Err(e) => tracing::error!(error = %e, "cannot follow the invalidation bus; pages expire by their TTL only"),
                }
            });
        }
    })
    .await
}
