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
        CatalogPage, CommentView, Count, Facets, HomePage, MapPoint, ProfilePage, RecordingCard,
        RecordingDetail, TagPage, TagRef, Viewer,
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

/// The rows `select` finds, read in two steps: their ids, in the select's order and limit —
/// which the sort's index answers alone, walked as far as the page needs — then those rows
/// by primary key. Asked for whole rows at once, with the limit a bound parameter, SQLite's
/// planner (3.51) would rather sort every published recording than walk an index that does
/// not cover them all (2.4 s for the best-rated page at a million, against 0.5 ms).
async fn rows_by_ids(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let ids: Vec<i32> = select
        .select_only()
        .column(recordings::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    rows_in_order(db, &ids).await
}

/// The rows with these ids, in this order.
async fn rows_in_order(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> Result<Vec<recordings::Model>, ServiceError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut by_id: HashMap<i32, recordings::Model> = recordings::Entity::find()
        .filter(recordings::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

pub use crate::cards::cards;

/// The `limit` most recently published recordings.
pub(crate) async fn latest_rows(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    rows_by_ids(
        db,
        published()
            .order_by_desc(recordings::Column::PublishedAt)
            .order_by_desc(recordings::Column::Id)
            .limit(limit),
    )
    .await
}

pub async fn home(db: &DatabaseConnection) -> Result<HomePage, ServiceError> {
    let latest = latest_rows(db, 8).await?;
    let popular = rows_by_ids(
        db,
        published()
            .order_by_desc(recordings::Column::DownloadCount)
            .order_by_desc(recordings::Column::Id)
            .limit(8),
    )
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
/// ways cost the same where count² ≈ page × published × (a row's probe ÷ a listed row's
/// cost): at a million recordings near 1 % on both backends (measured: a probe 0.3 µs on
/// SQLite, 1.5 µs on PostgreSQL; a listed row about five times that).
const TAG_PER_ROW_SHARE: u64 = 100;

/// A query's tag, resolved once: which tag, and how it is read — or that there is none such
/// (nothing matches).
#[derive(Debug, Clone, Copy, PartialEq)]
enum TagFilter {
    Tag {
        id: i32,
        probe: TagProbe,
    },
    /// The tag alone, newest first: the `window` newest of its recordings after `from`
    /// (`true`: after the cursor, going on; `false`: before it, going back), read from the
    /// tag's own date order (`recording_tags.published_at`) — however common the tag, a walk
    /// of no more rows than the page needs.
    Dated {
        id: i32,
        window: u64,
        from: Option<(Cursor, bool)>,
    },
    NoSuchTag,
}

impl TagFilter {
    /// Read row by row whatever its size: where another index drives the walk (the search
    /// index's), a tag is checked per match.
    fn per_row(self) -> Self {
        match self {
            Self::Tag { id, .. } | Self::Dated { id, .. } => Self::Tag {
                id,
                probe: TagProbe::PerRow,
            },
            Self::NoSuchTag => Self::NoSuchTag,
        }
    }

    /// Read in the tag's date order, `window` rows from `from` (see [`TagFilter::Dated`]).
    fn dated(self, window: u64, from: Option<(Cursor, bool)>) -> Self {
        match self {
            Self::Tag { id, .. } | Self::Dated { id, .. } => Self::Dated { id, window, from },
            Self::NoSuchTag => Self::NoSuchTag,
        }
    }
}

/// The tag named `slug`, and how it is best read (see [`TagProbe`]): the tag and the two
/// counts that decide are read at once, each on a connection of its own.
async fn tag_filter(db: &impl ConnectionTrait, slug: &str) -> Result<TagFilter, ServiceError> {
    let (tag, tagged, published) = tokio::try_join!(
        async {
            Ok::<_, ServiceError>(
                tags::Entity::find()
                    .filter(tags::Column::Slug.eq(slug))
                    .one(db)
                    .await?,
            )
        },
        facets::count_of(db, Kind::Tag, slug),
        facets::published(db)
    )?;
    let Some(tag) = tag else {
        return Ok(TagFilter::NoSuchTag);
    };
    let probe = if tagged.saturating_mul(TAG_PER_ROW_SHARE) > published {
        TagProbe::PerRow
    } else {
        TagProbe::List
    };
    Ok(TagFilter::Tag { id: tag.id, probe })
}

/// The condition a tag puts on `recordings`.
fn tagged(filter: TagFilter) -> Expr {
    use recording_tags::Column as RT;
    let (id, probe) = match filter {
        TagFilter::Tag { id, probe } => (id, probe),
        TagFilter::Dated { id, window, from } => {
            let col = |c: RT| Expr::col((recording_tags::Entity, c));
            let mut inner = Query::select()
                .column((recording_tags::Entity, RT::RecordingId))
                .from(recording_tags::Entity)
                .and_where(col(RT::TagId).eq(id))
                .and_where(col(RT::PublishedAt).is_not_null())
                .to_owned();
            let mut order = Order::Desc;
            if let Some((
                Cursor {
                    key: Key::Published(t),
                    id: last,
                },
                after,
            )) = from
            {
                let (l, r) = (
                    Expr::tuple([col(RT::PublishedAt), col(RT::RecordingId)]),
                    Expr::tuple([
                        Expr::val(chrono::DateTime::from_timestamp_nanos(t)),
                        Expr::val(last),
                    ]),
                );
                inner.and_where(if after { l.lt(r) } else { l.gt(r) });
                if !after {
                    order = Order::Asc;
                }
            }
            inner
                .order_by((recording_tags::Entity, RT::PublishedAt), order.clone())
                .order_by((recording_tags::Entity, RT::RecordingId), order)
                .limit(window);
            return recordings::Column::Id.in_subquery(inner);
        }
        TagFilter::NoSuchTag => return Expr::cust("1 = 0"),
    };
    let of_tag = Expr::col((recording_tags::Entity, recording_tags::Column::TagId)).eq(id);
    match probe {
        TagProbe::List => recordings::Column::Id.in_subquery(
            Query::select()
                .column((recording_tags::Entity, recording_tags::Column::RecordingId))
                .from(recording_tags::Entity)
                .and_where(of_tag)
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
                .and_where(of_tag)
                .to_owned(),
        ),
    }
}

/// The recordings a query's filters (everything but its words) allow, in no order yet. Its
/// words are the search's to find (`search::first_ids`, `search::count`).
fn filtered(query: &CatalogQuery, tag: Option<TagFilter>) -> Select<recordings::Entity> {
    use recordings::Column as C;
    let mut select = published();
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
    if let Some(t) = tag {
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
    // The menus are the same for every query: read on a connection of their own meanwhile.
    let (mut page, menus) = tokio::try_join!(listing(db, query), facets::menus(db))?;
    page.facets = menus;
    Ok(page)
}

/// [`catalog`] without its menus: what the API's search answers.
pub async fn listing(
    db: &DatabaseConnection,
    query: &CatalogQuery,
) -> Result<CatalogPage, ServiceError> {
    let tag = tag_of(db, query).await?;
    let select = filtered(query, tag);
    let terms = query.search_terms();
    let sort = query.sort;
    let page_of = |rows: Vec<recordings::Model>| -> (Vec<recordings::Model>, bool) {
        let more = rows.len() as u64 > PAGE_SIZE;
        (rows.into_iter().take(PAGE_SIZE as usize).collect(), more)
    };
    // A tag alone, newest first, is read in the tag's own date order (`TagFilter::Dated`):
    // a window just as wide as the page asked for.
    let tag_alone = terms.is_empty()
        && sort == Sort::Newest
        && query.convention.is_none()
        && query.order.is_none()
        && query.microphone.is_none()
        && query.licence.is_none()
        && query.min_minutes.is_none()
        && query.max_minutes.is_none();
    let select_for = |window: u64, from: Option<(Cursor, bool)>| match tag {
        Some(t) if tag_alone => filtered(query, Some(t.dated(window, from))),
        _ => select.clone(),
    };
    let by_number = |page: u64| {
        let page = Ord::max(page, 1);
        sorted(select_for(page * PAGE_SIZE + 1, None), sort, false)
            .limit(PAGE_SIZE + 1)
            .offset((page - 1).saturating_mul(PAGE_SIZE))
    };
    // The rows of the page and its links; a ranked search's walk also gives the count's
    // sample.
    let page = async {
        // What a ranked search's walk saw of the newest rows: the count's sample.
        let mut sample = None;
        let (rows, prev, next) = if !terms.is_empty() {
            // A search has no keys to walk on by: it ends with its numbered pages.
            let page = Ord::max(query.page, 1);
            let skip = (page - 1).saturating_mul(PAGE_SIZE);
            let among = filtered(query, tag.map(TagFilter::per_row));
            let found = if sort == Sort::Relevance {
                let (rows, sampled) = ranked(db, among, &terms, skip, PAGE_SIZE + 1).await?;
                sample = sampled;
                rows
            } else {
                sorted_candidates(db, query, among, skip, PAGE_SIZE + 1).await?
            };
            let (rows, more) = page_of(found);
            let prev = (page > 1).then(|| query.with_page(page - 1));
            let next = (more && page < NUMBERED_PAGES).then(|| query.with_page(page + 1));
            (rows, prev, next)
        } else if let Some(c) = &query.after {
            let (rows, more) = page_of(
                rows_by_ids(
                    db,
                    sorted(
                        select_for(PAGE_SIZE + 1, Some((*c, true))).filter(beyond(c, true)),
                        sort,
                        false,
                    )
                    .limit(PAGE_SIZE + 1),
                )
                .await?,
            );
            let prev = rows.first().map(|r| query.with_before(cursor(sort, r)));
            let next = more
                .then(|| rows.last().map(|r| query.with_after(cursor(sort, r))))
                .flatten();
            (rows, prev, next)
        } else if let Some(c) = &query.before {
            let (mut rows, more_before) = page_of(
                rows_by_ids(
                    db,
                    sorted(
                        select_for(PAGE_SIZE + 1, Some((*c, false))).filter(beyond(c, false)),
                        sort,
                        true,
                    )
                    .limit(PAGE_SIZE + 1),
                )
                .await?,
            );
            rows.reverse();
            if more_before {
                let prev = rows.first().map(|r| query.with_before(cursor(sort, r)));
                let next = rows.last().map(|r| query.with_after(cursor(sort, r)));
                (rows, prev, next)
            } else {
                // Walked back to the start: that is the first page.
                let (rows, more) = page_of(rows_by_ids(db, by_number(1)).await?);
                let next = more.then(|| next_after(query, sort, 1, &rows)).flatten();
                (rows, None, next)
            }
        } else {
            let page = Ord::max(query.page, 1);
            let (rows, more) = page_of(rows_by_ids(db, by_number(page)).await?);
            let prev = (page > 1).then(|| query.with_page(page - 1));
            let next = more.then(|| next_after(query, sort, page, &rows)).flatten();
            (rows, prev, next)
        };
        Ok::<_, ServiceError>((rows, prev, next, sample))
    };
    // The count waits for a ranked search's walk (its sample); any other is counted while
    // the page's rows and cards are read.
    let ranked_search = !terms.is_empty() && sort == Sort::Relevance;
    let (total, items, prev, next) = if ranked_search {
        let (rows, prev, next, sample) = page.await?;
        let (total, items) =
            tokio::try_join!(count(db, query, tag, select, sample), cards(db, rows))?;
        (total, items, prev, next)
    } else {
        let ((items, prev, next), total) = tokio::try_join!(
            async {
                let (rows, prev, next, _) = page.await?;
                Ok::<_, ServiceError>((cards(db, rows).await?, prev, next))
            },
            count(db, query, tag, select.clone(), None)
        )?;
        (total, items, prev, next)
    };
    let numbered_pages = match total {
        Count::Exact(n) => n.div_ceil(PAGE_SIZE).clamp(1, NUMBERED_PAGES),
        Count::AtLeast(_) => NUMBERED_PAGES,
    };
    Ok(CatalogPage {
        query: query.clone(),
        items,
        total,
        numbered_pages,
        prev: prev.map(|q| q.href()),
        next: next.map(|q| q.href()),
        facets: Facets::default(),
    })
}

/// A query's tag, resolved (see [`tag_filter`]). Whatever the sort: the page's ids are read
/// on their own (`rows_by_ids`), so the planner walks the sort's covering index and probes
/// each recording's tags, never sorting every recording.
async fn tag_of(
    db: &DatabaseConnection,
    query: &CatalogQuery,
) -> Result<Option<TagFilter>, ServiceError> {
    match &query.tag {
        Some(t) => Ok(Some(tag_filter(db, t).await?)),
        None => Ok(None),
    }
}

/// How many of a search's matches are sorted when it is sorted by something other than its
/// relevance: as many as its numbered pages show.
const CANDIDATES: u64 = NUMBERED_PAGES * PAGE_SIZE;

/// A search sorted by something other than its relevance (newest, rating, downloads,
/// length): its candidates are its [`CANDIDATES`] most recently uploaded matches that pass
/// the other filters, found in the search index's order (`search::first_ids`), and only
/// they are sorted — so a page costs the same however common the word (no index serves a
/// word and another order at once). `skip` and `limit` page through the sorted candidates.
async fn sorted_candidates(
    db: &DatabaseConnection,
    query: &CatalogQuery,
    among: Select<recordings::Entity>,
    skip: u64,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let terms = query.search_terms();
    let candidates = search::among_first(db, among, &terms, CANDIDATES).await?;
    let page = sorted(
        recordings::Entity::find().filter(candidates),
        query.sort,
        false,
    )
    .offset(skip)
    .limit(limit);
    rows_by_ids(db, page).await
}

/// The first `limit` recordings a search finds, in its order (what a feed of it holds).
pub(crate) async fn search_rows(
    db: &DatabaseConnection,
    query: &CatalogQuery,
    limit: u64,
) -> Result<Vec<recordings::Model>, ServiceError> {
    let tag = tag_of(db, query).await?;
    let terms = query.search_terms();
    if terms.is_empty() {
        let select = filtered(query, tag);
        return rows_by_ids(db, sorted(select, query.sort, false).limit(limit)).await;
    }
    let among = filtered(query, tag.map(TagFilter::per_row));
    if query.sort == Sort::Relevance {
        Ok(ranked(db, among, &terms, 0, limit).await?.0)
    } else {
        sorted_candidates(db, query, among, 0, limit).await
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
/// one or two menu choices, else counted — but only up to [`COUNT_BOUND`]. A search's count
/// judges by `sample` when its walk took one.
async fn count(
    db: &DatabaseConnection,
    query: &CatalogQuery,
    tag: Option<TagFilter>,
    select: Select<recordings::Entity>,
    sample: Option<search::Sample>,
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
    if text {
        // The filters checked on the words' matches (see `search::count`).
        let among = filtered(query, tag.map(TagFilter::per_row));
        let only_words = !ranges && chosen.is_empty();
        let terms = query.search_terms();
        return search::count(db, among, &terms, only_words, COUNT_BOUND, sample).await;
    }
    let stmt = count_statement(backend, select, COUNT_BOUND + 1);
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

/// `limit` rows of a ranked search from `offset` on: the title tier, then the rest — from
/// one walk through both tiers when the search finds it cheapest (`search::ranked_ids`),
/// else tier by tier: a tier shorter than the rows still to skip is counted (no further
/// than that) and skipped whole. With the count's sample when the walk took one.
async fn ranked(
    db: &DatabaseConnection,
    select: Select<recordings::Entity>,
    terms: &[String],
    offset: u64,
    limit: u64,
) -> Result<(Vec<recordings::Model>, Option<search::Sample>), ServiceError> {
    let (walked, sample) = search::ranked_ids(db, select.clone(), terms, offset, limit).await?;
    if let Some(ids) = walked {
        return Ok((rows_in_order(db, &ids).await?, sample));
    }
    let mut ids = Vec::new();
    let mut skip = offset;
    for tier in search::Tier::ALL {
        let want = limit - ids.len() as u64;
        if want == 0 {
            break;
        }
        let tier = Some(tier);
        let found = search::first_ids(db, select.clone(), terms, tier, skip, want).await?;
        skip = if found.is_empty() && skip > 0 {
            // A tier shorter than the rows still to skip: skipped whole.
            let shorter = search::first_ids(db, select.clone(), terms, tier, 0, skip).await?;
            skip - shorter.len() as u64
        } else {
            0
        };
        ids.extend(found);
    }
    Ok((rows_in_order(db, &ids).await?, sample))
}

/// The most recordings a map shows (the newest of those that match).
pub const MAP_POINTS: u64 = 5_000;

/// The published recordings with a place that match `query`'s filters and search, newest
/// first (a search: its best matches), at most [`MAP_POINTS`]; whether more matched.
pub async fn located(
    db: &DatabaseConnection,
    query: &CatalogQuery,
) -> Result<(Vec<MapPoint>, bool), ServiceError> {
    use recordings::Column as C;
    let rows = if query.search_terms().is_empty() {
        let tag = tag_of(db, query).await?;
        filtered(query, tag.map(TagFilter::per_row))
            .filter(C::Latitude.is_not_null())
            .filter(C::Longitude.is_not_null())
            .order_by_desc(C::PublishedAt)
            .order_by_desc(C::Id)
            .limit(MAP_POINTS + 1)
            .all(db)
            .await?
    } else {
        let mut rows = search_rows(db, query, CANDIDATES).await?;
        rows.retain(|r| r.latitude.is_some() && r.longitude.is_some());
        rows
    };
    let capped = rows.len() as u64 > MAP_POINTS;
    let rows: Vec<recordings::Model> = rows.into_iter().take(MAP_POINTS as usize).collect();
    let places: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r.latitude.unwrap_or_default(),
                r.longitude.unwrap_or_default(),
            )
        })
        .collect();
    let points = cards(db, rows)
        .await?
        .into_iter()
        .zip(places)
        .map(|(card, (latitude, longitude))| MapPoint {
            card,
            latitude,
            longitude,
        })
        .collect();
    Ok((points, capped))
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
        // The order its higher-order preview was made at (`media::first_order::Field`'s
        // rule: 16 channels or more, third; 9 to 15, second).
        spatial_order: match (&row.hoa_key, row.channels) {
            (Some(_), Some(16..)) => 3,
            (Some(_), Some(9..)) => 2,
            _ => 1,
        },
        processing: row.processing,
        processing_error: row.processing_error.clone(),
        plays: row.play_count,
        comments,
        my_rating,
        has_podcast: row.podcast_key.is_some(),
        torrent: crate::distribution::offers_torrent(&row)
            .then(|| {
                Some(crate::model::TorrentOffer {
                    info_hash: row.torrent_info_hash.clone()?,
                    name: crate::distribution::original_name(&row)?,
                    size: u64::try_from(row.size_bytes?).ok()?,
                })
            })
            .flatten(),
        magnet: None,
        site_url: String::new(),
        collections: crate::collections::of_recording(db, row.id, viewer).await?,
        tiles: Default::default(),
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
    uploader_rows_after(db, username, None, limit).await
}

/// [`uploader_rows`] after `after` in the newest-first order.
async fn uploader_rows_after(
    db: &DatabaseConnection,
    username: &str,
    after: Option<&Cursor>,
    limit: u64,
) -> Result<(users::Model, Vec<recordings::Model>), ServiceError> {
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username.to_lowercase()))
        .one(db)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let mut select = published().filter(recordings::Column::UploaderId.eq(user.id));
    if let Some(c) = after {
        select = select.filter(beyond(c, true));
    }
    let rows = rows_by_ids(
        db,
        select
            .order_by_desc(recordings::Column::PublishedAt)
            .order_by_desc(recordings::Column::Id)
            .limit(limit),
    )
    .await?;
    Ok((user, rows))
}

/// One page of an uploader's published recordings, newest first, after `after` (a
/// [`Sort::Newest`] cursor): the uploader's id, the cards, and the cursor of the next page
/// when there is one.
pub async fn uploads(
    db: &DatabaseConnection,
    username: &str,
    after: Option<&Cursor>,
) -> Result<(i32, Vec<RecordingCard>, Option<Cursor>), ServiceError> {
    let (user, mut rows) = uploader_rows_after(db, username, after, PAGE_SIZE + 1).await?;
    let more = rows.len() as u64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let next = more
        .then(|| rows.last().map(|r| cursor(Sort::Newest, r)))
        .flatten();
    Ok((user.id, cards(db, rows).await?, next))
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
            collections: crate::collections::public_of(db, user.id).await?,
            followers: crate::follows::followers(db, user.id).await?,
            viewer_follows: None,
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
    let dated = TagFilter::Dated {
        id: tag.id,
        window: limit,
        from: None,
    };
    let rows = rows_by_ids(
        db,
        published()
            .filter(tagged(dated))
            .order_by_desc(recordings::Column::PublishedAt)
            .order_by_desc(recordings::Column::Id)
            .limit(limit),
    )
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
        viewer_follows: None,
    })
}
