//! Logins that any replica can serve: the session lives in the database, the browser holds
//! only a random token in an HttpOnly, SameSite=Lax cookie.

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::{
    domain::Role,
    error::AppError,
    model::Viewer,
    ssr::entities::{sessions, users},
};

/// The session cookie. The balancer bypasses its page cache for requests carrying it.
pub const SESSION_COOKIE: &str = "ambisonia_session";
/// The anonymous form-token cookie (double-submit) used by the log-in and register forms.
pub const CSRF_COOKIE: &str = "ambisonia_csrf";
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

/// Compares two tokens in time that does not depend on where they differ.
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Starts a session and returns the cookie token.
pub async fn create(db: &DatabaseConnection, user_id: i32) -> Result<String, AppError> {
    let token = random_token();
    let now = Utc::now();
    sessions::ActiveModel {
        token_hash: Set(hash_token(&token)),
        user_id: Set(user_id),
        csrf_token: Set(random_token()),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(SESSION_DAYS)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The viewer behind a cookie token, or `None` for an unknown or expired one.
pub async fn resolve(db: &DatabaseConnection, token: &str) -> Result<Option<Viewer>, AppError> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    let found = sessions::Entity::find()
        .filter(sessions::Column::TokenHash.eq(hash_token(token)))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    let Some((session, Some(user))) = found else {
        return Ok(None);
    };
    if session.expires_at <= Utc::now() {
        sessions::Entity::delete_by_id(session.id).exec(db).await?;
        return Ok(None);
    }
    Ok(Some(Viewer {
        user_id: user.id,
        username: user.username,
        role: Role::parse(&user.role).unwrap_or(Role::Listener),
        csrf: session.csrf_token,
    }))
}

pub async fn delete(db: &DatabaseConnection, token: &str) -> Result<(), AppError> {
    sessions::Entity::delete_many()
        .filter(sessions::Column::TokenHash.eq(hash_token(token)))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of a user but `keep` (after a password change).
pub async fn delete_others(
    db: &DatabaseConnection,
    user_id: i32,
    keep: Option<&str>,
) -> Result<(), AppError> {
    let mut query = sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id));
    if let Some(token) = keep {
        query = query.filter(sessions::Column::TokenHash.ne(hash_token(token)));
    }
    query.exec(db).await?;
    Ok(())
}

fn cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}")
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    cookie(SESSION_COOKIE, token, SESSION_DAYS * 86_400, secure)
}

pub fn clear_session_cookie(secure: bool) -> String {
    cookie(SESSION_COOKIE, "", 0, secure)
}

/// A new API token, shown once on the account page right after it is made (two minutes).
pub const NEW_TOKEN_COOKIE: &str = "ambisonia_new_token";

pub fn new_token_cookie(token: &str, secure: bool) -> String {
    cookie(NEW_TOKEN_COOKIE, token, 120, secure)
}

pub fn clear_new_token_cookie(secure: bool) -> String {
    cookie(NEW_TOKEN_COOKIE, "", 0, secure)
}

pub fn csrf_cookie(token: &str, secure: bool) -> String {
    cookie(CSRF_COOKIE, token, 86_400, secure)
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The value of cookie `name` in a request, across every `Cookie` header it carries
/// (HTTP/2 clients may split cookies over several).
pub fn request_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie_value(h, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let c = session_cookie("abc", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(!session_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn cookie_values_are_found_by_name() {
        let h = "a=1; ambisonia_session=tok; ambisonia_csrf=c";
        assert_eq!(cookie_value(h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(h, CSRF_COOKIE), Some("c"));
        assert_eq!(cookie_value(h, "missing"), None);
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abc", "abd"));
        assert!(!tokens_match("", ""));
        assert!(!tokens_match("abc", "abcd"));
    }
}
