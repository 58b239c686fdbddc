//! Following: a person follows uploaders and tags; `/following` lists what they published
//! or tagged since, and a private feed of it is reached by a secret token in its URL (only
//! its SHA-256 is kept; a new one revokes the old).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Follows {
    Table,
    FollowerId,
    Kind,
    TargetId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum FollowingFeeds {
    Table,
    UserId,
    TokenHash,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Follows::Table)
                    .col(integer(Follows::FollowerId))
                    .col(string_len(Follows::Kind, 8))
                    .col(integer(Follows::TargetId))
                    .col(timestamp_with_time_zone(Follows::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(Follows::FollowerId)
                            .col(Follows::Kind)
                            .col(Follows::TargetId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Follows::Table, Follows::FollowerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_follows_target")
                    .table(Follows::Table)
                    .col(Follows::Kind)
                    .col(Follows::TargetId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FollowingFeeds::Table)
                    .col(integer(FollowingFeeds::UserId).primary_key())
                    .col(string_len(FollowingFeeds::TokenHash, 64).unique_key())
                    .col(timestamp_with_time_zone(FollowingFeeds::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(FollowingFeeds::Table, FollowingFeeds::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FollowingFeeds::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Follows::Table).to_owned())
            .await
    }
}
