//! What a processing job does: the original → stereo preview and, for a sound field, the
//! spatial preview (first-order AmbiX, and for orders 2–3 the higher-order one in two
//! streams; all Ogg Vorbis), the podcast enclosure (binaural
//! MP3), waveform and direction-of-arrival pictures, and the original's torrent (its info
//! dictionary), all stored, then named on the recording in the write that ends the job. The
//! job's bookkeeping (claim, lease, end) is `jobs`; the loop that runs it is the server's.

use std::path::Path;

use sea_orm::{DatabaseConnection, EntityTrait};

use crate::{
    JobState,
    entities::recordings,
    error::ServiceError,
    jobs::{self, Claimed},
    recordings::{Previews, life},
    store::{MediaStore, StoreError, TempFile},
    write::{Changed, Write},
};

/// Runs one claimed processing job to its end and records how it ended, with the previews
/// it made, in one write; `scratch` is a folder for the files being made. The job's new
/// state, or `None` when the job was taken over meanwhile (nothing of this run is written).
#[tracing::instrument(skip_all, fields(job = job.id, recording = job.subject, attempt = job.attempts))]
pub async fn process(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    job: &Claimed,
) -> Result<Option<JobState>, ServiceError> {
    let started = std::time::Instant::now();
    let outcome = match make(db, store, scratch, job.subject).await {
        Ok(previews) => {
            tracing::info!(
                duration_ms = started.elapsed().as_millis() as u64,
                "recording processed"
            );
            Ok(previews)
        }
        Err(f) => {
            tracing::warn!(error = %f.detail, shown = %f.shown, "processing failed");
            Err(f.shown)
        }
    };
    let w = Write::begin(db).await?;
    let result = outcome.as_ref().map(|_| ()).map_err(Clone::clone);
    let Some(state) = jobs::end(&w, job, &result).await? else {
        tracing::warn!("the job was taken over by another replica: its previews are not named");
        return Ok(None);
    };
    let mut changed = Changed::nothing_shown();
    if let Ok(Some(previews)) = outcome {
        changed = life::attach_previews(&w, job.subject, previews).await?;
    }
    let error = result.err().unwrap_or_default();
    // Its page shows the preview, or the failure, now.
    let shown = life::set_processing(&w, job.subject, state.processing(), &error).await?;
    w.commit(changed.and(shown)).await?;
    Ok(Some(state))
}

/// Why processing failed: a plain sentence for the recording's uploader, and the technical
/// detail (I/O, S3 or database text) for the log only.
struct Failure {
    shown: String,
    detail: String,
}

/// Maps an error to a failure the uploader reads as `shown`.
fn failed<E: std::fmt::Display>(shown: &'static str) -> impl FnOnce(E) -> Failure {
    move |e| Failure {
        shown: shown.to_owned(),
        detail: e.to_string(),
    }
}

const STORE_FAILED: &str = "The media store could not be reached to keep the previews.";
const CATALOG_FAILED: &str = "The catalog could not be reached.";
const WORK_FAILED: &str = "This server had no room to work on the recording.";

