//! Direct uploads to S3 for large files, and the `direct_uploads` table that keeps them.
//!
//! The server starts a multipart upload and presigns each part's URL; the browser sends the
//! parts straight to the bucket and keeps the ETag the bucket answers for each, so after a
//! dropped connection it sends only the parts it has no ETag for. Completing is quick: the
//! part list is checked and kept, and a job (`JobKind::FinishUpload`, any replica) does the
//! work that reads the whole file — joining the parts, checking the size, inspecting it
//! like any upload, copying it inside the bucket to its content-addressed key (no byte goes
//! through a replica for that) — while the page asks for the upload's [`Status`]. Asking to
//! complete again answers with the same status, whatever it is.
//!
//! An upload's life: uploading → finishing → done (it became a recording) or refused (a
//! duplicate, a file the site does not read, parts cut short: a sentence says which); or
//! aborted by its uploader, or swept when left uploading for a day. Its incoming object is
//! removed once the upload has ended (and the media collector removes any left behind).
//!
//! (The part list is the browser's, not the bucket's ListParts: S3-compatible stores differ
//! in how they answer ListParts, and the ETags are all completion needs.)

use std::{path::Path, time::Duration};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};

use crate::{
    JobState, UploadMeta, UploadState,
    entities::{direct_uploads, recordings},
    error::ServiceError,
    jobs::{self, Claimed},
    store::{MediaStore, StoreError, TempFile},
    uploads::{self, File, Uploader},
    write::{Changed, Write},
};

/// S3 takes at most 10,000 parts of at least 5 MiB (but the last).
const MIN_PART: u64 = 8 * 1024 * 1024;
const MAX_PARTS: u64 = 9_000;
/// At most this many part URLs in one answer.
pub const MAX_URLS_AT_ONCE: usize = 64;
/// What the uploader reads when the site could not finish their upload at all.
const NOT_FINISHED: &str =
    "The site could not finish your upload just now; nothing was kept. Please upload it again.";

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
    let now = Utc::now();
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
        created_at: Set(now),
        state: Set(UploadState::Uploading),
        parts: Set(None),
        recording_id: Set(None),
        message: Set(String::new()),
        updated_at: Set(Some(now)),
        latitude: Set(meta.place.map(|p| p.0)),
        longitude: Set(meta.place.map(|p| p.1)),
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

/// A direct upload, as its owner may see it.
pub struct Owned(direct_uploads::Model);

impl Owned {
    /// How many parts the file is cut into.
    pub fn parts(&self) -> i32 {
        let size = u64::try_from(self.0.size_bytes).unwrap_or(0);
        let part = u64::try_from(self.0.part_size).unwrap_or(1).max(1);
        i32::try_from(size.div_ceil(part)).unwrap_or(i32::MAX)
    }

    /// Presigned URLs for the asked-for parts that exist (at most [`MAX_URLS_AT_ONCE`]),
    /// while the parts are still being sent.
    pub async fn part_urls(
        &self,
        store: &MediaStore,
        wanted: &[i32],
        ttl: Duration,
    ) -> Result<Vec<(i32, String)>, ServiceError> {
        self.still_uploading()?;
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

    fn still_uploading(&self) -> Result<(), ServiceError> {
        if self.0.state == UploadState::Uploading {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                "Every part of this upload has been sent already.",
            ))
        }
    }
}

/// The upload `id` if `user_id` started it.
pub async fn owned(db: &DatabaseConnection, user_id: i32, id: i32) -> Result<Owned, ServiceError> {
    match direct_uploads::Entity::find_by_id(id).one(db).await? {
        Some(row) if row.user_id == user_id => Ok(Owned(row)),
        _ => Err(ServiceError::NotFound),
    }
}

/// Where an upload is, for its uploader's page (and `server upload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub id: i32,
    pub state: UploadState,
    /// Why it was refused.
    pub message: String,
    /// The recording it became, or the one it duplicates: its slug.
    pub recording: Option<String>,
}

/// The status of upload `id`, for its owner.
pub async fn status(
    db: &DatabaseConnection,
    user_id: i32,
    id: i32,
) -> Result<Status, ServiceError> {
    let Owned(row) = owned(db, user_id, id).await?;
    status_of(db, &row).await
}

