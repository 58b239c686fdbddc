use sea_orm::entity::prelude::*;

/// A person's ordered list of recordings; their bookmarks are the one with `is_saved`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "collections")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub owner_id: i32,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    pub note: String,
    pub is_public: bool,
    pub is_saved: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
