use sea_orm::entity::prelude::*;

/// One user's standing with Stripe: their customer, and their subscription as last read.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "entitlements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i32,
    #[sea_orm(unique)]
    pub stripe_customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub status: Option<crate::billing::SubscriptionStatus>,
    pub price_id: Option<String>,
    /// The price per period, in minor units of `currency`.
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub interval_months: Option<i32>,
    pub current_period_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
