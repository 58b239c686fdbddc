//! Collections (this module owns `collections` and `collection_items`): anyone logged in
//! keeps ordered lists of published recordings, private or public, with a title and a note.
//! Their bookmarks are the one *saved* collection each account has (private; made on the
//! first save). A public collection whose recordings are all its owner's is a *pack*, and
//! says so on its recordings' pages and its owner's profile.
//!
//! What a write changes: a private collection is shown to its owner alone, on pages never
//! shared, so its writes name nothing; a public one's page (`key::collection`), its owner's
//! profile and the pages of the recordings it gained or lost (their counts and packs).

use std::collections::HashMap;

use chrono::Utc;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::{
    Slug, Status,
    cards::cards,
    entities::{collection_items, collections, recordings, users},
    error::ServiceError,
    key,
    model::{CollectionPage, CollectionRef, RecordingCollections, Viewer},
    write::{Changed, Write},
};

/// The most a collection holds.
pub const MAX_ITEMS: u64 = 1_000;
/// The most collections one account keeps.
pub const MAX_COLLECTIONS: u64 = 200;
const TITLE_MAX: usize = 200;
const NOTE_MAX: usize = 4_000;
/// The saved collection's title.
pub const SAVED_TITLE: &str = "Saved";

fn title_of(raw: &str) -> Result<String, ServiceError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > TITLE_MAX {
        return Err(ServiceError::invalid(
            "Give the collection a title (up to 200 characters).",
        ));
    }
    Ok(t.to_owned())
}

fn note_of(raw: &str) -> Result<String, ServiceError> {
    let n = raw.trim();
    if n.chars().count() > NOTE_MAX {
        return Err(ServiceError::invalid(
            "The note takes up to 4,000 characters.",
        ));
    }
    Ok(n.to_owned())
}

/// A slug nobody can guess from the title alone (private collections are not listed, but
/// their links should not be guessable either).
fn new_slug(title: &str) -> String {
    let mut b = [0u8; 4];
    rand::thread_rng().fill_bytes(&mut b);
    let stem = Slug::from_title(title).map_or_else(
        || "collection".to_owned(),
        |s| {
            s.as_str()
                .chars()
                .take(60)
                .collect::<String>()
                .trim_end_matches('-')
                .to_owned()
        },
    );
    format!("{stem}-{}", hex::encode(b))
}

/// What a change to `c` (and to these recordings in it) makes others see anew.
fn changed(c: &collections::Model, recordings: &[i32]) -> Changed {
    if !c.is_public {
        return Changed::nothing_shown();
    }
    let mut keys = vec![key::collection(c.id), key::user(c.owner_id)];
    keys.extend(recordings.iter().map(|id| key::recording(*id)));
    Changed::keys(keys)
}

async fn owned(w: &Write, viewer: &Viewer, slug: &str) -> Result<collections::Model, ServiceError> {
    collections::Entity::find()
        .filter(collections::Column::Slug.eq(slug))
        .one(w)
        .await?
        .filter(|c| c.owner_id == viewer.user_id)
        .ok_or(ServiceError::NotFound)
}

async fn published_recording(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<recordings::Model, ServiceError> {
    crate::recordings::published(db, slug).await
}

/// Makes a collection; its slug.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn create(
    db: &DatabaseConnection,
    viewer: &Viewer,
    title: &str,
    note: &str,
    public: bool,
) -> Result<String, ServiceError> {
    let (title, note) = (title_of(title)?, note_of(note)?);
    let w = Write::begin(db).await?;
    let have = collections::Entity::find()
        .filter(collections::Column::OwnerId.eq(viewer.user_id))
        .count(&w)
        .await?;
    if have >= MAX_COLLECTIONS {
        return Err(ServiceError::invalid(
            "You keep 200 collections already; delete one first.",
        ));
    }
    let now = Utc::now();
    let row = collections::ActiveModel {
        owner_id: Set(viewer.user_id),
        slug: Set(new_slug(&title)),
        title: Set(title),
        note: Set(note),
        is_public: Set(public),
        is_saved: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&w)
    .await?;
    let slug = row.slug.clone();
    w.commit(changed(&row, &[])).await?;
    Ok(slug)
}

