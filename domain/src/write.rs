//! Every write to the database goes through one door: a [`Write`] is the only way to open a
//! writing transaction, and its only way out is [`Write::commit`], which takes what the
//! write [`Changed`] — the surrogate keys of the pages and cached reads that show it, or
//! [`Changed::nothing_shown`] said out loud. So a write cannot forget the invalidation bus:
//! the keys go into the invalidation log (`log`) in the same transaction, numbered in commit
//! order, which every replica and balancer follows; the request that made the write hears
//! them too (`collecting`), and its answer names them to the balancer in front.
//!
//! Dropping a `Write` without committing rolls it back (an error on the way, a refusal).
//! `scripts/write-owners` checks that nothing else in the crate begins or commits a
//! transaction, and that each table is written only by the module that owns it
//! (`entities/mod.rs` lists the owners).

mod collect;
pub mod log;

use std::sync::LazyLock;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

pub use collect::collecting;
pub use contract::key;

/// What a write changed, named by the surrogate keys of what shows it (`contract::key`).
#[must_use = "a write names what it changed when it commits"]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed(Vec<String>);

impl Changed {
    /// Nothing that any page or cached read shows: a login attempt, a job's lease, a
    /// payment's bookkeeping before it grants anything.
    pub fn nothing_shown() -> Self {
        Self(Vec::new())
    }

    /// These keys (deduplicated, in the order first named).
    pub fn keys(keys: impl IntoIterator<Item = String>) -> Self {
        Self::nothing_shown().and_keys(keys)
    }

    /// A published recording changed, appeared or went away: its page, its card wherever
    /// it is shown, its uploader's page and every list of recordings.
    pub fn recording(id: i32, uploader_id: i32) -> Self {
        Self::keys([
            key::recording(id),
            key::card(id),
            key::user(uploader_id),
            key::CATALOG.to_owned(),
        ])
    }

    /// Someone rated recording `id`: its page shows it at once; the lists showing its card
    /// (whose stars changed) are purged softly, so a storm of ratings costs one render per
    /// list, not one per visitor.
    pub fn rated(id: i32) -> Self {
        Self::keys([key::recording(id), key::soft(&key::card(id))])
    }

    /// These and `other`'s.
    pub fn and(self, other: Changed) -> Self {
        self.and_keys(other.0)
    }

    fn and_keys(mut self, keys: impl IntoIterator<Item = String>) -> Self {
        for k in keys {
            if !self.0.contains(&k) {
                self.0.push(k);
            }
        }
        self
    }

    pub fn is_nothing(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_keys(&self) -> &[String] {
        &self.0
    }
}

/// The highest log number this process has committed: each follower and Redis publisher in
/// the process watches it. A watch, not a `Notify`: a follower busy reading the log when a
/// commit lands still sees it changed afterwards.
static COMMITTED: LazyLock<tokio::sync::watch::Sender<u64>> =
    LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Tells of this process's commits (SQLite has no NOTIFY; on PostgreSQL it only shortens
/// the wait for the notification; with Redis it is what gets published).
pub fn committed() -> tokio::sync::watch::Receiver<u64> {
    COMMITTED.subscribe()
}

/// A writing transaction. Read and write through it like any connection; end it with
/// [`commit`](Self::commit).
#[must_use = "a Write that is dropped is rolled back: end it with commit(changed)"]
pub struct Write {
    txn: DatabaseTransaction,
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Write")
    }
}

impl Write {
    /// Opens a writing transaction. On SQLite it takes the write lock at `BEGIN IMMEDIATE`
    /// (waiting its turn): a deferred transaction that reads first fails outright
    /// (`SQLITE_BUSY_SNAPSHOT`) when another connection — a replica's job worker, say —
    /// writes between its first read and its first write. PostgreSQL ignores the option.
    pub async fn begin(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let txn = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Self { txn })
    }

    /// Names what this write changed in the invalidation log (as its last statement, so the
    /// log's counter row stays locked only to commit) and commits; then tells this process's
    /// followers and the request that made it.
    pub async fn commit(self, changed: Changed) -> Result<(), DbErr> {
        let seq = if changed.is_nothing() {
            None
        } else {
            Some(log::append(&self.txn, changed.as_keys()).await?)
        };
        self.txn.commit().await?;
        if let Some(seq) = seq {
            COMMITTED.send_if_modified(|at| {
                let newer = seq > *at;
                if newer {
                    *at = seq;
                }
                newer
            });
            collect::changed(changed.0);
        }
        Ok(())
    }

    /// Makes every other write that locks `what` wait until this one has ended, so that a
    /// check and the write it guards see one state ("is this file in the catalog yet?").
    /// PostgreSQL: a transaction-scoped advisory lock; SQLite's write transaction already
    /// excludes every other writer.
    pub async fn lock(&self, what: &str) -> Result<(), DbErr> {
        if self.get_database_backend() == DbBackend::Postgres {
            self.txn
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                    [what.into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// A write of its own that only names `changed` (writes made in bulk, in many
    /// transactions, named once at the end).
    pub async fn announce(db: &DatabaseConnection, changed: Changed) -> Result<(), DbErr> {
        Self::begin(db).await?.commit(changed).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Write {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_named_once_in_the_order_first_named() {
        let c =
            Changed::recording(42, 7).and(Changed::keys([key::recording(42), key::tag("birds")]));
        assert_eq!(
            c.as_keys(),
            ["recording:42", "card:42", "user:7", "catalog", "tag:birds"]
        );
        assert_eq!(Changed::rated(42).as_keys(), ["recording:42", "~card:42"]);
        assert!(Changed::nothing_shown().is_nothing());
    }
}
