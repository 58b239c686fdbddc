//! The jobs table's writers: putting a recording's processing in the queue (on upload, and
//! again when its uploader asks for a retry). The worker that claims jobs is in the server.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::{
    domain::Role,
    error::AppError,
    model::Viewer,
    ssr::entities::{jobs, recordings},
};

pub const PROCESS: &str = "process";

/// Queues processing of a recording (in the caller's transaction, with the recording).
pub async fn enqueue(db: &impl ConnectionTrait, recording_id: i32) -> Result<(), AppError> {
    let now = Utc::now();
    jobs::ActiveModel {
        kind: Set(PROCESS.into()),
        recording_id: Set(recording_id),
        state: Set("queued".into()),
        attempts: Set(0),
        locked_until: Set(None),
        last_error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    recordings::Entity::update_many()
        .col_expr(
            recordings::Column::Processing,
            sea_orm::sea_query::Expr::value("queued"),
        )
        .col_expr(
            recordings::Column::ProcessingError,
            sea_orm::sea_query::Expr::value(""),
        )
        .filter(recordings::Column::Id.eq(recording_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The uploader (or an editor) asks for a failed processing to run again.
pub async fn retry(db: &impl ConnectionTrait, who: &Viewer, slug: &str) -> Result<(), AppError> {
    let row = recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(slug))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.uploader_id != who.user_id && who.role < Role::Editor {
        return Err(AppError::Forbidden(
            "Only the uploader or an editor can retry this.".into(),
        ));
    }
    if row.processing != "failed" {
        return Err(AppError::Conflict(
            "This recording's processing has not failed.".into(),
        ));
    }
    enqueue(db, row.id).await
}
