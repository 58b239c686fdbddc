use sea_orm::entity::prelude::*;

/// Work to do after an upload, claimed by whichever replica gets to it first.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub kind: crate::JobKind,
    /// What the job does its work on, by its kind: a recording, a direct upload.
    pub subject_id: i32,
    pub state: crate::JobState,
    pub attempts: i32,
    /// A running job whose lock has passed was abandoned (its replica stopped): claimable.
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: String,
    /// The claim that holds a running job: only it renews the lease or records the end.
    pub lease: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
