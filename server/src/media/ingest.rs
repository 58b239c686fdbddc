//! A file becomes a recording: inspected, checked against what is already in the catalog,
//! stored under a content-addressed key, and saved as a row with its processing job in one
//! transaction. Uploads and `demo-data` both come through here, so a fresh install's
//! sample audio takes exactly the path an uploader's does.

use std::path::Path;

use app::{
    domain::{Convention, Status},
    ssr::{
        entities::recordings,
        jobs,
        recordings::{NewRecording, create},
    },
};
use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{
    inspect::{Inspection, inspect},
    store::MediaStore,
};

#[derive(Debug)]
pub enum IngestError {
    /// The file is not something the catalog takes; the message says why, for a person.
    Refused(String),
    Duplicate {
        title: String,
        slug: String,
    },
    Internal(String),
}

/// Ingests the file at `path`. `said` is the uploader's word on the convention of a plain
/// multichannel file (`ambix`, `fuma` or empty); `meta` carries what the uploader wrote.
pub async fn ingest(
    db: &DatabaseConnection,
    store: &MediaStore,
    path: &Path,
    said: &str,
    meta: NewRecording,
    status: Status,
) -> Result<recordings::Model, IngestError> {
    // Inspection reads the whole file once (blocking I/O, off the async threads).
    let p = path.to_path_buf();
    let found = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&p)?;
        Ok::<_, std::io::Error>(inspect(std::io::BufReader::with_capacity(256 * 1024, f)))
    })
    .await
    .map_err(|e| IngestError::Internal(e.to_string()))?
    .map_err(|e| IngestError::Internal(e.to_string()))?
    .map_err(|e| IngestError::Refused(format!("{e}.")))?;

    let convention = decide_convention(&found, said)?;
    if let Some(existing) = recordings::Entity::find()
        .filter(recordings::Column::Sha256.eq(found.sha256.as_str()))
        .one(db)
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?
    {
        return Err(IngestError::Duplicate {
            title: existing.title,
            slug: existing.slug,
        });
    }

    let key = media_key(&found, convention);
    store
        .put_file(&key, path)
        .await
        .map_err(|e| IngestError::Internal(e.to_string()))?;
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
        let txn = app::ssr::db::begin_write(db).await?;
        let row = create(&txn, new, status, published).await?;
        jobs::enqueue(&txn, row.id).await?;
        txn.commit().await?;
        Ok::<_, app::error::AppError>(row)
    }
    .await;
    match saved {
        Ok(row) => {
            tracing::info!(recording = row.id, key = %key, bytes = found.size_bytes, status = status.as_str(), "recording ingested");
            Ok(row)
        }
        Err(e) => {
            // No row, so no object either.
            let _ = store.delete(&key).await;
            Err(IngestError::Internal(e.to_string()))
        }
    }
}

/// The file says what it is, or the uploader does when the file cannot (a plain
/// multichannel WAV is AmbiX or FuMa, and nothing in it tells which).
fn decide_convention(found: &Inspection, said: &str) -> Result<Option<Convention>, IngestError> {
    match (found.convention(), said) {
        (Some(c), _) => Ok(Some(c)),
        (None, "ambix") if found.order.is_some() => Ok(Some(Convention::Ambix)),
        (None, "fuma") if found.order.is_some() => Ok(Some(Convention::Fuma)),
        (None, _) if found.order.is_some() => Err(IngestError::Refused(format!(
            "this {}-channel file could be AmbiX or FuMa, and nothing in it says which: choose the convention on the form.",
            found.channels
        ))),
        (None, _) => Err(IngestError::Refused(format!(
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
    format!("originals/{}/{}.{ext}", &found.sha256[..2], found.sha256)
}
