//! An index that serves a tag in date order: `recording_tags.published_at` is its
//! recording's `published_at` while it is published (NULL otherwise), kept by the recording
//! aggregate, so that a tag's newest recordings are one walk of
//! `(tag_id, published_at DESC, recording_id DESC)` however common the tag — not a walk of
//! every recording checking its tags (1 in 20 for a tag on 5 %), nor a sort of the tag's
//! whole list.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000016_tags_in_date_order"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let (column, fill) = match manager.get_database_backend() {
            DbBackend::Postgres => (
                "ALTER TABLE recording_tags ADD COLUMN published_at TIMESTAMPTZ NULL",
                "UPDATE recording_tags rt SET published_at = r.published_at FROM recordings r \
                 WHERE r.id = rt.recording_id AND r.status = 'published'",
            ),
            _ => (
                "ALTER TABLE recording_tags ADD COLUMN published_at TEXT NULL",
                "UPDATE recording_tags SET published_at = (SELECT r.published_at FROM recordings r \
                 WHERE r.id = recording_tags.recording_id AND r.status = 'published')",
            ),
        };
        for sql in [
            column,
            fill,
            "CREATE INDEX idx_tag_newest ON recording_tags \
               (tag_id, published_at DESC, recording_id DESC) WHERE published_at IS NOT NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_tag_newest").await?;
        db.execute_unprepared("ALTER TABLE recording_tags DROP COLUMN published_at")
            .await?;
        Ok(())
    }
}
