//! Personal API tokens: made and revoked on the account page, sent by the desktop Uploader
//! and `server upload` as `Authorization: Bearer amb_…`. Only a SHA-256 is stored, so a
//! leaked database does not leak tokens; a revoked token is refused at once.

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

/// Makes a token; returns it in full (shown once, never again).
#[tracing::instrument(skip_all, fields(user = user_id))]
pub async fn create(
    db: &DatabaseConnection,
    user_id: i32,
    name: &str,
) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(ServiceError::Invalid(
            "Name the token (up to 80 characters), such as the computer it is for.".into(),
        ));
    }
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

/// Who a bearer token belongs to: `(user id, role, trusted)`, or `None` for an unknown or
/// revoked token.
pub async fn authenticate(
    db: &DatabaseConnection,
    bearer: &str,
) -> Result<Option<(i32, Role, bool)>, ServiceError> {
    if !bearer.starts_with(PREFIX) || bearer.len() > 200 {
        return Ok(None);
    }
    let Some(token) = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash_token(bearer)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(user) = users::Entity::find_by_id(token.user_id).one(db).await? else {
        return Ok(None);
    };
    let w = Write::begin(db).await?;
    api_tokens::ActiveModel {
        id: Set(token.id),
        last_used_at: Set(Some(Utc::now())),
        ..Default::default()
    }
    .update(&w)
    .await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(Some((user.id, user.role, user.trusted)))
}
