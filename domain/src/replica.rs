//! Read replicas with read-your-writes, GitLab's way. Reads that only a visitor sees (their
//! own pages) may go to a PostgreSQL streaming replica (`--database-read-url`); writes, and
//! everything a shared cache may keep, stay on the primary (the invalidation bus follows
//! the primary: a shared page read from a lagging replica after its purge would be kept
//! stale). After a request that wrote, the visitor carries the primary's WAL position
//! (`pg_current_wal_insert_lsn()`) for a while; a later request of theirs reads from the
//! replica only once it has replayed that far (`pg_last_wal_replay_lsn()`), waiting a few
//! milliseconds for it, else from the primary. A replica lagging beyond `MAX_LAG`, or out of
//! reach, is skipped altogether until it is back.

use std::{
    collections::VecDeque,
    fmt,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

/// How far behind the primary a replica may be and still be read from.
pub const MAX_LAG: Duration = Duration::from_secs(5);
/// How long a request waits for the replica to replay its visitor's last write.
pub const WAIT: Duration = Duration::from_millis(20);
/// How often the replica's position is sampled.
const SAMPLE: Duration = Duration::from_millis(100);
/// How long a visitor reads their own writes from wherever has them (the cookie's life):
/// longer than `MAX_LAG`, after which any replica still read from has them.
pub const REMEMBER_S: u32 = 30;

/// A position in PostgreSQL's write-ahead log, as `pg_lsn` prints it (`16/B374D848`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub u64);

impl Lsn {
    pub fn parse(text: &str) -> Option<Self> {
        let (hi, lo) = text.trim().split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some(Self(hi << 32 | lo))
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// Where one request's own-page reads go, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Replica,
    /// No replica configured.
    OnlyPrimary,
    /// The replica lags beyond `MAX_LAG` or is out of reach.
    ReplicaBehind,
    /// The replica had not replayed the visitor's last write within `WAIT`.
    NotYetReplayed,
}

/// The primary and, when configured, a replica with what is known of its position.
pub struct Reads {
    primary: DatabaseConnection,
    replica: Option<Arc<Replica>>,
}

struct Replica {
    db: DatabaseConnection,
    /// The same replica through a handle of its own, for sampling its position (so that a
    /// statement counter on `db` counts only what requests read).
    watch: DatabaseConnection,
    /// The last replayed position seen.
    replayed: AtomicU64,
    /// Within `MAX_LAG` of the primary, and reachable, at the last sample.
    usable: AtomicBool,
}

impl fmt::Debug for Reads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reads")
            .field("replica", &self.replica.is_some())
            .finish()
    }
}

impl Reads {
    /// The primary only (SQLite, or PostgreSQL without a replica).
    pub fn primary_only(primary: DatabaseConnection) -> Self {
        Self {
            primary,
            replica: None,
        }
    }

    /// The primary and the replica `replica` (a PostgreSQL streaming replica of it); its
    /// position is sampled from now on, through `watch` and `watch_primary` (other handles
    /// on the same two databases, which statement counters leave out).
    pub async fn with_replica(
        primary: DatabaseConnection,
        replica: DatabaseConnection,
        watch_primary: DatabaseConnection,
        watch: DatabaseConnection,
    ) -> Result<Self, DbErr> {
        if primary.get_database_backend() != DbBackend::Postgres
            || replica.get_database_backend() != DbBackend::Postgres
        {
            return Err(DbErr::Custom(
                "a read replica needs PostgreSQL for both databases".into(),
            ));
        }
        if replay_lsn(&watch).await?.is_none() {
            return Err(DbErr::Custom(
                "the read database is not a streaming replica (pg_last_wal_replay_lsn() is NULL)"
                    .into(),
            ));
        }
        let r = Arc::new(Replica {
            db: replica,
            watch,
            replayed: AtomicU64::new(0),
            usable: AtomicBool::new(false),
        });
        // One sample now, so that the replica is read from as soon as this returns.
        let mut history = VecDeque::new();
        sample_once(&watch_primary, &r, &mut history).await;
        tokio::spawn(sample(watch_primary, Arc::clone(&r), history));
        Ok(Self {
            primary,
            replica: Some(r),
        })
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    pub fn primary(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// Where a visitor whose last write stood at `after` reads their own pages from now.
    pub async fn choose(&self, after: Option<Lsn>) -> ReadFrom {
        let Some(r) = &self.replica else {
            return ReadFrom::OnlyPrimary;
        };
        if !r.usable.load(Ordering::Acquire) {
            return ReadFrom::ReplicaBehind;
        }
        match after {
            None => ReadFrom::Replica,
            Some(after) if Lsn(r.replayed.load(Ordering::Acquire)) >= after => ReadFrom::Replica,
            Some(after) => r.wait_for(after).await,
        }
    }

    /// The connection for `from`.
    pub fn db(&self, from: ReadFrom) -> &DatabaseConnection {
        match (&self.replica, from) {
            (Some(r), ReadFrom::Replica) => &r.db,
            _ => &self.primary,
        }
    }

    /// The replica's connection, if there is one.
    pub fn replica_db(&self) -> Option<&DatabaseConnection> {
        self.replica.as_ref().map(|r| &r.db)
    }

    /// The primary's WAL position now (after a write): what the writer's next reads wait
    /// for. `None` without a replica (nothing to wait for).
    pub async fn written_up_to(&self) -> Option<Lsn> {
        if !self.has_replica() {
            return None;
        }
        let row = self
            .primary
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_current_wal_insert_lsn()::text AS lsn",
            ))
            .await
            .ok()??;
        Lsn::parse(&row.try_get::<String>("", "lsn").ok()?)
    }
}

