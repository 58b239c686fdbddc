//! Personal API tokens: made and revoked on the account page, sent by the desktop Uploader
//! and `server upload` as `Authorization: Bearer amb_…`. Only a SHA-256 is stored, so a
//! leaked database does not leak tokens; a revoked token is refused at once. Each token
//! carries the scopes its owner chose (`read`, `upload`, `download`), and does nothing else.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::{
    Role,
    entities::{api_tokens, users},
    error::ServiceError,
    model::{TokenView, Viewer},
    sessions::{hash_token, random_token},
    write::{Changed, Write},
};

const PREFIX: &str = "amb_";

/// How often a token's "last used" is written at most: an API client's every request would
/// otherwise be a write.
const LAST_USED_EVERY: chrono::Duration = chrono::Duration::minutes(1);

/// One thing a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Read the catalog through the API as its owner (their drafts, premium status).
    Read,
    /// Upload recordings (the desktop Uploader, `server upload`).
    Upload,
    /// Download originals and renditions, premium ones when the owner is premium.
    Download,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Upload, Scope::Download];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Upload => "upload",
            Scope::Download => "download",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Reads a stored `scopes` column (unknown words are ignored).
    pub fn parse_all(raw: &str) -> Vec<Scope> {
        let mut v: Vec<Scope> = raw.split_whitespace().filter_map(Self::parse).collect();
        v.sort();
        v.dedup();
        v
    }
}

/// A token that was presented and is live: whose it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    pub token_id: i32,
    pub user_id: i32,
    pub username: String,
    pub role: Role,
    pub trusted: bool,
    pub scopes: Vec<Scope>,
}

impl Bearer {
    /// `Forbidden` unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ServiceError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "This token does not have the \"{}\" scope; make one that does on your account page.",
                scope.as_str()
            )))
        }
    }

    /// The token's owner as a viewer of pages (no form token: an API client posts no forms).
    pub fn viewer(&self) -> Viewer {
        Viewer {
            user_id: self.user_id,
            username: self.username.clone(),
            role: self.role,
            csrf: String::new(),
        }
    }
}

/// Makes a token that may do `scopes`; returns it in full (shown once, never again).
#[tracing::instrument(skip_all, fields(user = user_id))]
pub async fn create(
    db: &DatabaseConnection,
    user_id: i32,
    name: &str,
    scopes: &[Scope],
) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ServiceError::Invalid(
            "Name the token (up to 80 characters), such as the computer it is for.".into(),
        ));
    }
    if scopes.is_empty() {
        return Err(ServiceError::invalid(
            "Choose at least one thing the token may do (read, upload, download).",
        ));
    }
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let token = format!("{PREFIX}{}", random_token());
    let w = Write::begin(db).await?;
    api_tokens::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        prefix: Set(token.chars().take(12).collect()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
        scopes: Set(scopes.join(" ")),
        ..Default::default()
    }
    .insert(&w)
    .await?;
    // Only its owner's account page lists tokens, and it is never cached.
    w.commit(Changed::nothing_shown()).await?;
    Ok(token)
}

pub async fn list(
    db: &impl ConnectionTrait,
    owner: &Viewer,
) -> Result<Vec<TokenView>, ServiceError> {
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::UserId.eq(owner.user_id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .order_by_desc(api_tokens::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            scopes: Scope::parse_all(&t.scopes)
                .into_iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        })
        .collect())
}

#[tracing::instrument(skip_all, fields(user = owner.user_id, token = id))]
pub async fn revoke(db: &DatabaseConnection, owner: &Viewer, id: i32) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let token = api_tokens::Entity::find_by_id(id)
        .one(&w)
        .await?
        .filter(|t| t.user_id == owner.user_id)
        .ok_or(ServiceError::NotFound)?;
    api_tokens::ActiveModel {
        id: Set(token.id),
        revoked_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .update(&w)
    .await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}

/// Revokes every live token of an account (in the caller's write: its password changed).
pub async fn revoke_all(w: &Write, user_id: i32) -> Result<u64, ServiceError> {
    use sea_orm::sea_query::Expr;
    let done = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_tokens::Column::UserId.eq(user_id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(w)
        .await?;
    Ok(done.rows_affected)
}

/// Who a bearer token belongs to and what it may do, or `None` for an unknown or revoked
/// token.
pub async fn authenticate(
    db: &DatabaseConnection,
    bearer: &str,
) -> Result<Option<Bearer>, ServiceError> {
    if !bearer.starts_with(PREFIX) || bearer.len() > 200 {
        return Ok(None);
    }
    let Some((token, Some(user))) = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash_token(bearer)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .find_also_related(users::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if token
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_EVERY)
    {
        let w = Write::begin(db).await?;
        api_tokens::ActiveModel {
            id: Set(token.id),
            last_used_at: Set(Some(now)),
            ..Default::default()
        }
        .update(&w)
        .await?;
        w.commit(Changed::nothing_shown()).await?;
    }
    Ok(Some(Bearer {
        token_id: token.id,
        user_id: user.id,
        username: user.username,
        role: user.role,
        trusted: user.trusted,
        scopes: Scope::parse_all(&token.scopes),
    }))
}
