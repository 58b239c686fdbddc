//! The jobs table, and only it: putting a recording's processing in the queue (on upload,
//! and again when its uploader asks for a retry), claiming a job under a lease (`FOR
//! UPDATE SKIP LOCKED` on PostgreSQL, so replicas never take the same job; SQLite has one
//! writer anyway), and recording how it ended. A job whose replica stopped mid-way is
//! claimed again once its lease runs out, so work survives restarts. The recording's own
//! processing state follows each step through `recordings::life`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait, QueryFilter, Set, Statement,
};

use crate::{
    JobState, Processing,
    entities::{jobs, recordings},
    error::ServiceError,
    model::Viewer,
    recordings::{Previews, life, manages},
    write::{Changed, Write},
};

pub const PROCESS: &str = "process";
/// How long a claimed job is ours before another replica may take it over.
pub const LEASE: Duration = Duration::from_secs(300);
/// Tries before a failure is final (and shown to the uploader with a retry button).
pub const MAX_ATTEMPTS: i32 = 3;

/// Queues processing of a recording (in the caller's write, with the recording).
pub async fn enqueue(w: &Write, recording_id: i32) -> Result<Changed, ServiceError> {
    let now = Utc::now();
    jobs::ActiveModel {
        kind: Set(PROCESS.into()),
        recording_id: Set(recording_id),
        state: Set(JobState::Queued),
        attempts: Set(0),
        locked_until: Set(None),
        last_error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(w)
    .await?;
    life::set_processing(w, recording_id, Processing::Queued, "").await
}

/// A deleted recording's jobs go with it.
pub async fn forget_recording(w: &Write, recording_id: i32) -> Result<(), ServiceError> {
    jobs::Entity::delete_many()
        .filter(jobs::Column::RecordingId.eq(recording_id))
        .exec(w)
        .await?;
    Ok(())
}

/// The uploader (or an editor) asks for a failed processing to run again.
#[tracing::instrument(skip_all, fields(user = who.user_id))]
pub async fn retry(db: &DatabaseConnection, who: &Viewer, slug: &str) -> Result<(), ServiceError> {
    let row = crate::recordings::by_slug(db, slug).await?;
    if !manages(&row, Some(who)) {
        return Err(ServiceError::forbidden(
            "Only the uploader or an editor can retry this.",
        ));
    }
    if row.processing != Processing::Failed {
        return Err(ServiceError::conflict(
            "This recording's processing has not failed.",
        ));
    }
    let w = Write::begin(db).await?;
    let changed = enqueue(&w, row.id).await?;
    w.commit(changed).await?;
    Ok(())
}

/// Queues processing again for recordings processed before the spatial preview existed
/// (a preview, but no preview size: every processing since records one), unless a job for
/// them is waiting or running. Returns how many were queued.
pub async fn queue_missing_previews(db: &DatabaseConnection) -> Result<usize, ServiceError> {
    use sea_orm::{QuerySelect, sea_query::Query};
    let pending = Query::select()
        .column(jobs::Column::RecordingId)
        .from(jobs::Entity)
        .and_where(jobs::Column::State.is_in([JobState::Queued, JobState::Running]))
        .to_owned();
    let ids: Vec<i32> = recordings::Entity::find()
        .select_only()
        .column(recordings::Column::Id)
        .filter(recordings::Column::PreviewKey.is_not_null())
        .filter(recordings::Column::PreviewBytes.is_null())
        .filter(recordings::Column::Id.not_in_subquery(pending))
        .into_tuple()
        .all(db)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let w = Write::begin(db).await?;
    let mut changed = Changed::nothing_shown();
    for id in &ids {
        changed = changed.and(enqueue(&w, *id).await?);
    }
    w.commit(changed).await?;
    Ok(ids.len())
}

/// A job this replica holds the lease on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub id: i32,
    pub recording_id: i32,
    pub attempts: i32,
}

/// Takes the oldest job that is queued (and due) or whose lease ran out, under a new lease.
pub async fn claim(db: &DatabaseConnection) -> Result<Option<Claimed>, ServiceError> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    let (p1, p2, lock) = match backend {
        DatabaseBackend::Postgres => ("$1", "$2", " FOR UPDATE SKIP LOCKED"),
        _ => ("?", "?", ""),
    };
    let (queued, running) = (JobState::Queued.to_value(), JobState::Running.to_value());
    // The same timestamp several times for SQLite's positional placeholders.
    let sql = format!(
        "UPDATE jobs SET state = '{running}', attempts = attempts + 1, locked_until = {p1}, updated_at = {p2} \
         WHERE id = (SELECT id FROM jobs WHERE (state = '{queued}' AND (locked_until IS NULL OR locked_until < {p2})) \
         OR (state = '{running}' AND locked_until < {p2}) ORDER BY id LIMIT 1{lock}) \
         RETURNING id, recording_id, attempts"
    );
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => vec![until.into(), now.into()],
        _ => vec![until.into(), now.into(), now.into(), now.into()],
    };
    let w = Write::begin(db).await?;
    let Some(r) = w
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
    else {
        w.commit(Changed::nothing_shown()).await?;
        return Ok(None);
    };
    let job = Claimed {
        id: r.try_get("", "id")?,
        recording_id: r.try_get("", "recording_id")?,
        attempts: r.try_get("", "attempts")?,
    };
    let changed = life::set_processing(&w, job.recording_id, Processing::Running, "").await?;
    w.commit(changed).await?;
    Ok(Some(job))
}

/// How a job ended: done (with the previews made, when the recording has a file), or
/// failed with a reason for the uploader.
pub type Outcome = Result<Option<Previews>, String>;

/// Records the end of a claimed job: done; failed but to be tried again after a pause;
/// or failed for good once its attempts are spent. The recording's state follows.
#[tracing::instrument(skip_all, fields(job = job.id, recording = job.recording_id))]
pub async fn finish(
    db: &DatabaseConnection,
    job: Claimed,
    outcome: &Outcome,
) -> Result<JobState, ServiceError> {
    let now = Utc::now();
    let (state, error, retry_at): (JobState, &str, Option<DateTime<Utc>>) = match outcome {
        Ok(_) => (JobState::Done, "", None),
        Err(e) if job.attempts < MAX_ATTEMPTS => (
            JobState::Queued,
            e,
            Some(now + chrono::Duration::seconds(5 * i64::from(job.attempts))),
        ),
        Err(e) => (JobState::Failed, e, None),
    };
    let w = Write::begin(db).await?;
    jobs::ActiveModel {
        id: Set(job.id),
        state: Set(state),
        locked_until: Set(retry_at),
        last_error: Set(error.chars().take(500).collect()),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&w)
    .await?;
    let mut changed = Changed::nothing_shown();
    if let Ok(Some(previews)) = outcome {
        changed = life::attach_previews(&w, job.recording_id, previews.clone()).await?;
    }
    // Its page shows the preview, or the failure, now.
    let state_shown = life::set_processing(&w, job.recording_id, state.processing(), error).await?;
    w.commit(changed.and(state_shown)).await?;
    Ok(state)
}
