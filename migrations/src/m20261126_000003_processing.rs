//! Processing after upload: a jobs table any replica can claim from (row locks on
//! PostgreSQL), and where a recording's preview and pictures are, or why they are not.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    PreviewKey,
    WaveformKey,
    DoaKey,
    Processing,
    ProcessingError,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    RecordingId,
    State,
    Attempts,
    LockedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for col in [
            string_len_null(Recordings::PreviewKey, 200),
            string_len_null(Recordings::WaveformKey, 200),
            string_len_null(Recordings::DoaKey, 200),
            string_len(Recordings::Processing, 16)
                .default("")
                .to_owned(),
            string_len(Recordings::ProcessingError, 500)
                .default("")
                .to_owned(),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Recordings::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(pk_auto(Jobs::Id))
                    .col(string_len(Jobs::Kind, 32))
                    .col(integer(Jobs::RecordingId))
                    .col(string_len(Jobs::State, 16))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Jobs::LockedUntil))
                    .col(string_len(Jobs::LastError, 500).default(""))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_state_id")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}
