//! Every change of a recording. Nothing else writes the `recordings` table, nor its tags
//! (`recording_tags`, `tags`): other modules ask for a change by calling one of these
//! functions inside their [`Write`], and commit what it returns — what the change
//! [`Changed`] for the pages and caches that show the recording.
//!
//! Its status:
//!
//! | from | change | to | asked by |
//! |---|---|---|---|
//! | — | [`create`], a trusted uploader's (or demo data) | published | `uploads`, `demo`, `bulk` |
//! | — | [`create`], anyone else's | pending | `uploads` |
//! | pending | [`moderate`]: [`StatusChange::Publish`] | published | an editor (`moderation`) |
//! | pending | [`moderate`]: [`StatusChange::Reject`], with a reason | rejected | an editor (`moderation`) |
//! | rejected | [`describe`]d again by its uploader | pending | the uploader (`manage`) |
//! | pending, published, rejected | [`delete`]: hidden at once, its comments, ratings and files kept | deleted | its uploader before it is published; editors (`manage`) |
//! | deleted | [`restore`], within `Status::RESTORE_DAYS` | the status it had | its uploader or an editor (`manage`) |
//! | deleted, past the window | [`purge`]: the row and its tags (its comments, ratings and jobs by their owners; its media by the collector) | — | `collector` |
//!
//! Its processing (the previews and pictures), beside the status ([`set_processing`]):
//!
//! | from | change | to | asked by |
//! |---|---|---|---|
//! | none | a file to process | queued | `jobs::enqueue` |
//! | queued | a replica claims the job | running | `jobs::claim` |
//! | running | previews made ([`attach_previews`]) | done | `processing::process` |
//! | running | failed, with tries left | queued | `processing::process` |
//! | running | failed for good | failed | `processing::process` |
//! | failed | its uploader asks again | queued | `jobs::retry` |
//!
//! Its counters: downloads ([`count_downloads`], in batches), comments ([`count_comment`]) and ratings
//! ([`set_rating`]). Its description: [`describe`]. Every published recording's facts are
//! also counted for the filter menus (`facets::shift`, in the same write).

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Convention, Processing, Slug, Status,
    entities::{collection_items, collections, recording_tags, recordings, tags},
    error::ServiceError,
    facets::{self, Facts},
    model::Viewer,
    search::search_text,
    write::{Changed, Write, key},
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

/// The row of a new recording, before its slug, status and times are known.
fn new_row(
    new: NewRecording,
    slug: String,
    status: Status,
    created_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
) -> recordings::ActiveModel {
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
    recordings::ActiveModel {
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
        podcast_key: Set(None),
        podcast_bytes: Set(None),
        torrent_key: Set(None),
        torrent_info_hash: Set(None),
        hoa_key: Set(None),
        processing: Set(Processing::None),
        processing_error: Set(String::new()),
        is_premium: Set(new.is_premium),
        download_count: Set(0),
        play_count: Set(0),
        comment_count: Set(0),
        rating_count: Set(0),
        rating_avg: Set(0.0),
        search_text: Set(text),
        created_at: Set(created_at),
        updated_at: Set(created_at),
        published_at: Set(published_at),
        deleted_at: Set(None),
        restore_to: Set(None),
        ..Default::default()
    }
}

/// A new recording with `status` (published at `published_at`, when it is), its tags found
/// or made by name.
pub async fn create(
    w: &Write,
    new: NewRecording,
    status: Status,
    published_at: Option<DateTime<Utc>>,
) -> Result<(recordings::Model, Changed), ServiceError> {
    let slug = unique_slug(w, &new.title).await?;
    let tags = new.tags.clone();
    let row = new_row(new, slug, status, Utc::now(), published_at)
        .insert(w)
        .await?;
    let slugs = set_tags(w, row.id, shown_at(&row), &tags).await?;
    facets::shift(w, &Facts::default(), &Facts::new(&row, &slugs)).await?;
    let changed = shown_if_published(&row);
    Ok((row, changed))
}

/// The most public collections a recording's hiding or showing again names; the rest show
/// it within the page TTL.
const COLLECTIONS_NAMED: u64 = 100;