/// Changes a collection's title, note and whether it is public (the saved one stays
/// private and keeps its title).
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn edit(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
    title: &str,
    note: &str,
    public: bool,
) -> Result<(), ServiceError> {
    let note = note_of(note)?;
    let w = Write::begin(db).await?;
    let c = owned(&w, viewer, slug).await?;
    let title = if c.is_saved {
        c.title.clone()
    } else {
        title_of(title)?
    };
    let public = public && !c.is_saved;
    let ids = item_ids(&w, c.id).await?;
    // Seen by others before or after: both states' pages change.
    let before = changed(&c, &ids);
    let row = collections::ActiveModel {
        id: Set(c.id),
        title: Set(title),
        note: Set(note),
        is_public: Set(public),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(&w)
    .await?;
    let after = changed(&row, &ids);
    w.commit(before.and(after)).await?;
    Ok(())
}

/// Deletes a collection (not the saved one) and its list; the recordings stay.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn delete(
    db: &DatabaseConnection,
    viewer: &Viewer,
    slug: &str,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let c = owned(&w, viewer, slug).await?;
    if c.is_saved {
        return Err(ServiceError::invalid(
            "Your saved recordings cannot be deleted as a whole; remove them one by one.",
        ));
    }
    let ids = item_ids(&w, c.id).await?;
    collection_items::Entity::delete_many()
        .filter(collection_items::Column::CollectionId.eq(c.id))
        .exec(&w)
        .await?;
    collections::Entity::delete_by_id(c.id).exec(&w).await?;
    w.commit(changed(&c, &ids)).await?;
    Ok(())
}

async fn item_ids(w: &impl ConnectionTrait, collection_id: i32) -> Result<Vec<i32>, ServiceError> {
    Ok(collection_items::Entity::find()
        .select_only()
        .column(collection_items::Column::RecordingId)
        .filter(collection_items::Column::CollectionId.eq(collection_id))
        .order_by_asc(collection_items::Column::Position)
        .into_tuple()
        .all(w)
        .await?)
}

