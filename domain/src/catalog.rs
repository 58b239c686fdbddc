//! Reading the catalog: home, search with filters and sort, a recording with its comments,
//! an uploader's profile, a tag. Only published recordings are shown to the public.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Statement,
    sea_query::{Alias, Condition, Expr, ExprTrait, NullOrdering, Query},
};

use crate::{
    catalog_query::{CatalogQuery, Cursor, Key, PAGE_SIZE, Sort},
    entities::{comments, ratings, recording_tags, recordings, tags, users},
    error::ServiceError,
    facets::{self, Kind},
    model::{
        CatalogPage, CommentView, Count, HomePage, ProfilePage, RecordingCard, RecordingDetail,
        TagPage, TagRef, Viewer,
    },
    recordings::{can_describe, manages, visible},
    search,
};

/// A search is counted exactly up to this many matches, and shown as "1,000+" beyond:
/// more than the pager's pages hold (`NUMBERED_PAGES` × `PAGE_SIZE`). Counting costs a
/// row each: up to 10,000 through a join took 17–26 ms at a million recordings on
/// SQLite, past the catalog's 10 ms; up to 1,000, 1–7 ms.
pub const COUNT_BOUND: u64 = 1_000;
pub use crate::catalog_query::NUMBERED_PAGES;

/// Published recordings. The condition is written as the literal the partial indexes are
/// declared with: SQLite plans a statement before it sees a bound value, and uses a partial
/// index only when the query itself says what the index's `WHERE` says.
fn published() -> Select<recordings::Entity> {
    recordings::Entity::find().filter(Expr::cust("recordings.status = 'published'"))
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

/// The `limit` most recently published recordings.
pub(crate) async fn latest_rows(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    Ok(published()
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

pub async fn home(db: &DatabaseConnection) -> Result<HomePage, ServiceError> {
    let latest = latest_rows(db, 8).await?;
    let popular = published()
        .order_by_desc(recordings::Column::DownloadCount)
        .order_by_desc(recordings::Column::Id)
        .limit(8)
        .all(db)
        .await?;
    Ok(HomePage {
        latest: cards(db, latest).await?,
        popular: cards(db, popular).await?,
        recording_count: facets::published(db).await?,
    })
}

/// How a tag narrows a selection. A rare tag's recordings are read as a list (cheap: few
/// rows) that the sort's index is then checked against; a common tag's list would be long
/// (`birds` is on 337,595 of a million: 100 ms to build), so instead each recording met in
/// the sort's index is looked up in `recording_tags`' primary key, which finds a page after
/// a few dozen rows (0.05 ms). The facet count says which a tag is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagProbe {
    List,
    PerRow,
}

/// A tag on more than one published recording in this many is probed row by row. The two
/// ways cost the same where count² ≈ page × published × (2 µs ÷ 0.3 µs): at a million
/// recordings near 13,000 (1.3 %); one in fifty errs towards the list, the way that
/// cannot walk far.
const TAG_PER_ROW_SHARE: u64 = 50;

/// Only on SQLite: PostgreSQL plans the list as a semi-join and was slower with the probe
/// (two filters: 311 ms at 100k).
async fn tag_probe(db: &impl ConnectionTrait, slug: &str) -> Result<TagProbe, ServiceError> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(TagProbe::List);
    }
    let tagged = facets::count_of(db, Kind::Tag, slug).await?;
    let published = facets::published(db).await?;
    Ok(if tagged.saturating_mul(TAG_PER_ROW_SHARE) > published {
        TagProbe::PerRow
    } else {
        TagProbe::List
    })
}

