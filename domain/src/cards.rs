//! A recording as lists show it (`RecordingCard`): made from rows for every list — the
//! catalog, tags, profiles, feeds, collections, moderation — in the same two queries.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    entities::{recording_tags, recordings, tags, users},
    error::ServiceError,
    model::{RecordingCard, TagRef},
};

/// Turns rows into cards, loading uploaders and tags for all of them in two queries.
pub async fn cards(
    db: &impl ConnectionTrait,
    rows: Vec<recordings::Model>,
) -> Result<Vec<RecordingCard>, ServiceError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    let uploader_ids: Vec<i32> = rows.iter().map(|r| r.uploader_id).collect();
    // Asked at once (on two connections of a pool).
    let (uploaders, links) = tokio::try_join!(
        users::Entity::find()
            .filter(users::Column::Id.is_in(uploader_ids))
            .all(db),
        recording_tags::Entity::find()
            .filter(recording_tags::Column::RecordingId.is_in(ids))
            .find_also_related(tags::Entity)
            .order_by_asc(recording_tags::Column::TagId)
            .all(db),
    )?;
    let uploaders: HashMap<i32, String> =
        uploaders.into_iter().map(|u| (u.id, u.username)).collect();
    let mut tags_by_recording: HashMap<i32, Vec<TagRef>> = HashMap::new();
    for (link, tag) in links {
        if let Some(tag) = tag {
            tags_by_recording
                .entry(link.recording_id)
                .or_default()
                .push(TagRef {
                    slug: tag.slug,
                    name: tag.name,
                });
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| RecordingCard {
            id: r.id,
            uploader: uploaders.get(&r.uploader_id).cloned().unwrap_or_default(),
            tags: tags_by_recording.remove(&r.id).unwrap_or_default(),
            slug: r.slug,
            title: r.title,
            artist: r.artist,
            location: r.location,
            convention: r.convention,
            order: r.ambi_order,
            layout: r.layout,
            channels: r.channels,
            duration_ms: r.duration_ms,
            downloads: r.download_count,
            rating_avg: r.rating_avg,
            rating_count: r.rating_count,
            is_premium: r.is_premium,
            recorded_on: r.recorded_on,
            published_at: r.published_at,
        })
        .collect())
}
