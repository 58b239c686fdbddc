//! The background worker every replica runs: it claims processing jobs (`domain::jobs`),
//! runs them (`domain::processing`), and now and then sweeps direct uploads left unfinished.
//! Rung by this replica's uploads so their job starts at once; otherwise it looks every
//! second.

use std::{path::PathBuf, sync::Arc, time::Duration};

use domain::{db::Db, direct_uploads, jobs, processing, store::MediaStore};
use tokio::sync::Notify;

/// How often a replica looks for direct uploads left unfinished, and how old they must be.
const SWEEP_EVERY: Duration = Duration::from_secs(600);
const ABANDONED_AFTER: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub store: Arc<MediaStore>,
    /// Scratch space for originals being processed.
    pub scratch: PathBuf,
    /// Rung by uploads on this replica, so their job starts at once.
    pub wake: Arc<Notify>,
}

impl Worker {
    pub async fn run(self) {
        match jobs::queue_missing_previews(&self.db).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                recordings = n,
                "queued recordings processed before spatial previews"
            ),
            Err(e) => tracing::warn!(error = %e.for_operator(), "cannot queue missing previews"),
        }
        let mut last_sweep = std::time::Instant::now();
        loop {
            if last_sweep.elapsed() >= SWEEP_EVERY {
                last_sweep = std::time::Instant::now();
                if let Err(e) =
                    direct_uploads::sweep_abandoned(&self.db, &self.store, ABANDONED_AFTER).await
                {
                    tracing::warn!(error = %e.for_operator(), "cannot sweep abandoned uploads");
                }
            }
            match jobs::claim(&self.db).await {
                Ok(Some(job)) => {
                    if let Err(e) =
                        processing::process(&self.db, &self.store, &self.scratch, job).await
                    {
                        tracing::error!(job = job.id, error = %e.for_operator(), "cannot record the job's end");
                    }
                }
                Ok(None) => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e.for_operator(), "cannot claim a job");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }
}
