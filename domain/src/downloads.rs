//! Downloads: which forms of a recording may be downloaded, and counting them.

use media::rendition::{Made, Rendition};
use sea_orm::DatabaseConnection;

use crate::{entities::recordings, error::ServiceError, write::Write};

/// What a download of `row` in `format` (`?format=…`, or none for the original) streams:
/// the original as it is (also when it is in that form already), or a rendition made on
/// the way out. Which recordings each form applies to is `Rendition::of`'s rule.
pub fn rendition(
    row: &recordings::Model,
    format: Option<&str>,
) -> Result<Option<Rendition>, ServiceError> {
    let Some(wanted) = format.filter(|f| !f.is_empty()) else {
        return Ok(None);
    };
    let Some(rendition) = Rendition::parse(wanted) else {
        return Err(ServiceError::invalid(
            "Downloads come as the original, or with format= ambix, fuma, ambix-48k, binaural, uhj or 5.1.",
        ));
    };
    let channels = row
        .channels
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0);
    match rendition.of(row.convention(), channels) {
        Ok(Made::Original) => Ok(None),
        Ok(Made::Rendered) => Ok(Some(rendition)),
        Err(e) => Err(ServiceError::invalid(&sentence(&e.to_string()))),
    }
}

/// A binaural download's listener may face this many degrees at a time (to the left, from
/// −165 to 180): so a recording has at most 24 such renditions to make and keep.
pub const FACING_STEP_DEG: i32 = 15;

/// The yaw a download's listener faces (`?yaw=`, degrees to the left; 0 without one): only
/// for `binaural`, in whole steps of [`FACING_STEP_DEG`], brought to −165…180.
pub fn facing(rendition: Option<Rendition>, raw: Option<&str>) -> Result<i32, ServiceError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(0);
    };
    if rendition != Some(Rendition::Binaural) {
        return Err(ServiceError::invalid(
            "Only a binaural download can face another way (yaw= goes with format=binaural).",
        ));
    }
    match raw.parse::<i32>() {
        Ok(deg) if deg % FACING_STEP_DEG == 0 && (-3600..=3600).contains(&deg) => {
            let deg = deg.rem_euclid(360);
            Ok(if deg > 180 { deg - 360 } else { deg })
        }
        _ => Err(ServiceError::invalid(&format!(
            "yaw= is the way the listener faces, in degrees to the left, in steps of {FACING_STEP_DEG} (yaw=90, yaw=-45)."
        ))),
    }
}

/// A reason from the media crate as a sentence: capital first, full stop last.
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    let first = chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>())
        .unwrap_or_default();
    format!("{first}{}.", chars.as_str().trim_end_matches('.'))
}

/// Downloads counted in memory and written in batches: a download costs no write of its
/// own (so nobody can turn "most downloaded" into a stream of `UPDATE`s), one visitor's
/// repeated downloads of one recording count once an hour, and a `HEAD` is not a download.
/// The server flushes the counts every few seconds, and when it stops.
pub struct Counter {
    /// (visitor, recording) counted within the hour.
    seen: moka::sync::Cache<(String, i32), ()>,
    pending: std::sync::Mutex<std::collections::HashMap<i32, i64>>,
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            seen: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(std::time::Duration::from_secs(3600))
                .build(),
            pending: std::sync::Mutex::default(),
        }
    }
}

impl Counter {
    /// One download of recording `id` by `visitor` (their account, or their address).
    pub fn count(&self, visitor: &str, id: i32) {
        let seen = (visitor.to_owned(), id);
        if self.seen.contains_key(&seen) {
            return;
        }
        self.seen.insert(seen, ());
        if let Ok(mut p) = self.pending.lock() {
            *p.entry(id).or_default() += 1;
        }
    }

    /// Writes the counts gathered since the last flush, in one write; how many recordings.
    /// A failure keeps them for the next flush.
    pub async fn flush(&self, db: &DatabaseConnection) -> Result<usize, ServiceError> {
        let batch: Vec<(i32, i64)> = match self.pending.lock() {
            Ok(mut p) => p.drain().collect(),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let written = async {
            let w = Write::begin(db).await?;
            let changed = crate::recordings::life::count_downloads(&w, &batch).await?;
            w.commit(changed).await?;
            Ok::<_, ServiceError>(())
        }
        .await;
        if let Err(e) = written {
            if let Ok(mut p) = self.pending.lock() {
                for (id, n) in &batch {
                    *p.entry(*id).or_default() += n;
                }
            }
            return Err(e);
        }
        Ok(batch.len())
    }
}