/// What a published recording's hiding or showing again changes beyond its own pages and
/// lists: the public collections holding it — their pages, and their owners' profiles,
/// whose counts and packs count only what is shown (`collections`).
async fn collections_showing(w: &Write, id: i32) -> Result<Changed, ServiceError> {
    let holding: Vec<i32> = collection_items::Entity::find()
        .select_only()
        .column(collection_items::Column::CollectionId)
        .filter(collection_items::Column::RecordingId.eq(id))
        .into_tuple()
        .all(w)
        .await?;
    if holding.is_empty() {
        return Ok(Changed::nothing_shown());
    }
    let public: Vec<(i32, i32)> = collections::Entity::find()
        .select_only()
        .column(collections::Column::Id)
        .column(collections::Column::OwnerId)
        .filter(collections::Column::Id.is_in(holding))
        .filter(collections::Column::IsPublic.eq(true))
        .order_by_desc(collections::Column::UpdatedAt)
        .limit(COLLECTIONS_NAMED)
        .into_tuple()
        .all(w)
        .await?;
    Ok(Changed::keys(public.into_iter().flat_map(|(c, owner)| {
        [key::collection(c), key::user(owner)]
    })))
}

/// What a change of `row` changed for others: its pages, when it is public.
fn shown_if_published(row: &recordings::Model) -> Changed {
    if row.status == Status::Published {
        Changed::recording(row.id, row.uploader_id)
    } else {
        Changed::nothing_shown()
    }
}

/// A slug from `title` that no recording has: the title's, or with `-2`, `-3` … Two writes
/// making the same slug wait for each other (`Write::lock`).
async fn unique_slug(w: &Write, title: &str) -> Result<String, ServiceError> {
    let base = Slug::from_title(title)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "recording".to_string());
    w.lock(&format!("slug:{base}")).await?;
    let mut candidate = base.clone();
    for n in 2.. {
        let taken = recordings::Entity::find()
            .filter(recordings::Column::Slug.eq(candidate.as_str()))
            .count(w)
            .await?;
        if taken == 0 {
            break;
        }
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

/// Finds a tag by its slug, or creates it with `name` as typed: its id and slug.
async fn tag_id(w: &Write, name: &str) -> Result<Option<(i32, String)>, ServiceError> {
    let name = name.trim();
    let Some(slug) = Slug::from_title(name) else {
        return Ok(None);
    };
    if let Some(tag) = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug.as_str()))
        .one(w)
        .await?
    {
        return Ok(Some((tag.id, tag.slug)));
    }
    let tag = tags::ActiveModel {
        slug: Set(slug.as_str().to_string()),
        name: Set(name.chars().take(48).collect()),
        ..Default::default()
    }
    .insert(w)
    .await?;
    Ok(Some((tag.id, tag.slug)))
}

/// When a published recording's tags show it, in date order: its `published_at` while it
/// is published, else none (the tag pages' index, `recording_tags.published_at`).
fn shown_at(row: &recordings::Model) -> Option<DateTime<Utc>> {
    (row.status == Status::Published)
        .then_some(row.published_at)
        .flatten()
}

/// Recording `row`'s tags follow its status: in their tags' date order while it is
/// published, out of it otherwise.
async fn tags_follow(w: &Write, row: &recordings::Model) -> Result<(), ServiceError> {
    recording_tags::Entity::update_many()
        .col_expr(
            recording_tags::Column::PublishedAt,
            Expr::value(shown_at(row)),
        )
        .filter(recording_tags::Column::RecordingId.eq(row.id))
        .exec(w)
        .await?;
    Ok(())
}

/// Gives recording `id` exactly these tags (found or made by name), in date order from
/// `shown_at` (see [`shown_at`]); returns their slugs.
async fn set_tags(
    w: &Write,
    id: i32,
    shown_at: Option<DateTime<Utc>>,
    names: &[String],
) -> Result<Vec<String>, ServiceError> {
    recording_tags::Entity::delete_many()
        .filter(recording_tags::Column::RecordingId.eq(id))
        .exec(w)
        .await?;
    let mut slugs = Vec::new();
    for name in names {
        if let Some((tag_id, slug)) = tag_id(w, name).await?
            && !slugs.contains(&slug)
        {
            recording_tags::ActiveModel {
                recording_id: Set(id),
                tag_id: Set(tag_id),
                published_at: Set(shown_at),
            }
            .insert(w)
            .await?;
            slugs.push(slug);
        }
    }
    Ok(slugs)
}

/// A description, parsed and checked (`manage::describe` does that).
#[derive(Debug, Clone)]
pub struct Described {
    pub title: String,
    pub description: String,
    pub location: String,
    pub licence: String,
    pub microphone: String,
    /// `None` leaves the tags as they are.
    pub tags: Option<Vec<String>>,
    /// `None` leaves the place as it is; `Some(None)` takes it away.
    pub place: Option<Option<(f64, f64)>>,
}

