use sea_orm::entity::prelude::*;

/// A recording in a collection, at its place (`position`, ascending).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "collection_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub collection_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recording_id: i32,
    pub position: i32,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
