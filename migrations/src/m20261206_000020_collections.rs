//! Collections: a person's ordered lists of recordings, private or public, with a title and
//! a note. Each account's bookmarks are its one *saved* collection (private, made on first
//! use). A public collection of its owner's own recordings is shown as a pack.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Recordings {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Collections {
    Table,
    Id,
    OwnerId,
    Slug,
    Title,
    Note,
    IsPublic,
    IsSaved,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CollectionItems {
    Table,
    CollectionId,
    RecordingId,
    Position,
    AddedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Collections::Table)
                    .col(pk_auto(Collections::Id))
                    .col(integer(Collections::OwnerId))
                    .col(string_len(Collections::Slug, 120).unique_key())
                    .col(string_len(Collections::Title, 200))
                    .col(text(Collections::Note).default(""))
                    .col(boolean(Collections::IsPublic).default(false))
                    .col(boolean(Collections::IsSaved).default(false))
                    .col(timestamp_with_time_zone(Collections::CreatedAt))
                    .col(timestamp_with_time_zone(Collections::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Collections::Table, Collections::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_collections_owner")
                    .table(Collections::Table)
                    .col(Collections::OwnerId)
                    .to_owned(),
            )
            .await?;
        // One saved collection per account (SQLite and PostgreSQL both take a partial index).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_collections_saved ON collections (owner_id) WHERE is_saved",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CollectionItems::Table)
                    .col(integer(CollectionItems::CollectionId))
                    .col(integer(CollectionItems::RecordingId))
                    .col(integer(CollectionItems::Position))
                    .col(timestamp_with_time_zone(CollectionItems::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(CollectionItems::CollectionId)
                            .col(CollectionItems::RecordingId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CollectionItems::Table, CollectionItems::CollectionId)
                            .to(Collections::Table, Collections::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CollectionItems::Table, CollectionItems::RecordingId)
                            .to(Recordings::Table, Recordings::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_collection_items_recording")
                    .table(CollectionItems::Table)
                    .col(CollectionItems::RecordingId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CollectionItems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Collections::Table).to_owned())
            .await
    }
}
