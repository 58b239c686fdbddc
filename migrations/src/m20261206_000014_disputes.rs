//! Disputes of subscription payments. A card holder who disputes what premium cost them is
//! not premium while the dispute is open, nor — when the bank sides with them — for the
//! period they disputed; when Stripe closes it in the site's favour, premium comes back.
//! One row per Stripe dispute: whose it is, where it stands, and until when a lost one
//! keeps premium suspended. (Disputes of tips stay in `tip_ledger`.)

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Disputes {
    Table,
    Id,
    UserId,
    State,
    SuspendsUntil,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Disputes::Table)
                    .col(string_len(Disputes::Id, 255).primary_key())
                    .col(integer(Disputes::UserId))
                    .col(string_len(Disputes::State, 16))
                    .col(timestamp_with_time_zone_null(Disputes::SuspendsUntil))
                    .col(timestamp_with_time_zone(Disputes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Disputes::Table, Disputes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_disputes_user")
                    .table(Disputes::Table)
                    .col(Disputes::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Disputes::Table).to_owned())
            .await
    }
}
