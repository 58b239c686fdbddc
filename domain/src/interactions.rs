//! What logged-in listeners add to a recording: comments and ratings (this module owns
//! both tables). Each write has the recording count them in the same write
//! (`recordings::life`), so cards never disagree with pages.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    CommentText, Stars,
    entities::{comments, ratings},
    error::ServiceError,
    model::Viewer,
    recordings,
    write::Write,
};

/// Adds a comment and returns the recording's id.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn post_comment(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
    text: CommentText,
) -> Result<i32, ServiceError> {
    let w = Write::begin(db).await?;
    let recording = recordings::published(&w, slug).await?;
    comments::ActiveModel {
        recording_id: Set(recording.id),
        user_id: Set(viewer.user_id),
        title: Set(text.title),
        body: Set(text.body),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&w)
    .await?;
    let changed = recordings::life::count_comment(&w, &recording).await?;
    w.commit(changed).await?;
    Ok(recording.id)
}

/// Rates a recording; a second rating by the same listener replaces the first. Uploaders
/// cannot rate their own recordings. Returns the recording's id.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn rate(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
    stars: Stars,
) -> Result<i32, ServiceError> {
    let w = Write::begin(db).await?;
    let recording = recordings::published(&w, slug).await?;
    if recording.uploader_id == viewer.user_id {
        return Err(ServiceError::Forbidden(
            "You cannot rate your own recording.".into(),
        ));
    }
    let stars_value = i16::from(stars.get());
    let now = Utc::now();
    match ratings::Entity::find_by_id((recording.id, viewer.user_id))
        .one(&w)
        .await?
    {
        // The same stars again change nothing: nothing written, nothing purged.
        Some(existing) if existing.stars == stars_value => return Ok(recording.id),
        Some(existing) => {
            let mut active: ratings::ActiveModel = existing.into();
            active.stars = Set(stars_value);
            active.updated_at = Set(now);
            active.update(&w).await?;
        }
        None => {
            ratings::ActiveModel {
                recording_id: Set(recording.id),
                user_id: Set(viewer.user_id),
                stars: Set(stars_value),
                updated_at: Set(now),
            }
            .insert(&w)
            .await?;
        }
    }
    let (count, sum): (i64, Option<i64>) = ratings::Entity::find()
        .select_only()
        .column_as(Expr::col(ratings::Column::Stars).count(), "count")
        .column_as(Expr::cust("CAST(SUM(stars) AS BIGINT)"), "sum")
        .filter(ratings::Column::RecordingId.eq(recording.id))
        .into_tuple()
        .one(&w)
        .await?
        .unwrap_or((0, None));
    let avg = if count > 0 {
        sum.unwrap_or(0) as f64 / count as f64
    } else {
        0.0
    };
    let changed = recordings::life::set_rating(&w, &recording, count as i32, avg).await?;
    w.commit(changed).await?;
    Ok(recording.id)
}

/// A deleted recording's comments and ratings go with it.
pub async fn forget_recording(w: &Write, recording_id: i32) -> Result<(), ServiceError> {
    comments::Entity::delete_many()
        .filter(comments::Column::RecordingId.eq(recording_id))
        .exec(w)
        .await?;
    ratings::Entity::delete_many()
        .filter(ratings::Column::RecordingId.eq(recording_id))
        .exec(w)
        .await?;
    Ok(())
}
