//! Opening the database and bringing its schema up to date.
//!
//! The same code serves both backends: a SQLite file (the embedded default, created on first
//! run) and PostgreSQL. Migrations run at every start; they are idempotent.

use std::time::Duration;

pub use sea_orm::DatabaseConnection as Db;

use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend, DbErr};

/// A statement that takes longer than this is logged as a warning.
pub const SLOW_STATEMENT: Duration = Duration::from_millis(250);

/// Connects and migrates. A `sqlite:` URL gets `mode=rwc` so that the file is created, and
/// its folder is created too.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let db = open(url).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Connects without migrating (a read replica, which cannot be written).
pub async fn open(url: &str) -> Result<DatabaseConnection, DbErr> {
    let url = prepare_sqlite_url(url)?;
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        // Every statement at `debug` (shown with RUST_LOG=sqlx=debug); any slower than
        // SLOW_STATEMENT at `warn`, with its text, so that a bad plan names itself.
        .sqlx_logging(true)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .sqlx_slow_statements_logging_settings(log::LevelFilter::Warn, SLOW_STATEMENT);
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        // WAL lets readers go on while one writer writes; it is a property of the file.
        use sea_orm::ConnectionTrait;
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

fn prepare_sqlite_url(url: &str) -> Result<String, DbErr> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Ok(url.to_string());
    };
    let path = rest.trim_start_matches("//");
    let (file, query) = path.split_once('?').unwrap_or((path, ""));
    if let Some(parent) = std::path::Path::new(file).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", parent.display())))?;
    }
    if query.contains("mode=") {
        Ok(url.to_string())
    } else if query.is_empty() {
        Ok(format!("sqlite://{file}?mode=rwc"))
    } else {
        Ok(format!("sqlite://{file}?{query}&mode=rwc"))
    }
}

/// Answers `/readyz`: can this replica reach its database right now?
pub async fn ping(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}

/// A connection pool as it stands (for `/metrics`).
#[derive(Debug, Clone, Copy)]
pub struct PoolState {
    /// Connections open, in use or idle.
    pub size: u32,
    pub idle: u32,
    pub max: u32,
    /// How long taking a connection took just now — the wait a request would see — or
    /// `None` when it took longer than the probe's limit.
    pub acquire: Option<Duration>,
}

/// Reads `db`'s pool, and times taking (and at once giving back) one connection from it.
pub async fn pool_state(db: &DatabaseConnection, limit: Duration) -> Option<PoolState> {
    async fn probe<D: sea_orm::sqlx::Database>(
        pool: &sea_orm::sqlx::Pool<D>,
        limit: Duration,
    ) -> PoolState {
        let (size, idle) = (
            pool.size(),
            u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        );
        let started = std::time::Instant::now();
        let acquire = tokio::time::timeout(limit, pool.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .map(|_| started.elapsed());
        PoolState {
            size,
            idle,
            max: pool.options().get_max_connections(),
            acquire,
        }
    }
    match db.get_database_backend() {
        DbBackend::Postgres => Some(probe(db.get_postgres_connection_pool(), limit).await),
        DbBackend::Sqlite => Some(probe(db.get_sqlite_connection_pool(), limit).await),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::prepare_sqlite_url;

    #[test]
    fn sqlite_urls_create_their_file() {
        let dir = std::env::temp_dir().join("ambisonia-url-test");
        let url = format!("sqlite://{}/a.db", dir.display());
        assert_eq!(
            prepare_sqlite_url(&url).ok(),
            Some(format!("sqlite://{}/a.db?mode=rwc", dir.display()))
        );
        assert!(dir.is_dir());
        assert_eq!(
            prepare_sqlite_url("postgres://x/y").ok().as_deref(),
            Some("postgres://x/y")
        );
    }
}