/// `by` describes `row` anew. A rejected recording that its own uploader describes again
/// goes back to the editors' queue.
pub async fn describe(
    w: &Write,
    row: recordings::Model,
    d: Described,
    by: &Viewer,
) -> Result<Changed, ServiceError> {
    let before = Facts::of(w, &row).await?;
    if let Some(names) = &d.tags {
        set_tags(w, row.id, shown_at(&row), names).await?;
    }
    let tag_names: Vec<String> = recording_tags::Entity::find()
        .filter(recording_tags::Column::RecordingId.eq(row.id))
        .find_also_related(tags::Entity)
        .all(w)
        .await?
        .into_iter()
        .filter_map(|(_, t)| t.map(|t| t.name))
        .collect();
    let resubmitted = row.status == Status::Rejected && row.uploader_id == by.user_id;
    let changed = shown_if_published(&row);
    let mut active: recordings::ActiveModel = row.clone().into();
    active.search_text = Set(search_text(
        &[
            &d.title,
            &row.artist,
            &row.composer,
            &d.description,
            &d.location,
        ],
        &tag_names,
    ));
    active.title = Set(d.title);
    active.description = Set(d.description);
    active.location = Set(d.location);
    active.licence = Set(d.licence);
    active.microphone = Set(d.microphone);
    if let Some(place) = d.place {
        active.latitude = Set(place.map(|p| p.0));
        active.longitude = Set(place.map(|p| p.1));
    }
    if resubmitted {
        active.status = Set(Status::Pending);
        active.moderation_note = Set(String::new());
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(w).await?;
    facets::shift(w, &before, &Facts::of(w, &after).await?).await?;
    Ok(changed)
}

/// An editor's decision on a pending recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusChange {
    Publish,
    /// With the reason the uploader reads.
    Reject {
        note: String,
    },
}

/// Publishes or rejects a pending recording; a recording no longer pending is a conflict
/// (another editor decided first).
pub async fn moderate(
    w: &Write,
    row: recordings::Model,
    change: StatusChange,
) -> Result<Changed, ServiceError> {
    if row.status != Status::Pending {
        return Err(ServiceError::conflict(
            "Another editor has already decided on this recording.",
        ));
    }
    let before = Facts::of(w, &row).await?;
    let mut active: recordings::ActiveModel = row.into();
    let now = Utc::now();
    match change {
        StatusChange::Publish => {
            active.status = Set(Status::Published);
            active.published_at = Set(Some(now));
            active.moderation_note = Set(String::new());
        }
        StatusChange::Reject { note } => {
            active.status = Set(Status::Rejected);
            active.moderation_note = Set(note.chars().take(500).collect());
        }
    }
    active.updated_at = Set(now);
    let after = active.update(w).await?;
    tags_follow(w, &after).await?;
    facets::shift(w, &before, &Facts::of(w, &after).await?).await?;
    Ok(shown_if_published(&after))
}

/// Deletes a recording: hidden from everyone but its managers at once (pages, lists and
/// feeds purged), restorable for `Status::RESTORE_DAYS`. Its comments, ratings and files
/// stay until then.
pub async fn delete(w: &Write, row: recordings::Model) -> Result<Changed, ServiceError> {
    if row.status == Status::Deleted {
        return Err(ServiceError::conflict("This recording is deleted already."));
    }
    let before = Facts::of(w, &row).await?;
    let mut changed = shown_if_published(&row);
    if row.status == Status::Published {
        changed = changed.and(collections_showing(w, row.id).await?);
    }
    let mut active: recordings::ActiveModel = row.clone().into();
    active.status = Set(Status::Deleted);
    active.restore_to = Set(Some(row.status.as_str().to_owned()));
    active.deleted_at = Set(Some(Utc::now()));
    active.updated_at = Set(Utc::now());
    let after = active.update(w).await?;
    tags_follow(w, &after).await?;
    facets::shift(w, &before, &Facts::default()).await?;
    Ok(changed)
}

/// Brings a deleted recording back as it was, within its window.
pub async fn restore(w: &Write, row: recordings::Model) -> Result<Changed, ServiceError> {
    if row.status != Status::Deleted {
        return Err(ServiceError::conflict("This recording is not deleted."));
    }
    if !restorable(&row, Utc::now()) {
        return Err(ServiceError::conflict(
            "This recording was deleted too long ago to be restored.",
        ));
    }
    let status = row
        .restore_to
        .as_deref()
        .and_then(Status::parse)
        .filter(|s| *s != Status::Deleted)
        .unwrap_or(Status::Pending);
    let mut active: recordings::ActiveModel = row.into();
    active.status = Set(status);
    active.restore_to = Set(None);
    active.deleted_at = Set(None);
    active.updated_at = Set(Utc::now());
    let after = active.update(w).await?;
    tags_follow(w, &after).await?;
    facets::shift(w, &Facts::default(), &Facts::of(w, &after).await?).await?;
    let mut changed = shown_if_published(&after);
    if after.status == Status::Published {
        changed = changed.and(collections_showing(w, after.id).await?);
    }
    Ok(changed)
}

