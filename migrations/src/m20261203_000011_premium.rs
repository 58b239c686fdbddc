//! Premium accounts and tips: what Stripe told us, kept as the truth the site reads.
//!
//! - `entitlements`: one row per user who has been to checkout — the Stripe customer made
//!   for them (once: unique), and the state of their subscription as last read from Stripe.
//!   A premium granted by hand stays in `users.premium_until`.
//! - `stripe_events`: every webhook event handled, keyed by its id and written in the same
//!   transaction as its effect, so that a retry or a replay changes nothing.
//! - `tip_ledger`: tips, and refunds and disputes as reversing entries; money in integer
//!   minor units with its currency. `(entry, source_ref)` is unique: one entry per Stripe
//!   object and kind, whichever event brought it.

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
enum Entitlements {
    Table,
    UserId,
    StripeCustomerId,
    SubscriptionId,
    Status,
    PriceId,
    Amount,
    Currency,
    IntervalMonths,
    CurrentPeriodEnd,
    CancelAtPeriodEnd,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StripeEvents {
    Table,
    Id,
    EventType,
    ReceivedAt,
}

#[derive(DeriveIden)]
enum TipLedger {
    Table,
    Id,
    Entry,
    SourceRef,
    RecordingId,
    UploaderId,
    TipperId,
    ChargeId,
    Currency,
    Gross,
    Fee,
    Share,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Entitlements::Table)
                    .col(integer(Entitlements::UserId).primary_key())
                    .col(string_len_null(Entitlements::StripeCustomerId, 255).unique_key())
                    .col(string_len_null(Entitlements::SubscriptionId, 255))
                    .col(string_len_null(Entitlements::Status, 24))
                    .col(string_len_null(Entitlements::PriceId, 255))
                    .col(big_integer_null(Entitlements::Amount))
                    .col(string_len_null(Entitlements::Currency, 3))
                    .col(integer_null(Entitlements::IntervalMonths))
                    .col(timestamp_with_time_zone_null(
                        Entitlements::CurrentPeriodEnd,
                    ))
                    .col(boolean(Entitlements::CancelAtPeriodEnd).default(false))
                    .col(timestamp_with_time_zone(Entitlements::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Entitlements::Table, Entitlements::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StripeEvents::Table)
                    .col(string_len(StripeEvents::Id, 255).primary_key())
                    .col(string_len(StripeEvents::EventType, 64))
                    .col(timestamp_with_time_zone(StripeEvents::ReceivedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TipLedger::Table)
                    .col(pk_auto(TipLedger::Id))
                    .col(string_len(TipLedger::Entry, 16))
                    .col(string_len(TipLedger::SourceRef, 255))
                    .col(integer_null(TipLedger::RecordingId))
                    .col(integer(TipLedger::UploaderId))
                    .col(integer_null(TipLedger::TipperId))
                    .col(string_len_null(TipLedger::ChargeId, 255))
                    .col(string_len(TipLedger::Currency, 3))
                    .col(big_integer(TipLedger::Gross))
                    .col(big_integer(TipLedger::Fee))
                    .col(big_integer(TipLedger::Share))
                    .col(timestamp_with_time_zone(TipLedger::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TipLedger::Table, TipLedger::RecordingId)
                            .to(Recordings::Table, Recordings::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TipLedger::Table, TipLedger::UploaderId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tip_ledger_one_per_source")
                    .table(TipLedger::Table)
                    .col(TipLedger::Entry)
                    .col(TipLedger::SourceRef)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tip_ledger_by_uploader")
                    .table(TipLedger::Table)
                    .col(TipLedger::UploaderId)
                    .col(TipLedger::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tip_ledger_by_charge")
                    .table(TipLedger::Table)
                    .col(TipLedger::ChargeId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TipLedger::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(StripeEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Entitlements::Table).to_owned())
            .await
    }
}