fn tagged(slug: &str, probe: TagProbe) -> Expr {
    let tag_id = Query::select()
        .column(tags::Column::Id)
        .from(tags::Entity)
        .and_where(Expr::col((tags::Entity, tags::Column::Slug)).eq(slug))
        .to_owned();
    match probe {
        TagProbe::List => recordings::Column::Id.in_subquery(
            Query::select()
                .column((recording_tags::Entity, recording_tags::Column::RecordingId))
                .from(recording_tags::Entity)
                .and_where(
                    Expr::col((recording_tags::Entity, recording_tags::Column::TagId))
                        .in_subquery(tag_id),
                )
                .to_owned(),
        ),
        TagProbe::PerRow => Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(recording_tags::Entity)
                .and_where(
                    Expr::col((recording_tags::Entity, recording_tags::Column::RecordingId))
                        .equals((recordings::Entity, recordings::Column::Id)),
                )
                .and_where(
                    Expr::col((recording_tags::Entity, recording_tags::Column::TagId))
                        .in_subquery(tag_id),
                )
                .to_owned(),
        ),
    }
}

/// Whether a query's words narrow a selection as a condition, or are left to the tiers of
/// a ranked search ([`search::tier`]), which narrow and order it at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Words {
    Condition,
    Tiers,
}

/// The recordings a query asks for, in no order yet.
fn filtered(
    backend: DbBackend,
    query: &CatalogQuery,
    words: Words,
    probe: TagProbe,
) -> Select<recordings::Entity> {
    use recordings::Column as C;
    let mut select = published();
    if words == Words::Condition
        && let Some(expr) = search::matches(backend, &query.search_terms())
    {
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
        select = select.filter(tagged(t, probe));
    }
    if let Some(min) = query.min_minutes {
        select = select.filter(C::DurationMs.gte(i64::from(min) * 60_000));
    }
    if let Some(max) = query.max_minutes {
        select = select.filter(C::DurationMs.lte(i64::from(max) * 60_000));
    }
    select
}

/// Orders by `sort` (newest first and so on), or its exact reverse when walking back from
/// a `before` cursor. The id breaks ties, so that pages never overlap or skip.
fn sorted(
    select: Select<recordings::Entity>,
    sort: Sort,
    reverse: bool,
) -> Select<recordings::Entity> {
    use recordings::Column as C;
    let (dir, nulls) = if reverse {
        (Order::Asc, NullOrdering::First)
    } else {
        (Order::Desc, NullOrdering::Last)
    };
    let select = match sort {
        // Ranked searches are ordered by their rank already (`search::ranked`).
        Sort::Relevance => select,
        Sort::Newest => select.order_by(C::PublishedAt, dir.clone()),
        Sort::MostDownloaded => select.order_by(C::DownloadCount, dir.clone()),
        Sort::BestRated => select
            .order_by(C::RatingAvg, dir.clone())
            .order_by(C::RatingCount, dir.clone()),
        Sort::Longest => select.order_by_with_nulls(C::DurationMs, dir.clone(), nulls),
    };
    select.order_by(C::Id, dir)
}

/// Where `row` stands in `sort`.
fn cursor(sort: Sort, row: &recordings::Model) -> Cursor {
    let key = match sort {
        Sort::MostDownloaded => Key::Downloads(row.download_count),
        Sort::BestRated => Key::Rating(row.rating_avg, row.rating_count),
        Sort::Longest => Key::Duration(row.duration_ms),
        Sort::Newest | Sort::Relevance => Key::Published(
            row.published_at
                .and_then(|t| t.timestamp_nanos_opt())
                .unwrap_or(0),
        ),
    };
    Cursor { key, id: row.id }
}

