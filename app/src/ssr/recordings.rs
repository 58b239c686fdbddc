//! Creating recordings: a unique slug from the title, tags found or made, and the text the
//! search index reads. Used by `demo-data` now and by uploads later.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::{
    domain::{Convention, Slug, Status},
    error::AppError,
    ssr::{
        entities::{recording_tags, recordings, tags},
        search::search_text,
    },
};

/// What an uploader says about a recording, plus what was read from its file.
#[derive(Debug, Clone, Default)]
pub struct NewRecording {
    pub title: String,
    pub artist: String,
    pub composer: String,
    pub description: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub recorded_on: Option<NaiveDate>,
    pub microphone: String,
    pub recorder: String,
    pub processing_notes: String,
    pub licence: String,
    pub uploader_id: i32,
    pub tags: Vec<String>,
    pub convention: Option<Convention>,
    pub order: Option<i32>,
    pub layout: Option<String>,
    pub channels: Option<i32>,
    pub sample_rate: Option<i32>,
    pub bit_depth: Option<i32>,
    pub is_float: bool,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    /// Where the original is in the media store.
    pub media_key: Option<String>,
    pub is_premium: bool,
}

async fn unique_slug(db: &impl ConnectionTrait, title: &str) -> Result<String, AppError> {
    let base = Slug::from_title(title)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "recording".to_string());
    let mut candidate = base.clone();
    for n in 2.. {
        let taken = recordings::Entity::find()
            .filter(recordings::Column::Slug.eq(candidate.as_str()))
            .count(db)
            .await?;
        if taken == 0 {
            break;
        }
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

/// Finds a tag by its slug, or creates it with `name` as typed.
async fn tag_id(db: &impl ConnectionTrait, name: &str) -> Result<Option<i32>, AppError> {
    let name = name.trim();
    let Some(slug) = Slug::from_title(name) else {
        return Ok(None);
    };
    if let Some(tag) = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
    {
        return Ok(Some(tag.id));
    }
    let tag = tags::ActiveModel {
        slug: Set(slug.as_str().to_string()),
        name: Set(name.chars().take(48).collect()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Some(tag.id))
}

pub async fn create(
    db: &impl ConnectionTrait,
    new: NewRecording,
    status: Status,
    published_at: Option<DateTime<Utc>>,
) -> Result<recordings::Model, AppError> {
    let now = Utc::now();
    let slug = unique_slug(db, &new.title).await?;
    let text = search_text(
        &[
            &new.title,
            &new.artist,
            &new.composer,
            &new.description,
            &new.location,
        ],
        &new.tags,
    );
    let row = recordings::ActiveModel {
        slug: Set(slug),
        title: Set(new.title),
        artist: Set(new.artist),
        composer: Set(new.composer),
        description: Set(new.description),
        location: Set(new.location),
        latitude: Set(new.latitude),
        longitude: Set(new.longitude),
        recorded_on: Set(new.recorded_on),
        microphone: Set(new.microphone),
        recorder: Set(new.recorder),
        processing_notes: Set(new.processing_notes),
        licence: Set(new.licence),
        uploader_id: Set(new.uploader_id),
        status: Set(status.as_str().to_string()),
        convention: Set(new.convention.map(|c| c.as_str().to_string())),
        ambi_order: Set(new.order),
        layout: Set(new.layout),
        channels: Set(new.channels),
        sample_rate: Set(new.sample_rate),
        bit_depth: Set(new.bit_depth),
        is_float: Set(new.is_float),
        duration_ms: Set(new.duration_ms),
        size_bytes: Set(new.size_bytes),
        sha256: Set(new.sha256),
        media_key: Set(new.media_key),
        moderation_note: Set(String::new()),
        preview_key: Set(None),
        waveform_key: Set(None),
        doa_key: Set(None),
        processing: Set(String::new()),
        processing_error: Set(String::new()),
        is_premium: Set(new.is_premium),
        download_count: Set(0),
        play_count: Set(0),
        comment_count: Set(0),
        rating_count: Set(0),
        rating_avg: Set(0.0),
        search_text: Set(text),
        created_at: Set(now),
        updated_at: Set(now),
        published_at: Set(published_at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    for name in &new.tags {
        if let Some(tag_id) = tag_id(db, name).await? {
            let exists = recording_tags::Entity::find_by_id((row.id, tag_id))
                .one(db)
                .await?
                .is_some();
            if !exists {
                recording_tags::ActiveModel {
                    recording_id: Set(row.id),
                    tag_id: Set(tag_id),
                }
                .insert(db)
                .await?;
            }
        }
    }
    Ok(row)
}

/// What an uploader may change about a recording after uploading it.
#[derive(Debug, Clone)]
pub struct Description {
    pub title: String,
    pub description: String,
    pub location: String,
    pub licence: String,
}

/// The uploader describes (or re-describes) a recording that is not public yet; an editor
/// may change any. A rejected recording that its uploader edits goes back to the queue.
pub async fn describe(
    db: &sea_orm::DatabaseConnection,
    who: &crate::model::Viewer,
    slug: &str,
    d: Description,
) -> Result<(), AppError> {
    use crate::{domain::Role, ssr::entities::tags};
    let row = recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(slug))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let is_editor = who.role >= Role::Editor;
    let own_unpublished =
        row.uploader_id == who.user_id && row.status != Status::Published.as_str();
    if !is_editor && !own_unpublished {
        return Err(AppError::Forbidden(
            "Only its uploader (before it is published) or an editor can change this.".into(),
        ));
    }
    let title: String = d.title.trim().chars().take(200).collect();
    if title.is_empty() {
        return Err(AppError::Invalid("Give the recording a title.".into()));
    }
    if !d.licence.is_empty()
        && !crate::domain::LICENCES
            .iter()
            .any(|(k, ..)| *k == d.licence)
    {
        return Err(AppError::Invalid(
            "Choose one of the licences offered.".into(),
        ));
    }
    let tag_ids: Vec<i32> = recording_tags::Entity::find()
        .filter(recording_tags::Column::RecordingId.eq(row.id))
        .all(db)
        .await?
        .into_iter()
        .map(|rt| rt.tag_id)
        .collect();
    let tag_names: Vec<String> = tags::Entity::find()
        .filter(tags::Column::Id.is_in(tag_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let resubmitted = row.status == Status::Rejected.as_str() && row.uploader_id == who.user_id;
    let mut active: recordings::ActiveModel = row.clone().into();
    let description: String = d.description.trim().chars().take(20_000).collect();
    let location: String = d.location.trim().chars().take(200).collect();
    active.search_text = Set(search_text(
        &[&title, &row.artist, &row.composer, &description, &location],
        &tag_names,
    ));
    active.title = Set(title);
    active.description = Set(description);
    active.location = Set(location);
    if !d.licence.is_empty() {
        active.licence = Set(d.licence);
    }
    if resubmitted {
        active.status = Set(Status::Pending.as_str().into());
        active.moderation_note = Set(String::new());
    }
    active.updated_at = Set(Utc::now());
    active.update(db).await?;
    Ok(())
}
