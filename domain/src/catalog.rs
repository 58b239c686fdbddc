//! Reading the catalog: home, search with filters and sort, a recording with its comments,
//! an uploader's profile, a tag. Only published recordings are shown to the public.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
    sea_query::{Expr, ExprTrait, NullOrdering, Query},
};

use crate::{
    Status,
    catalog_query::{CatalogQuery, PAGE_SIZE, Sort},
    entities::{comments, ratings, recording_tags, recordings, tags, users},
    error::ServiceError,
    model::{
        CatalogPage, CommentView, Facets, HomePage, ProfilePage, RecordingCard, RecordingDetail,
        TagPage, TagRef, Viewer,
    },
    recordings::{can_describe, manages, visible},
    search,
};

fn published() -> Select<recordings::Entity> {
    recordings::Entity::find().filter(recordings::Column::Status.eq(Status::Published))
}

/// Turns rows into cards, loading uploaders and tags for all of them in two queries.
pub async fn cards(
    db: &impl ConnectionTrait,
    rows: Vec<recordings::Model>,
) -> Result<Vec<RecordingCard>, ServiceError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    let uploader_ids: Vec<i32> = rows.iter().map(|r| r.uploader_id).collect();
    let uploaders: HashMap<i32, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(uploader_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let mut tags_by_recording: HashMap<i32, Vec<TagRef>> = HashMap::new();
    for (link, tag) in recording_tags::Entity::find()
        .filter(recording_tags::Column::RecordingId.is_in(ids))
        .find_also_related(tags::Entity)
        .order_by_asc(recording_tags::Column::TagId)
        .all(db)
        .await?
    {
        if let Some(tag) = tag {
            tags_by_recording
                .entry(link.recording_id)
                .or_default()
                .push(TagRef {
                    slug: tag.slug,
                    name: tag.name,
                });
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| RecordingCard {
            id: r.id,
            uploader: uploaders.get(&r.uploader_id).cloned().unwrap_or_default(),
            tags: tags_by_recording.remove(&r.id).unwrap_or_default(),
            slug: r.slug,
            title: r.title,
            artist: r.artist,
            location: r.location,
            convention: r.convention,
            order: r.ambi_order,
            layout: r.layout,
            channels: r.channels,
            duration_ms: r.duration_ms,
            downloads: r.download_count,
            rating_avg: r.rating_avg,
            rating_count: r.rating_count,
            is_premium: r.is_premium,
            recorded_on: r.recorded_on,
            published_at: r.published_at,
        })
        .collect())
}

pub async fn home(db: &DatabaseConnection) -> Result<HomePage, ServiceError> {
    let latest = published()
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(8)
        .all(db)
        .await?;
    let popular = published()
        .order_by_desc(recordings::Column::DownloadCount)
        .order_by_desc(recordings::Column::Id)
        .limit(8)
        .all(db)
        .await?;
    Ok(HomePage {
        latest: cards(db, latest).await?,
        popular: cards(db, popular).await?,
        recording_count: published().count(db).await?,
    })
}

fn tagged(slug: &str) -> Expr {
    recordings::Column::Id.in_subquery(
        Query::select()
            .column((recording_tags::Entity, recording_tags::Column::RecordingId))
            .from(recording_tags::Entity)
            .inner_join(
                tags::Entity,
                Expr::col((tags::Entity, tags::Column::Id))
                    .equals((recording_tags::Entity, recording_tags::Column::TagId)),
            )
            .and_where(Expr::col((tags::Entity, tags::Column::Slug)).eq(slug))
            .to_owned(),
    )
}

fn filtered(backend: sea_orm::DbBackend, query: &CatalogQuery) -> Select<recordings::Entity> {
    use recordings::Column as C;
    let mut select = published();
    if let Some(expr) = search::matches(backend, &query.search_terms()) {
        select = select.filter(expr);
    }
    if let Some(c) = query.convention {
        select = select.filter(C::Convention.eq(c.as_str()));
    }
    if let Some(o) = query.order {
        select = select.filter(C::AmbiOrder.eq(i32::from(o)));
    }
    if let Some(m) = &query.microphone {
        select = select.filter(C::Microphone.eq(m.as_str()));
    }
    if let Some(l) = &query.licence {
        select = select.filter(C::Licence.eq(l.as_str()));
    }
    if let Some(t) = &query.tag {
        select = select.filter(tagged(t));
    }
    if let Some(min) = query.min_minutes {
        select = select.filter(C::DurationMs.gte(i64::from(min) * 60_000));
    }
    if let Some(max) = query.max_minutes {
        select = select.filter(C::DurationMs.lte(i64::from(max) * 60_000));
    }
    select
}

fn sorted(select: Select<recordings::Entity>, sort: Sort) -> Select<recordings::Entity> {
    use recordings::Column as C;
    let select = match sort {
        Sort::Newest => select.order_by_desc(C::PublishedAt),
        Sort::MostDownloaded => select.order_by_desc(C::DownloadCount),
        Sort::BestRated => select
            .order_by_desc(C::RatingAvg)
            .order_by_desc(C::RatingCount),
        Sort::Longest => select.order_by_with_nulls(C::DurationMs, Order::Desc, NullOrdering::Last),
    };
    // The id breaks ties, so that pages never overlap or skip.
    select.order_by_desc(C::Id)
}

