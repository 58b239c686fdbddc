//! The higher-order spatial preview: for a recording of order 2 or 3, its AmbiX channels in
//! two Ogg Vorbis streams of at most eight channels each (`{hoa_key}-1.ogg`, `-2.ogg`), what
//! browsers decode reliably. NULL for first-order recordings and until processed (again).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000018_higher_order_preview"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE recordings ADD COLUMN hoa_key TEXT NULL")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE recordings DROP COLUMN hoa_key")
            .await?;
        Ok(())
    }
}
