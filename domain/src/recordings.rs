//! The recordings table's rules: who manages, sees and describes a recording; creating one
//! (a unique slug from the title, tags found or made, the text the search index reads);
//! and the uploader's later description.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::{
    Convention, Licence, Role, Slug, Status, caps,
    entities::{recording_tags, recordings, tags},
    error::ServiceError,
    facets::{self, Facts},
    model::Viewer,
    search::search_text,
};

/// Its uploader or an editor: who sees a recording before it is published, its
/// processing failures, and may ask for processing again.
pub fn manages(row: &recordings::Model, viewer: Option<&Viewer>) -> bool {
    viewer.is_some_and(|v| v.role >= Role::Editor || v.user_id == row.uploader_id)
}

/// Whether `viewer` may see the recording (its page, files and pictures) at all.
pub fn visible_to(row: &recordings::Model, viewer: Option<&Viewer>) -> bool {
    row.status == Status::Published || manages(row, viewer)
}

/// Who may change its title and description: its uploader until it is published, and
/// editors always.
pub fn can_describe(row: &recordings::Model, viewer: Option<&Viewer>) -> bool {
    viewer.is_some_and(|v| {
        v.role >= Role::Editor || (v.user_id == row.uploader_id && row.status != Status::Published)
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

async fn unique_slug(db: &impl ConnectionTrait, title: &str) -> Result<String, ServiceError> {
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

/// Finds a tag by its slug, or creates it with `name` as typed: its id and slug.
async fn tag_id(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<(i32, String)>, ServiceError> {
    let name = name.trim();
    let Some(slug) = Slug::from_title(name) else {
        return Ok(None);
    };
    if let Some(tag) = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug.as_str()))
        .one(db)
        .await?
    {
        return Ok(Some((tag.id, tag.slug)));
    }
    let tag = tags::ActiveModel {
        slug: Set(slug.as_str().to_string()),
        name: Set(name.chars().take(48).collect()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(Some((tag.id, tag.slug)))
}

pub async fn create(
    db: &impl ConnectionTrait,
    new: NewRecording,
    status: Status,
    published_at: Option<DateTime<Utc>>,
) -> Result<recordings::Model, ServiceError> {
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
        status: Set(status),
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
        spatial_key: Set(None),
        preview_bytes: Set(None),
        processing: Set(crate::Processing::None),
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
    let slugs = set_tags(db, row.id, &new.tags).await?;
    facets::shift(db, &Facts::default(), &Facts::new(&row, &slugs)).await?;
    Ok(row)
}

/// Gives recording `id` exactly these tags (found or made by name); returns their slugs.
async fn set_tags(
    db: &impl ConnectionTrait,
    id: i32,
    names: &[String],
) -> Result<Vec<String>, ServiceError> {
    recording_tags::Entity::delete_many()
        .filter(recording_tags::Column::RecordingId.eq(id))
        .exec(db)
        .await?;
    let mut slugs = Vec::new();
    for name in names {
        if let Some((tag_id, slug)) = tag_id(db, name).await?
            && !slugs.contains(&slug)
        {
            recording_tags::ActiveModel {
                recording_id: Set(id),
                tag_id: Set(tag_id),
            }
            .insert(db)
            .await?;
            slugs.push(slug);
        }
    }
    Ok(slugs)
}

/// What an uploader may change about a recording after uploading it.
#[derive(Debug, Clone)]
pub struct Description {
    pub title: String,
    pub description: String,
    pub location: String,
    pub licence: String,
    /// `None` leaves it as it is.
    pub microphone: Option<String>,
    /// Comma-separated tag names; `None` leaves them as they are.
    pub tags: Option<String>,
}

/// The most tags one recording has.
pub const MAX_TAGS: usize = 12;

/// "birds, dawn chorus , Wytham" → the names, trimmed, each at most 48 characters.
fn tag_names(raw: &str) -> Result<Vec<String>, ServiceError> {
    let names: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names.len() > MAX_TAGS {
        return Err(ServiceError::Invalid(format!(
            "A recording has at most {MAX_TAGS} tags."
        )));
    }
    if names.iter().any(|n| n.chars().count() > 48) {
        return Err(ServiceError::invalid("A tag has at most 48 characters."));
    }
    Ok(names)
}

/// The uploader describes (or re-describes) a recording that is not public yet; an editor
/// may change any. A rejected recording that its uploader edits goes back to the queue.
/// The same caps and licences hold as for an upload; an empty licence keeps the one set.
#[tracing::instrument(skip_all, fields(user = who.user_id))]
pub async fn describe(
    db: &sea_orm::DatabaseConnection,
    who: &Viewer,
    slug: &str,
    d: Description,
) -> Result<(), ServiceError> {
    let txn = crate::db::begin_write(db).await?;
    let row = by_slug(&txn, slug).await?;
    if !can_describe(&row, Some(who)) {
        return Err(ServiceError::forbidden(
            "Only its uploader (before it is published) or an editor can change this.",
        ));
    }
    let licence = match d.licence.trim() {
        "" => None,
        key => Some(Licence::parse(key)?),
    };
    let meta = crate::UploadMeta::parse(
        &d.title,
        &d.description,
        &d.location,
        licence.map_or(&row.licence, |l| l.as_str()),
        "",
    )?;
    let microphone = match d.microphone.as_deref().map(str::trim) {
        Some(m) if m.chars().count() > caps::MICROPHONE => {
            return Err(ServiceError::Invalid(format!(
                "The microphone has at most {} characters.",
                caps::MICROPHONE
            )));
        }
        Some(m) => m.to_owned(),
        None => row.microphone.clone(),
    };
    let new_tags = d.tags.as_deref().map(tag_names).transpose()?;
    let before = Facts::of(&txn, &row).await?;
    if let Some(names) = &new_tags {
        set_tags(&txn, row.id, names).await?;
    }
    let tag_names: Vec<String> = recording_tags::Entity::find()
        .filter(recording_tags::Column::RecordingId.eq(row.id))
        .find_also_related(tags::Entity)
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|(_, t)| t.map(|t| t.name))
        .collect();
    let resubmitted = row.status == Status::Rejected && row.uploader_id == who.user_id;
    let mut active: recordings::ActiveModel = row.clone().into();
    active.search_text = Set(search_text(
        &[
            &meta.title,
            &row.artist,
            &row.composer,
            &meta.description,
            &meta.location,
        ],
        &tag_names,
    ));
    active.title = Set(meta.title);
    active.description = Set(meta.description);
    active.location = Set(meta.location);
    active.licence = Set(meta.licence.as_str().to_owned());
    active.microphone = Set(microphone);
    if resubmitted {
        active.status = Set(Status::Pending);
        active.moderation_note = Set(String::new());
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&txn).await?;
    facets::shift(&txn, &before, &Facts::of(&txn, &after).await?).await?;
    if row.status == Status::Published {
        crate::changes::recording(&txn, row.id, row.uploader_id).await?;
    }
    crate::changes::commit(txn).await?;
    Ok(())
}

/// An editor deletes a recording (its uploader may, until it is published): the row, its
/// tags, comments, ratings and jobs. Its files stay in the media store (they are
/// content-addressed; nothing else names them).
#[tracing::instrument(skip_all, fields(user = who.user_id))]
pub async fn delete(
    db: &sea_orm::DatabaseConnection,
    who: &Viewer,
    slug: &str,
) -> Result<(), ServiceError> {
    use crate::entities::{comments, jobs, ratings};
    let txn = crate::db::begin_write(db).await?;
    let row = by_slug(&txn, slug).await?;
    if !can_describe(&row, Some(who)) {
        return Err(ServiceError::forbidden(
            "Only its uploader (before it is published) or an editor can delete this.",
        ));
    }
    let before = Facts::of(&txn, &row).await?;
    facets::shift(&txn, &before, &Facts::default()).await?;
    recording_tags::Entity::delete_many()
        .filter(recording_tags::Column::RecordingId.eq(row.id))
        .exec(&txn)
        .await?;
    comments::Entity::delete_many()
        .filter(comments::Column::RecordingId.eq(row.id))
        .exec(&txn)
        .await?;
    ratings::Entity::delete_many()
        .filter(ratings::Column::RecordingId.eq(row.id))
        .exec(&txn)
        .await?;
    jobs::Entity::delete_many()
        .filter(jobs::Column::RecordingId.eq(row.id))
        .exec(&txn)
        .await?;
    recordings::Entity::delete_by_id(row.id).exec(&txn).await?;
    if row.status == Status::Published {
        crate::changes::recording(&txn, row.id, row.uploader_id).await?;
    }
    crate::changes::commit(txn).await?;
    tracing::info!(recording = row.id, "recording deleted");
    Ok(())
}
