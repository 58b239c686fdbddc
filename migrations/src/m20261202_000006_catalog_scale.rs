//! The catalog at a million recordings.
//!
//! - `facet_counts`: how many published recordings have each microphone, licence,
//!   convention, order and tag (and `all`, the published total), kept by the domain's
//!   writes, so the filter menus and the unfiltered count never scan `recordings`.
//! - Partial indexes over published recordings for every sort, each ending in `id` (the
//!   tie-break keyset pagination walks by), and for each filter with the default sort.
//! - Full-text search that can rank: on SQLite the FTS5 table indexes the title as a
//!   column of its own (weighted above the rest by `bm25`); on PostgreSQL a stored
//!   `search_vector` weighs the title `A` and the rest `B` for `ts_rank`.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000006_catalog_scale"
    }
}

#[derive(DeriveIden)]
enum FacetCounts {
    Table,
    Kind,
    Value,
    Count,
}

/// Indexes over published recordings: (name, columns). Sorts end in `id`, so that a keyset
/// "after (value, id)" is one index range. (The longest-first index is per backend: a
/// recording without a duration comes last, which is SQLite's order for `DESC` and needs
/// `NULLS LAST` on PostgreSQL.)
const PUBLISHED_INDEXES: [(&str, &str); 10] = [
    ("idx_pub_newest", "published_at DESC, id DESC"),
    ("idx_pub_downloads", "download_count DESC, id DESC"),
    (
        "idx_pub_rating",
        "rating_avg DESC, rating_count DESC, id DESC",
    ),
    (
        "idx_pub_convention",
        "convention, ambi_order, published_at DESC, id DESC",
    ),
    ("idx_pub_order", "ambi_order, published_at DESC, id DESC"),
    (
        "idx_pub_microphone",
        "microphone, published_at DESC, id DESC",
    ),
    ("idx_pub_licence", "licence, published_at DESC, id DESC"),
    (
        "idx_pub_uploader",
        "uploader_id, published_at DESC, id DESC",
    ),
    (
        "idx_pub_duration",
        "duration_ms, published_at DESC, id DESC",
    ),
    (
        "idx_pub_convention_rating",
        "convention, rating_avg DESC, rating_count DESC, id DESC",
    ),
];

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
        manager
            .create_table(
                Table::create()
                    .table(FacetCounts::Table)
                    .col(ColumnDef::new(FacetCounts::Kind).string_len(16).not_null())
                    .col(
                        ColumnDef::new(FacetCounts::Value)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FacetCounts::Count)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(FacetCounts::Kind)
                            .col(FacetCounts::Value),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // What is published now, counted once; from here on the writes keep it.
        for sql in [
            "INSERT INTO facet_counts (kind, value, count) \
             SELECT 'all', '', COUNT(*) FROM recordings WHERE status = 'published'",
            "INSERT INTO facet_counts (kind, value, count) \
             SELECT 'microphone', microphone, COUNT(*) FROM recordings \
             WHERE status = 'published' AND microphone <> '' GROUP BY microphone",
            "INSERT INTO facet_counts (kind, value, count) \
             SELECT 'licence', licence, COUNT(*) FROM recordings \
             WHERE status = 'published' AND licence <> '' GROUP BY licence",
            "INSERT INTO facet_counts (kind, value, count) \
             SELECT 'convention', convention, COUNT(*) FROM recordings \
             WHERE status = 'published' AND convention IS NOT NULL GROUP BY convention",
            "INSERT INTO facet_counts (kind, value, count) \
             SELECT 'order', CAST(ambi_order AS VARCHAR(4)), COUNT(*) FROM recordings \
             WHERE status = 'published' AND ambi_order IS NOT NULL GROUP BY ambi_order",
            "INSERT INTO facet_counts (kind, value, count) \
             SELECT 'tag', t.slug, COUNT(*) FROM recording_tags rt \
             JOIN tags t ON t.id = rt.tag_id JOIN recordings r ON r.id = rt.recording_id \
             WHERE r.status = 'published' GROUP BY t.slug",
            "CREATE INDEX idx_facet_counts_menu ON facet_counts (kind, count DESC, value)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        let longest = match manager.get_database_backend() {
            DbBackend::Postgres => "duration_ms DESC NULLS LAST, id DESC",
            _ => "duration_ms DESC, id DESC",
        };
        for (name, columns) in PUBLISHED_INDEXES
            .into_iter()
            .chain([("idx_pub_longest", longest)])
        {
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON recordings ({columns}) WHERE status = 'published'"
            ))
            .await?;
        }
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for sql in [
                    "DROP TRIGGER recordings_fts_insert",
                    "DROP TRIGGER recordings_fts_delete",
                    "DROP TRIGGER recordings_fts_update",
                    "DROP TABLE recordings_fts",
                    "CREATE VIRTUAL TABLE recordings_fts USING fts5(\
                       title, search_text, content='recordings', content_rowid='id', \
                       tokenize='unicode61 remove_diacritics 2')",
                    "CREATE TRIGGER recordings_fts_insert AFTER INSERT ON recordings BEGIN \
                       INSERT INTO recordings_fts(rowid, title, search_text) \
                         VALUES (new.id, new.title, new.search_text); \
                     END",
                    "CREATE TRIGGER recordings_fts_delete AFTER DELETE ON recordings BEGIN \
                       INSERT INTO recordings_fts(recordings_fts, rowid, title, search_text) \
                         VALUES ('delete', old.id, old.title, old.search_text); \
                     END",
                    "CREATE TRIGGER recordings_fts_update AFTER UPDATE OF title, search_text ON recordings BEGIN \
                       INSERT INTO recordings_fts(recordings_fts, rowid, title, search_text) \
                         VALUES ('delete', old.id, old.title, old.search_text); \
                       INSERT INTO recordings_fts(rowid, title, search_text) \
                         VALUES (new.id, new.title, new.search_text); \
                     END",
                    "INSERT INTO recordings_fts(recordings_fts) VALUES ('rebuild')",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            DbBackend::Postgres => {
                for sql in [
                    "DROP INDEX idx_recordings_search",
                    "ALTER TABLE recordings ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (\
                       setweight(to_tsvector('simple', title), 'A') || \
                       setweight(to_tsvector('simple', search_text), 'B')) STORED",
                    "CREATE INDEX idx_recordings_search_vector ON recordings USING GIN (search_vector)",
                ] {
                    db.execute_unprepared(sql).await?;
                }
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        Ok(())
    }
}