/// The published recordings of collection `id`, in its order (what its page, feed and
/// download show).
async fn shown_rows(
    db: &DatabaseConnection,
    id: i32,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let ids = item_ids(db, id).await?;
    let mut by_id: HashMap<i32, recordings::Model> = recordings::Entity::find()
        .filter(recordings::Column::Id.is_in(ids.iter().copied()))
        .filter(recordings::Column::Status.eq(Status::Published))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Makes every other change to `c`'s places wait until this write has ended: two
/// additions at once would otherwise both count the same items and take the same next
/// place (and pass the cap together), and a move could swap places another write changes.
async fn lock_places(w: &Write, c: &collections::Model) -> Result<(), ServiceError> {
    w.lock(&format!("collection-places:{}", c.id)).await?;
    Ok(())
}

/// Appends `recording` to `c` (nothing when it is there already); whether it was added.
/// Two tabs adding the same recording at once add it once: the insert does nothing on the
/// key it would repeat (a check before it could not see the other tab's uncommitted row).
async fn append(
    w: &Write,
    c: &collections::Model,
    recording: &recordings::Model,
) -> Result<bool, ServiceError> {
    lock_places(w, c).await?;
    let (count, last): (i64, Option<i32>) = collection_items::Entity::find()
        .select_only()
        .column_as(
            Expr::col(collection_items::Column::RecordingId).count(),
            "count",
        )
        .column_as(collection_items::Column::Position.max(), "last")
        .filter(collection_items::Column::CollectionId.eq(c.id))
        .into_tuple()
        .one(w)
        .await?
        .unwrap_or((0, None));
    if u64::try_from(count).unwrap_or(0) >= MAX_ITEMS {
        return Err(ServiceError::invalid(
            "A collection holds up to 1,000 recordings.",
        ));
    }
    let inserted = collection_items::Entity::insert(collection_items::ActiveModel {
        collection_id: Set(c.id),
        recording_id: Set(recording.id),
        position: Set(last.map_or(0, |p| p + 1)),
        added_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing()
    .exec_without_returning(w)
    .await?;
    let added = matches!(inserted, TryInsertResult::Inserted(n) if n > 0);
    if added {
        touch(w, c).await?;
    }
    Ok(added)
}

async fn touch(w: &Write, c: &collections::Model) -> Result<(), ServiceError> {
    collections::ActiveModel {
        id: Set(c.id),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(w)
    .await?;
    Ok(())
}

/// Adds a published recording at the end of one of the viewer's collections.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn add(
    db: &DatabaseConnection,
    viewer: &Viewer,
    collection: &str,
    recording: &str,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let c = owned(&w, viewer, collection).await?;
    let r = published_recording(&w, recording).await?;
    let added = append(&w, &c, &r).await?;
    let what = if added {
        changed(&c, &[r.id])
    } else {
        Changed::nothing_shown()
    };
    w.commit(what).await?;
    Ok(())
}

/// Takes a recording out of one of the viewer's collections.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn remove(
    db: &DatabaseConnection,
    viewer: &Viewer,
    collection: &str,
    recording: &str,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let c = owned(&w, viewer, collection).await?;
    let r = recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(recording))
        .one(&w)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let gone = collection_items::Entity::delete_by_id((c.id, r.id))
        .exec(&w)
        .await?
        .rows_affected;
    let what = if gone > 0 {
        touch(&w, &c).await?;
        changed(&c, &[r.id])
    } else {
        Changed::nothing_shown()
    };
    w.commit(what).await?;
    Ok(())
}

/// Moves a recording one place up (towards the start) or down in one of the viewer's
/// collections.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn shift(
    db: &DatabaseConnection,
    viewer: &Viewer,
    collection: &str,
    recording: &str,
    up: bool,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let c = owned(&w, viewer, collection).await?;
    lock_places(&w, &c).await?;
    let items = collection_items::Entity::find()
        .filter(collection_items::Column::CollectionId.eq(c.id))
        .order_by_asc(collection_items::Column::Position)
        .all(&w)
        .await?;
    let slugs: HashMap<i32, String> = recordings::Entity::find()
        .filter(recordings::Column::Id.is_in(items.iter().map(|i| i.recording_id)))
        .all(&w)
        .await?
        .into_iter()
        .map(|r| (r.id, r.slug))
        .collect();
    let Some(at) = items
        .iter()
        .position(|i| slugs.get(&i.recording_id).is_some_and(|s| s == recording))
    else {
        return Err(ServiceError::NotFound);
    };
    let other = if up { at.checked_sub(1) } else { Some(at + 1) };
    let Some(other) = other.filter(|o| *o < items.len()) else {
        w.commit(Changed::nothing_shown()).await?;
        return Ok(());
    };
    let (a, b) = (&items[at], &items[other]);
    for (item, position) in [(a, b.position), (b, a.position)] {
        collection_items::ActiveModel {
            collection_id: Set(item.collection_id),
            recording_id: Set(item.recording_id),
            position: Set(position),
            ..Default::default()
        }
        .update(&w)
        .await?;
    }
    touch(&w, &c).await?;
    w.commit(changed(&c, &[])).await?;
    Ok(())
}

