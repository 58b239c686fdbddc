//! The recording aggregate. Who manages, sees and describes a recording, and finding one,
//! are here; **every change of a recording** — created, described, moderated, processed,
//! counted, deleted — is a function of [`life`], whose opening lists the transitions; the
//! uploader's and editors' own actions on a recording (describe, delete, restore) are
//! [`manage`].

pub mod life;
mod manage;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

pub use life::{Generated, NewRecording, Previews, StatusChange};
pub use manage::{Description, MAX_TAGS, delete, describe, restore};

use crate::{Slug, Status, entities::recordings, error::ServiceError, model::Viewer};

/// Its uploader or an editor: who sees a recording before it is published, its
/// processing failures, and may ask for processing again.
pub fn manages(row: &recordings::Model, viewer: Option<&Viewer>) -> bool {
    viewer.is_some_and(|v| v.role.moderates() || v.user_id == row.uploader_id)
}

/// Whether `viewer` may see the recording (its page, files and pictures) at all.
pub fn visible_to(row: &recordings::Model, viewer: Option<&Viewer>) -> bool {
    row.status == Status::Published || manages(row, viewer)
}

/// Who may change its title and description, or delete it: its uploader until it is
/// published, and editors always — while it is not deleted (a restore comes first).
pub fn can_describe(row: &recordings::Model, viewer: Option<&Viewer>) -> bool {
    row.status != Status::Deleted
        && viewer.is_some_and(|v| {
            v.role.moderates() || (v.user_id == row.uploader_id && row.status != Status::Published)
        })
}

/// The recording at `slug`, whatever its status (callers apply [`visible_to`]).
pub async fn by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<recordings::Model, ServiceError> {
    let slug = Slug::parse(slug)?;
    recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// The recording at `slug` if `viewer` may see it; `NotFound` otherwise (never
/// "forbidden", which would say that it exists).
pub async fn visible(
    db: &impl ConnectionTrait,
    slug: &str,
    viewer: Option<&Viewer>,
) -> Result<recordings::Model, ServiceError> {
    let row = by_slug(db, slug).await?;
    if visible_to(&row, viewer) {
        Ok(row)
    } else {
        Err(ServiceError::NotFound)
    }
}

/// The published recording at `slug` (what listeners comment on, rate and tip).
pub async fn published(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<recordings::Model, ServiceError> {
    let slug = Slug::parse(slug)?;
    recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(slug.as_str()))
        .filter(recordings::Column::Status.eq(Status::Published))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)
}
