//! The user aggregate: registering, logging in (with throttling shared by every replica),
//! changing the password or email address, the role, and premium given by hand. This module
//! owns `users` and `login_failures`; a user's subscription is `payments`'. Passwords are
//! hashed with argon2id.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};

use crate::{
    Email, Password, Role, Username,
    entities::{login_failures, users},
    error::{ServiceError, is_unique_violation},
    write::{Changed, Write, key},
};

/// Failed logins allowed within `WINDOW_MIN` against one account from one client address,
/// and from one address in all. An account is never locked for everyone: its owner on
/// another address logs in while someone else guesses.
pub const MAX_FAILURES_PER_ACCOUNT_AND_IP: u64 = 5;
pub const MAX_FAILURES_PER_IP: u64 = 20;
pub const WINDOW_MIN: i64 = 15;

/// Creates an account. A taken username or email is a `Conflict` the form can show.
#[tracing::instrument(skip_all, fields(role = role.as_str()))]
pub async fn create_user(
    db: &DatabaseConnection,
    username: &Username,
    email: &Email,
    password: &Password,
    role: Role,
) -> Result<users::Model, ServiceError> {
    let taken = users::Entity::find()
        .filter(users::Column::Username.eq(username.as_str()))
        .count(db)
        .await?;
    if taken > 0 {
        return Err(ServiceError::Conflict("That username is taken.".into()));
    }
    // Hashed before the write: the database waits for nobody's argon2.
    let hash = crate::passwords::hash(password).await?;
    let model = users::ActiveModel {
        username: Set(username.as_str().to_string()),
        email: Set(email.as_str().to_string()),
        password_hash: Set(hash),
        role: Set(role),
        bio: Set(String::new()),
        trusted: Set(false),
        premium_until: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let w = Write::begin(db).await?;
    match model.insert(&w).await {
        Ok(user) => {
            // A new account: no page shows it yet.
            w.commit(Changed::nothing_shown()).await?;
            Ok(user)
        }
        Err(e) if is_unique_violation(&e) => Err(ServiceError::Conflict(
            "That username or email address is already registered.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// An account made by a generator (`bulk`'s recordists): trusted uploaders sharing one
/// password hash. Its id.
pub async fn create_generated(
    w: &Write,
    username: &str,
    password_hash: &str,
) -> Result<i32, ServiceError> {
    Ok(users::ActiveModel {
        email: Set(format!("{username}@demo.ambisonia.invalid")),
        username: Set(username.to_owned()),
        password_hash: Set(password_hash.to_owned()),
        role: Set(Role::Uploader),
        bio: Set(String::new()),
        trusted: Set(true),
        premium_until: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(w)
    .await?
    .id)
}

/// Checks a username and password. Each attempt is written down before the password is
/// looked at (and forgotten again if it succeeds or is refused), then counted: parallel
/// guesses all count, so no more than the limit are ever checked. Refuses with
/// `TooManyRequests` once this address has failed too often, against this account or in
/// all — with one read, writing nothing.
#[tracing::instrument(skip_all)]
pub async fn authenticate(
    db: &DatabaseConnection,
    username: &str,
    password: &str,
    client_ip: &str,
) -> Result<users::Model, ServiceError> {
    let name: String = username.trim().to_lowercase().chars().take(32).collect();
    let ip: String = client_ip.chars().take(64).collect();
    let since = Utc::now() - Duration::minutes(WINDOW_MIN);
    let recent = || {
        login_failures::Entity::find()
            .filter(login_failures::Column::Ip.eq(ip.as_str()))
            .filter(login_failures::Column::At.gt(since))
    };
    let over_limit = || async {
        let by_pair = recent()
            .filter(login_failures::Column::Username.eq(name.as_str()))
            .count(db)
            .await?;
        let by_ip = recent().count(db).await?;
        Ok::<_, ServiceError>(
            by_pair > MAX_FAILURES_PER_ACCOUNT_AND_IP || by_ip > MAX_FAILURES_PER_IP,
        )
    };
    let throttled = || {
        tracing::warn!(client_ip, "login throttled");
        ServiceError::TooManyRequests
    };
    // Already over: refused with a read, and nothing written (a throttled attempt is not
    // one more failure to keep).
    if over_limit().await? {
        return Err(throttled());
    }
    let w = Write::begin(db).await?;
    let attempt = login_failures::ActiveModel {
        username: Set(name.clone()),
        ip: Set(ip.clone()),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&w)
    .await?;
    // Written down before the password is looked at: nothing any page shows.
    w.commit(Changed::nothing_shown()).await?;
    if over_limit().await? {
        // Parallel guesses that all passed the first look: this one came too late.
        forget_attempt(db, attempt.id).await?;
        return Err(throttled());
    }

    let user = users::Entity::find()
        .filter(users::Column::Username.eq(name.as_str()))
        .one(db)
        .await?;
    // With no such account the same work is done, so timing does not tell which usernames
    // exist.
    let hash = user.as_ref().map(|u| u.password_hash.as_str());
    let ok = match crate::passwords::verify(password, hash).await {
        Ok(ok) => ok,
        Err(e) => {
            // Busy: the password was never looked at, so it was no failure.
            forget_attempt(db, attempt.id).await?;
            return Err(e);
        }
    };
    match user {
        Some(user) if ok => {
            // The owner is back: this address's failures against the account are forgiven.
            let w = Write::begin(db).await?;
            login_failures::Entity::delete_many()
                .filter(login_failures::Column::Username.eq(name.as_str()))
                .filter(login_failures::Column::Ip.eq(ip.as_str()))
                .exec(&w)
                .await?;
            w.commit(Changed::nothing_shown()).await?;
            Ok(user)
        }
        _ => Err(ServiceError::Forbidden(
            "Wrong username or password.".into(),
        )),
    }
}

/// Forgets one attempt written down by `authenticate`.
async fn forget_attempt(db: &DatabaseConnection, id: i32) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    login_failures::Entity::delete_by_id(id).exec(&w).await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}

/// Forgets failed logins older than the window, which no longer count (the hourly
/// housekeeping): the table holds at most a window's worth. How many went.
pub async fn forget_old_failures(db: &DatabaseConnection) -> Result<u64, ServiceError> {
    let w = Write::begin(db).await?;
    let gone = login_failures::Entity::delete_many()
        .filter(login_failures::Column::At.lt(Utc::now() - Duration::minutes(WINDOW_MIN)))
        .exec(&w)
        .await?
        .rows_affected;
    w.commit(Changed::nothing_shown()).await?;
    Ok(gone)
}

/// The account named `username` (names are case-insensitive).
pub async fn by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<users::Model, ServiceError> {
    users::Entity::find()
        .filter(users::Column::Username.eq(username.trim().to_lowercase()))
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::Invalid(format!("No account is named {username}.")))
}

/// Gives an account another role (`server admin set-role`).
#[tracing::instrument(skip_all, fields(user = user_id, role = role.as_str()))]
pub async fn set_role(
    db: &DatabaseConnection,
    user_id: i32,
    role: Role,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    users::ActiveModel {
        id: Set(user_id),
        role: Set(role),
        ..Default::default()
    }
    .update(&w)
    .await?;
    // Their logins and their profile show the role: every replica drops both.
    w.commit(Changed::keys([
        key::sessions_of(user_id),
        key::user(user_id),
    ]))
    .await?;
    Ok(())
}

pub async fn find(db: &DatabaseConnection, user_id: i32) -> Result<users::Model, ServiceError> {
    users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(ServiceError::Unauthorized)
}

/// A new password, once the current one is given. A new password says the old one may be
/// known: in the same write, every API token of the account is revoked and every other
/// login ends (all but `keep`, the session that asked).
#[tracing::instrument(skip_all, fields(user = user_id))]
pub async fn change_password(
    db: &DatabaseConnection,
    user_id: i32,
    current: &str,
    new: &Password,
    keep: Option<&str>,
) -> Result<(), ServiceError> {
    let user = confirmed(db, user_id, current).await.map_err(|e| match e {
        ServiceError::Forbidden(_) => {
            ServiceError::Forbidden("Your current password is not right.".into())
        }
        e => e,
    })?;
    let hash = crate::passwords::hash(new).await?;
    let w = Write::begin(db).await?;
    users::ActiveModel {
        id: Set(user.id),
        password_hash: Set(hash),
        ..Default::default()
    }
    .update(&w)
    .await?;
    crate::tokens::revoke_all(&w, user_id).await?;
    let ended = crate::sessions::end_others(&w, user_id, keep).await?;
    w.commit(ended).await?;
    Ok(())
}

/// The account, once `password` is its own: what changing the email or the password and
/// making an API token ask for first.
pub async fn confirmed(
    db: &DatabaseConnection,
    user_id: i32,
    password: &str,
) -> Result<users::Model, ServiceError> {
    let user = find(db, user_id).await?;
    if crate::passwords::verify(password, Some(&user.password_hash)).await? {
        Ok(user)
    } else {
        Err(ServiceError::Forbidden(
            "Your password is not right.".into(),
        ))
    }
}

#[tracing::instrument(skip_all, fields(user = user_id))]
pub async fn change_email(
    db: &DatabaseConnection,
    user_id: i32,
    password: &str,
    email: &Email,
) -> Result<(), ServiceError> {
    let user = confirmed(db, user_id, password).await?;
    let w = Write::begin(db).await?;
    let changed = users::ActiveModel {
        id: Set(user.id),
        email: Set(email.as_str().to_string()),
        ..Default::default()
    }
    .update(&w)
    .await;
    match changed {
        // Nobody but its owner sees an address.
        Ok(_) => Ok(w.commit(Changed::nothing_shown()).await?),
        Err(e) if is_unique_violation(&e) => Err(ServiceError::Conflict(
            "That email address belongs to another account.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Premium by hand until `until` (`server admin grant-premium`), beside any subscription.
pub async fn grant_premium(
    db: &DatabaseConnection,
    user_id: i32,
    until: DateTime<Utc>,
) -> Result<(), ServiceError> {
    set_premium_until(db, user_id, Some(until)).await
}

/// Ends a premium given by hand (a subscription is ended in Stripe, not here).
pub async fn revoke_premium(db: &DatabaseConnection, user_id: i32) -> Result<(), ServiceError> {
    set_premium_until(db, user_id, None).await
}

async fn set_premium_until(
    db: &DatabaseConnection,
    user_id: i32,
    until: Option<DateTime<Utc>>,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    users::ActiveModel {
        id: Set(user_id),
        premium_until: Set(until),
        ..Default::default()
    }
    .update(&w)
    .await?;
    // Premium is read where a download is answered, never from a cache.
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}
