//! The invalidation log: what each committed write changed (surrogate keys, space
//! separated), numbered in commit order by the one-row counter `invalidation_seq`, which
//! every logged write updates as its last statement. Replicas follow the log from their
//! cursor (`domain::bus`); it is trimmed by age.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InvalidationSeq {
    Table,
    Id,
    Seq,
}

#[derive(DeriveIden)]
enum Invalidations {
    Table,
    Seq,
    Keys,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InvalidationSeq::Table)
                    .col(integer(InvalidationSeq::Id).primary_key())
                    .col(big_integer(InvalidationSeq::Seq))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(InvalidationSeq::Table)
                    .columns([InvalidationSeq::Id, InvalidationSeq::Seq])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invalidations::Table)
                    .col(big_integer(Invalidations::Seq).primary_key())
                    .col(text(Invalidations::Keys))
                    .col(timestamp_with_time_zone(Invalidations::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invalidations_by_age")
                    .table(Invalidations::Table)
                    .col(Invalidations::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Invalidations::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(InvalidationSeq::Table).to_owned())
            .await
    }
}
