//! Keys the replicas share, made once by whichever starts first (the form-error signing
//! key): in the database, so that no setting has to be copied to every machine.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SiteKeys {
    Table,
    Name,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SiteKeys::Table)
                    .col(string_len(SiteKeys::Name, 64).primary_key())
                    .col(string_len(SiteKeys::Value, 128))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SiteKeys::Table).to_owned())
            .await
    }
}
