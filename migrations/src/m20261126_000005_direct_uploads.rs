//! Direct uploads to S3 in progress: which multipart upload belongs to whom, and what the
//! uploader said about the recording, until the server completes and inspects it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DirectUploads {
    Table,
    Id,
    UserId,
    Key,
    UploadId,
    SizeBytes,
    PartSize,
    Title,
    Description,
    Location,
    Licence,
    Convention,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DirectUploads::Table)
                    .col(pk_auto(DirectUploads::Id))
                    .col(integer(DirectUploads::UserId))
                    .col(string_len(DirectUploads::Key, 200))
                    .col(string_len(DirectUploads::UploadId, 1024))
                    .col(big_integer(DirectUploads::SizeBytes))
                    .col(big_integer(DirectUploads::PartSize))
                    .col(string_len(DirectUploads::Title, 200))
                    .col(text(DirectUploads::Description))
                    .col(string_len(DirectUploads::Location, 200))
                    .col(string_len(DirectUploads::Licence, 40))
                    .col(string_len(DirectUploads::Convention, 16))
                    .col(timestamp_with_time_zone(DirectUploads::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DirectUploads::Table).to_owned())
            .await
    }
}
