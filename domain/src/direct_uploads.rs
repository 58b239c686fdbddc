//! Direct uploads to S3 for large files, and the `direct_uploads` table that keeps them.
//!
//! The server starts a multipart upload and presigns each part's URL; the browser sends the
//! parts straight to the bucket and keeps the ETag the bucket answers for each, so after a
//! dropped connection it sends only the parts it has no ETag for. Completion joins the
//! parts with those ETags (the bucket refuses a part that does not match), checks the
//! joined object's size, reads it back through [`uploads::accept`] like any upload, and
//! forgets the bookkeeping either way.
//!
//! (The part list is the browser's, not the bucket's ListParts: S3-compatible stores differ
//! in how they answer ListParts, and the ETags are all completion needs.)

use std::{path::Path, time::Duration};

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::{
    UploadMeta,
    entities::{direct_uploads, recordings},
    error::ServiceError,
    store::{MediaStore, StoreError},
    uploads::{self, Uploader},
    write::{Changed, Write},
};

/// S3 takes at most 10,000 parts of at least 5 MiB (but the last).
const MIN_PART: u64 = 8 * 1024 * 1024;
const MAX_PARTS: u64 = 9_000;
/// At most this many part URLs in one answer.
pub const MAX_URLS_AT_ONCE: usize = 64;

/// A direct upload begun: its id and how to cut the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub id: i32,
    pub part_size: u64,
    pub parts: u64,
}

