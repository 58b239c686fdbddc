//! The search index holds published recordings only — the only ones a search shows — so
//! that a text search is counted by the index alone and its tiers are read in the index's
//! order with no recording skipped for its status (see `domain::search`).
//!
//! - SQLite: the FTS5 table is made again with prefix indexes for prefixes of two to eight
//!   characters (a prefix query is then read like a word, in rowid order, instead of merging
//!   the lists of every word that starts so: 3.4 ms → 0.08 ms for `forest*` at a million
//!   recordings, for an index of 440 MB instead of 90 MB), filled from the published rows;
//!   its triggers add a recording when it is (or becomes) published and remove it when it
//!   stops being.
//! - PostgreSQL: the GIN index over `search_vector` becomes partial, `WHERE status =
//!   'published'`, the literal the catalog's queries carry.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000007_search_published"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on one connection, on SQLite too (sea-orm's default there is none):
    /// it drops and makes again the FTS table and its triggers, and a statement that went
    /// to another pooled connection could see the schema from before the drop ("trigger
    /// recordings_fts_insert already exists", seen once in a full test run) — and a failure
    /// half-way would leave no triggers at all.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match manager.get_database_backend() {
            DbBackend::Sqlite => &[
                "DROP TRIGGER recordings_fts_insert",
                "DROP TRIGGER recordings_fts_delete",
                "DROP TRIGGER recordings_fts_update",
                "DROP TABLE recordings_fts",
                "CREATE VIRTUAL TABLE recordings_fts USING fts5(\
                   title, search_text, content='recordings', content_rowid='id', \
                   tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6 7 8')",
                "CREATE TRIGGER recordings_fts_insert AFTER INSERT ON recordings \
                   WHEN new.status = 'published' BEGIN \
                   INSERT INTO recordings_fts(rowid, title, search_text) \
                     VALUES (new.id, new.title, new.search_text); \
                 END",
                "CREATE TRIGGER recordings_fts_delete AFTER DELETE ON recordings \
                   WHEN old.status = 'published' BEGIN \
                   INSERT INTO recordings_fts(recordings_fts, rowid, title, search_text) \
                     VALUES ('delete', old.id, old.title, old.search_text); \
                 END",
                "CREATE TRIGGER recordings_fts_update \
                   AFTER UPDATE OF title, search_text, status ON recordings BEGIN \
                   INSERT INTO recordings_fts(recordings_fts, rowid, title, search_text) \
                     SELECT 'delete', old.id, old.title, old.search_text \
                     WHERE old.status = 'published'; \
                   INSERT INTO recordings_fts(rowid, title, search_text) \
                     SELECT new.id, new.title, new.search_text \
                     WHERE new.status = 'published'; \
                 END",
                "INSERT INTO recordings_fts(rowid, title, search_text) \
                   SELECT id, title, search_text FROM recordings WHERE status = 'published'",
            ],
            DbBackend::Postgres => &[
                "DROP INDEX idx_recordings_search_vector",
                "CREATE INDEX idx_recordings_search_vector ON recordings \
                   USING GIN (search_vector) WHERE status = 'published'",
            ],
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
