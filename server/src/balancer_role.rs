//! `server --role balancer`: the front door (the `balancer` crate), and — with
//! `--bus-database-url` — its page cache on the invalidation bus: every write anywhere
//! purges the pages it changed here too, whichever replica and balancer it went through,
//! with no list of balancers to fan purges out to. With `--redis-url` it is woken by the
//! same Redis stream as the replicas.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use balancer::{BalancerFlags, TrustedProxies, cache::Cache};
use domain::bus::{Bus, Sink};

use crate::config::{BusConfig, S3Config};

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

/// The media bucket as the ACME client's store (`[acme] store = "bucket:PREFIX"`), so that
/// every balancer of a fleet serves the one certificate and answers any challenge.
pub struct BucketStore(pub domain::store::MediaStore);

impl balancer::acme::Store for BucketStore {
    fn load<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Vec<u8>>, String>> + Send + 'a>> {
        Box::pin(async move {
            use tokio::io::AsyncReadExt as _;
            match self.0.get(name, None).await {
                Ok(mut object) => {
                    let mut bytes = Vec::new();
                    object
                        .body
                        .read_to_end(&mut bytes)
                        .await
                        .map_err(|e| format!("cannot read {name} from the bucket: {e}"))?;
                    Ok(Some(bytes))
                }
                Err(domain::store::StoreError::NotFound(_)) => Ok(None),
                Err(e) => Err(format!("cannot read {name} from the bucket: {e}")),
            }
        })
    }

    fn save<'a>(
        &'a self,
        name: &'a str,
        bytes: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let file = domain::store::TempFile::new(&std::env::temp_dir(), "acme");
            tokio::fs::write(file.path(), &bytes)
                .await
                .map_err(|e| format!("cannot write {name}: {e}"))?;
            self.0
                .put_file(name, file.path())
                .await
                .map(|_| ())
                .map_err(|e| format!("cannot store {name} in the bucket: {e}"))
        })
    }
}

pub async fn run(
    listen: SocketAddr,
    flags: BalancerFlags,
    proxies: TrustedProxies,
    bus: BusConfig,
    s3: S3Config,
) -> Result<(), String> {
    let bucket = s3.settings().map(|s| {
        Arc::new(BucketStore(domain::store::MediaStore::s3(&s))) as Arc<dyn balancer::acme::Store>
    });
    let transport = bus.transport()?;
    let db = match bus.bus_database_url.filter(|u| !u.is_empty()) {
        Some(url) => Some(
            // No migrations: its role may only read the log (`server admin bus-reader`).
            domain::db::open(&url)
                .await
                .map_err(|e| format!("cannot open the bus database: {e}"))?,
        ),
        None => None,
    };
    balancer::run(listen, flags, proxies, crate::shutdown::signal(), move |shared| {
        if let Some(db) = db {
            let cache = PageCache(Arc::clone(&shared.cache));
            tokio::spawn(async move {
                match Bus::start_reading(db, cache, transport).await {
                    Ok(bus) => tracing::info!(cursor = bus.cursor(), "balancer following the invalidation bus"),
                    Err(e) => tracing::error!(error = %e, "cannot follow the invalidation bus; pages expire by their TTL only"),
                }
            });
        }
    }, bucket)
    .await
}
