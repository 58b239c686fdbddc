//! What processing now makes for feeds and peers: the podcast enclosure (binaural MP3, its
//! size for the feed) and the torrent (the bencoded info dictionary of the original, and its
//! info hash for magnet links). NULL until a recording is processed (again).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000017_podcast_and_torrent"
    }
}

const COLUMNS: [(&str, &str); 4] = [
    ("podcast_key", "TEXT"),
    ("podcast_bytes", "BIGINT"),
    ("torrent_key", "TEXT"),
    ("torrent_info_hash", "TEXT"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sqlite = manager.get_database_backend() == DbBackend::Sqlite;
        for (name, ty) in COLUMNS {
            let ty = if sqlite && ty == "BIGINT" {
                "INTEGER"
            } else {
                ty
            };
            db.execute_unprepared(&format!(
                "ALTER TABLE recordings ADD COLUMN {name} {ty} NULL"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE recordings DROP COLUMN {name}"))
                .await?;
        }
        Ok(())
    }
}