/// The rows past `cursor` in `sort` (`after`: later in the order; else earlier), as one
/// range of the sort's index.
fn beyond(cursor: &Cursor, after: bool) -> Condition {
    use recordings::Column as C;
    let id = cursor.id;
    let cmp = |cols: Vec<Expr>, vals: Vec<Expr>| {
        let (l, r) = (Expr::tuple(cols), Expr::tuple(vals));
        if after { l.lt(r) } else { l.gt(r) }
    };
    let col = |c: C| Expr::col((recordings::Entity, c));
    let e = match cursor.key {
        Key::Published(t) => {
            let at = chrono::DateTime::from_timestamp_nanos(t);
            cmp(
                vec![col(C::PublishedAt), col(C::Id)],
                vec![Expr::val(at), Expr::val(id)],
            )
        }
        Key::Downloads(n) => cmp(
            vec![col(C::DownloadCount), col(C::Id)],
            vec![Expr::val(n), Expr::val(id)],
        ),
        Key::Rating(avg, n) => cmp(
            vec![col(C::RatingAvg), col(C::RatingCount), col(C::Id)],
            vec![Expr::val(avg), Expr::val(n), Expr::val(id)],
        ),
        // Recordings without a duration come after all the others.
        Key::Duration(Some(d)) => {
            let within = cmp(
                vec![col(C::DurationMs), col(C::Id)],
                vec![Expr::val(d), Expr::val(id)],
            );
            return if after {
                Condition::any().add(within).add(C::DurationMs.is_null())
            } else {
                Condition::all()
                    .add(within)
                    .add(C::DurationMs.is_not_null())
            };
        }
        Key::Duration(None) => {
            return if after {
                Condition::all()
                    .add(C::DurationMs.is_null())
                    .add(C::Id.lt(id))
            } else {
                Condition::any().add(C::DurationMs.is_not_null()).add(
                    Condition::all()
                        .add(C::DurationMs.is_null())
                        .add(C::Id.gt(id)),
                )
            };
        }
    };
    Condition::all().add(e)
}

#[tracing::instrument(skip_all)]
pub async fn catalog(
    db: &DatabaseConnection,
    query: &CatalogQuery,
) -> Result<CatalogPage, ServiceError> {
    let backend = db.get_database_backend();
    let probe = probe_for(db, query).await?;
    let select = filtered(backend, query, Words::Condition, probe);
    let total = count(db, query, select.clone()).await?;
    let terms = query.search_terms();
    let numbered_pages = match total {
        Count::Exact(n) => n.div_ceil(PAGE_SIZE).clamp(1, NUMBERED_PAGES),
        Count::AtLeast(_) => NUMBERED_PAGES,
    };
    let sort = query.sort;
    let page_of = |rows: Vec<recordings::Model>| -> (Vec<recordings::Model>, bool) {
        let more = rows.len() as u64 > PAGE_SIZE;
        (rows.into_iter().take(PAGE_SIZE as usize).collect(), more)
    };
    let by_number = |page: u64| {
        sorted(select.clone(), sort, false)
            .limit(PAGE_SIZE + 1)
            .offset((Ord::max(page, 1) - 1).saturating_mul(PAGE_SIZE))
    };
    let (rows, prev, next) = if sort == Sort::Relevance && !terms.is_empty() {
        let page = Ord::max(query.page, 1);
        let (rows, more) = page_of(
            ranked(
                db,
                filtered(backend, query, Words::Tiers, probe),
                &terms,
                (page - 1).saturating_mul(PAGE_SIZE),
                PAGE_SIZE + 1,
            )
            .await?,
        );
        let prev = (page > 1).then(|| query.with_page(page - 1));
        // A ranked search has no keys to walk on by: it ends with its numbered pages.
        let next = (more && page < NUMBERED_PAGES).then(|| query.with_page(page + 1));
        (rows, prev, next)
    } else if let (Some(c), false) = (&query.after, sort == Sort::Relevance) {
        let (rows, more) = page_of(
            sorted(select.clone().filter(beyond(c, true)), sort, false)
                .limit(PAGE_SIZE + 1)
                .all(db)
                .await?,
        );
        let prev = rows.first().map(|r| query.with_before(cursor(sort, r)));
        let next = more
            .then(|| rows.last().map(|r| query.with_after(cursor(sort, r))))
            .flatten();
        (rows, prev, next)
    } else if let (Some(c), false) = (&query.before, sort == Sort::Relevance) {
        let (mut rows, more_before) = page_of(
            sorted(select.clone().filter(beyond(c, false)), sort, true)
                .limit(PAGE_SIZE + 1)
                .all(db)
                .await?,
        );
        rows.reverse();
        if more_before {
            let prev = rows.first().map(|r| query.with_before(cursor(sort, r)));
            let next = rows.last().map(|r| query.with_after(cursor(sort, r)));
            (rows, prev, next)
        } else {
            // Walked back to the start: that is the first page.
            let (rows, more) = page_of(by_number(1).all(db).await?);
            let next = more.then(|| next_after(query, sort, 1, &rows)).flatten();
            (rows, None, next)
        }
    } else {
        let page = Ord::max(query.page, 1);
        let (rows, more) = page_of(by_number(page).all(db).await?);
        let prev = (page > 1).then(|| query.with_page(page - 1));
        let next = more.then(|| next_after(query, sort, page, &rows)).flatten();
        (rows, prev, next)
    };
    Ok(CatalogPage {
        query: query.clone(),
        items: cards(db, rows).await?,
        total,
        numbered_pages,
        prev: prev.map(|q| q.href()),
        next: next.map(|q| q.href()),
        facets: facets::menus(db).await?,
    })
}

