//! A direct (browser-to-bucket) upload remembers where its recording was made, as the form
//! said, until it becomes the recording.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000022_direct_upload_place"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE direct_uploads ADD COLUMN latitude DOUBLE PRECISION NULL",
        )
        .await?;
        db.execute_unprepared(
            "ALTER TABLE direct_uploads ADD COLUMN longitude DOUBLE PRECISION NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE direct_uploads DROP COLUMN latitude")
            .await?;
        db.execute_unprepared("ALTER TABLE direct_uploads DROP COLUMN longitude")
            .await?;
        Ok(())
    }
}
