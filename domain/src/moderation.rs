//! The editors' queue: uploads wait here as `pending` until an editor publishes them or
//! rejects them with a reason the uploader sees. Trusted uploaders skip it.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::{
    error::ServiceError,
    facets::{self, Facts},
    model::{PendingItem, Viewer},
    {Role, Status},
    {catalog::cards, entities::recordings},
};

/// Oldest first: whoever waited longest is seen first.
pub async fn pending(db: &DatabaseConnection) -> Result<Vec<PendingItem>, ServiceError> {
    let rows = recordings::Entity::find()
        .filter(recordings::Column::Status.eq(Status::Pending))
        .order_by_asc(recordings::Column::CreatedAt)
        .order_by_asc(recordings::Column::Id)
        .all(db)
        .await?;
    // `cards` takes the rows; the queue's own facts are read from a copy first.
    let cards = cards(db, rows.clone()).await?;
    Ok(rows
        .into_iter()
        .zip(cards)
        .map(|(r, card)| PendingItem {
            card,
            description: r.description,
            sample_rate: r.sample_rate,
            bit_depth: r.bit_depth,
            is_float: r.is_float,
            size_bytes: r.size_bytes,
            uploaded_at: r.created_at,
            has_preview: r.preview_key.is_some(),
        })
        .collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Publish,
    Reject,
}

/// An editor publishes or rejects a pending recording. A rejection needs a reason.
#[tracing::instrument(skip_all, fields(editor = editor.user_id, ?decision))]
pub async fn decide(
    db: &DatabaseConnection,
    editor: &Viewer,
    slug: &str,
    decision: Decision,
    note: &str,
) -> Result<(), ServiceError> {
    if editor.role < Role::Editor {
        return Err(ServiceError::Forbidden(
            "Only editors can publish or reject recordings.".into(),
        ));
    }
    let note = note.trim();
    if decision == Decision::Reject && note.is_empty() {
        return Err(ServiceError::Invalid(
            "Say why the recording is rejected: the uploader reads it.".into(),
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    let row = crate::recordings::by_slug(&txn, slug).await?;
    if row.status != Status::Pending {
        return Err(ServiceError::Conflict(
            "Another editor has already decided on this recording.".into(),
        ));
    }
    let before = Facts::of(&txn, &row).await?;
    let (id, uploader_id) = (row.id, row.uploader_id);
    let mut row: recordings::ActiveModel = row.into();
    let now = Utc::now();
    match decision {
        Decision::Publish => {
            row.status = Set(Status::Published);
            row.published_at = Set(Some(now));
            row.moderation_note = Set(String::new());
        }
        Decision::Reject => {
            row.status = Set(Status::Rejected);
            row.moderation_note = Set(note.chars().take(500).collect());
        }
    }
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    facets::shift(&txn, &before, &Facts::of(&txn, &after).await?).await?;
    if decision == Decision::Publish {
        crate::changes::recording(&txn, id, uploader_id).await?;
    }
    crate::changes::commit(txn).await?;
    Ok(())
}
