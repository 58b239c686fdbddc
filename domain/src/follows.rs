//! Following (this module owns `follows` and `following_feeds`): a listener follows
//! uploaders and tags, and `/following` lists the published recordings of what they follow,
//! newest first. A private feed of the same list is reached by a secret token in its URL
//! (`fol_…`; only its SHA-256 is kept), for feed readers and podcast apps that cannot log
//! in; making a new one revokes the old, and a revoked one is a 404.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Query,
};

use crate::{
    Status,
    cards::cards,
    entities::{following_feeds, follows, recording_tags, recordings, tags, users},
    error::ServiceError,
    key,
    model::{FollowingPage, TagRef, Viewer},
    sessions::{hash_token, random_token},
    write::{Changed, Write},
};

const FEED_PREFIX: &str = "fol_";
/// The most one account follows.
const MAX_FOLLOWS: u64 = 1_000;

/// What can be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    User,
    Tag,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::User => "user",
            Target::Tag => "tag",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "user" => Ok(Target::User),
            "tag" => Ok(Target::Tag),
            _ => Err(ServiceError::invalid("Follow a user or a tag.")),
        }
    }
}

/// The id of the user or tag called `name`.
async fn target_id(
    db: &impl sea_orm::ConnectionTrait,
    target: Target,
    name: &str,
) -> Result<i32, ServiceError> {
    let id = match target {
        Target::User => users::Entity::find()
            .filter(users::Column::Username.eq(name.to_lowercase()))
            .one(db)
            .await?
            .map(|u| u.id),
        Target::Tag => tags::Entity::find()
            .filter(tags::Column::Slug.eq(name))
            .one(db)
            .await?
            .map(|t| t.id),
    };
    id.ok_or(ServiceError::NotFound)
}

/// What a follow of `target` changes for others: a profile's follower count (softly: a
/// storm of follows costs one render of the profile, not one per visitor).
fn changed(target: Target, id: i32) -> Changed {
    match target {
        Target::User => Changed::keys([key::soft(&key::user(id))]),
        Target::Tag => Changed::nothing_shown(),
    }
}

/// Follows `name`, or stops following it; whether the viewer follows it now.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn toggle(
    db: &DatabaseConnection,
    viewer: &Viewer,
    target: Target,
    name: &str,
) -> Result<bool, ServiceError> {
    let w = Write::begin(db).await?;
    let id = target_id(&w, target, name).await?;
    if target == Target::User && id == viewer.user_id {
        return Err(ServiceError::invalid("You cannot follow yourself."));
    }
    let gone = follows::Entity::delete_by_id((viewer.user_id, target.as_str().to_owned(), id))
        .exec(&w)
        .await?
        .rows_affected
        > 0;
    if !gone {
        let have = follows::Entity::find()
            .filter(follows::Column::FollowerId.eq(viewer.user_id))
            .count(&w)
            .await?;
        if have >= MAX_FOLLOWS {
            return Err(ServiceError::invalid("You follow 1,000 already."));
        }
        follows::ActiveModel {
            follower_id: Set(viewer.user_id),
            kind: Set(target.as_str().to_owned()),
            target_id: Set(id),
            created_at: Set(Utc::now()),
        }
        .insert(&w)
        .await?;
    }
    w.commit(changed(target, id)).await?;
    Ok(!gone)
}

/// Whether `follower` follows `name`.
pub async fn follows(
    db: &DatabaseConnection,
    follower: i32,
    target: Target,
    name: &str,
) -> Result<bool, ServiceError> {
    let id = target_id(db, target, name).await?;
    Ok(
        follows::Entity::find_by_id((follower, target.as_str().to_owned(), id))
            .one(db)
            .await?
            .is_some(),
    )
}

/// How many follow user `id`.
pub async fn followers(db: &DatabaseConnection, id: i32) -> Result<u64, ServiceError> {
    Ok(follows::Entity::find()
        .filter(follows::Column::Kind.eq(Target::User.as_str()))
        .filter(follows::Column::TargetId.eq(id))
        .count(db)
        .await?)
}

