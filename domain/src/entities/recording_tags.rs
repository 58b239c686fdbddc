use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "recording_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub recording_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i32,
    /// The recording's `published_at` while it is published, else NULL: a tag's newest
    /// recordings are one walk of `(tag_id, published_at, recording_id)`.
    pub published_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tags::Entity",
        from = "Column::TagId",
        to = "super::tags::Column::Id"
    )]
    Tag,
}

impl Related<super::tags::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tag.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
