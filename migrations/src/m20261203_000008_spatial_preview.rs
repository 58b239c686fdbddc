//! The spatial preview (first-order AmbiX in Ogg Vorbis, for the binaural player) and the
//! stereo preview's size in bytes (a feed's enclosure states it). Recordings processed
//! before this have neither; the job worker queues them again (`jobs::queue_missing_previews`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Recordings {
    Table,
    SpatialKey,
    PreviewBytes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for mut col in [
            string_len_null(Recordings::SpatialKey, 200),
            big_integer_null(Recordings::PreviewBytes),
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Recordings::SpatialKey, Recordings::PreviewBytes] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Recordings::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
