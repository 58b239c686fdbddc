//! A file becomes a recording, however it arrived (the upload form, the token API, a direct
//! upload to S3, or `demo-data`): inspected, checked against what is already in the
//! catalog, stored under a content-addressed key, and saved as a row with its processing
//! job in one write.
//!
//! **One file, one recording**, whatever the timing: the check for the file's SHA-256 is
//! made again inside the write, under a lock on that hash (`Write::lock`), and the database
//! holds the rule too (a unique index on `recordings.sha256`). Concurrent uploads of one
//! file store the same bytes under the same key, and exactly one of them makes the row; the
//! others are told which recording it is. An object is never deleted here: one that no row
//! names (a refused or failed upload) is removed by the media collector after its grace
//! period, so a failed request can never delete what another one's row points to.
//!
//! Who may upload is decided here too ([`Uploader`]), once for every way in.

use std::path::Path;

use chrono::Utc;
use media::inspect::{Inspection, inspect};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    Convention, Role, Status, UploadMeta,
    entities::{recordings, users},
    error::ServiceError,
    jobs,
    recordings::{NewRecording, life},
    store::MediaStore,
    write::{Changed, Write},
};

/// Someone who may upload: an uploader (or more) whose account exists. Trusted uploaders'
/// recordings are published at once; everyone else's wait for an editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uploader {
    pub user_id: i32,
    trusted: bool,
}

impl Uploader {
    /// The one rule on who may upload.
    pub fn check(user_id: i32, role: Role, trusted: bool) -> Result<Self, ServiceError> {
        if !role.uploads() {
            return Err(ServiceError::forbidden(
                "Your account cannot upload yet: ask an editor to make you an uploader.",
            ));
        }
        Ok(Self { user_id, trusted })
    }

    /// Looks the account up (role and trust as they are now, not as a session remembers).
    pub async fn of_user(db: &impl ConnectionTrait, user_id: i32) -> Result<Self, ServiceError> {
        let user = users::Entity::find_by_id(user_id)
            .one(db)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        Self::check(user.id, user.role, user.trusted)
    }

    /// Where a new recording of this uploader starts.
    pub fn status(self) -> Status {
        if self.trusted {
            Status::Published
        } else {
            Status::Pending
        }
    }
}

/// Takes the file at `path` (named `file_name` in messages) as a recording of `uploader`
/// described by `meta`. The answer to a refused file is `Invalid` with a sentence for the
/// uploader; an exact duplicate is `Conflict`, naming the recording it duplicates.
#[tracing::instrument(skip_all, fields(uploader = uploader.user_id))]
pub async fn accept(
    db: &sea_orm::DatabaseConnection,
    store: &MediaStore,
    path: &Path,
    file_name: &str,
    meta: UploadMeta,
    uploader: Uploader,
) -> Result<recordings::Model, ServiceError> {
    let (new, said) = described(meta, uploader);
    ingest(db, store, File::Local(path), said, new, uploader.status())
        .await
        .map_err(|e| named(e, file_name))
}

/// What the uploader said about a file, as a new recording's words, and their word on the
/// convention of a plain multichannel file.
pub(crate) fn described(
    meta: UploadMeta,
    uploader: Uploader,
) -> (NewRecording, Option<Convention>) {
    let said = meta.convention;
    let new = NewRecording {
        title: meta.title,
        description: meta.description,
        location: meta.location,
        licence: meta.licence.as_str().to_owned(),
        latitude: meta.place.map(|p| p.0),
        longitude: meta.place.map(|p| p.1),
        uploader_id: uploader.user_id,
        ..NewRecording::default()
    };
    (new, said)
}

/// A refusal of the file, saying which file.
pub(crate) fn named(e: ServiceError, file_name: &str) -> ServiceError {
    match e {
        ServiceError::Invalid(why) => {
            ServiceError::Invalid(format!("{}: {why}", display_name(file_name)))
        }
        other => other,
    }
}

/// Where the file to take is: on this replica's disk, or already in the media store (a
/// direct upload's joined object, with a copy read back to `path` for inspection).
#[derive(Debug, Clone, Copy)]
pub(crate) enum File<'a> {
    Local(&'a Path),
    Stored { key: &'a str, path: &'a Path },
}

impl File<'_> {
    fn path(&self) -> &Path {
        match self {
            File::Local(p) | File::Stored { path: p, .. } => p,
        }
    }
}

/// The ingest behind [`accept`], also used by `demo-data` (which says more about its
/// recordings than an upload form does). `said` is the uploader's word on the convention
/// of a plain multichannel file.
pub(crate) async fn ingest(
    db: &sea_orm::DatabaseConnection,
    store: &MediaStore,
    file: File<'_>,
    said: Option<Convention>,
    meta: NewRecording,
    status: Status,
) -> Result<recordings::Model, ServiceError> {
    let prepared = prepare(db, store, file, said, meta, status).await?;
    let w = Write::begin(db).await?;
    let (row, changed) = record(&w, prepared).await?;
    w.commit(changed).await?;
    Ok(row)
}

/// A file inspected and stored, ready to become a recording.
#[derive(Debug)]
pub(crate) struct Prepared {
    new: NewRecording,
    status: Status,
    sha256: String,
    key: String,
    bytes: u64,
}