async fn followed(
    db: &DatabaseConnection,
    user_id: i32,
    target: Target,
) -> Result<Vec<i32>, ServiceError> {
    Ok(follows::Entity::find()
        .select_only()
        .column(follows::Column::TargetId)
        .filter(follows::Column::FollowerId.eq(user_id))
        .filter(follows::Column::Kind.eq(target.as_str()))
        .into_tuple()
        .all(db)
        .await?)
}

/// The `limit` newest published recordings by the uploaders, or with the tags, `user_id`
/// follows.
pub async fn rows(
    db: &DatabaseConnection,
    user_id: i32,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let people = followed(db, user_id, Target::User).await?;
    let tag_ids = followed(db, user_id, Target::Tag).await?;
    rows_of(db, people, tag_ids, limit).await
}

/// [`rows`] of these uploaders and tags.
async fn rows_of(
    db: &DatabaseConnection,
    people: Vec<i32>,
    tag_ids: Vec<i32>,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    if people.is_empty() && tag_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut any = Condition::any();
    if !people.is_empty() {
        any = any.add(recordings::Column::UploaderId.is_in(people));
    }
    if !tag_ids.is_empty() {
        any = any.add(
            recordings::Column::Id.in_subquery(
                Query::select()
                    .column(recording_tags::Column::RecordingId)
                    .from(recording_tags::Entity)
                    .and_where(recording_tags::Column::TagId.is_in(tag_ids))
                    .to_owned(),
            ),
        );
    }
    Ok(recordings::Entity::find()
        .filter(recordings::Column::Status.eq(Status::Published))
        .filter(any)
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// `/following` for the viewer: whom and what they follow, and the newest recordings.
pub async fn page(db: &DatabaseConnection, viewer: &Viewer) -> Result<FollowingPage, ServiceError> {
    // Whom and what, read once: for the names and for the recordings.
    let person_ids = followed(db, viewer.user_id, Target::User).await?;
    let tag_ids = followed(db, viewer.user_id, Target::Tag).await?;
    let people: Vec<String> = users::Entity::find()
        .filter(users::Column::Id.is_in(person_ids.clone()))
        .order_by_asc(users::Column::Username)
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    let tag_refs: Vec<TagRef> = tags::Entity::find()
        .filter(tags::Column::Id.is_in(tag_ids.clone()))
        .order_by_asc(tags::Column::Slug)
        .all(db)
        .await?
        .into_iter()
        .map(|t| TagRef {
            slug: t.slug,
            name: t.name,
        })
        .collect();
    let has_feed = following_feeds::Entity::find_by_id(viewer.user_id)
        .one(db)
        .await?
        .is_some();
    Ok(FollowingPage {
        people,
        tags: tag_refs,
        recordings: cards(db, rows_of(db, person_ids, tag_ids, 48).await?).await?,
        has_feed,
        new_feed_token: None,
    })
}

/// A new secret for the viewer's private feed (the old one stops working); returned once.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn new_feed_token(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> Result<String, ServiceError> {
    let token = format!("{FEED_PREFIX}{}", random_token());
    let w = Write::begin(db).await?;
    following_feeds::Entity::delete_by_id(viewer.user_id)
        .exec(&w)
        .await?;
    following_feeds::ActiveModel {
        user_id: Set(viewer.user_id),
        token_hash: Set(hash_token(&token)),
        created_at: Set(Utc::now()),
    }
    .insert(&w)
    .await?;
    // The feed is private (never shared), so nothing anyone else sees changes.
    w.commit(Changed::nothing_shown()).await?;
    Ok(token)
}

/// Turns the viewer's private feed off.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn revoke_feed_token(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    following_feeds::Entity::delete_by_id(viewer.user_id)
        .exec(&w)
        .await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}

/// Whose private feed `token` opens: their id and name; `NotFound` for anything else.
pub async fn feed_owner(
    db: &DatabaseConnection,
    token: &str,
) -> Result<(i32, String), ServiceError> {
    if !token.starts_with(FEED_PREFIX) || token.len() > 200 {
        return Err(ServiceError::NotFound);
    }
    let feed = following_feeds::Entity::find()
        .filter(following_feeds::Column::TokenHash.eq(hash_token(token)))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let user = users::Entity::find_by_id(feed.user_id)
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok((user.id, user.username))
}