/// Makes and stores the previews and pictures of recording `recording_id`; what it made
/// (`None` for a recording without a file). The recording is told by [`process`].
async fn make(
    db: &DatabaseConnection,
    store: &MediaStore,
    scratch: &Path,
    recording_id: i32,
) -> Result<Option<Previews>, Failure> {
    let row = recordings::Entity::find_by_id(recording_id)
        .one(db)
        .await
        .map_err(failed(CATALOG_FAILED))?
        .ok_or_else(|| Failure {
            shown: "The recording was deleted.".into(),
            detail: "the recording's row is gone".into(),
        })?;
    let Some(key) = row.media_key.clone() else {
        return Ok(None);
    };
    tokio::fs::create_dir_all(scratch)
        .await
        .map_err(failed(WORK_FAILED))?;
    let original = TempFile::new(scratch, "original");
    let preview = TempFile::new(scratch, "ogg");
    let spatial = TempFile::new(scratch, "spatial.ogg");
    let podcast = TempFile::new(scratch, "mp3");
    let hoa_first = TempFile::new(scratch, "hoa-1.ogg");
    let hoa_rest = TempFile::new(scratch, "hoa-2.ogg");
    let waveform = TempFile::new(scratch, "waveform.svg");
    let doa = TempFile::new(scratch, "doa.svg");

    store
        .download_to(&key, original.path())
        .await
        .map_err(failed(
            "The uploaded file could not be read back from the media store.",
        ))?;

    let convention = row.convention();
    let (src, out, out_spatial, out_podcast) = (
        original.path().to_path_buf(),
        preview.path().to_path_buf(),
        spatial.path().to_path_buf(),
        podcast.path().to_path_buf(),
    );
    let out_hoa = [
        hoa_first.path().to_path_buf(),
        hoa_rest.path().to_path_buf(),
    ];
    let ext = key.rsplit('.').next().unwrap_or("wav");
    let torrent_name = format!("{}.{ext}", row.slug);
    let (pictures, torrent) = tokio::task::spawn_blocking(move || -> Result<_, Failure> {
        let open = |p: &Path| std::fs::File::open(p).map_err(failed(WORK_FAILED));
        let create = |p: &Path| {
            std::fs::File::create(p)
                .map(std::io::BufWriter::new)
                .map_err(failed(WORK_FAILED))
        };
        // The inspector's refusals are written for uploaders already.
        let found =
            media::inspect::inspect(std::io::BufReader::new(open(&src)?)).map_err(|e| Failure {
                shown: e.to_string(),
                detail: e.to_string(),
            })?;
        let input = std::io::BufReader::new(open(&src)?);
        let pictures = media::render::render(
            input,
            &found,
            convention,
            create(&out)?,
            create(&out_spatial)?,
            create(&out_podcast)?,
            [create(&out_hoa[0])?, create(&out_hoa[1])?],
        )
        .map_err(failed("The previews could not be made from this file."))?;
        let file = open(&src)?;
        let size = file.metadata().map_err(failed(WORK_FAILED))?.len();
        let torrent = media::torrent::info(
            &torrent_name,
            size,
            std::io::BufReader::with_capacity(1 << 20, file),
        )
        .map_err(failed(WORK_FAILED))?;
        Ok((pictures, torrent))
    })
    .await
    .map_err(failed(WORK_FAILED))??;

    let sha = row.sha256.clone().unwrap_or_else(|| format!("r{}", row.id));
    let base = format!("{}/{sha}", sha.get(..2).unwrap_or("00"));
    let preview_key = format!("previews/{base}.ogg");
    let spatial_key = format!("previews/{base}-spatial.ogg");
    let waveform_key = format!("pictures/{base}-waveform.svg");
    let doa_key = format!("pictures/{base}-doa.svg");
    let podcast_key = format!("previews/{base}-binaural.mp3");
    let hoa_key = format!("previews/{base}-hoa");
    let torrent_key = format!("torrents/{base}.info");
    tokio::fs::write(waveform.path(), pictures.waveform_svg.as_bytes())
        .await
        .map_err(failed(WORK_FAILED))?;
    let store_err = failed::<StoreError>(STORE_FAILED);
    store
        .put_file(&preview_key, preview.path())
        .await
        .map_err(store_err)?;
    let preview_bytes = tokio::fs::metadata(preview.path())
        .await
        .map_err(failed(WORK_FAILED))?
        .len();
    let spatial_key = if pictures.spatial {
        store
            .put_file(&spatial_key, spatial.path())
            .await
            .map_err(failed(STORE_FAILED))?;
        Some(spatial_key)
    } else {
        None
    };
    store
        .put_file(&waveform_key, waveform.path())
        .await
        .map_err(failed(STORE_FAILED))?;
    let doa_key = match &pictures.doa_svg {
        Some(svg) => {
            tokio::fs::write(doa.path(), svg.as_bytes())
                .await
                .map_err(failed(WORK_FAILED))?;
            store
                .put_file(&doa_key, doa.path())
                .await
                .map_err(failed(STORE_FAILED))?;
            Some(doa_key)
        }
        None => None,
    };
    let podcast_bytes = store
        .put_file(&podcast_key, podcast.path())
        .await
        .map_err(failed(STORE_FAILED))?;
    let hoa_key = match pictures.hoa_order {
        Some(_) => {
            for (n, file) in [(1, &hoa_first), (2, &hoa_rest)] {
                store
                    .put_file(&format!("{hoa_key}-{n}.ogg"), file.path())
                    .await
                    .map_err(failed(STORE_FAILED))?;
            }
            Some(hoa_key)
        }
        None => None,
    };
    let torrent_file = TempFile::new(scratch, "info");
    tokio::fs::write(torrent_file.path(), &torrent.bencoded)
        .await
        .map_err(failed(WORK_FAILED))?;
    store
        .put_file(&torrent_key, torrent_file.path())
        .await
        .map_err(failed(STORE_FAILED))?;
    Ok(Some(Previews {
        preview_key,
        preview_bytes: i64::try_from(preview_bytes).ok(),
        podcast_key,
        podcast_bytes: i64::try_from(podcast_bytes).ok(),
        torrent_key,
        torrent_info_hash: torrent.hash_hex(),
        hoa_key,
        spatial_key,
        waveform_key,
        doa_key,
    }))
}
