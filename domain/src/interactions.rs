//! What logged-in listeners add to a recording: comments and ratings. Each write updates
//! the recording's counters in the same transaction, so cards never disagree with pages.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    entities::{comments, ratings, recordings},
    error::ServiceError,
    model::Viewer,
    {CommentText, Slug, Stars, Status},
};

async fn published_recording(
    db: &impl sea_orm::ConnectionTrait,
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

/// Adds a comment and returns the recording's id.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn post_comment(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
    text: CommentText,
) -> Result<i32, ServiceError> {
    let txn = crate::db::begin_write(db).await?;
    let recording = published_recording(&txn, slug).await?;
    comments::ActiveModel {
        recording_id: Set(recording.id),
        user_id: Set(viewer.user_id),
        title: Set(text.title),
        body: Set(text.body),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    recordings::Entity::update_many()
        .col_expr(
            recordings::Column::CommentCount,
            Expr::col(recordings::Column::CommentCount).add(1),
        )
        .filter(recordings::Column::Id.eq(recording.id))
        .exec(&txn)
        .await?;
    // Its page shows comments and ratings; cards and the rated order show the counts.
    crate::changes::recording(&txn, recording.id, recording.uploader_id).await?;
    crate::changes::commit(txn).await?;
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
    let txn = crate::db::begin_write(db).await?;
    let recording = published_recording(&txn, slug).await?;
    if recording.uploader_id == viewer.user_id {
        return Err(ServiceError::Forbidden(
            "You cannot rate your own recording.".into(),
        ));
    }
    let stars_value = i16::from(stars.get());
    let now = Utc::now();
    match ratings::Entity::find_by_id((recording.id, viewer.user_id))
        .one(&txn)
        .await?
    {
        Some(existing) => {
            let mut active: ratings::ActiveModel = existing.into();
            active.stars = Set(stars_value);
            active.updated_at = Set(now);
            active.update(&txn).await?;
        }
        None => {
            ratings::ActiveModel {
                recording_id: Set(recording.id),
                user_id: Set(viewer.user_id),
                stars: Set(stars_value),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
    }
    let (count, sum): (i64, Option<i64>) = ratings::Entity::find()
        .select_only()
        .column_as(Expr::col(ratings::Column::Stars).count(), "count")
        .column_as(Expr::cust("CAST(SUM(stars) AS BIGINT)"), "sum")
        .filter(ratings::Column::RecordingId.eq(recording.id))
        .into_tuple()
        .one(&txn)
        .await?
        .unwrap_or((0, None));
    let avg = if count > 0 {
        sum.unwrap_or(0) as f64 / count as f64
    } else {
        0.0
    };
    recordings::Entity::update_many()
        .col_expr(recordings::Column::RatingCount, Expr::value(count as i32))
        .col_expr(recordings::Column::RatingAvg, Expr::value(avg))
        .filter(recordings::Column::Id.eq(recording.id))
        .exec(&txn)
        .await?;
    // Its page shows comments and ratings; cards and the rated order show the counts.
    crate::changes::recording(&txn, recording.id, recording.uploader_id).await?;
    crate::changes::commit(txn).await?;
    Ok(recording.id)
}
