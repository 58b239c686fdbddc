//! A file becomes a recording, however it arrived (the upload form, the token API, a direct
//! upload to S3, or `demo-data`): inspected, checked against what is already in the
//! catalog, stored under a content-addressed key, and saved as a row with its processing
//! job in one transaction. A refusal leaves no object and no row.
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
    write::Write,
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
/// uploader; an exact duplicate is `Conflict`.
#[tracing::instrument(skip_all, fields(uploader = uploader.user_id))]
pub async fn accept(
    db: &sea_orm::DatabaseConnection,
    store: &MediaStore,
    path: &Path,
    file_name: &str,
    meta: UploadMeta,
    uploader: Uploader,
) -> Result<recordings::Model, ServiceError> {
    let said = meta.convention;
    let new = NewRecording {
        title: meta.title,
        description: meta.description,
        location: meta.location,
        licence: meta.licence.as_str().to_owned(),
        uploader_id: uploader.user_id,
        ..NewRecording::default()
    };
    ingest(db, store, path, said, new, uploader.status())
        .await
        .map_err(|e| match e {
            ServiceError::Invalid(why) => {
                ServiceError::Invalid(format!("{}: {why}", display_name(file_name)))
            }
            other => other,
        })
}

/// The ingest behind [`accept`], also used by `demo-data` (which says more about its
/// recordings than an upload form does). `said` is the uploader's word on the convention
/// of a plain multichannel file.
pub(crate) async fn ingest(
    db: &sea_orm::DatabaseConnection,
    store: &MediaStore,
    path: &Path,
    said: Option<Convention>,
    meta: NewRecording,
    status: Status,
) -> Result<recordings::Model, ServiceError> {
    // Inspection reads the whole file once (blocking I/O, off the async threads).
    let p = path.to_path_buf();
    let found = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&p)?;
        Ok::<_, std::io::Error>(inspect(std::io::BufReader::with_capacity(256 * 1024, f)))
    })
    .await
    .map_err(|e| ServiceError::internal("inspection task", e))?
    .map_err(|e| ServiceError::internal("reading an upload", e))?
    .map_err(|e| ServiceError::Invalid(format!("{e}.")))?;

    let convention = decide_convention(&found, said)?;
    if let Some(existing) = recordings::Entity::find()
        .filter(recordings::Column::Sha256.eq(found.sha256.as_str()))
        .one(db)
        .await?
    {
        return Err(duplicate(&existing, meta.uploader_id));
    }

    let key = media_key(&found, convention);
    store
        .put_file(&key, path)
        .await
        .map_err(|e| ServiceError::internal("storing an upload", e))?;
    let new = NewRecording {
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
    };
    // The recording and its processing job together, or neither.
    let published = (status == Status::Published).then(Utc::now);
    let saved = async {
        let w = Write::begin(db).await?;
        let (row, changed) = life::create(&w, new, status, published).await?;
        let queued = jobs::enqueue(&w, row.id).await?;
        w.commit(changed.and(queued)).await?;
        Ok::<_, ServiceError>(row)
    }
    .await;
    match saved {
        Ok(row) => {
            tracing::info!(recording = row.id, key = %key, bytes = found.size_bytes, status = status.as_str(), "recording ingested");
            Ok(row)
        }
        Err(e) => {
            // No row, so no object either.
            if let Err(gone) = store.delete(&key).await {
                tracing::warn!(key = %key, error = %gone, "an object without a row could not be removed");
            }
            Err(e)
        }
    }
}

/// An exact duplicate is refused. Its title and address are told only when the uploader
/// may see it anyway (published, or their own): a pending recording of someone else's
/// stays private.
fn duplicate(existing: &recordings::Model, uploader_id: i32) -> ServiceError {
    if existing.status == Status::Published || existing.uploader_id == uploader_id {
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
