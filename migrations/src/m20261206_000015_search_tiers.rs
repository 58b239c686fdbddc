//! PostgreSQL's search, made to cost the same whatever the word (SQLite's FTS5 index already
//! does: it reads each tier of a search in rowid order, term by term).
//!
//! - `title_vector` (the title's words) and `rest_vector` (the words of the rest of the
//!   recording's text that are not in its title), generated like `search_vector`, each with
//!   a GIN index over published recordings. A search's first tier (every word in the title)
//!   is then one index lookup instead of a weighted check of every match, and its second
//!   tier (the rest) is looked up among the recordings whose other text has the words.
//! - Their statistics are sampled ten times finer (`SET STATISTICS 1000`): the search reads
//!   how common each word is from them (`domain::search::Stats`) to choose between walking
//!   the primary key and reading the word's list.
//!
//! SQLite: nothing.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000015_search_tiers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "ALTER TABLE recordings \
               ADD COLUMN title_vector tsvector GENERATED ALWAYS AS \
                 (to_tsvector('simple', title)) STORED, \
               ADD COLUMN rest_vector tsvector GENERATED ALWAYS AS \
                 (ts_delete(to_tsvector('simple', search_text), \
                            tsvector_to_array(to_tsvector('simple', title)))) STORED",
            "CREATE INDEX idx_recordings_title_vector ON recordings USING GIN (title_vector) \
               WHERE status = 'published'",
            "CREATE INDEX idx_recordings_rest_vector ON recordings USING GIN (rest_vector) \
               WHERE status = 'published'",
            "ALTER TABLE recordings ALTER COLUMN search_vector SET STATISTICS 1000",
            "ALTER TABLE recordings ALTER COLUMN title_vector SET STATISTICS 1000",
            "ALTER TABLE recordings ALTER COLUMN rest_vector SET STATISTICS 1000",
            "ANALYZE recordings",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in [
            "DROP INDEX idx_recordings_rest_vector",
            "DROP INDEX idx_recordings_title_vector",
            "ALTER TABLE recordings DROP COLUMN rest_vector, DROP COLUMN title_vector",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