async fn status_of(
    db: &DatabaseConnection,
    row: &direct_uploads::Model,
) -> Result<Status, ServiceError> {
    let recording = match row.recording_id {
        Some(id) => recordings::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(|r| r.slug),
        None => None,
    };
    Ok(Status {
        id: row.id,
        state: row.state,
        message: row.message.clone(),
        recording,
    })
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

impl From<sea_orm::DbErr> for CompleteError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Service(e.into())
    }
}

/// Every part sent (`(number, etag)`): the upload is queued to be finished, and its status
/// answered. An upload finishing or finished answers with its status, whatever it is —
/// asking again is never an error.
#[tracing::instrument(skip_all, fields(upload = upload.0.id))]
pub async fn complete(
    db: &DatabaseConnection,
    upload: Owned,
    parts: Vec<(i32, String)>,
) -> Result<Status, CompleteError> {
    let row = upload.0;
    if row.state != UploadState::Uploading {
        return Ok(status_of(db, &row).await?);
    }
    let total = Owned(row.clone()).parts();
    let missing: Vec<i32> = (1..=total)
        .filter(|n| !parts.iter().any(|(p, etag)| p == n && !etag.is_empty()))
        .collect();
    if !missing.is_empty() {
        return Err(CompleteError::Missing(missing));
    }
    let mut parts: Vec<(i32, String)> = parts.into_iter().filter(|(n, _)| *n <= total).collect();
    parts.sort_by_key(|p| p.0);
    parts.dedup_by_key(|p| p.0);
    let w = Write::begin(db).await?;
    // Only the first completion queues the job; a second one racing it finds it queued.
    let queued = direct_uploads::Entity::update_many()
        .col_expr(
            direct_uploads::Column::State,
            Expr::value(UploadState::Finishing),
        )
        .col_expr(
            direct_uploads::Column::Parts,
            Expr::value(Some(serde_json::to_string(&parts).unwrap_or_default())),
        )
        .col_expr(
            direct_uploads::Column::UpdatedAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(direct_uploads::Column::Id.eq(row.id))
        .filter(direct_uploads::Column::State.eq(UploadState::Uploading))
        .exec(&w)
        .await?
        .rows_affected
        == 1;
    if queued {
        jobs::enqueue_finish_upload(&w, row.id).await?;
    }
    w.commit(Changed::nothing_shown()).await?;
    let row = direct_uploads::Entity::find_by_id(row.id)
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(status_of(db, &row).await?)
}

/// What finishing decided, for the upload's row.
enum Ending {
    /// It became this recording (made in the same write).
    Became(i32),
    /// Not taken, and why (for the uploader).
    Refused(String),
}

/// The job that finishes a direct upload: joins the parts, checks the size, reads the file
/// back and takes it like any upload, in one write with the upload's new state and the
/// job's end. `scratch` holds the copy read back. The job's new state, or `None` when the
/// job was taken over meanwhile.
#[tracing::instrument(skip_all, fields(job = job.id, upload = job.subject, attempt = job.attempts))]
pub async fn finish(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    job: &Claimed,
) -> Result<Option<JobState>, ServiceError> {
    let Some(row) = direct_uploads::Entity::find_by_id(job.subject)
        .one(db)
        .await?
    else {
        return end(db, job, None, &Ok(())).await;
    };
    if row.state != UploadState::Finishing {
        // Finished already (by a run that ended just before it could say so).
        return end(db, job, None, &Ok(())).await;
    }
    let taken = take(db, store, scratch, &row).await;
    let ended = match taken {
        // A refusal for the uploader is the job done, not failed.
        Ok(Taken::Refused(why)) => {
            end(db, job, Some((&row, Ending::Refused(why))), &Ok(())).await?
        }
        Ok(Taken::Prepared(prepared)) => {
            let w = Write::begin(db).await?;
            match uploads::record(&w, *prepared).await {
                Ok((recording, changed)) => {
                    let Some(state) = jobs::end(&w, job, &Ok(())).await? else {
                        return Ok(None);
                    };
                    ended(&w, &row, &Ending::Became(recording.id)).await?;
                    w.commit(changed).await?;
                    Some(state)
                }
                Err(e) if e.cause().is_none() => {
                    drop(w);
                    let why = uploads::named(e, "The file").to_string();
                    end(db, job, Some((&row, Ending::Refused(why))), &Ok(())).await?
                }
                Err(e) => {
                    drop(w);
                    fail(db, job, &row, e).await?
                }
            }
        }
        Err(e) => fail(db, job, &row, e).await?,
    };
    if let Some(JobState::Done | JobState::Failed) = ended {
        // Taken (copied to its own key) or refused: the joined object is not needed.
        if let Err(e) = store.delete(&row.key).await {
            tracing::info!(key = %row.key, error = %e, "a finished upload's object is left to the collector");
        }
    }
    Ok(ended)
}

/// A failure on our side: tried again later, or, with no tries left, the upload is refused
/// with a sentence that says nothing was kept.
async fn fail(
    db: &DatabaseConnection,
    job: &Claimed,
    row: &direct_uploads::Model,
    e: ServiceError,
) -> Result<Option<JobState>, ServiceError> {
    let cause = e.cause().unwrap_or("refused").to_owned();
    tracing::warn!(cause = %cause, "a direct upload could not be finished");
    let last = job.attempts >= jobs::MAX_ATTEMPTS;
    let ending = last.then(|| (row, Ending::Refused(NOT_FINISHED.to_owned())));
    end(db, job, ending, &Err(cause)).await
}

/// Ends the job (and, when it is decided, the upload) in a write of their own.
async fn end(
    db: &DatabaseConnection,
    job: &Claimed,
    upload: Option<(&direct_uploads::Model, Ending)>,
    result: &jobs::RunResult,
) -> Result<Option<JobState>, ServiceError> {
    let w = Write::begin(db).await?;
    let Some(state) = jobs::end(&w, job, result).await? else {
        return Ok(None);
    };
    if let Some((row, ending)) = upload {
        ended(&w, row, &ending).await?;
    }
    w.commit(Changed::nothing_shown()).await?;
    Ok(Some(state))
}

/// The upload's row says how it ended.
async fn ended(
    w: &Write,
    row: &direct_uploads::Model,
    ending: &Ending,
) -> Result<(), ServiceError> {
    let (state, recording, message) = match ending {
        Ending::Became(id) => (UploadState::Done, Some(*id), String::new()),
        Ending::Refused(why) => (UploadState::Refused, None, why.chars().take(500).collect()),
    };
    direct_uploads::ActiveModel {
        id: Set(row.id),
        state: Set(state),
        recording_id: Set(recording),
        message: Set(message),
        updated_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .update(w)
    .await?;
    Ok(())
}

/// What reading the joined file gave.
enum Taken {
    Prepared(Box<uploads::Prepared>),
    Refused(String),
}

/// Joins the parts (once: a second run finds the object joined), checks the size, and reads
/// the file back through the same inspection as any upload; the file is stored under its
/// own key by a copy inside the bucket.
async fn take(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    row: &direct_uploads::Model,
) -> Result<Taken, ServiceError> {
    let parts: Vec<(i32, String)> = row
        .parts
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    let parts: Vec<(i32, String, u64)> = parts.into_iter().map(|(n, e)| (n, e, 0)).collect();
    let want = u64::try_from(row.size_bytes).unwrap_or(0);
    if let Err(e) = store
        .complete_multipart(&row.key, &row.upload_id, &parts)
        .await
    {
        // Joined by an earlier run that stopped before it could say so, or not at all.
        match store.size(&row.key).await {
            Ok(Some(size)) if size == want => {}
            Ok(_) => {
                tracing::info!(error = %e, "a multipart upload could not be completed");
                return Ok(Taken::Refused(
                    "The bucket does not have every part as sent (a part was cut off?); nothing was kept, please upload again."
                        .into(),
                ));
            }
            Err(read) => return Err(ServiceError::internal("joining a direct upload", read)),
        }
    }
    // The joined object must be as long as announced: a part cut short shows here.
    match store.size(&row.key).await {
        Ok(Some(size)) if size == want => {}
        Ok(other) => {
            tracing::info!(
                ?other,
                expected = want,
                "a direct upload joined at the wrong size"
            );
            return Ok(Taken::Refused(
                "The parts joined do not make the file announced (a part was cut short); nothing was kept, please upload again."
                    .into(),
            ));
        }
        Err(e) => return Err(ServiceError::internal("sizing a joined upload", e)),
    }
    tokio::fs::create_dir_all(scratch)
        .await
        .map_err(|e| ServiceError::internal("creating the scratch folder", e))?;
    let temp = TempFile::new(scratch, "direct");
    store
        .download_to(&row.key, temp.path())
        .await
        .map_err(|e| ServiceError::internal("reading a joined upload back", e))?;
    let refused = |e: ServiceError| match e.cause() {
        None => Ok(Taken::Refused(uploads::named(e, "The file").to_string())),
        Some(_) => Err(e),
    };
    let uploader = match Uploader::of_user(db, row.user_id).await {
        Ok(u) => u,
        Err(e) => return refused(e),
    };
    let meta = match UploadMeta::parse(
        &row.title,
        &row.description,
        &row.location,
        &row.licence,
        &row.convention,
    ) {
        Ok(m) => UploadMeta {
            place: row.latitude.zip(row.longitude),
            ..m
        },
        Err(e) => return refused(e),
    };
    let (new, said) = uploads::described(meta, uploader);
    let file = File::Stored {
        key: &row.key,
        path: temp.path(),
    };
    match uploads::prepare(db, store, file, said, new, uploader.status()).await {
        Ok(prepared) => Ok(Taken::Prepared(Box::new(prepared))),
        Err(e) => refused(e),
    }
}

/// The uploader gives up: the parts are dropped and the upload forgotten.
pub async fn abort(
    db: &DatabaseConnection,
    store: &MediaStore,
    upload: Owned,
) -> Result<(), ServiceError> {
    upload.still_uploading()?;
    let row = upload.0;
    if let Err(e) = store.abort_multipart(&row.key, &row.upload_id).await {
        tracing::info!(error = %e, key = %row.key, "an aborted upload was already gone from the bucket");
    }
    forget(db, row.id).await
}

/// The bookkeeping of upload `id` goes.
async fn forget(db: &DatabaseConnection, id: i32) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    direct_uploads::Entity::delete_by_id(id).exec(&w).await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}

/// Direct uploads still being sent after `older_than` (a closed tab, a lost laptop) are
/// aborted in the bucket, so their parts stop costing storage, and forgotten; uploads that
/// ended as long ago are forgotten too. The collector calls this; how many went.
#[tracing::instrument(skip_all)]
pub async fn sweep_abandoned(
    db: &DatabaseConnection,
    store: &MediaStore,
    older_than: Duration,
) -> Result<usize, ServiceError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
    let stale = direct_uploads::Entity::find()
        .filter(direct_uploads::Column::CreatedAt.lt(cutoff))
        .filter(direct_uploads::Column::State.ne(UploadState::Finishing))
        .all(db)
        .await?;
    let n = stale.len();
    for row in stale {
        if row.state == UploadState::Uploading
            && let Err(e) = store.abort_multipart(&row.key, &row.upload_id).await
        {
            tracing::info!(error = %e, key = %row.key, "an abandoned upload was already gone from the bucket");
        }
        forget(db, row.id).await?;
    }
    if n > 0 {
        tracing::info!(uploads = n, "old direct uploads swept");
    }
    Ok(n)
}

/// The incoming objects still needed: those of uploads being sent or being finished.
pub async fn incoming_in_use(db: &DatabaseConnection) -> Result<Vec<String>, ServiceError> {
    use sea_orm::QuerySelect;
    Ok(direct_uploads::Entity::find()
        .select_only()
        .column(direct_uploads::Column::Key)
        .filter(
            direct_uploads::Column::State.is_in([UploadState::Uploading, UploadState::Finishing]),
        )
        .into_tuple()
        .all(db)
        .await?)
}