/// Begins a direct upload of `size` bytes (at most `max_bytes`).
#[tracing::instrument(skip_all, fields(uploader = uploader.user_id, size))]
pub async fn start(
    db: &DatabaseConnection,
    store: &MediaStore,
    uploader: Uploader,
    meta: &UploadMeta,
    size: u64,
    max_bytes: u64,
) -> Result<Started, ServiceError> {
    if size == 0 || size > max_bytes {
        return Err(ServiceError::TooLarge(format!(
            "A recording may be up to {} MiB.",
            max_bytes >> 20
        )));
    }
    let part_size = MIN_PART.max(size.div_ceil(MAX_PARTS));
    let parts = size.div_ceil(part_size);
    let key = format!("incoming/{:032x}", rand::random::<u128>());
    let upload_id = match store.start_multipart(&key).await {
        Ok(id) => id,
        Err(StoreError::Unsupported) => {
            return Err(ServiceError::conflict(
                "Direct uploads need the S3 media store; use the upload form.",
            ));
        }
        Err(e) => return Err(ServiceError::internal("starting a multipart upload", e)),
    };
    let w = Write::begin(db).await?;
    let row = direct_uploads::ActiveModel {
        user_id: Set(uploader.user_id),
        key: Set(key),
        upload_id: Set(upload_id),
        size_bytes: Set(i64::try_from(size).unwrap_or(i64::MAX)),
        part_size: Set(i64::try_from(part_size).unwrap_or(i64::MAX)),
        title: Set(meta.title.clone()),
        description: Set(meta.description.clone()),
        location: Set(meta.location.clone()),
        licence: Set(meta.licence.as_str().to_owned()),
        convention: Set(meta
            .convention
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&w)
    .await?;
    // Bookkeeping only its uploader's browser sees.
    w.commit(Changed::nothing_shown()).await?;
    Ok(Started {
        id: row.id,
        part_size,
        parts,
    })
}

/// A direct upload in progress, as its owner may see it.
pub struct InProgress(direct_uploads::Model);

impl InProgress {
    /// How many parts the file is cut into.
    pub fn parts(&self) -> i32 {
        let size = u64::try_from(self.0.size_bytes).unwrap_or(0);
        let part = u64::try_from(self.0.part_size).unwrap_or(1).max(1);
        i32::try_from(size.div_ceil(part)).unwrap_or(i32::MAX)
    }

    /// Presigned URLs for the asked-for parts that exist (at most [`MAX_URLS_AT_ONCE`]).
    pub async fn part_urls(
        &self,
        store: &MediaStore,
        wanted: &[i32],
        ttl: Duration,
    ) -> Result<Vec<(i32, String)>, ServiceError> {
        let total = self.parts();
        let mut urls = Vec::new();
        for n in wanted
            .iter()
            .copied()
            .filter(|n| (1..=total).contains(n))
            .take(MAX_URLS_AT_ONCE)
        {
            let url = store
                .presign_part(&self.0.key, &self.0.upload_id, n, ttl)
                .await
                .map_err(|e| ServiceError::internal("presigning a part", e))?;
            urls.push((n, url));
        }
        Ok(urls)
    }
}

/// The upload `id` if `user_id` started it.
pub async fn owned(
    db: &DatabaseConnection,
    user_id: i32,
    id: i32,
) -> Result<InProgress, ServiceError> {
    match direct_uploads::Entity::find_by_id(id).one(db).await? {
        Some(row) if row.user_id == user_id => Ok(InProgress(row)),
        _ => Err(ServiceError::NotFound),
    }
}

/// Why a completion could not go ahead, beyond the usual refusals: parts not sent yet.
#[derive(Debug)]
pub enum CompleteError {
    Missing(Vec<i32>),
    Service(ServiceError),
}

impl From<ServiceError> for CompleteError {
    fn from(e: ServiceError) -> Self {
        Self::Service(e)
    }
}

/// Joins the parts (`(number, etag)`) into the announced file and takes it as a recording,
/// read back through the same inspection as any upload; `scratch` holds the copy read back.
/// Whatever the outcome past the part check, the incoming object and the bookkeeping go.
#[tracing::instrument(skip_all, fields(upload = upload.0.id))]
pub async fn complete(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    upload: InProgress,
    parts: Vec<(i32, String)>,
) -> Result<recordings::Model, CompleteError> {
    let total = upload.parts();
    let missing: Vec<i32> = (1..=total)
        .filter(|n| !parts.iter().any(|(p, etag)| p == n && !etag.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(CompleteError::Missing(missing));
    }
    let mut parts: Vec<(i32, String, u64)> = parts
        .into_iter()
        .filter(|(n, _)| *n <= total)
        .map(|(n, etag)| (n, etag, 0))
        .collect();
    parts.sort_by_key(|p| p.0);
    parts.dedup_by_key(|p| p.0);
    let row = upload.0;
    if let Err(e) = store
        .complete_multipart(&row.key, &row.upload_id, &parts)
        .await
    {
        tracing::info!(error = %e, "a multipart upload could not be completed");
        return Err(ServiceError::conflict(
            "The bucket does not have every part as sent (a part was cut off?): send the parts again, then complete.",
        )
        .into());
    }
    let outcome = take_joined(db, store, scratch, &row).await;
    // The incoming object and the bookkeeping go either way.
    if let Err(e) = store.delete(&row.key).await {
        tracing::warn!(key = %row.key, error = %e, "a joined direct upload could not be removed");
    }
    forget(db, row.id).await?;
    Ok(outcome?)
}

async fn take_joined(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    row: &direct_uploads::Model,
) -> Result<recordings::Model, ServiceError> {
    // The joined object must be as long as announced: a part cut short shows here.
    match store.size(&row.key).await {
        Ok(Some(size)) if i64::try_from(size).ok() == Some(row.size_bytes) => {}
        other => {
            tracing::info!(
                ?other,
                expected = row.size_bytes,
                "a direct upload joined at the wrong size"
            );
            return Err(ServiceError::invalid(
                "The parts joined do not make the file announced (a part was cut short); nothing was kept, please upload again.",
            ));
        }
    }
    tokio::fs::create_dir_all(scratch)
        .await
        .map_err(|e| ServiceError::internal("creating the incoming folder", e))?;
    let temp = crate::store::TempFile::new(scratch, "direct");
    store
        .download_to(&row.key, temp.path())
        .await
        .map_err(|e| ServiceError::internal("reading a joined upload back", e))?;
    let uploader = Uploader::of_user(db, row.user_id).await?;
    let meta = UploadMeta::parse(
        &row.title,
        &row.description,
        &row.location,
        &row.licence,
        &row.convention,
    )?;
    uploads::accept(db, store, temp.path(), "The file", meta, uploader).await
}

/// The uploader gives up: the parts are dropped and the upload forgotten.
pub async fn abort(
    db: &DatabaseConnection,
    store: &MediaStore,
    upload: InProgress,
) -> Result<(), ServiceError> {
    let row = upload.0;
    if let Err(e) = store.abort_multipart(&row.key, &row.upload_id).await {
        tracing::info!(error = %e, key = %row.key, "an aborted upload was already gone from the bucket");
    }
    forget(db, row.id).await?;
    Ok(())
}

/// The bookkeeping of upload `id` goes (completed, aborted or abandoned).
async fn forget(db: &DatabaseConnection, id: i32) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    direct_uploads::Entity::delete_by_id(id).exec(&w).await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}

/// Direct uploads neither completed nor aborted within `older_than` (a closed tab, a lost
/// laptop) are aborted in the bucket, so their parts stop costing storage, and forgotten.
/// The job worker calls this now and then; returns how many went.
#[tracing::instrument(skip_all)]
pub async fn sweep_abandoned(
    db: &DatabaseConnection,
    store: &MediaStore,
    older_than: Duration,
) -> Result<usize, ServiceError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
    let stale = direct_uploads::Entity::find()
        .filter(direct_uploads::Column::CreatedAt.lt(cutoff))
        .all(db)
        .await?;
    let n = stale.len();
    for row in stale {
        abort(db, store, InProgress(row)).await?;
    }
    if n > 0 {
        tracing::info!(abandoned = n, "abandoned direct uploads swept");
    }
    Ok(n)
}
