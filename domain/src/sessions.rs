//! Logins that any replica can serve: the session lives in the database (only the SHA-256
//! of its random token), the browser holds the token in a cookie (`app::ssr::cookies`).

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::{
    bus::Bus,
    entities::{sessions, users},
    error::ServiceError,
    model::Viewer,
    write::{Changed, Write, key},
};

/// How long a login lasts.
pub const SESSION_DAYS: i64 = 30;

/// Tokens are 32 random bytes in hex; anything else is not worth a database lookup.
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Starts a session and returns the cookie token.
#[tracing::instrument(skip_all, fields(user = user_id))]
pub async fn create(db: &DatabaseConnection, user_id: i32) -> Result<String, ServiceError> {
    let token = random_token();
    let now = Utc::now();
    let w = Write::begin(db).await?;
    sessions::ActiveModel {
        token_hash: Set(hash_token(&token)),
        user_id: Set(user_id),
        csrf_token: Set(random_token()),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(SESSION_DAYS)),
        ..Default::default()
    }
    .insert(&w)
    .await?;
    // A new login: nothing cached knows it yet.
    w.commit(Changed::nothing_shown()).await?;
    Ok(token)
}

/// The viewer behind a cookie token, or `None` for an unknown or expired one — from this
/// replica's read cache when it holds it (filed under the session's key and the user's
/// sessions key: a log-out, a password or role change anywhere drops it here too).
pub async fn resolve(
    bus: &Bus,
    db: &DatabaseConnection,
    token: &str,
) -> Result<Option<Viewer>, ServiceError> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    let hash = hash_token(token);
    let (found, _): (Option<(Viewer, DateTime<Utc>)>, _) = bus
        .cached(format!("session/{hash}"), || async {
            let found = lookup(db, &hash).await?;
            let mut keys = vec![key::session(&hash)];
            keys.extend(found.iter().map(|(v, _)| key::sessions_of(v.user_id)));
            Ok((found, keys))
        })
        .await?;
    match found {
        Some((viewer, expires_at)) if expires_at > Utc::now() => Ok(Some(viewer)),
        Some(_) => {
            delete(db, token).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// The session with this token hash and its user, and when it expires.
async fn lookup(
    db: &DatabaseConnection,
    hash: &str,
) -> Result<Option<(Viewer, DateTime<Utc>)>, ServiceError> {
    let found = sessions::Entity::find()
        .filter(sessions::Column::TokenHash.eq(hash))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    Ok(match found {
        Some((session, Some(user))) => Some((
            Viewer {
                user_id: user.id,
                username: user.username,
                role: user.role,
                csrf: session.csrf_token,
            },
            session.expires_at,
        )),
        _ => None,
    })
}

/// Ends one login (log-out, or an expired session found).
/// A made-up or already-ended token writes nothing: a script posting log-outs with invented
/// cookies costs one indexed read each, not a transaction and an invalidation.
pub async fn delete(db: &DatabaseConnection, token: &str) -> Result<(), ServiceError> {
    if !looks_like_token(token) {
        return Ok(());
    }
    let hash = hash_token(token);
    let of_token = || sessions::Entity::find().filter(sessions::Column::TokenHash.eq(&hash));
    if of_token().one(db).await?.is_none() {
        return Ok(());
    }
    let w = Write::begin(db).await?;
    let gone = sessions::Entity::delete_many()
        .filter(sessions::Column::TokenHash.eq(&hash))
        .exec(&w)
        .await?
        .rows_affected;
    if gone == 0 {
        // Ended meanwhile by another request: dropping the write rolls it back.
        return Ok(());
    }
    w.commit(Changed::keys([key::session(&hash)])).await?;
    Ok(())
}

/// Forgets logins that have expired (the hourly housekeeping): an expired session already
/// lets no one in, so nothing a page shows changes. How many went.
pub async fn forget_expired(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    let w = Write::begin(db).await?;
    let gone = sessions::Entity::delete_many()
        .filter(sessions::Column::ExpiresAt.lt(Utc::now()))
        .exec(&w)
        .await?
        .rows_affected;
    w.commit(Changed::nothing_shown()).await?;
    Ok(gone)
}

/// Ends every login of a user but `keep` (in the caller's write: a password change).
pub async fn end_others(
    w: &Write,
    user_id: i32,
    keep: Option<&str>,
) -> Result<Changed, ServiceError> {
    let mut query = sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id));
    if let Some(token) = keep {
        query = query.filter(sessions::Column::TokenHash.ne(hash_token(token)));
    }
    query.exec(w).await?;
    Ok(Changed::keys([key::sessions_of(user_id)]))
}
