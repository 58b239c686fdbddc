//! The media collector: removes what nothing needs any more, and never what a row names.
//!
//! 1. Recordings deleted more than `Status::RESTORE_DAYS` ago are purged: their comments,
//!    ratings and jobs by their owners, then the row (`recordings::life::purge`).
//! 2. Direct uploads left unfinished for a day are aborted in the bucket and forgotten, as
//!    are those that ended as long ago; jobs that ended a month ago are forgotten.
//! 3. Every object in the media store that no row names and that is older than the grace
//!    period goes: the media of purged recordings, previews a re-processing replaced,
//!    incoming uploads abandoned, refused or failed, renditions of an older renderer or of
//!    purged recordings. An object a row names (or a current rendition of a recording that
//!    is still there) is never
//!    touched; nor one younger than the grace period (an upload between storing its object
//!    and writing its row, a direct upload whose parts are still arriving).
//!
//! The store is listed a page at a time and the rows' keys are held as 64-bit hashes, so a
//! million recordings cost a few tens of MB; two keys sharing a hash can only spare an
//! object, never remove one a row names. `server media collect [--dry-run]` runs it by
//! hand; every replica queues it hourly (`jobs::enqueue_collect_if_due`), and one runs it.

use std::{
    collections::HashSet,
    hash::{Hash, Hasher},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Condition,
};

use crate::{
    Status, direct_uploads,
    entities::recordings,
    error::ServiceError,
    interactions, jobs,
    recordings::life,
    store::{Listed, MediaStore},
    write::{Changed, Write},
};

/// How old an object no row names must be before it goes, unless told.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);
/// How long a direct upload may stay unfinished, and its bookkeeping be kept after it ends.
pub const UPLOADS_KEPT: Duration = Duration::from_secs(24 * 3600);
/// How long an ended job's row is kept.
pub const JOBS_KEPT: chrono::Duration = chrono::Duration::days(30);
/// How often a replica queues a collection.
pub const EVERY: Duration = Duration::from_secs(3600);

/// What to collect.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Say what would go, remove nothing.
    pub dry_run: bool,
    /// Objects no row names go only once this old.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            dry_run: false,
            grace: DEFAULT_GRACE,
        }
    }
}

/// What a collection did (or, dry, would do).
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Recordings purged (deleted past their window).
    pub purged: Vec<String>,
    /// Direct uploads swept.
    pub swept: usize,
    /// Objects removed: their keys and sizes.
    pub removed: Vec<Listed>,
    /// Objects a row names.
    pub named: u64,
    /// Objects no row names, but younger than the grace period.
    pub young: u64,
}

impl Report {
    pub fn removed_bytes(&self) -> u64 {
        self.removed.iter().map(|o| o.size).sum()
    }
}

/// Runs a collection.
#[tracing::instrument(skip_all, fields(dry_run = opts.dry_run))]
pub async fn collect(
    db: &DatabaseConnection,
    store: &MediaStore,
    opts: Options,
) -> Result<Report, ServiceError> {
    let now = Utc::now();
    let mut report = Report {
        purged: purge_expired(db, now, opts.dry_run).await?,
        ..Report::default()
    };
    if !opts.dry_run {
        report.swept = direct_uploads::sweep_abandoned(db, store, UPLOADS_KEPT).await?;
        let w = Write::begin(db).await?;
        jobs::forget_ended(&w, now - JOBS_KEPT).await?;
        // The queue's bookkeeping: nothing a page shows.
        w.commit(Changed::nothing_shown()).await?;
    }
    let named = named_keys(db).await?;
    let cutoff = now - chrono::Duration::from_std(opts.grace).unwrap_or_default();
    let mut doomed = Vec::new();
    store
        .list_pages(|page| {
            for object in page {
                if named.contains(&hash_of(&object.key)) {
                    report.named += 1;
                } else if object.modified >= cutoff {
                    report.young += 1;
                } else {
                    doomed.push(object);
                }
            }
        })
        .await
        .map_err(|e| ServiceError::internal("listing the media store", e))?;
    // Renditions are named by no row: one of the current renderer's, of a recording that
    // is still there, is kept.
    let kept = current_renditions(db, &doomed).await?;
    doomed.retain(|o| !kept.contains(&o.key));
    report.named += kept.len() as u64;
    doomed.sort_by(|a, b| a.key.cmp(&b.key));
    for object in doomed {
        if !opts.dry_run {
            store
                .delete(&object.key)
                .await
                .map_err(|e| ServiceError::internal("removing an object", e))?;
        }
        report.removed.push(object);
    }
    tracing::info!(
        purged = report.purged.len(),
        swept = report.swept,
        removed = report.removed.len(),
        removed_bytes = report.removed_bytes(),
        named = report.named,
        young = report.young,
        "media collected"
    );
    Ok(report)
}

