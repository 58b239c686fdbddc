use sea_orm::entity::prelude::*;

/// A direct-to-S3 multipart upload: in progress, being finished, or how it ended.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "direct_uploads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    pub key: String,
    pub upload_id: String,
    pub size_bytes: i64,
    pub part_size: i64,
    pub title: String,
    pub description: String,
    pub location: String,
    pub licence: String,
    pub convention: String,
    pub created_at: DateTimeUtc,
    pub state: crate::UploadState,
    /// The parts as the browser sent them, `[[number, "etag"], …]` (JSON), once complete.
    pub parts: Option<String>,
    /// The recording it became (done), or the one it duplicates (refused).
    pub recording_id: Option<i32>,
    /// Why it was refused, for its uploader.
    pub message: String,
    pub updated_at: Option<DateTimeUtc>,
    /// Where it was recorded, as the form said.
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
