//! The invalidation log (`invalidations`, numbered by the one-row `invalidation_seq`): what
//! every committed write changed, in commit order. [`append`] is [`super::Write::commit`]'s;
//! the bus reads it ([`head`], [`since`]) and trims it ([`trim`]).

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::{Changed, Write};

/// The PostgreSQL channel new sequence numbers are announced on (at commit).
pub const CHANNEL: &str = "ambisonia_invalidations";

fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Writes `keys` into the log in `txn`; its number. The number comes from the one-row
/// counter, whose row lock is held to commit, so numbers follow commit order (a sequence
/// would not: its values become visible out of order) and a rolled-back write leaves no
/// hole. On PostgreSQL the number is also announced (`NOTIFY`, delivered at commit).
pub(super) async fn append(txn: &impl ConnectionTrait, keys: &[String]) -> Result<u64, DbErr> {
    let backend = txn.get_database_backend();
    let row = txn
        .query_one_raw(Statement::from_string(
            backend,
            "UPDATE invalidation_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the invalidation counter is missing".into()))?;
    let seq: i64 = row.try_get("", "seq")?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO invalidations (seq, keys, created_at) VALUES ({}, {}, {})",
            placeholder(backend, 1),
            placeholder(backend, 2),
            placeholder(backend, 3)
        ),
        [
            seq.into(),
            contract::key::join(keys).into(),
            Utc::now().into(),
        ],
    ))
    .await?;
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            backend,
            format!("SELECT pg_notify('{CHANNEL}', '{seq}')"),
        ))
        .await?;
    }
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// The number of the last logged write.
pub async fn head(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT seq FROM invalidation_seq WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the invalidation counter is missing".into()))?;
    let seq: i64 = row.try_get("", "seq")?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// Up to `limit` logged writes after `cursor`, in order: their numbers and keys.
pub async fn since(
    db: &impl ConnectionTrait,
    cursor: u64,
    limit: i64,
) -> Result<Vec<(u64, String)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT seq, keys FROM invalidations WHERE seq > {} ORDER BY seq LIMIT {}",
        placeholder(backend, 1),
        placeholder(backend, 2)
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [(cursor as i64).into(), limit.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|r| {
            let seq: i64 = r.try_get("", "seq")?;
            Ok((u64::try_from(seq).unwrap_or(0), r.try_get("", "keys")?))
        })
        .collect()
}

/// Makes (or updates) `role`, a PostgreSQL login that may read the log and nothing else:
/// what a balancer on the internet needs to follow the bus, without the app's credentials
/// (`server admin bus-reader`). Run by the app's own user, which owns the tables.
pub async fn create_reader(
    db: &DatabaseConnection,
    role: &str,
    password: &crate::Secret,
) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Err(DbErr::Custom(
            "only PostgreSQL has roles: a balancer on SQLite's machine needs none".into(),
        ));
    }
    let valid = role.len() <= 63
        && role.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(DbErr::Custom(format!(
            "`{role}` is not a role name (lower-case letters, digits, _)"
        )));
    }
    let secret = password.expose();
    if secret.len() < 16 || secret.contains('\0') {
        return Err(DbErr::Custom(
            "the reader's password must be at least 16 characters".into(),
        ));
    }
    // Utility statements take no parameters: the password is a quoted literal.
    let quoted = secret.replace('\'', "''");
    for sql in [
        format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') \
             THEN CREATE ROLE {role} LOGIN; END IF; END $$"
        ),
        format!("ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{quoted}'"),
        format!("GRANT SELECT ON invalidations, invalidation_seq TO {role}"),
    ] {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

/// Drops log entries older than `retain`; how many. (Trimming changes nothing a page shows:
/// a follower that finds the log no longer reaching its cursor drops its whole cache.)
pub async fn trim(db: &DatabaseConnection, retain: Duration) -> Result<u64, DbErr> {
    let w = Write::begin(db).await?;
    let backend = w.get_database_backend();
    let before = Utc::now() - chrono::Duration::from_std(retain).unwrap_or_default();
    let done = w
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "DELETE FROM invalidations WHERE created_at < {}",
                placeholder(backend, 1)
            ),
            [before.into()],
        ))
        .await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(done.rows_affected())
}