/// How a search's tag is read. Probed only under the newest-first sort, whose index SQLite
/// then walks; under the other sorts its planner (without statistics) would walk every
/// recording by another index and sort them (12 s for `tag=birds&sort=rating` at 1M).
async fn probe_for(
    db: &DatabaseConnection,
    query: &CatalogQuery,
) -> Result<TagProbe, ServiceError> {
    Ok(match &query.tag {
        Some(t) if query.sort == Sort::Newest => tag_probe(db, t).await?,
        _ => TagProbe::List,
    })
}

/// The first `limit` recordings a search finds, in its order (what a feed of it holds).
pub(crate) async fn search_rows(
    db: &DatabaseConnection,
    query: &CatalogQuery,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let backend = db.get_database_backend();
    let probe = probe_for(db, query).await?;
    let terms = query.search_terms();
    if query.sort == Sort::Relevance && !terms.is_empty() {
        ranked(
            db,
            filtered(backend, query, Words::Tiers, probe),
            &terms,
            0,
            limit,
        )
        .await
    } else {
        Ok(sorted(
            filtered(backend, query, Words::Condition, probe),
            query.sort,
            false,
        )
        .limit(limit)
        .all(db)
        .await?)
    }
}

/// The link after numbered page `page`: by key — the page after its last recording — so
/// that walking on costs the same however deep (a ranked search has no keys and goes on
/// by number).
fn next_after(
    query: &CatalogQuery,
    sort: Sort,
    page: u64,
    rows: &[recordings::Model],
) -> Option<CatalogQuery> {
    if sort == Sort::Relevance {
        (page < NUMBERED_PAGES).then(|| query.with_page(page + 1))
    } else {
        rows.last().map(|r| query.with_after(cursor(sort, r)))
    }
}

/// How many recordings match: from the facet counts when the query is the whole catalog or
/// one or two menu choices, else counted — but only up to [`COUNT_BOUND`].
async fn count(
    db: &DatabaseConnection,
    query: &CatalogQuery,
    select: Select<recordings::Entity>,
) -> Result<Count, ServiceError> {
    let text = !query.search_terms().is_empty();
    let ranges = query.min_minutes.is_some() || query.max_minutes.is_some();
    let order = query.order.map(|o| o.to_string());
    let single = [
        query.convention.map(|c| (Kind::Convention, c.as_str())),
        order.as_deref().map(|o| (Kind::Order, o)),
        query.microphone.as_deref().map(|m| (Kind::Microphone, m)),
        query.licence.as_deref().map(|l| (Kind::Licence, l)),
        query.tag.as_deref().map(|t| (Kind::Tag, t)),
    ];
    let chosen: Vec<(Kind, &str)> = single.into_iter().flatten().collect();
    if !text && !ranges {
        if chosen.is_empty() {
            return Ok(Count::Exact(facets::published(db).await?));
        }
        // One menu choice or two: counted as the writes went.
        if let Some(n) = facets::count_all(db, &chosen).await? {
            return Ok(Count::Exact(n));
        }
    }
    let backend = db.get_database_backend();
    let words_only = text && !ranges && chosen.is_empty();
    let stmt = words_only
        .then(|| search::index_count(backend, &query.search_terms(), COUNT_BOUND + 1))
        .flatten()
        .unwrap_or_else(|| count_statement(backend, select, COUNT_BOUND + 1));
    let n = scalar_count(db, stmt).await?;
    Ok(if n > COUNT_BOUND {
        Count::AtLeast(COUNT_BOUND)
    } else {
        Count::Exact(n)
    })
}

