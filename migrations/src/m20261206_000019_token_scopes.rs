//! What a personal API token may do: a space-separated set of scopes (`read`, `upload`,
//! `download`). Tokens made before scopes existed could do all of it, and keep that.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000019_token_scopes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read upload download'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE api_tokens DROP COLUMN scopes")
            .await?;
        Ok(())
    }
}
