//! The jobs table, and only it: work any replica may do — a recording's processing, the
//! finishing of a direct upload, collecting media (`JobKind`) — queued, claimed under a
//! lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never take the same job;
//! SQLite has one writer anyway), renewed by its holder while it works, and ended by its
//! holder only. So a second replica never starts a job that is still running, however long
//! it runs; a replica that dies mid-way gives its job up within one lease, and the job is
//! claimed again; and a holder that lost its lease writes nothing of its run.
//!
//! What each kind does is its module's (`processing`, `direct_uploads`, `collector`), which
//! ends the job with [`end`] in the same write as the job's own results.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend,
    DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set, Statement,
    sea_query::Expr,
};

use crate::{
    JobKind, JobState, Processing,
    entities::{jobs, recordings},
    error::ServiceError,
    model::Viewer,
    recordings::{life, manages},
    write::{Changed, Write},
};

/// How long a claim holds a job unless renewed (`--job-lease-s`): the longest another
/// replica waits to take over the job of one that died.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Tries before a failure is final (and, for processing, shown to the uploader with a
/// retry button).
pub const MAX_ATTEMPTS: i32 = 3;

async fn queue(w: &Write, kind: JobKind, subject_id: i32) -> Result<(), ServiceError> {
    let now = Utc::now();
    jobs::ActiveModel {
        kind: Set(kind),
        subject_id: Set(subject_id),
        state: Set(JobState::Queued),
        attempts: Set(0),
        locked_until: Set(None),
        last_error: Set(String::new()),
        lease: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(w)
    .await?;
    Ok(())
}

/// Queues processing of a recording (in the caller's write, with the recording).
pub async fn enqueue(w: &Write, recording_id: i32) -> Result<Changed, ServiceError> {
    queue(w, JobKind::Process, recording_id).await?;
    life::set_processing(w, recording_id, Processing::Queued, "").await
}

/// Queues the finishing of direct upload `upload_id` (in the caller's write).
pub async fn enqueue_finish_upload(w: &Write, upload_id: i32) -> Result<(), ServiceError> {
    queue(w, JobKind::FinishUpload, upload_id).await
}

/// Queues a media collection when none is waiting or running and the last one ended more
/// than `every` ago; whether it queued one. Every replica asks; the write's lock makes sure
/// only one queues it.
pub async fn enqueue_collect_if_due(
    db: &DatabaseConnection,
    every: Duration,
) -> Result<bool, ServiceError> {
    let w = Write::begin(db).await?;
    w.lock("jobs:collect-media").await?;
    let of_kind = || jobs::Entity::find().filter(jobs::Column::Kind.eq(JobKind::CollectMedia));
    let busy = of_kind()
        .filter(jobs::Column::State.is_in([JobState::Queued, JobState::Running]))
        .count(&w)
        .await?
        > 0;
    let since = Utc::now() - chrono::Duration::from_std(every).unwrap_or_default();
    let recent = of_kind()
        .filter(jobs::Column::UpdatedAt.gt(since))
        .count(&w)
        .await?
        > 0;
    let due = !busy && !recent;
    if due {
        queue(&w, JobKind::CollectMedia, 0).await?;
    }
    // Bookkeeping of the queue: nothing a page shows.
    w.commit(Changed::nothing_shown()).await?;
    Ok(due)
}

/// The jobs of a recording that is purged go with it.
pub async fn forget_recording(w: &Write, recording_id: i32) -> Result<(), ServiceError> {
    jobs::Entity::delete_many()
        .filter(jobs::Column::Kind.eq(JobKind::Process))
        .filter(jobs::Column::SubjectId.eq(recording_id))
        .exec(w)
        .await?;
    Ok(())
}

/// Jobs that ended before `before` are forgotten (the collector's upkeep); how many.
pub async fn forget_ended(w: &Write, before: DateTime<Utc>) -> Result<u64, ServiceError> {
    let done = jobs::Entity::delete_many()
        .filter(jobs::Column::State.is_in([JobState::Done, JobState::Failed]))
        .filter(jobs::Column::UpdatedAt.lt(before))
        .exec(w)
        .await?;
    Ok(done.rows_affected)
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

/// Queues processing again for recordings processed before what processing now makes
/// existed — the spatial preview (a preview but no preview size), the podcast enclosure,
/// the torrent and a higher-order recording's higher-order preview — unless a job for them is waiting or running. Returns how many were queued.
pub async fn queue_missing_previews(db: &DatabaseConnection) -> Result<usize, ServiceError> {
    use sea_orm::{
        QuerySelect,
        sea_query::{ExprTrait, Query},
    };
    let pending = Query::select()
        .column(jobs::Column::SubjectId)
        .from(jobs::Entity)
        .and_where(jobs::Column::Kind.eq(JobKind::Process))
        .and_where(jobs::Column::State.is_in([JobState::Queued, JobState::Running]))
        .to_owned();
    let ids: Vec<i32> = recordings::Entity::find()
        .select_only()
        .column(recordings::Column::Id)
        .filter(recordings::Column::PreviewKey.is_not_null())
        .filter(
            recordings::Column::PreviewBytes
                .is_null()
                .or(recordings::Column::PodcastKey.is_null())
                .or(recordings::Column::TorrentKey.is_null())
                .or(recordings::Column::AmbiOrder
                    .gte(2)
                    .and(recordings::Column::HoaKey.is_null())),
        )
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub id: i32,
    pub kind: JobKind,
    /// What the job works on, by its kind: a recording, a direct upload.
    pub subject: i32,
    /// Which run this is (1 for the first).
    pub attempts: i32,
    /// The claim's own token: only its holder renews or ends the job.
    lease: String,
}

/// Takes the oldest job that is queued (and due) or whose lease ran out, under a new lease
/// of `lease`.
pub async fn claim(
    db: &DatabaseConnection,
    lease: Duration,
) -> Result<Option<Claimed>, ServiceError> {
    let backend = db.get_database_backend();
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let token = format!("{:032x}", rand::random::<u128>());
    let (p, lock) = match backend {
        DatabaseBackend::Postgres => (["$1", "$2", "$3"], " FOR UPDATE SKIP LOCKED"),
        _ => (["?", "?", "?"], ""),
    };
    let (queued, running) = (JobState::Queued.to_value(), JobState::Running.to_value());
    // The same timestamp several times for SQLite's positional placeholders.
    let sql = format!(
        "UPDATE jobs SET state = '{running}', attempts = attempts + 1, locked_until = {p1}, lease = {p2}, updated_at = {p3} \
         WHERE id = (SELECT id FROM jobs WHERE (state = '{queued}' AND (locked_until IS NULL OR locked_until < {p3})) \
         OR (state = '{running}' AND locked_until < {p3}) ORDER BY id LIMIT 1{lock}) \
         RETURNING id, kind, subject_id, attempts",
        p1 = p[0],
        p2 = p[1],
        p3 = p[2],
    );
    let values: Vec<sea_orm::Value> = match backend {
        DatabaseBackend::Postgres => vec![until.into(), token.clone().into(), now.into()],
        _ => vec![
            until.into(),
            token.clone().into(),
            now.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    };
    let w = Write::begin(db).await?;
    let Some(r) = w
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
    else {
        w.commit(Changed::nothing_shown()).await?;
        return Ok(None);
    };
    let kind: String = r.try_get("", "kind")?;
    let job = Claimed {
        id: r.try_get("", "id")?,
        kind: JobKind::try_from_value(&kind)
            .map_err(|e| ServiceError::internal("a job's kind", e))?,
        subject: r.try_get("", "subject_id")?,
        attempts: r.try_get("", "attempts")?,
        lease: token,
    };
    let changed = match job.kind {
        JobKind::Process => life::set_processing(&w, job.subject, Processing::Running, "").await?,
        JobKind::FinishUpload | JobKind::CollectMedia => Changed::nothing_shown(),
    };
    w.commit(changed).await?;
    Ok(Some(job))
}

/// Extends `job`'s lease by `lease` from now, while it is still this claim's; `false` when
/// it is not (another replica took it over after this one stopped renewing in time).
pub async fn renew(
    db: &DatabaseConnection,
    job: &Claimed,
    lease: Duration,
) -> Result<bool, ServiceError> {
    let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    let w = Write::begin(db).await?;
    let held = jobs::Entity::update_many()
        .col_expr(jobs::Column::LockedUntil, Expr::value(until))
        .filter(jobs::Column::Id.eq(job.id))
        .filter(jobs::Column::Lease.eq(job.lease.as_str()))
        .filter(jobs::Column::State.eq(JobState::Running))
        .exec(&w)
        .await?
        .rows_affected
        == 1;
    w.commit(Changed::nothing_shown()).await?;
    Ok(held)
}

/// Runs `work` (a run of `job`) while renewing its lease every third of `lease`. When the
/// lease is found lost (this replica stalled past it, and another took the job over), the
/// run is stopped and `None` answered: its results are the other run's to write.
pub async fn holding<F>(
    db: &DatabaseConnection,
    job: &Claimed,
    lease: Duration,
    work: F,
) -> Result<Option<JobState>, ServiceError>
where
    F: std::future::Future<Output = Result<Option<JobState>, ServiceError>>,
{
    tokio::pin!(work);
    let mut renewal = tokio::time::interval(lease / 3);
    renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renewal.tick().await;
    loop {
        tokio::select! {
            ended = &mut work => return ended,
            _ = renewal.tick() => match renew(db, job, lease).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(job = job.id, "the job's lease was lost: this run stops");
                    return Ok(None);
                }
                // The database is away: the run goes on, and its end tells whether the
                // lease held.
                Err(e) => tracing::warn!(job = job.id, error = %e.for_operator(), "the job's lease could not be renewed"),
            },
        }
    }
}

/// How a run ended: done, or failed with a reason (for the uploader, where they see it).
pub type RunResult = Result<(), String>;

/// The queue as `/metrics` shows it: jobs waiting, running, and failed for good, and how
/// long the oldest waiting one has waited.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
    pub oldest_queued: Option<DateTime<Utc>>,
}

