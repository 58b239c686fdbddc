//! No recording is ever lost:
//!
//! - **One file, one recording**: a unique index on `recordings.sha256`. Duplicates that
//!   slipped in before it (two uploads racing) keep their rows and files; only the oldest
//!   keeps the hash, the later ones' is cleared, so the index can hold.
//! - **Deletes that can be undone**: a deleted recording keeps its row (`status` =
//!   `deleted`), when it was deleted (`deleted_at`) and the status a restore brings back
//!   (`restore_to`); a partial index finds those whose window has passed.
//! - **Jobs of several kinds, under leases that hold**: `jobs.recording_id` becomes
//!   `subject_id` (a recording, a direct upload …, by the job's kind), and `lease` names the
//!   claim that holds the job, so only its holder renews or finishes it.
//! - **Direct uploads finished by a job**: `direct_uploads` gets its `state`, the parts
//!   the browser sent, the recording it became or why not, and when it last changed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    Sha256,
    DeletedAt,
    RestoreTo,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    RecordingId,
    SubjectId,
    Lease,
}

#[derive(DeriveIden)]
enum DirectUploads {
    Table,
    State,
    Parts,
    RecordingId,
    Message,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // The oldest recording of a file keeps its hash; later copies lose theirs.
        db.execute_unprepared(
            "UPDATE recordings SET sha256 = NULL WHERE sha256 IS NOT NULL AND id NOT IN \
             (SELECT MIN(id) FROM recordings WHERE sha256 IS NOT NULL GROUP BY sha256)",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("recordings_sha256_unique")
                    .table(Recordings::Table)
                    .col(Recordings::Sha256)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for mut col in [
            timestamp_with_time_zone_null(Recordings::DeletedAt),
            string_len_null(Recordings::RestoreTo, 16),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recordings::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        db.execute_unprepared(
            "CREATE INDEX recordings_deleted ON recordings (deleted_at, id) \
             WHERE status = 'deleted'",
        )
        .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .rename_column(Jobs::RecordingId, Jobs::SubjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(string_len(Jobs::Lease, 32).default(""))
                    .to_owned(),
            )
            .await?;

        for mut col in [
            string_len(DirectUploads::State, 16)
                .default("uploading")
                .to_owned(),
            text_null(DirectUploads::Parts),
            integer_null(DirectUploads::RecordingId),
            string_len(DirectUploads::Message, 500)
                .default("")
                .to_owned(),
            timestamp_with_time_zone_null(DirectUploads::UpdatedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DirectUploads::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            DirectUploads::UpdatedAt,
            DirectUploads::Message,
            DirectUploads::RecordingId,
            DirectUploads::Parts,
            DirectUploads::State,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DirectUploads::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::Lease)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .rename_column(Jobs::SubjectId, Jobs::RecordingId)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX recordings_deleted")
            .await?;
        for col in [Recordings::RestoreTo, Recordings::DeletedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recordings::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("recordings_sha256_unique")
                    .table(Recordings::Table)
                    .to_owned(),
            )
            .await
    }
}
