use sea_orm::entity::prelude::*;

/// One line of the tips ledger. Amounts are minor units of `currency`; reversals negative.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tip_ledger")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub entry: crate::billing::LedgerEntry,
    /// The Stripe object this line is for: the Checkout Session of a tip, `charge:refunded
    /// total` of a refund, the dispute.
    pub source_ref: String,
    pub recording_id: Option<i32>,
    pub uploader_id: i32,
    pub tipper_id: Option<i32>,
    pub charge_id: Option<String>,
    pub currency: String,
    pub gross: i64,
    pub fee: i64,
    pub share: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