/// One statement: each unfinished state's count and its oldest job.
pub async fn standing(db: &DatabaseConnection) -> Result<Standing, ServiceError> {
    use sea_orm::{QuerySelect, sea_query::Func};
    let rows: Vec<(JobState, i64, Option<DateTime<Utc>>)> = jobs::Entity::find()
        .select_only()
        .column(jobs::Column::State)
        .column_as(Expr::from(Func::count(Expr::col(jobs::Column::Id))), "n")
        .column_as(
            Expr::from(Func::min(Expr::col(jobs::Column::CreatedAt))),
            "oldest",
        )
        .filter(jobs::Column::State.ne(JobState::Done))
        .group_by(jobs::Column::State)
        .into_tuple()
        .all(db)
        .await?;
    let mut s = Standing::default();
    for (state, n, oldest) in rows {
        match state {
            JobState::Queued => {
                s.queued = n;
                s.oldest_queued = oldest;
            }
            JobState::Running => s.running = n,
            JobState::Failed => s.failed = n,
            JobState::Done => {}
        }
    }
    Ok(s)
}

/// Ends `job` in `w`, as `result` says: done; failed but to be tried again after a pause;
/// or failed for good once its attempts are spent. `None` when the job is no longer this
/// claim's — then nothing of this run may be written, and the caller drops `w`.
pub async fn end(
    w: &Write,
    job: &Claimed,
    result: &RunResult,
) -> Result<Option<JobState>, ServiceError> {
    let now = Utc::now();
    let (state, error, retry_at): (JobState, &str, Option<DateTime<Utc>>) = match result {
        Ok(()) => (JobState::Done, "", None),
        Err(e) if job.attempts < MAX_ATTEMPTS => (
            JobState::Queued,
            e,
            Some(now + chrono::Duration::seconds(5 * i64::from(job.attempts))),
        ),
        Err(e) => (JobState::Failed, e, None),
    };
    let ours = jobs::Entity::update_many()
        .col_expr(jobs::Column::State, Expr::value(state))
        .col_expr(jobs::Column::LockedUntil, Expr::value(retry_at))
        .col_expr(
            jobs::Column::LastError,
            Expr::value(error.chars().take(500).collect::<String>()),
        )
        .col_expr(jobs::Column::Lease, Expr::value(String::new()))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(job.id))
        .filter(jobs::Column::Lease.eq(job.lease.as_str()))
        .exec(w)
        .await?
        .rows_affected
        == 1;
    Ok(ours.then_some(state))
}

/// The job's row, for tests and operators: its state and how many runs it took.
pub async fn of_subject(
    db: &impl ConnectionTrait,
    kind: JobKind,
    subject_id: i32,
) -> Result<Vec<jobs::Model>, ServiceError> {
    Ok(jobs::Entity::find()
        .filter(jobs::Column::Kind.eq(kind))
        .filter(jobs::Column::SubjectId.eq(subject_id))
        .order_by_asc(jobs::Column::Id)
        .all(db)
        .await?)
}
