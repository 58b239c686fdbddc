//! What a write changed, named by the surrogate keys of the pages that show it. Pages are
//! cached under these keys (the app's half of the cache contract, DESIGN.md), and so is
//! each replica's read cache (`bus`). Each write in this crate names the keys it changed
//! *inside its transaction* (`record`, as its last statement): they go into the
//! invalidation log with a sequence number that follows commit order, which every
//! replica's `bus::Bus` follows; and whoever ran the write hears them too — an app replica
//! answering a request puts them in its response's `X-Purge-Keys` header, which the
//! balancer in front acts on at once.

/// The names pages are cached under. The loaders that tag pages and the writes that purge
/// them both spell keys here, so the two cannot drift apart.
pub mod key {
    /// Every list of published recordings: home, catalog, tag pages, feeds.
    pub const CATALOG: &str = "catalog";

    pub fn recording(id: i32) -> String {
        format!("recording:{id}")
    }

    pub fn user(id: i32) -> String {
        format!("user:{id}")
    }

    pub fn tag(slug: &str) -> String {
        format!("tag:{slug}")
    }

    /// One login (by its token's hash): what a replica's read cache keeps of it goes when
    /// the visitor logs out. Never a page's key (pages with a viewer are never shared).
    pub fn session(token_hash: &str) -> String {
        format!("session:{token_hash}")
    }

    /// Every login of a user: gone from read caches when their password or role changes.
    pub fn sessions_of(user_id: i32) -> String {
        format!("sessions:{user_id}")
    }
}

#[cfg(feature = "server")]
pub use collect::collecting;
#[cfg(feature = "server")]
pub use log::{CHANNEL, announce, commit, committed, record, recording};

#[cfg(feature = "server")]
mod log {
    use std::sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    };

    use chrono::Utc;
    use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement};

    /// The PostgreSQL channel new sequence numbers are announced on (at commit).
    pub const CHANNEL: &str = "ambisonia_invalidations";

    /// The highest log number a transaction of this process took.
    static RECORDED: AtomicU64 = AtomicU64::new(0);
    /// The highest log number this process has committed (at least): each follower and
    /// Redis publisher in the process watches it. A watch, not a `Notify`: a follower busy
    /// reading the log when a commit lands still sees it changed afterwards.
    static COMMITTED: LazyLock<tokio::sync::watch::Sender<u64>> =
        LazyLock::new(|| tokio::sync::watch::channel(0).0);

    /// Tells of this process's commits (SQLite has no NOTIFY; on PostgreSQL it only
    /// shortens the wait for the notification; with Redis it is what gets published).
    pub fn committed() -> tokio::sync::watch::Receiver<u64> {
        COMMITTED.subscribe()
    }

    /// Writes that `keys` changed into the invalidation log, in `txn`, and tells whoever
    /// collects (the request). Call it as the transaction's last statement before
    /// `commit`: it takes the next number from the one-row counter, whose row lock is
    /// held to commit, so numbers follow commit order (a sequence would not: its values
    /// become visible out of order) and a rolled-back write leaves no hole.
    pub async fn record(
        txn: &DatabaseTransaction,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<(), DbErr> {
        let keys: Vec<String> = keys.into_iter().collect();
        if keys.is_empty() {
            return Ok(());
        }
        let backend = txn.get_database_backend();
        let row = txn
            .query_one_raw(Statement::from_string(
                backend,
                "UPDATE invalidation_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("the invalidation counter is missing".into()))?;
        let seq: i64 = row.try_get("", "seq")?;
        RECORDED.fetch_max(u64::try_from(seq).unwrap_or(0), Ordering::AcqRel);
        let placeholder = |n: usize| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO invalidations (seq, keys, created_at) VALUES ({}, {}, {})",
                placeholder(1),
                placeholder(2),
                placeholder(3)
            ),
            [seq.into(), keys.join(" ").into(), Utc::now().into()],
        ))
        .await?;
        if backend == DbBackend::Postgres {
            txn.execute_raw(Statement::from_string(
                backend,
                format!("SELECT pg_notify('{CHANNEL}', '{seq}')"),
            ))
            .await?;
        }
        super::collect::changed(keys);
        Ok(())
    }

    /// Commits a transaction that `record`ed, and tells this process's followers (and
    /// its Redis publisher).
    pub async fn commit(txn: DatabaseTransaction) -> Result<(), DbErr> {
        txn.commit().await?;
        COMMITTED.send_replace(RECORDED.load(Ordering::Acquire));
        Ok(())
    }

    /// Writes made in bulk, in many transactions (demo data, generated recordings),
    /// named once at the end, in a transaction of their own.
    pub async fn announce(
        db: &sea_orm::DatabaseConnection,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<(), DbErr> {
        let txn = crate::db::begin_write(db).await?;
        record(&txn, keys).await?;
        commit(txn).await
    }

    /// A published recording changed, appeared or went away: its page, its uploader's page
    /// and every list of recordings.
    pub async fn recording(
        txn: &DatabaseTransaction,
        id: i32,
        uploader_id: i32,
    ) -> Result<(), DbErr> {
        record(
            txn,
            [
                super::key::recording(id),
                super::key::user(uploader_id),
                super::key::CATALOG.to_owned(),
            ],
        )
        .await
    }
}

#[cfg(feature = "server")]
mod collect {
    use std::{cell::RefCell, future::Future};

    tokio::task_local! {
        static CHANGED: RefCell<Vec<String>>;
    }

    /// Runs `f`, gathering the keys every write inside it changed (deduplicated, in the
    /// order first named).
    pub async fn collecting<F: Future>(f: F) -> (F::Output, Vec<String>) {
        CHANGED
            .scope(RefCell::new(Vec::new()), async {
                let out = f.await;
                let keys = CHANGED.with(|c| c.take());
                (out, keys)
            })
            .await
    }

    /// A write changed these keys (unheard when nobody is collecting: a command or the
    /// worker, whose writes only the bus carries).
    pub(super) fn changed(keys: impl IntoIterator<Item = String>) {
        let _ = CHANGED.try_with(|c| {
            let mut c = c.borrow_mut();
            for k in keys {
                if !c.contains(&k) {
                    c.push(k);
                }
            }
        });
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[tokio::test]
        async fn writes_inside_are_collected_once_and_outside_unheard() {
            let named = |id: i32| {
                [
                    crate::changes::key::recording(id),
                    crate::changes::key::user(7),
                    crate::changes::key::CATALOG.to_owned(),
                ]
            };
            changed(named(1));
            let ((), keys) = collecting(async {
                changed(named(42));
                changed(named(42));
            })
            .await;
            assert_eq!(keys, ["recording:42", "user:7", "catalog"]);
        }
    }
}
