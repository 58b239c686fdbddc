//! What a processing job does: the original → stereo preview and, for a sound field, the
//! spatial preview (first-order AmbiX; both Ogg Vorbis), waveform and direction-of-arrival
//! pictures, all stored, and the recording updated to name them. The
//! job's bookkeeping (claim, lease, end) is `jobs`; the loop that runs it is the server's.

use std::path::Path;

use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};

use crate::{
    JobState,
    entities::recordings,
    error::ServiceError,
    jobs::{self, Claimed},
    store::{MediaStore, StoreError, TempFile},
};

/// Runs one claimed job to its end and records how it ended; `scratch` is a folder for the
/// files being made. Returns the job's new state.
#[tracing::instrument(skip_all, fields(job = job.id, recording = job.recording_id, attempt = job.attempts))]
pub async fn process(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    job: Claimed,
) -> Result<JobState, ServiceError> {
    let started = std::time::Instant::now();
    let outcome = make(db, store, scratch, job.recording_id).await;
    match &outcome {
        Ok(()) => tracing::info!(
            duration_ms = started.elapsed().as_millis() as u64,
            "recording processed"
        ),
        Err(e) => tracing::warn!(error = %e, "processing failed"),
    }
    jobs::finish(db, job, &outcome).await
}

/// The reasons below are shown to the recording's uploader: plain sentences, with the
/// technical detail in the log line above.
async fn make(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    recording_id: i32,
) -> jobs::Outcome {
    let row = recordings::Entity::find_by_id(recording_id)
        .one(db)
        .await
        .map_err(|e| format!("the catalog could not be read ({e})"))?
        .ok_or("the recording is gone")?;
    let Some(key) = row.media_key.clone() else {
        return Ok(());
    };
    tokio::fs::create_dir_all(scratch)
        .await
        .map_err(|e| format!("no room to work in ({e})"))?;
    let original = TempFile::new(scratch, "original");
    let preview = TempFile::new(scratch, "ogg");
    let spatial = TempFile::new(scratch, "spatial.ogg");
    let waveform = TempFile::new(scratch, "waveform.svg");
    let doa = TempFile::new(scratch, "doa.svg");

    store
        .download_to(&key, original.path())
        .await
        .map_err(|e| format!("the original cannot be read: {e}"))?;

    let convention = row.convention();
    let (src, out, out_spatial) = (
        original.path().to_path_buf(),
        preview.path().to_path_buf(),
        spatial.path().to_path_buf(),
    );
    let pictures = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let open = |p: &Path| std::fs::File::open(p).map_err(|e| e.to_string());
        let create = |p: &Path| {
            std::fs::File::create(p)
                .map(std::io::BufWriter::new)
                .map_err(|e| e.to_string())
        };
        let found = media::inspect::inspect(std::io::BufReader::new(open(&src)?))
            .map_err(|e| e.to_string())?;
        let input = std::io::BufReader::new(open(&src)?);
        media::render::render(
            input,
            &found,
            convention,
            create(&out)?,
            create(&out_spatial)?,
        )
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;

    let sha = row.sha256.clone().unwrap_or_else(|| format!("r{}", row.id));
    let base = format!("{}/{sha}", sha.get(..2).unwrap_or("00"));
    let preview_key = format!("previews/{base}.ogg");
    let spatial_key = format!("previews/{base}-spatial.ogg");
    let waveform_key = format!("pictures/{base}-waveform.svg");
    let doa_key = format!("pictures/{base}-doa.svg");
    tokio::fs::write(waveform.path(), pictures.waveform_svg.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let store_err = |e: StoreError| format!("the media store refused: {e}");
    store
        .put_file(&preview_key, preview.path())
        .await
        .map_err(store_err)?;
    let preview_bytes = tokio::fs::metadata(preview.path())
        .await
        .map_err(|e| e.to_string())?
        .len();
    let spatial_key = if pictures.spatial {
        store
            .put_file(&spatial_key, spatial.path())
            .await
            .map_err(store_err)?;
        Some(spatial_key)
    } else {
        None
    };
    store
        .put_file(&waveform_key, waveform.path())
        .await
        .map_err(store_err)?;
    let doa_key = match &pictures.doa_svg {
        Some(svg) => {
            tokio::fs::write(doa.path(), svg.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            store
                .put_file(&doa_key, doa.path())
                .await
                .map_err(store_err)?;
            Some(doa_key)
        }
        None => None,
    };
    recordings::ActiveModel {
        id: Set(row.id),
        preview_key: Set(Some(preview_key)),
        preview_bytes: Set(i64::try_from(preview_bytes).ok()),
        spatial_key: Set(spatial_key),
        waveform_key: Set(Some(waveform_key)),
        doa_key: Set(doa_key),
        ..Default::default()
    }
    .update(db)
    .await
    .map_err(|e| format!("the catalog could not be updated ({e})"))?;
    Ok(())
}
