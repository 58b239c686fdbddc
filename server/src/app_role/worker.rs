//! The background worker every replica runs: it claims processing jobs from the jobs table
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never take the same job; SQLite has
//! one writer anyway), makes the preview and pictures, and records success or the reason
//! of a failure on the recording. A job whose replica stopped mid-way is claimed again once
//! its lock runs out, so work survives restarts.

use std::{path::PathBuf, sync::Arc, time::Duration};

use app::{
    domain::Convention,
    ssr::entities::{jobs, recordings},
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, Set,
    Statement,
};
use tokio::sync::Notify;

use crate::media::{inspect::inspect, render::render, store::MediaStore};

/// How long a claimed job is ours before another replica may take it over.
const LOCK: Duration = Duration::from_secs(300);
const MAX_ATTEMPTS: i32 = 3;
/// How often a replica looks for direct uploads left unfinished, and how old they must be.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub struct Worker {
    pub db: DatabaseConnection,
    pub store: Arc<MediaStore>,
    /// Scratch space for originals being processed.
    pub scratch: PathBuf,
    /// Rung by uploads on this replica, so their job starts at once.
    pub wake: Arc<Notify>,
}

struct Claimed {
    id: i32,
    recording_id: i32,
    attempts: i32,
}

impl Worker {
    pub async fn run(self) {
        let mut last_sweep = std::time::Instant::now();
        loop {
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = std::time::Instant::now();
                if let Err(e) =
                    super::direct::sweep_abandoned(&self.db, &self.store, ABANDONED_AFTER).await
                {
                    tracing::warn!(error = %e, "cannot sweep abandoned uploads");
                }
            }
            match self.claim().await {
                Ok(Some(job)) => self.process(job).await,
                Ok(None) => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a job");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    async fn claim(&self) -> Result<Option<Claimed>, sea_orm::DbErr> {
        let backend = self.db.get_database_backend();
        let now = Utc::now();
        let until = now + chrono::Duration::from_std(LOCK).unwrap_or_default();
        let (p1, p2, lock) = match backend {
            DatabaseBackend::Postgres => ("$1", "$2", " FOR UPDATE SKIP LOCKED"),
            _ => ("?", "?", ""),
        };
        // The same timestamp twice for SQLite's positional placeholders.
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = {p1}, updated_at = {p2} \
             WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND (locked_until IS NULL OR locked_until < {p2})) \
             OR (state = 'running' AND locked_until < {p2}) ORDER BY id LIMIT 1{lock}) \
             RETURNING id, recording_id, attempts"
        );
        let values: Vec<sea_orm::Value> = match backend {
            DatabaseBackend::Postgres => vec![until.into(), now.into()],
            _ => vec![until.into(), now.into(), now.into(), now.into()],
        };
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        Ok(match row {
            Some(r) => Some(Claimed {
                id: r.try_get("", "id")?,
                recording_id: r.try_get("", "recording_id")?,
                attempts: r.try_get("", "attempts")?,
            }),
            None => None,
        })
    }

    async fn process(&self, job: Claimed) {
        let started = std::time::Instant::now();
        let result = self.make(job.recording_id).await;
        let now = Utc::now();
        let (job_state, rec_state, error, retry_at) = match &result {
            Ok(()) => ("done", "done", String::new(), None),
            Err(e) if job.attempts < MAX_ATTEMPTS => (
                "queued",
                "queued",
                e.clone(),
                Some(now + chrono::Duration::seconds(5 * i64::from(job.attempts))),
            ),
            Err(e) => ("failed", "failed", e.clone(), None),
        };
        match &result {
            Ok(()) => tracing::info!(
                job = job.id,
                recording = job.recording_id,
                duration_ms = started.elapsed().as_millis() as u64,
                "recording processed"
            ),
            Err(e) => {
                tracing::warn!(job = job.id, recording = job.recording_id, attempt = job.attempts, error = %e, "processing failed")
            }
        }
        let mut j: jobs::ActiveModel = jobs::ActiveModel {
            id: Set(job.id),
            ..Default::default()
        };
        j.state = Set(job_state.into());
        j.locked_until = Set(retry_at);
        j.last_error = Set(error.chars().take(500).collect());
        j.updated_at = Set(now);
        if let Err(e) = j.update(&self.db).await {
            tracing::error!(job = job.id, error = %e, "cannot record the job's end");
        }
        let r = recordings::ActiveModel {
            id: Set(job.recording_id),
            processing: Set(rec_state.into()),
            processing_error: Set(error.chars().take(500).collect()),
            ..Default::default()
        };
        if let Err(e) = r.update(&self.db).await {
            tracing::error!(recording = job.recording_id, error = %e, "cannot record the processing state");
        }
    }

    /// Original → preview, waveform, direction picture, all stored; the recording updated.
    async fn make(&self, recording_id: i32) -> Result<(), String> {
        let row = recordings::Entity::find_by_id(recording_id)
            .one(&self.db)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the recording is gone")?;
        let Some(key) = row.media_key.clone() else {
            return Ok(());
        };
        recordings::ActiveModel {
            id: Set(row.id),
            processing: Set("running".into()),
            ..Default::default()
        }
        .update(&self.db)
        .await
        .map_err(|e| e.to_string())?;

        tokio::fs::create_dir_all(&self.scratch)
            .await
            .map_err(|e| e.to_string())?;
        let tag = format!("{:016x}", rand::random::<u64>());
        let original = Scratch(self.scratch.join(format!("{tag}.original")));
        let preview = Scratch(self.scratch.join(format!("{tag}.ogg")));
        let waveform = Scratch(self.scratch.join(format!("{tag}-waveform.svg")));
        let doa = Scratch(self.scratch.join(format!("{tag}-doa.svg")));

        self.store
            .download_to(&key, &original.0)
            .await
            .map_err(|e| format!("the original cannot be read: {e}"))?;

        let convention = row
            .convention
            .as_deref()
            .and_then(|c| Convention::ALL.into_iter().find(|x| x.as_str() == c));
        let (src, out) = (original.0.clone(), preview.0.clone());
        let pictures = tokio::task::spawn_blocking(move || -> Result<_, String> {
            let found = inspect(std::io::BufReader::new(
                std::fs::File::open(&src).map_err(|e| e.to_string())?,
            ))
            .map_err(|e| e.to_string())?;
            let input =
                std::io::BufReader::new(std::fs::File::open(&src).map_err(|e| e.to_string())?);
            let output =
                std::io::BufWriter::new(std::fs::File::create(&out).map_err(|e| e.to_string())?);
            render(input, &found, convention, output).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())??;

        let sha = row.sha256.clone().unwrap_or_else(|| format!("r{}", row.id));
        let base = format!("{}/{sha}", sha.get(..2).unwrap_or("00"));
        let preview_key = format!("previews/{base}.ogg");
        let waveform_key = format!("pictures/{base}-waveform.svg");
        let doa_key = format!("pictures/{base}-doa.svg");
        tokio::fs::write(&waveform.0, pictures.waveform_svg.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let store_err =
            |e: crate::media::store::StoreError| format!("the media store refused: {e}");
        self.store
            .put_file(&preview_key, &preview.0)
            .await
            .map_err(store_err)?;
        self.store
            .put_file(&waveform_key, &waveform.0)
            .await
            .map_err(store_err)?;
        let doa_key = match &pictures.doa_svg {
            Some(svg) => {
                tokio::fs::write(&doa.0, svg.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                self.store
                    .put_file(&doa_key, &doa.0)
                    .await
                    .map_err(store_err)?;
                Some(doa_key)
            }
            None => None,
        };
        recordings::ActiveModel {
            id: Set(row.id),
            preview_key: Set(Some(preview_key)),
            waveform_key: Set(Some(waveform_key)),
            doa_key: Set(doa_key),
            ..Default::default()
        }
        .update(&self.db)
        .await
        .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A scratch file removed however processing ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