impl Replica {
    /// Asks the replica until it has replayed `after`, for at most `WAIT`.
    async fn wait_for(&self, after: Lsn) -> ReadFrom {
        let until = Instant::now() + WAIT;
        loop {
            if let Ok(Some(at)) = replay_lsn(&self.watch).await {
                self.replayed.fetch_max(at.0, Ordering::AcqRel);
                if at >= after {
                    return ReadFrom::Replica;
                }
            }
            if Instant::now() >= until {
                return ReadFrom::NotYetReplayed;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn replay_lsn(db: &DatabaseConnection) -> Result<Option<Lsn>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_last_wal_replay_lsn()::text AS lsn",
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<Option<String>>("", "lsn").ok().flatten())
        .and_then(|t| Lsn::parse(&t)))
}

/// Samples the primary's and the replica's positions forever (`history`: the primary's,
/// newest last, as far back as `MAX_LAG`).
async fn sample(
    primary: DatabaseConnection,
    r: Arc<Replica>,
    mut history: VecDeque<(Instant, Lsn)>,
) {
    loop {
        tokio::time::sleep(SAMPLE).await;
        sample_once(&primary, &r, &mut history).await;
    }
}

/// One sample: the replica is usable when it has replayed what the primary had written
/// `MAX_LAG` ago (and answers).
async fn sample_once(
    primary: &DatabaseConnection,
    r: &Replica,
    history: &mut VecDeque<(Instant, Lsn)>,
) {
    let written = primary
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT pg_current_wal_lsn()::text AS lsn",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get::<String>("", "lsn").ok())
        .and_then(|t| Lsn::parse(&t));
    let replayed = replay_lsn(&r.watch).await.ok().flatten();
    let now = Instant::now();
    if let Some(w) = written {
        history.push_back((now, w));
    }
    // The newest sample at least MAX_LAG old is what the replica must have by now.
    while history.len() > 1 && history[1].0 + MAX_LAG <= now {
        history.pop_front();
    }
    let due = history
        .front()
        .filter(|(at, _)| *at + MAX_LAG <= now)
        .map(|(_, lsn)| *lsn);
    let usable = match (replayed, due) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(at), Some(due)) => at >= due,
    };
    if let Some(at) = replayed {
        r.replayed.fetch_max(at.0, Ordering::AcqRel);
    }
    let was = r.usable.swap(usable, Ordering::AcqRel);
    if was != usable {
        if usable {
            tracing::info!(
                "the read replica is within its lag bound again: own-page reads go there"
            );
        } else {
            tracing::warn!(
                max_lag_s = MAX_LAG.as_secs(),
                "the read replica lags beyond its bound or is unreachable: every read goes to the primary"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lsn;

    #[test]
    fn positions_read_and_print_as_postgresql_does() {
        let lsn = Lsn::parse("16/B374D848");
        assert_eq!(lsn, Some(Lsn(0x16_B374_D848)));
        assert_eq!(lsn.map(|l| l.to_string()).as_deref(), Some("16/B374D848"));
        assert!(Lsn::parse("0/3000060") < Lsn::parse("1/0"));
        assert_eq!(Lsn::parse("nonsense"), None);
        assert_eq!(Lsn::parse("1/123456789"), None);
    }
}