/// Inspects the file, refuses one the catalog has already, and stores it under its
/// content-addressed key (where a concurrent upload of the same file writes the same bytes).
pub(crate) async fn prepare(
    db: &sea_orm::DatabaseConnection,
    store: &MediaStore,
    file: File<'_>,
    said: Option<Convention>,
    meta: NewRecording,
    status: Status,
) -> Result<Prepared, ServiceError> {
    // Inspection reads the whole file once (blocking I/O, off the async threads).
    let p = file.path().to_path_buf();
    let found = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&p)?;
        Ok::<_, std::io::Error>(inspect(std::io::BufReader::with_capacity(256 * 1024, f)))
    })
    .await
    .map_err(|e| ServiceError::internal("inspection task", e))?
    .map_err(|e| ServiceError::internal("reading an upload", e))?
    .map_err(|e| ServiceError::Invalid(format!("{e}.")))?;

    let convention = decide_convention(&found, said)?;
    // Known already: refused before anything is stored.
    if let Some(existing) = of_file(db, &found.sha256).await? {
        return Err(duplicate(&existing, meta.uploader_id));
    }
    let key = media_key(&found, convention);
    match file {
        File::Local(path) => store.put_file(&key, path).await.map(|_| ()),
        File::Stored { key: from, .. } => store.copy(from, &key).await,
    }
    .map_err(|e| ServiceError::internal("storing an upload", e))?;
    Ok(Prepared {
        new: NewRecording {
            convention,
            order: found.order.map(i32::from),
            layout: found.layout.clone(),
            channels: Some(i32::from(found.channels)),
            sample_rate: i32::try_from(found.sample_rate).ok(),
            bit_depth: Some(i32::from(found.bits)),
            is_float: found.float,
            duration_ms: Some((found.duration_s * 1000.0).round() as i64),
            size_bytes: i64::try_from(found.size_bytes).ok(),
            sha256: Some(found.sha256.clone()),
            media_key: Some(key.clone()),
            ..meta
        },
        status,
        sha256: found.sha256,
        key,
        bytes: found.size_bytes,
    })
}

/// Makes the recording of a prepared file, and its processing job, in `w` — after the
/// check again, under the file's lock, so two uploads of one file cannot both pass. A
/// duplicate is `Conflict`, naming the recording it duplicates.
pub(crate) async fn record(
    w: &Write,
    p: Prepared,
) -> Result<(recordings::Model, Changed), ServiceError> {
    let uploader_id = p.new.uploader_id;
    w.lock(&format!("file:{}", p.sha256)).await?;
    if let Some(existing) = of_file(w, &p.sha256).await? {
        return Err(duplicate(&existing, uploader_id));
    }
    let published = (p.status == Status::Published).then(Utc::now);
    let (row, changed) = match life::create(w, p.new, p.status, published).await {
        Ok(made) => made,
        // The database's own word on the rule (the lock keeps every writer from it).
        Err(e) if e.is_unique_violation() => {
            return Err(ServiceError::conflict(
                "This exact file has already been uploaded to the catalog.",
            ));
        }
        Err(e) => return Err(e),
    };
    let queued = jobs::enqueue(w, row.id).await?;
    tracing::info!(recording = row.id, key = %p.key, bytes = p.bytes, status = p.status.as_str(), "recording ingested");
    Ok((row, changed.and(queued)))
}

/// The recording of the file with this SHA-256, if there is one (deleted ones included:
/// their file is still theirs until they are purged).
async fn of_file(
    db: &impl ConnectionTrait,
    sha256: &str,
) -> Result<Option<recordings::Model>, ServiceError> {
    Ok(recordings::Entity::find()
        .filter(recordings::Column::Sha256.eq(sha256))
        .one(db)
        .await?)
}

/// An exact duplicate is refused. Its title and address are told only when the uploader
/// may see it anyway (published, or their own): a pending recording of someone else's
/// stays private.
fn duplicate(existing: &recordings::Model, uploader_id: i32) -> ServiceError {
    if existing.status == Status::Deleted && existing.uploader_id == uploader_id {
        ServiceError::Conflict(format!(
            "This exact file is your recording “{}”, which you deleted: restore it from its page (/recordings/{}) instead.",
            existing.title, existing.slug
        ))
    } else if existing.status == Status::Deleted {
        ServiceError::conflict("This exact file has already been uploaded to the catalog.")
    } else if existing.status == Status::Published || existing.uploader_id == uploader_id {
        ServiceError::Conflict(format!(
            "This exact file is already in the catalog as “{}” (/recordings/{}).",
            existing.title, existing.slug
        ))
    } else {
        ServiceError::conflict("This exact file has already been uploaded to the catalog.")
    }
}

/// The file says what it is, or the uploader does when the file cannot (a plain
/// multichannel WAV is AmbiX or FuMa, and nothing in it tells which).
fn decide_convention(
    found: &Inspection,
    said: Option<Convention>,
) -> Result<Option<Convention>, ServiceError> {
    match (found.convention(), said) {
        (Some(c), _) => Ok(Some(c)),
        (None, Some(c)) if found.order.is_some() && c.is_b_format() => Ok(Some(c)),
        (None, _) if found.order.is_some() => Err(ServiceError::Invalid(format!(
            "this {}-channel file could be AmbiX or FuMa, and nothing in it says which: choose the convention on the form.",
            found.channels
        ))),
        (None, _) => Err(ServiceError::Invalid(format!(
            "a {}-channel file without a speaker layout is not a format this catalog knows: B-format (FuMa or AmbiX), UHJ, G-format, stereo or mono.",
            found.channels
        ))),
    }
}

/// `originals/ab/abcdef….amb`: content-addressed, so a key never changes meaning.
fn media_key(found: &Inspection, convention: Option<Convention>) -> String {
    let ext = match (found.container, convention) {
        ("rf64", _) => "rf64",
        ("w64", _) => "w64",
        (_, Some(Convention::Fuma)) => "amb",
        _ => "wav",
    };
    let shard = found.sha256.get(..2).unwrap_or("00");
    format!("originals/{shard}/{}.{ext}", found.sha256)
}

/// A file name fit to show back to its uploader.
fn display_name(file_name: &str) -> String {
    let n: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if n.is_empty() { "The file".into() } else { n }
}