/// Whether a deleted recording may still be restored at `now`.
pub fn restorable(row: &recordings::Model, now: DateTime<Utc>) -> bool {
    row.status == Status::Deleted
        && row
            .deleted_at
            .is_some_and(|at| now < at + chrono::Duration::days(Status::RESTORE_DAYS))
}

/// Removes a deleted recording past its window: its row and its tags (its comments,
/// ratings and jobs are their owners' to forget first: `collector`). Nothing shows it.
pub async fn purge(w: &Write, row: recordings::Model) -> Result<Changed, ServiceError> {
    if row.status != Status::Deleted || restorable(&row, Utc::now()) {
        return Err(ServiceError::conflict(
            "Only a recording deleted past its window is purged.",
        ));
    }
    recording_tags::Entity::delete_many()
        .filter(recording_tags::Column::RecordingId.eq(row.id))
        .exec(w)
        .await?;
    recordings::Entity::delete_by_id(row.id).exec(w).await?;
    Ok(Changed::nothing_shown())
}

/// Where the making of recording `id`'s previews is now, with the failure's reason (shown
/// to its uploader) when it failed. Its page shows the state.
pub async fn set_processing(
    w: &Write,
    id: i32,
    state: Processing,
    error: &str,
) -> Result<Changed, ServiceError> {
    recordings::Entity::update_many()
        .col_expr(recordings::Column::Processing, Expr::value(state))
        .col_expr(
            recordings::Column::ProcessingError,
            Expr::value(error.chars().take(500).collect::<String>()),
        )
        .filter(recordings::Column::Id.eq(id))
        .exec(w)
        .await?;
    Ok(Changed::keys([crate::write::key::recording(id)]))
}

/// The previews and pictures processing made, as stored in the media store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previews {
    pub preview_key: String,
    pub preview_bytes: Option<i64>,
    pub podcast_key: String,
    pub podcast_bytes: Option<i64>,
    pub torrent_key: String,
    pub torrent_info_hash: String,
    /// The higher-order spatial preview's key stem, for recordings of order 2–3.
    pub hoa_key: Option<String>,
    pub spatial_key: Option<String>,
    pub waveform_key: String,
    pub doa_key: Option<String>,
}

/// Recording `id` now has these previews (its page shows the player).
pub async fn attach_previews(w: &Write, id: i32, p: Previews) -> Result<Changed, ServiceError> {
    recordings::ActiveModel {
        id: Set(id),
        preview_key: Set(Some(p.preview_key)),
        preview_bytes: Set(p.preview_bytes),
        podcast_key: Set(Some(p.podcast_key)),
        podcast_bytes: Set(p.podcast_bytes),
        torrent_key: Set(Some(p.torrent_key)),
        torrent_info_hash: Set(Some(p.torrent_info_hash)),
        hoa_key: Set(p.hoa_key),
        spatial_key: Set(p.spatial_key),
        waveform_key: Set(Some(p.waveform_key)),
        doa_key: Set(p.doa_key),
        ..Default::default()
    }
    .update(w)
    .await?;
    Ok(Changed::keys([crate::write::key::recording(id)]))
}

/// Downloads counted since the last flush, `(recording, how many)`. The counts are shown on
/// cards and order "most downloaded", but downloads purge nothing: every list would go
/// with them. Pages show the new counts when they expire.
pub async fn count_downloads(w: &Write, batch: &[(i32, i64)]) -> Result<Changed, ServiceError> {
    for (id, n) in batch {
        recordings::Entity::update_many()
            .col_expr(
                recordings::Column::DownloadCount,
                Expr::col(recordings::Column::DownloadCount).add(*n),
            )
            .filter(recordings::Column::Id.eq(*id))
            .exec(w)
            .await?;
    }
    Ok(Changed::nothing_shown())
}