pub async fn catalog(
    db: &DatabaseConnection,
    query: &CatalogQuery,
) -> Result<CatalogPage, ServiceError> {
    let select = filtered(db.get_database_backend(), query);
    let total = select.clone().count(db).await?;
    let pages = Ord::max(total.div_ceil(PAGE_SIZE), 1);
    let rows = sorted(select, query.sort)
        .limit(PAGE_SIZE)
        .offset((Ord::max(query.page, 1) - 1) * PAGE_SIZE)
        .all(db)
        .await?;
    Ok(CatalogPage {
        query: query.clone(),
        items: cards(db, rows).await?,
        total,
        pages,
        facets: facets(db).await?,
    })
}

/// The values the filter menus offer: what published recordings actually have.
async fn facets(db: &DatabaseConnection) -> Result<Facets, ServiceError> {
    let distinct = |column: recordings::Column| {
        published()
            .select_only()
            .column(column)
            .filter(column.ne(""))
            .distinct()
            .order_by_asc(column)
            .into_tuple::<String>()
            .all(db)
    };
    let microphones = distinct(recordings::Column::Microphone).await?;
    let licences = distinct(recordings::Column::Licence).await?;
    let tags = tags::Entity::find()
        .order_by_asc(tags::Column::Name)
        .limit(60)
        .all(db)
        .await?
        .into_iter()
        .map(|t| TagRef {
            slug: t.slug,
            name: t.name,
        })
        .collect();
    Ok(Facets {
        microphones,
        licences,
        tags,
    })
}

/// A recording page: published ones for everybody; an unpublished one only for its uploader
/// and for editors, who must be able to see what they moderate.
/// Returns the uploader's id with the page, for the page's surrogate keys.
pub async fn recording(
    db: &DatabaseConnection,
    slug: &str,
    viewer: Option<&Viewer>,
) -> Result<(i32, RecordingDetail), ServiceError> {
    let row = visible(db, slug, viewer).await?;
    let comments = comments::Entity::find()
        .filter(comments::Column::RecordingId.eq(row.id))
        .order_by_asc(comments::Column::CreatedAt)
        .order_by_asc(comments::Column::Id)
        .find_also_related(users::Entity)
        .all(db)
        .await?
        .into_iter()
        .map(|(c, author)| CommentView {
            id: c.id,
            author: author.map(|a| a.username).unwrap_or_default(),
            title: c.title,
            body: c.body,
            created_at: c.created_at,
        })
        .collect();
    let my_rating = match viewer {
        Some(v) => ratings::Entity::find_by_id((row.id, v.user_id))
            .one(db)
            .await?
            .and_then(|r| u8::try_from(r.stars).ok()),
        None => None,
    };
    let uploader_id = row.uploader_id;
    let detail = RecordingDetail {
        composer: row.composer.clone(),
        description: row.description.clone(),
        latitude: row.latitude,
        longitude: row.longitude,
        microphone: row.microphone.clone(),
        recorder: row.recorder.clone(),
        processing_notes: row.processing_notes.clone(),
        licence: row.licence.clone(),
        sample_rate: row.sample_rate,
        bit_depth: row.bit_depth,
        is_float: row.is_float,
        size_bytes: row.size_bytes,
        sha256: row.sha256.clone(),
        has_media: row.media_key.is_some(),
        status: row.status,
        moderation_note: row.moderation_note.clone(),
        can_manage: manages(&row, viewer),
        can_describe: can_describe(&row, viewer),
        has_preview: row.preview_key.is_some(),
        has_direction_picture: row.doa_key.is_some(),
        processing: row.processing,
        processing_error: row.processing_error.clone(),
        plays: row.play_count,
        comments,
        my_rating,
        card: cards(db, vec![row]).await?.remove(0),
    };
    Ok((uploader_id, detail))
}

pub async fn profile(
    db: &DatabaseConnection,
    username: &str,
) -> Result<(i32, ProfilePage), ServiceError> {
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username.to_lowercase()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let rows = published()
        .filter(recordings::Column::UploaderId.eq(user.id))
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(48)
        .all(db)
        .await?;
    Ok((
        user.id,
        ProfilePage {
            role: user.role,
            username: user.username,
            bio: user.bio,
            joined: user.created_at,
            recordings: cards(db, rows).await?,
        },
    ))
}

pub async fn tag(db: &DatabaseConnection, slug: &str) -> Result<TagPage, ServiceError> {
    let tag = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let rows = published()
        .filter(tagged(&tag.slug))
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(48)
        .all(db)
        .await?;
    Ok(TagPage {
        tag: TagRef {
            slug: tag.slug,
            name: tag.name,
        },
        recordings: cards(db, rows).await?,
    })
}