/// The statement that counts the rows `select` finds, no further than `limit`.
fn count_statement(
    backend: DbBackend,
    select: Select<recordings::Entity>,
    limit: u64,
) -> Statement {
    let mut inner = select
        .select_only()
        .column(recordings::Column::Id)
        .limit(limit)
        .into_query();
    inner.clear_order_by();
    backend.build(
        &Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(inner, Alias::new("matches"))
            .to_owned(),
    )
}

/// Runs a `SELECT COUNT(*)` statement.
async fn scalar_count(db: &DatabaseConnection, stmt: Statement) -> Result<u64, ServiceError> {
    let n: i64 = match db.query_one_raw(stmt).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `limit` rows of a ranked search from `offset` on: the title tier, then the rest. A tier
/// shorter than the rows still to skip is counted (no further than that) and skipped whole.
async fn ranked(
    db: &DatabaseConnection,
    select: Select<recordings::Entity>,
    terms: &[String],
    offset: u64,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let backend = db.get_database_backend();
    let mut rows = Vec::new();
    let mut skip = offset;
    for tier in search::Tier::ALL {
        let want = limit - rows.len() as u64;
        if want == 0 {
            break;
        }
        let tier = search::tier(backend, select.clone(), terms, tier);
        let got = tier.clone().offset(skip).limit(want).all(db).await?;
        skip = if got.is_empty() && skip > 0 {
            skip - scalar_count(db, count_statement(backend, tier, skip)).await?
        } else {
            0
        };
        rows.extend(got);
    }
    Ok(rows)
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
        restorable_until: crate::recordings::life::restorable(&row, chrono::Utc::now())
            .then(|| {
                row.deleted_at
                    .map(|at| at + chrono::Duration::days(crate::Status::RESTORE_DAYS))
            })
            .flatten(),
        moderation_note: row.moderation_note.clone(),
        can_manage: manages(&row, viewer),
        can_describe: can_describe(&row, viewer),
        has_preview: row.preview_key.is_some(),
        has_direction_picture: row.doa_key.is_some(),
        has_spatial_preview: row.spatial_key.is_some(),
        processing: row.processing,
        processing_error: row.processing_error.clone(),
        plays: row.play_count,
        comments,
        my_rating,
        card: cards(db, vec![row]).await?.remove(0),
        tip_currency: None,
    };
    Ok((uploader_id, detail))
}

/// An uploader and their `limit` most recently published recordings.
pub(crate) async fn uploader_rows(
    db: &DatabaseConnection,
    username: &str,
    limit: u64,
) -> Result<(users::Model, Vec<recordings::Model>), ServiceError> {
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username.to_lowercase()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let rows = published()
        .filter(recordings::Column::UploaderId.eq(user.id))
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok((user, rows))
}

pub async fn profile(
    db: &DatabaseConnection,
    username: &str,
) -> Result<(i32, ProfilePage), ServiceError> {
    let (user, rows) = uploader_rows(db, username, 48).await?;
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

/// A tag and its `limit` most recently published recordings.
pub(crate) async fn tag_rows(
    db: &DatabaseConnection,
    slug: &str,
    limit: u64,
) -> Result<(tags::Model, Vec<recordings::Model>), ServiceError> {
    let tag = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let rows = published()
        .filter(tagged(&tag.slug, tag_probe(db, &tag.slug).await?))
        .order_by_desc(recordings::Column::PublishedAt)
        .order_by_desc(recordings::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok((tag, rows))
}

pub async fn tag(db: &DatabaseConnection, slug: &str) -> Result<TagPage, ServiceError> {
    let (tag, rows) = tag_rows(db, slug, 48).await?;
    Ok(TagPage {
        tag: TagRef {
            slug: tag.slug,
            name: tag.name,
        },
        recordings: cards(db, rows).await?,
    })
}
