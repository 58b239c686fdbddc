//! What the upload and download handlers share: the database, the media store, where
//! uploads land while they arrive, the size limit, and the bell that wakes this
//! replica's job worker.

use std::{path::PathBuf, sync::Arc};

use domain::{db::Db, store::MediaStore};

#[derive(Clone)]
pub struct MediaState {
    pub db: Db,
    pub store: Arc<MediaStore>,
    /// Tells this replica's worker a job is waiting.
    pub wake: Arc<tokio::sync::Notify>,
    /// Where uploads land before they are inspected (and renditions while they are made).
    pub incoming: PathBuf,
    pub max_upload_bytes: u64,
    /// Downloads counted in memory, flushed in batches.
    pub downloads: Arc<domain::downloads::Counter>,
    /// Renditions being made on this replica.
    pub renditions: Arc<domain::renditions::Renditions>,
    /// Premium recordings' preview excerpts, kept in memory.
    pub excerpts: Arc<domain::excerpts::Excerpts>,
    /// The site's address (torrents' web seeds) and trackers.
    pub settings: Arc<app::ssr::state::Settings>,
}

impl MediaState {
    /// The refusal of a file over the limit.
    pub fn too_large(&self) -> domain::ServiceError {
        domain::ServiceError::TooLarge(format!(
            "The file is larger than {} MiB, the most this site takes.",
            self.max_upload_bytes >> 20
        ))
    }
}