/// Purges recordings deleted past their window (or, dry, lists them); their slugs.
async fn purge_expired(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<Vec<String>, ServiceError> {
    let before = now - chrono::Duration::days(Status::RESTORE_DAYS);
    let expired = recordings::Entity::find()
        .filter(recordings::Column::Status.eq(Status::Deleted))
        .filter(recordings::Column::DeletedAt.lt(before))
        .order_by_asc(recordings::Column::Id)
        .all(db)
        .await?;
    let mut purged = Vec::with_capacity(expired.len());
    for row in expired {
        let slug = row.slug.clone();
        if !dry_run {
            let w = Write::begin(db).await?;
            interactions::forget_recording(&w, row.id).await?;
            jobs::forget_recording(&w, row.id).await?;
            crate::collections::forget_recording(&w, row.id).await?;
            let changed = life::purge(&w, row).await?;
            w.commit(changed).await?;
            tracing::info!(recording = %slug, "deleted recording purged");
        }
        purged.push(slug);
    }
    Ok(purged)
}

/// The hourly housekeeping, as a job: forgets failed logins past their window and expired
/// sessions (so neither table grows without end), collects media, then ends the job.
pub async fn run(
    db: &DatabaseConnection,
    store: &MediaStore,
    job: &jobs::Claimed,
) -> Result<Option<crate::JobState>, ServiceError> {
    let failures = crate::accounts::forget_old_failures(db).await?;
    let sessions = crate::sessions::forget_expired(db).await?;
    tracing::info!(
        failures,
        sessions,
        "housekeeping forgot old login failures and sessions"
    );
    let result = collect(db, store, Options::default())
        .await
        .map(|_| ())
        .map_err(|e| e.for_operator());
    let w = Write::begin(db).await?;
    let Some(state) = jobs::end(&w, job, &result).await? else {
        return Ok(None);
    };
    w.commit(Changed::nothing_shown()).await?;
    Ok(Some(state))
}

/// The keys among `objects` of renditions by the current renderer of recordings that exist.
async fn current_renditions(
    db: &DatabaseConnection,
    objects: &[Listed],
) -> Result<HashSet<String>, ServiceError> {
    let mut kept = HashSet::new();
    let renditions: Vec<(&str, &str)> = objects
        .iter()
        .filter_map(|o| crate::renditions::current_of(&o.key).map(|base| (o.key.as_str(), base)))
        .collect();
    for chunk in renditions.chunks(500) {
        let shas: Vec<&str> = chunk.iter().map(|(_, b)| *b).collect();
        let ids: Vec<i32> = shas
            .iter()
            .filter_map(|b| b.strip_prefix('r').and_then(|id| id.parse().ok()))
            .collect();
        let found: Vec<(i32, Option<String>)> = recordings::Entity::find()
            .select_only()
            .columns([recordings::Column::Id, recordings::Column::Sha256])
            .filter(
                Condition::any()
                    .add(recordings::Column::Sha256.is_in(shas.iter().map(|s| (*s).to_owned())))
                    .add(recordings::Column::Id.is_in(ids)),
            )
            .into_tuple()
            .all(db)
            .await?;
        for (key, base) in chunk {
            let exists = found
                .iter()
                .any(|(id, sha)| sha.as_deref() == Some(*base) || format!("r{id}") == *base);
            if exists {
                kept.insert((*key).to_owned());
            }
        }
    }
    Ok(kept)
}

fn hash_of(key: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// The objects one recording row names: its original (with the SHA-256 and size recorded
/// when it was uploaded) and what processing made of it.
#[derive(Debug, Clone)]
pub struct Named {
    pub slug: String,
    pub original: Option<Original>,
    /// Previews, pictures, the spatial stream.
    pub derived: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Original {
    pub key: String,
    pub sha256: Option<String>,
    pub size: Option<i64>,
}

/// Calls `each` with the objects of every recording row (deleted ones within their window
/// too), a batch at a time, in id order.
pub async fn each_named(
    db: &DatabaseConnection,
    mut each: impl FnMut(Named),
) -> Result<(), ServiceError> {
    const BATCH: u64 = 10_000;
    type Row = (
        i32,
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let mut after = 0;
    loop {
        let rows: Vec<Row> = recordings::Entity::find()
            .select_only()
            .columns([
                recordings::Column::Id,
                recordings::Column::Slug,
                recordings::Column::MediaKey,
                recordings::Column::Sha256,
                recordings::Column::SizeBytes,
                recordings::Column::PreviewKey,
                recordings::Column::SpatialKey,
                recordings::Column::WaveformKey,
                recordings::Column::DoaKey,
                recordings::Column::PodcastKey,
                recordings::Column::TorrentKey,
                recordings::Column::HoaKey,
            ])
            .filter(recordings::Column::Id.gt(after))
            .order_by_asc(recordings::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        let full = rows.len() as u64 == BATCH;
        for (_, slug, media, sha256, size, a, b, c, d, e, f, hoa) in rows {
            // The higher-order preview is two objects under one stem.
            let hoa = hoa
                .into_iter()
                .flat_map(|stem| [format!("{stem}-1.ogg"), format!("{stem}-2.ogg")]);
            each(Named {
                slug,
                original: media.map(|key| Original { key, sha256, size }),
                derived: [a, b, c, d, e, f]
                    .into_iter()
                    .flatten()
                    .chain(hoa)
                    .collect(),
            });
        }
        if !full {
            break;
        }
    }
    Ok(())
}

/// Every key a row names: the recordings' media, previews, pictures, podcast enclosures
/// and torrents (deleted ones
/// within their window too), and the incoming objects of direct uploads in progress.
async fn named_keys(db: &DatabaseConnection) -> Result<HashSet<u64>, ServiceError> {
    let mut named = HashSet::new();
    each_named(db, |n| {
        for key in n.original.iter().map(|o| &o.key).chain(&n.derived) {
            named.insert(hash_of(key));
        }
    })
    .await?;
    for key in direct_uploads::incoming_in_use(db).await? {
        named.insert(hash_of(&key));
    }
    Ok(named)
}
