//! The background worker every replica runs: it claims jobs (`domain::jobs`) under a lease
//! it renews while the job runs, and runs each by its kind — a recording's processing
//! (`domain::processing`), the finishing of a direct upload (`domain::direct_uploads`), a
//! media collection (`domain::collector`, queued hourly by whichever replica asks first).
//! Rung by this replica's uploads so their job starts at once; otherwise it looks every
//! `LOOK_EVERY` (a job another replica queued starts within that; each look is a
//! transaction, the idle background every replica adds).

use std::{path::PathBuf, sync::Arc, time::Duration};

use domain::{JobKind, collector, db::Db, direct_uploads, jobs, processing, store::MediaStore};
use tokio::sync::Notify;

use super::metrics::{JobRun, JobRuns};

/// How often an idle worker looks for a job it was not rung for.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub store: Arc<MediaStore>,
    /// Scratch space for originals being processed or read back.
    pub scratch: PathBuf,
    /// Rung by uploads on this replica, so their job starts at once.
    pub wake: Arc<Notify>,
    /// How long a claim holds a job unless renewed.
    pub lease: Duration,
    /// How its runs ended (for `/metrics`).
    pub runs: Arc<JobRuns>,
}

impl Worker {
    pub async fn run(self) {
        match jobs::queue_missing_previews(&self.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                recordings = n,
                "queued recordings processed before the spatial preview, podcast MP3 or torrent existed"
            ),
            Err(e) => tracing::warn!(error = %e.for_operator(), "cannot queue missing previews"),
        }
        // Whether a collection is due is asked every minute (the first a minute after start).
        let mut last_schedule = std::time::Instant::now();
        loop {
            if last_schedule.elapsed() >= Duration::from_secs(60) {
                last_schedule = std::time::Instant::now();
                if let Err(e) = jobs::enqueue_collect_if_due(&self.db, collector::EVERY).await {
                    tracing::warn!(error = %e.for_operator(), "cannot schedule the media collection");
                }
            }
            match jobs::claim(&self.db, self.lease).await {
                Ok(Some(job)) => {
                    let work = self.work(&job);
                    match jobs::holding(&self.db, &job, self.lease, work).await {
                        Ok(ended) => self.runs.count(JobRun::of(ended)),
                        Err(e) => {
                            tracing::error!(job = job.id, error = %e.for_operator(), "cannot record the job's end")
                        }
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(LOOK_EVERY) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.for_operator(), "cannot claim a job");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// One run of `job`, by its kind.
    async fn work(
        &self,
        job: &jobs::Claimed,
    ) -> Result<Option<domain::JobState>, domain::ServiceError> {
        match job.kind {
            JobKind::Process => {
                processing::process(&self.db, &self.store, &self.scratch, job).await
            }
            JobKind::FinishUpload => {
                direct_uploads::finish(&self.db, &self.store, &self.scratch, job).await
            }
            JobKind::CollectMedia => collector::run(&self.db, &self.store, job).await,
        }
    }
}