/// One more comment on `row`: its page shows comments; no list shows their count, so no
/// list is touched.
pub async fn count_comment(w: &Write, row: &recordings::Model) -> Result<Changed, ServiceError> {
    recordings::Entity::update_many()
        .col_expr(
            recordings::Column::CommentCount,
            Expr::col(recordings::Column::CommentCount).add(1),
        )
        .filter(recordings::Column::Id.eq(row.id))
        .exec(w)
        .await?;
    Ok(Changed::keys([crate::write::key::recording(row.id)]))
}

/// `row`'s ratings now number `count` with this average (its page shows them; cards and
/// the rated order show them too, softly).
pub async fn set_rating(
    w: &Write,
    row: &recordings::Model,
    count: i32,
    average: f64,
) -> Result<Changed, ServiceError> {
    recordings::Entity::update_many()
        .col_expr(recordings::Column::RatingCount, Expr::value(count))
        .col_expr(recordings::Column::RatingAvg, Expr::value(average))
        .filter(recordings::Column::Id.eq(row.id))
        .exec(w)
        .await?;
    Ok(Changed::rated(row.id))
}

/// Demo data's made-up history of downloads and plays for recording `id`.
pub async fn seed_counts(
    w: &Write,
    id: i32,
    downloads: i64,
    plays: i64,
) -> Result<Changed, ServiceError> {
    recordings::Entity::update_many()
        .col_expr(recordings::Column::DownloadCount, Expr::value(downloads))
        .col_expr(recordings::Column::PlayCount, Expr::value(plays))
        .filter(recordings::Column::Id.eq(id))
        .exec(w)
        .await?;
    Ok(Changed::keys([crate::write::key::recording(id)]))
}

/// A generated published recording (`bulk`): what it says, its slug (unique by
/// construction), when it was published, its made-up counters and its tags' ids.
#[derive(Debug, Clone)]
pub struct Generated {
    pub new: NewRecording,
    pub slug: String,
    pub published_at: DateTime<Utc>,
    pub downloads: i64,
    pub plays: i64,
    pub rating_count: i32,
    pub rating_avg: f64,
    pub tag_ids: Vec<i32>,
}

/// Inserts generated recordings by the hundred, with their tags. The facet counts are
/// recounted once after a bulk load (`facets::recount`), and the lists named once
/// (`Write::announce`): what this changed is named by the caller at the end.
pub async fn insert_generated(w: &Write, batch: Vec<Generated>) -> Result<(), ServiceError> {
    let mut links: Vec<(String, DateTime<Utc>, Vec<i32>)> = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    for g in batch {
        links.push((g.slug.clone(), g.published_at, g.tag_ids));
        let mut row = new_row(
            g.new,
            g.slug,
            Status::Published,
            g.published_at,
            Some(g.published_at),
        );
        row.download_count = Set(g.downloads);
        row.play_count = Set(g.plays);
        row.rating_count = Set(g.rating_count);
        row.rating_avg = Set(g.rating_avg);
        rows.push(row);
    }
    recordings::Entity::insert_many(rows)
        .exec_without_returning(w)
        .await?;
    let ids: std::collections::HashMap<String, i32> = recordings::Entity::find()
        .select_only()
        .column(recordings::Column::Slug)
        .column(recordings::Column::Id)
        .filter(recordings::Column::Slug.is_in(links.iter().map(|(s, _, _)| s.clone())))
        .into_tuple::<(String, i32)>()
        .all(w)
        .await?
        .into_iter()
        .collect();
    let pairs: Vec<recording_tags::ActiveModel> = links
        .iter()
        .filter_map(|(slug, at, tag_ids)| ids.get(slug).map(|id| (*id, *at, tag_ids)))
        .flat_map(|(id, at, tag_ids)| {
            tag_ids.iter().map(move |t| recording_tags::ActiveModel {
                recording_id: Set(id),
                tag_id: Set(*t),
                published_at: Set(Some(at)),
            })
        })
        .collect();
    for chunk in pairs.chunks(2_000) {
        recording_tags::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(w)
            .await?;
    }
    Ok(())
}

/// The ids of the tags with these names (their slugs are the names), made where missing.
pub async fn tag_ids(w: &Write, names: &[&str]) -> Result<Vec<i32>, ServiceError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let id = match tags::Entity::find()
            .filter(tags::Column::Slug.eq(*name))
            .one(w)
            .await?
        {
            Some(t) => t.id,
            None => {
                tags::ActiveModel {
                    slug: Set((*name).to_owned()),
                    name: Set((*name).to_owned()),
                    ..Default::default()
                }
                .insert(w)
                .await?
                .id
            }
        };
        ids.push(id);
    }
    Ok(ids)
}