/// The viewer's saved collection, made on first use — once, however many first saves
/// arrive together (the insert does nothing on the one-per-account index; then it is read).
async fn saved_of(w: &Write, viewer: &Viewer) -> Result<collections::Model, ServiceError> {
    use collections::Column as C;
    let find = || {
        collections::Entity::find()
            .filter(C::OwnerId.eq(viewer.user_id))
            .filter(C::IsSaved.eq(true))
    };
    if let Some(c) = find().one(w).await? {
        return Ok(c);
    }
    let now = Utc::now();
    collections::Entity::insert(collections::ActiveModel {
        owner_id: Set(viewer.user_id),
        slug: Set(new_slug(&format!("{} saved", viewer.username))),
        title: Set(SAVED_TITLE.to_owned()),
        note: Set(String::new()),
        is_public: Set(false),
        is_saved: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(C::OwnerId)
            .target_and_where(Expr::col(C::IsSaved))
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(w)
    .await?;
    find()
        .one(w)
        .await?
        .ok_or_else(|| ServiceError::internal("the saved collection", "missing after insert"))
}

/// Saves a published recording to the viewer's bookmarks, or takes it out again; whether
/// it is saved now. Bookmarks are private: nothing anyone else sees changes.
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn toggle_saved(
    db: &DatabaseConnection,
    viewer: &Viewer,
    recording: &str,
) -> Result<bool, ServiceError> {
    let w = Write::begin(db).await?;
    let r = published_recording(&w, recording).await?;
    let c = saved_of(&w, viewer).await?;
    let removed = collection_items::Entity::delete_by_id((c.id, r.id))
        .exec(&w)
        .await?
        .rows_affected
        > 0;
    if !removed {
        append(&w, &c, &r).await?;
    } else {
        touch(&w, &c).await?;
    }
    w.commit(Changed::nothing_shown()).await?;
    Ok(!removed)
}

/// Saves a published recording to the viewer's bookmarks (from a card: nothing happens if
/// it is there already).
#[tracing::instrument(skip_all, fields(user = viewer.user_id))]
pub async fn save(
    db: &DatabaseConnection,
    viewer: &Viewer,
    recording: &str,
) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    let r = published_recording(&w, recording).await?;
    let c = saved_of(&w, viewer).await?;
    append(&w, &c, &r).await?;
    w.commit(Changed::nothing_shown()).await?;
    Ok(())
}

/// A collection's page: a public one for everyone; a private one for its owner only
/// (anyone else is told it does not exist). Its items are the published recordings in it,
/// in its order. With the surrogate keys of what it shows.
pub async fn page(
    db: &DatabaseConnection,
    slug: &str,
    viewer: Option<&Viewer>,
) -> Result<(CollectionPage, Vec<String>), ServiceError> {
    let c = collections::Entity::find()
        .filter(collections::Column::Slug.eq(slug))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mine = viewer.is_some_and(|v| v.user_id == c.owner_id);
    if !c.is_public && !mine {
        return Err(ServiceError::NotFound);
    }
    let ordered = shown_rows(db, c.id).await?;
    let shown: Vec<i32> = ordered.iter().map(|r| r.id).collect();
    let is_pack = sizes(db, [c.id])
        .await?
        .get(&c.id)
        .is_some_and(|size| size.is_pack(c.is_public));
    let owner = users::Entity::find_by_id(c.owner_id)
        .one(db)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    let mut keys = vec![key::collection(c.id), key::user(c.owner_id)];
    keys.extend(shown.iter().map(|id| key::card(*id)));
    Ok((
        CollectionPage {
            id: c.id,
            slug: c.slug,
            title: c.title,
            note: c.note,
            owner,
            is_public: c.is_public,
            is_saved: c.is_saved,
            is_pack,
            updated_at: c.updated_at,
            items: cards(db, ordered).await?,
            mine,
        },
        keys,
    ))
}

/// A public collection, its owner's name and its first `limit` published recordings in
/// its order (for its feed).
pub async fn public_rows(
    db: &DatabaseConnection,
    slug: &str,
    limit: u64,
) -> Result<(collections::Model, String, Vec<recordings::Model>), ServiceError> {
    let c = collections::Entity::find()
        .filter(collections::Column::Slug.eq(slug))
        .filter(collections::Column::IsPublic.eq(true))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut rows = shown_rows(db, c.id).await?;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let owner = users::Entity::find_by_id(c.owner_id)
        .one(db)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    Ok((c, owner, rows))
}

/// What a collection's download holds: the collection (public, or the viewer's own), its
/// owner's name, and its published recordings in its order, each with its uploader's name.
pub async fn contents(
    db: &DatabaseConnection,
    slug: &str,
    viewer: Option<&Viewer>,
) -> Result<(collections::Model, String, Vec<(recordings::Model, String)>), ServiceError> {
    let c = collections::Entity::find()
        .filter(collections::Column::Slug.eq(slug))
        .one(db)
        .await?
        .filter(|c| c.is_public || viewer.is_some_and(|v| v.user_id == c.owner_id))
        .ok_or(ServiceError::NotFound)?;
    let rows = shown_rows(db, c.id).await?;
    let names: HashMap<i32, String> = users::Entity::find()
        .filter(
            users::Column::Id.is_in(
                rows.iter()
                    .map(|r| r.uploader_id)
                    .chain(std::iter::once(c.owner_id)),
            ),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let owner = names.get(&c.owner_id).cloned().unwrap_or_default();
    let rows = rows
        .into_iter()
        .map(|r| {
            let name = names.get(&r.uploader_id).cloned().unwrap_or_default();
            (r, name)
        })
        .collect();
    Ok((c, owner, rows))
}

/// Summaries of collections, with their sizes and whether each is a pack: the owners and
/// the sizes in one read each, however many collections.
async fn refs(
    db: &impl ConnectionTrait,
    rows: Vec<collections::Model>,
) -> Result<Vec<CollectionRef>, ServiceError> {
    let owners: HashMap<i32, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(rows.iter().map(|c| c.owner_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let sizes = sizes(db, rows.iter().map(|c| c.id)).await?;
    Ok(rows
        .into_iter()
        .map(|c| {
            let size = sizes.get(&c.id).copied().unwrap_or_default();
            CollectionRef {
                owner: owners.get(&c.owner_id).cloned().unwrap_or_default(),
                is_pack: size.is_pack(c.is_public),
                slug: c.slug,
                title: c.title,
                is_public: c.is_public,
                is_saved: c.is_saved,
                count: size.items,
            }
        })
        .collect())
}

/// How many items a collection shows — its published recordings, as its page lists them
/// (one deleted or withdrawn stays in it, unseen, until the collector takes it) — and how
/// many of those someone other than its owner uploaded.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    items: u64,
    not_the_owners: u64,
}

impl Size {
    /// A public collection showing only its owner's recordings is a pack: the one rule for
    /// its page, its owner's list and their profile.
    fn is_pack(self, public: bool) -> bool {
        public && self.items > 0 && self.not_the_owners == 0
    }
}

/// The [`Size`] of each of the collections `ids` that shows anything, in one grouped read.
async fn sizes(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = i32>,
) -> Result<HashMap<i32, Size>, ServiceError> {
    let ids: Vec<i32> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let item = |c: collection_items::Column| Expr::col((collection_items::Entity, c));
    let query = Query::select()
        .expr(item(collection_items::Column::CollectionId))
        .expr(Expr::cust("COUNT(*)"))
        .expr(Expr::cust(
            "SUM(CASE WHEN recordings.uploader_id <> collections.owner_id THEN 1 ELSE 0 END)",
        ))
        .from(collection_items::Entity)
        .inner_join(
            collections::Entity,
            Expr::col((collections::Entity, collections::Column::Id)).equals((
                collection_items::Entity,
                collection_items::Column::CollectionId,
            )),
        )
        .inner_join(
            recordings::Entity,
            Expr::col((recordings::Entity, recordings::Column::Id)).equals((
                collection_items::Entity,
                collection_items::Column::RecordingId,
            )),
        )
        .and_where(item(collection_items::Column::CollectionId).is_in(ids))
        .and_where(recordings::Column::Status.eq(Status::Published))
        .group_by_col((
            collection_items::Entity,
            collection_items::Column::CollectionId,
        ))
        .to_owned();
    let mut sizes = HashMap::new();
    for row in db
        .query_all_raw(db.get_database_backend().build(&query))
        .await?
    {
        let id: i32 = row.try_get_by_index(0)?;
        let items: i64 = row.try_get_by_index(1)?;
        let not_the_owners: Option<i64> = row.try_get_by_index(2)?;
        sizes.insert(
            id,
            Size {
                items: u64::try_from(items).unwrap_or(0),
                not_the_owners: not_the_owners
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
            },
        );
    }
    Ok(sizes)
}

/// The viewer's collections, the saved one first, then the most recently changed.
pub async fn mine(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> Result<Vec<CollectionRef>, ServiceError> {
    refs(db, mine_rows(db, viewer).await?).await
}

async fn mine_rows(
    db: &DatabaseConnection,
    viewer: &Viewer,
) -> Result<Vec<collections::Model>, ServiceError> {
    Ok(collections::Entity::find()
        .filter(collections::Column::OwnerId.eq(viewer.user_id))
        .order_by_desc(collections::Column::IsSaved)
        .order_by_desc(collections::Column::UpdatedAt)
        .all(db)
        .await?)
}

/// A person's public collections (packs first), for their profile.
pub async fn public_of(
    db: &DatabaseConnection,
    user_id: i32,
) -> Result<Vec<CollectionRef>, ServiceError> {
    let rows = collections::Entity::find()
        .filter(collections::Column::OwnerId.eq(user_id))
        .filter(collections::Column::IsPublic.eq(true))
        .order_by_desc(collections::Column::UpdatedAt)
        .limit(100)
        .all(db)
        .await?;
    let mut refs = refs(db, rows).await?;
    refs.sort_by_key(|r| !r.is_pack);
    Ok(refs)
}

/// What `recording`'s page says of collections (for `viewer`, their own too).
pub async fn of_recording(
    db: &DatabaseConnection,
    recording_id: i32,
    viewer: Option<&Viewer>,
) -> Result<RecordingCollections, ServiceError> {
    let holding: Vec<i32> = collection_items::Entity::find()
        .select_only()
        .column(collection_items::Column::CollectionId)
        .filter(collection_items::Column::RecordingId.eq(recording_id))
        .into_tuple()
        .all(db)
        .await?;
    let public = collections::Entity::find()
        .filter(collections::Column::Id.is_in(holding.iter().copied()))
        .filter(collections::Column::IsPublic.eq(true))
        .order_by_desc(collections::Column::UpdatedAt)
        .all(db)
        .await?;
    let public_count = public.len() as u64;
    let packs = refs(db, public.into_iter().take(20).collect())
        .await?
        .into_iter()
        .filter(|r| r.is_pack)
        .collect();
    let mut out = RecordingCollections {
        public_count,
        packs,
        ..Default::default()
    };
    if let Some(v) = viewer {
        let rows = mine_rows(db, v).await?;
        // Which of them hold it: the ids read above, no query per collection.
        let holds: Vec<bool> = rows.iter().map(|c| holding.contains(&c.id)).collect();
        for (c, holds) in refs(db, rows).await?.into_iter().zip(holds) {
            if c.is_saved {
                out.saved = holds;
            } else {
                out.mine.push((c, holds));
            }
        }
    }
    Ok(out)
}

/// A deleted recording leaves every collection.
pub async fn forget_recording(w: &Write, recording_id: i32) -> Result<(), ServiceError> {
    collection_items::Entity::delete_many()
        .filter(collection_items::Column::RecordingId.eq(recording_id))
        .exec(w)
        .await?;
    Ok(())
}
