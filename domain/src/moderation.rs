//! The editors' queue: uploads wait here as `pending` until an editor publishes them or
//! rejects them with a reason the uploader sees. Trusted uploaders skip it.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    Status,
    catalog::cards,
    entities,
    error::ServiceError,
    model::{PendingItem, Viewer},
    recordings::{self, StatusChange},
    write::Write,
};

/// Oldest first: whoever waited longest is seen first.
pub async fn pending(db: &DatabaseConnection) -> Result<Vec<PendingItem>, ServiceError> {
    use entities::recordings::{Column, Entity};
    let rows = Entity::find()
        .filter(Column::Status.eq(Status::Pending))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
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
    if !editor.role.moderates() {
        return Err(ServiceError::forbidden(
            "Only editors can publish or reject recordings.",
        ));
    }
    let change = match decision {
        Decision::Publish => StatusChange::Publish,
        Decision::Reject if note.trim().is_empty() => {
            return Err(ServiceError::invalid(
                "Say why the recording is rejected: the uploader reads it.",
            ));
        }
        Decision::Reject => StatusChange::Reject {
            note: note.trim().to_owned(),
        },
    };
    let w = Write::begin(db).await?;
    let row = recordings::by_slug(&w, slug).await?;
    let changed = recordings::life::moderate(&w, row, change).await?;
    w.commit(changed).await?;
    Ok(())
}
