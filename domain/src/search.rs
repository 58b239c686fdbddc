//! Full-text search behind one interface. SQLite's FTS5 table (columns `title` and
//! `search_text`) and PostgreSQL's weighted `search_vector` (title `A`, the rest `B`) index
//! the same text of the *published* recordings only (the only ones a search may show), and
//! both are asked for every term of two characters or more as a prefix, so a query finds
//! the same recordings on either backend.
//!
//! Ranked, a search shows its matches in two tiers, the same on both backends: every term
//! in the title first, then the rest; newest first within a tier. Each tier is read in the
//! order of an index (FTS5's rowid, PostgreSQL's primary key), so a page costs the same
//! whether a word is in ten recordings or in forty thousand; a score such as `bm25` or
//! `ts_rank` would have to be computed for every match before the first page is known
//! (measured: 140 ms for `forest` at a million recordings on SQLite, against 0.8 ms).

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, Order, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Statement,
    sea_query::{Alias, Expr},
};

use crate::{entities::recordings, error::ServiceError, model::Count};

/// The two tiers of a ranked search, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Every term is in the title.
    Title,
    /// Every term is in the recording's text, not all of them in its title.
    Elsewhere,
}

impl Tier {
    pub const ALL: [Tier; 2] = [Tier::Title, Tier::Elsewhere];
}

/// A term is matched as a word prefix from two characters on; a single letter or digit only
/// as a whole word (as a prefix it would match nearly everything, and no index serves it).
fn star(term: &str) -> &'static str {
    if term.chars().nth(1).is_some() {
        "*"
    } else {
        ""
    }
}

fn fts5_all(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{t}\"{}", star(t)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fts5_title(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("title : \"{t}\"{}", star(t)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn fts5_query(terms: &[String], tier: Option<Tier>) -> String {
    match tier {
        None => fts5_all(terms),
        Some(Tier::Title) => fts5_title(terms),
        Some(Tier::Elsewhere) => format!("({}) NOT ({})", fts5_all(terms), fts5_title(terms)),
    }
}

/// Every term, as a prefix from two characters on (PostgreSQL's `to_tsquery` syntax).
fn tsquery_all(terms: &[String]) -> String {
    ts_terms(terms).join(" & ")
}

/// Any of the terms.
fn tsquery_any(terms: &[String]) -> String {
    ts_terms(terms).join(" | ")
}

fn ts_terms(terms: &[String]) -> Vec<String> {
    terms
        .iter()
        .map(|t| {
            if star(t).is_empty() {
                t.clone()
            } else {
                format!("{t}:*")
            }
        })
        .collect()
}

/// The ids of the first `want` recordings after `skip` that `select` finds among the matches
/// of `terms` — one tier of them, or all — newest id first.
///
/// SQLite: the FTS table drives the join in rowid order, each other condition checked per
/// match. PostgreSQL has no index that serves a word in id order, so it is asked in one of
/// two ways, chosen by what it finds: the primary key is walked newest first a chunk at a
/// time, the words checked on each row — cheap for a common word, found within a few rows —
/// until the walk would cost more than reading the word's list from its GIN index (what a
/// rare word costs little), which is then read and sorted. The planner cannot be left to
/// choose: from its statistics a word absent from the sample looks like 0.5 % of the rows,
/// and it walked a million rows for a word that is in none (1.1 s), or read the list of a
/// word in every row to sort it (1.1 s).
pub async fn first_ids(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
    terms: &[String],
    tier: Option<Tier>,
    skip: u64,
    want: u64,
) -> Result<Vec<i32>, ServiceError> {
    match db.get_database_backend() {
        DbBackend::Sqlite => Ok(fts_walk(select, terms, tier)
            .select_only()
            .column(recordings::Column::Id)
            .offset(skip)
            .limit(want)
            .into_tuple()
            .all(db)
            .await?),
        _ => pg_first_ids(db, select, terms, tier, skip, want).await,
    }
}

/// A condition that holds for the first `n` recordings [`first_ids`] would give. On SQLite
/// a subquery, so that the ids never leave the database (sqlx hands SQLite's rows over one
/// by one: 30 µs each); on PostgreSQL the list.
pub async fn among_first(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
    terms: &[String],
    n: u64,
) -> Result<Expr, ServiceError> {
    Ok(match db.get_database_backend() {
        DbBackend::Sqlite => recordings::Column::Id.in_subquery(
            fts_walk(select, terms, None)
                .select_only()
                .column(recordings::Column::Id)
                .limit(n)
                .into_query(),
        ),
        _ => {
            let ids = pg_first_ids(db, select, terms, None, 0, n).await?;
            recordings::Column::Id.is_in(ids)
        }
    })
}

/// SQLite: `select` narrowed to the matches of `terms` (one tier of them, or all), the FTS
/// table driving the join in rowid order, newest first.
fn fts_walk(
    select: Select<recordings::Entity>,
    terms: &[String],
    tier: Option<Tier>,
) -> Select<recordings::Entity> {
    let mut select = select.filter(Expr::cust_with_values(
        "recordings_fts MATCH ?",
        [fts5_query(terms, tier)],
    ));
    // `recordings_fts CROSS JOIN recordings`: SQLite keeps a CROSS JOIN's left table
    // outermost. Left to itself, the planner bundled with sqlx walks `recordings` and asks
    // FTS5 to match row by row — 22 s at a million recordings, where the FTS-driven walk
    // takes 3 ms.
    QueryTrait::query(&mut select)
        .from_clear()
        .from(Alias::new("recordings_fts"))
        .cross_join(recordings::Entity)
        .and_where(Expr::cust("recordings.id = recordings_fts.rowid"))
        .order_by_expr(Expr::cust("recordings_fts.rowid"), Order::Desc);
    select
}

/// Rows walked in the first chunk of a PostgreSQL walk, per word searched for (each word
/// more makes the matches rarer): about 1 ms a thousand at a million recordings. Later
/// chunks are sized by what the first found ([`next_chunk`]), up to [`WALK_CHUNK_MAX`].
/// Each chunk is planned anew (0.5–0.8 ms) besides its rows, so one chunk that is large
/// enough beats two: measured at 1M, 1,000 rather than 500 took `forest` with the tag
/// `birds` from two chunks to one (12.8 → 10.2 ms a page).
const WALK_CHUNK: u64 = 1_000;
const WALK_CHUNK_MAX: u64 = 8_000;

/// The rows a count samples to tell a common match from a rare one (PostgreSQL: the newest
/// rows the filters find; SQLite: the newest matches of the words), and the hits among them
/// that make it common for sure.
const COUNT_SAMPLE: u64 = 250;
const COUNT_SAMPLE_HITS: u64 = 3;

/// The condition a recording meets when it is among the matches of `terms` (PostgreSQL):
/// the first tier has every word in its title (`title_vector`); the second has every word
/// in its text, some of them in the words that are not its title's (`rest_vector`: what
/// lets its GIN index find the tier), and not every word in its title.
///
/// Each query is read as `(SELECT to_tsquery(…))`, which PostgreSQL computes once per
/// statement (an InitPlan) in any plan. Written `to_tsquery('simple', $1)`, it is folded
/// to a constant only in a plan made for the values; once PostgreSQL reuses a generic plan
/// for a prepared statement — what it chose for a catalog of 1,000 recordings, not for a
/// million — it parsed the query again for every row: the walk of a 1k catalog took 4.5 ms
/// where the same plan with the query parsed once takes 1.4 ms.
fn pg_condition(terms: &[String], tier: Option<Tier>) -> Expr {
    let (all, any) = (tsquery_all(terms), tsquery_any(terms));
    match tier {
        None => Expr::cust_with_values(
            "recordings.search_vector @@ (SELECT to_tsquery('simple', $1))",
            [all],
        ),
        Some(Tier::Title) => Expr::cust_with_values(
            "recordings.title_vector @@ (SELECT to_tsquery('simple', $1))",
            [all],
        ),
        Some(Tier::Elsewhere) => Expr::cust_with_values(
            "(recordings.search_vector @@ (SELECT to_tsquery('simple', $1)) \
              AND recordings.rest_vector @@ (SELECT to_tsquery('simple', $2)) \
              AND NOT recordings.title_vector @@ (SELECT to_tsquery('simple', $3)))",
            [all.clone(), any, all],
        ),
    }
}

/// What a PostgreSQL walk tells of each row it passes: whether it is among the matches
/// (of one tier, or all), or which tier of a ranked search it is in.
#[derive(Debug, Clone, Copy)]
enum Classes {
    Matches(Option<Tier>),
    Tiers,
}

impl Classes {
    /// The row's class as the walk's statement computes it: 0 for no match, else 1 (a
    /// match; the title tier) or 2 (the other tier).
    fn expr(self, terms: &[String]) -> Expr {
        match self {
            Classes::Matches(tier) => Expr::case(pg_condition(terms, tier), 1).finally(0).into(),
            // Every term in the title; else every term in the text. (The text holds the
            // title, so a match of the second kind has a term outside it.)
            Classes::Tiers => Expr::cust_with_values(
                "CASE WHEN recordings.title_vector @@ (SELECT to_tsquery('simple', $1)) THEN 1 \
                 WHEN recordings.search_vector @@ (SELECT to_tsquery('simple', $2)) THEN 2 ELSE 0 END",
                [tsquery_all(terms), tsquery_all(terms)],
            ),
        }
    }
}

/// One chunk of a PostgreSQL walk: the matches among the newest `size` rows `select` finds
/// below `before`, newest first, with their class and their place in the chunk (from 1);
/// how many rows it passed; the last of them. Only the matches leave the database.
struct Chunk {
    hits: Vec<(i32, i32, u64)>,
    walked: u64,
    last: Option<i32>,
}

async fn pg_chunk(
    db: &impl ConnectionTrait,
    select: &Select<recordings::Entity>,
    class: &Expr,
    before: Option<i32>,
    size: u64,
) -> Result<Chunk, ServiceError> {
    let mut step = select.clone();
    if let Some(last) = before {
        step = step.filter(recordings::Column::Id.lt(last));
    }
    let inner = step
        .select_only()
        .column(recordings::Column::Id)
        .column_as(class.clone(), "class")
        .order_by_desc(recordings::Column::Id)
        .limit(size)
        .build(DbBackend::Postgres);
    let stmt = Statement {
        sql: format!(
            "WITH w AS ({}), \
             n AS (SELECT id, class, row_number() OVER (ORDER BY id DESC) AS pos FROM w) \
             SELECT id, class, pos FROM n WHERE class > 0 \
             UNION ALL SELECT min(id), 0, count(*) FROM w",
            inner.sql
        ),
        ..inner
    };
    let mut chunk = Chunk {
        hits: Vec::new(),
        walked: 0,
        last: None,
    };
    for row in db.query_all_raw(stmt).await? {
        let id: Option<i32> = row.try_get_by_index(0)?;
        let class: i32 = row.try_get_by_index(1)?;
        let n: i64 = row.try_get_by_index(2)?;
        let n = u64::try_from(n).unwrap_or(0);
        match (id, class) {
            (Some(id), 1..) => chunk.hits.push((id, class, n)),
            (last, _) => (chunk.last, chunk.walked) = (last, n),
        }
    }
    chunk.hits.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
    Ok(chunk)
}

/// The size of the next chunk of a walk that has found `found` of the `need` matches it
/// wants in `walked` rows: what the density so far says is left, and a half again, within
/// [`WALK_CHUNK`] and [`WALK_CHUNK_MAX`].
fn next_chunk(found: u64, need: u64, walked: u64) -> u64 {
    let density = found.max(1) as f64 / walked.max(1) as f64;
    let left = need.saturating_sub(found) as f64 / density * 1.5;
    (left as u64).clamp(WALK_CHUNK, WALK_CHUNK_MAX)
}

/// The first chunk's size for a search for `terms`.
fn first_chunk_size(terms: &[String]) -> u64 {
    (WALK_CHUNK * terms.len().max(1) as u64).min(WALK_CHUNK_MAX)
}

/// Whether walking on would cost more than reading the matches' list from the GIN index:
/// the walk costs a row per row, the list a row per match, of which the walk so far tells
/// how many there are among the `published` (roughly).
fn list_is_cheaper(found: u64, need: u64, walked: u64, published: u64) -> bool {
    let density = found.max(1) as f64 / walked.max(1) as f64;
    let to_walk = need.saturating_sub(found) as f64 / density;
    to_walk > density * published as f64
}

/// A PostgreSQL walk in progress: what it asks, where it stands, and how many recordings
/// are published (what it and the count judge by).
struct Walk<'a> {
    select: &'a Select<recordings::Entity>,
    class: Expr,
    before: Option<i32>,
    size: u64,
    walked: u64,
    published: u64,
}

impl<'a> Walk<'a> {
    /// The walk's first chunk, with the published count read beside it on a second
    /// connection.
    async fn start(
        db: &impl ConnectionTrait,
        select: &'a Select<recordings::Entity>,
        class: Expr,
        terms: &[String],
    ) -> Result<(Walk<'a>, Chunk), ServiceError> {
        let size = first_chunk_size(terms);
        let (chunk, published) = tokio::try_join!(
            pg_chunk(db, select, &class, None, size),
            crate::facets::published(db)
        )?;
        let walk = Walk {
            select,
            class,
            before: None,
            size,
            walked: 0,
            published,
        };
        Ok((walk, chunk))
    }

    /// Counts `chunk` as walked; whether every row the filters find has now been seen
    /// (short of a whole chunk, or as many rows as are published).
    fn passed(&mut self, chunk: &Chunk) -> bool {
        self.walked += chunk.walked;
        self.before = chunk.last.or(self.before);
        chunk.walked < self.size || self.walked >= self.published
    }

    /// The next chunk for a walk that has found `found` of the `need` matches it wants;
    /// `None` when reading the matches' list would cost less than walking on.
    async fn next(
        &mut self,
        db: &impl ConnectionTrait,
        found: u64,
        need: u64,
    ) -> Result<Option<Chunk>, ServiceError> {
        if list_is_cheaper(found, need, self.walked, self.published) {
            return Ok(None);
        }
        self.size = next_chunk(found, need, self.walked);
        let chunk = pg_chunk(db, self.select, &self.class, self.before, self.size).await?;
        Ok(Some(chunk))
    }
}

/// See [`first_ids`]: the walk, then the list when the walk would cost more.
async fn pg_first_ids(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
    terms: &[String],
    tier: Option<Tier>,
    skip: u64,
    want: u64,
) -> Result<Vec<i32>, ServiceError> {
    let need = skip + want;
    let mut found: Vec<i32> = Vec::new();
    let (mut walk, mut chunk) =
        Walk::start(db, &select, Classes::Matches(tier).expr(terms), terms).await?;
    loop {
        let ended = walk.passed(&chunk);
        found.extend(chunk.hits.iter().map(|(id, _, _)| *id));
        if found.len() as u64 >= need || ended {
            return Ok(found
                .into_iter()
                .skip(skip as usize)
                .take(want as usize)
                .collect());
        }
        match walk.next(db, found.len() as u64, need).await? {
            Some(next) => chunk = next,
            None => break,
        }
    }
    // The list: read from the GIN index and sorted, never in the primary key's order
    // (`id + 0` has no index).
    Ok(select
        .filter(pg_condition(terms, tier))
        .select_only()
        .column(recordings::Column::Id)
        .order_by(Expr::cust("recordings.id + 0"), Order::Desc)
        .offset(skip)
        .limit(want)
        .into_tuple()
        .all(db)
        .await?)
}

/// The newest rows a search's filters find, and how many of them match its words: what
/// [`count`] judges a search's size by. A ranked walk on PostgreSQL takes it from its
/// first chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    rows: u64,
    hits: u64,
    /// How many recordings are published, when the walk read it.
    published: Option<u64>,
}

/// The first `want` ids after `skip` of a ranked search — its title tier, then the rest,
/// newest first in each — found in one walk that sorts every row it passes into its tier
/// (PostgreSQL), and the count's [`Sample`] from the walk's first rows. `None` for the ids
/// when the walk would cost more than the tiers' lists (or on SQLite, whose index walks
/// each tier in order): [`first_ids`] per tier, then.
pub async fn ranked_ids(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
    terms: &[String],
    skip: u64,
    want: u64,
) -> Result<(Option<Vec<i32>>, Option<Sample>), ServiceError> {
    if db.get_database_backend() == DbBackend::Sqlite {
        return Ok((None, None));
    }
    let need = skip + want;
    let (mut title, mut rest) = (Vec::new(), Vec::new());
    let (mut walk, mut chunk) = Walk::start(db, &select, Classes::Tiers.expr(terms), terms).await?;
    let published = walk.published;
    let mut sample = None;
    loop {
        let ended = walk.passed(&chunk);
        sample.get_or_insert_with(|| Sample {
            published: Some(published),
            rows: chunk.walked.min(COUNT_SAMPLE),
            hits: chunk
                .hits
                .iter()
                .filter(|(_, _, pos)| *pos <= COUNT_SAMPLE)
                .count() as u64,
        });
        for (id, class, _) in chunk.hits {
            if class == 1 { &mut title } else { &mut rest }.push(id);
        }
        // Enough of the title tier, or every row walked: the page is known.
        if title.len() as u64 >= need || ended {
            let ids = title.into_iter().chain(rest);
            let ids = ids.skip(skip as usize).take(want as usize).collect();
            return Ok((Some(ids), sample));
        }
        match walk.next(db, title.len() as u64, need).await? {
            Some(next) => chunk = next,
            None => return Ok((None, sample)),
        }
    }
}

/// How many of the matches of `terms` `select` finds, counted no further than `bound` (more
/// is `AtLeast(bound)`). SQLite counts from the FTS index (`index_count`), samples the
/// words' newest matches, or counts along the FTS-driven walk ([`sqlite_count`]);
/// PostgreSQL first samples the newest rows: when the words look common
/// enough that there must be more than the bound, it says so without counting, otherwise it
/// counts the word's list from its GIN index (a rare word's list is short).
pub async fn count(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
    terms: &[String],
    only_words: bool,
    bound: u64,
    sampled: Option<Sample>,
) -> Result<Count, ServiceError> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Sqlite {
        return sqlite_count(db, select, terms, only_words, bound).await;
    }
    let condition = pg_condition(terms, None);
    let Sample {
        rows,
        hits,
        published,
    } = match sampled {
        Some(s) => s,
        None => {
            let sample: Vec<bool> = select
                .clone()
                .select_only()
                .column_as(condition.clone(), "hit")
                .order_by_desc(recordings::Column::Id)
                .limit(COUNT_SAMPLE)
                .into_tuple()
                .all(db)
                .await?;
            Sample {
                rows: sample.len() as u64,
                hits: sample.iter().filter(|h| **h).count() as u64,
                published: None,
            }
        }
    };
    if rows < COUNT_SAMPLE {
        return Ok(bounded(hits, bound));
    }
    let published = match published {
        Some(n) => n,
        None => crate::facets::published(db).await?,
    };
    if surely_more(hits, COUNT_SAMPLE, published, bound) {
        return Ok(Count::AtLeast(bound));
    }
    let listed: Vec<i32> = select
        .filter(condition)
        .select_only()
        .column(recordings::Column::Id)
        .order_by(Expr::cust("recordings.id + 0"), Order::Desc)
        .limit(bound + 1)
        .into_tuple()
        .all(db)
        .await?;
    Ok(bounded(listed.len() as u64, bound))
}

/// [`count`] on SQLite. Words alone are counted from the index. Words with other filters
/// sample the words' newest matches: when the filters pass enough of them that the words'
/// matches must hold more than the bound three times over (counted from the index, which is
/// cheap), it says so; otherwise it counts along the walk.
async fn sqlite_count(
    db: &impl ConnectionTrait,
    select: Select<recordings::Entity>,
    terms: &[String],
    only_words: bool,
    bound: u64,
) -> Result<Count, ServiceError> {
    let backend = db.get_database_backend();
    let from_index = async |limit: u64| -> Result<u64, ServiceError> {
        let row = db.query_one_raw(index_count(backend, terms, limit)).await?;
        let n: i64 = row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0);
        Ok(u64::try_from(n).unwrap_or(0))
    };
    if only_words {
        return Ok(bounded(from_index(bound + 1).await?, bound));
    }
    let newest_matches = Expr::cust_with_values(
        "recordings.id IN (SELECT rowid FROM recordings_fts WHERE recordings_fts MATCH ? \
         ORDER BY rowid DESC LIMIT ?)",
        [
            sea_orm::Value::from(fts5_query(terms, None)),
            i64::try_from(COUNT_SAMPLE).unwrap_or(i64::MAX).into(),
        ],
    );
    let hits = select
        .clone()
        .filter(newest_matches)
        .select_only()
        .column(recordings::Column::Id)
        .into_tuple::<i32>()
        .all(db)
        .await?
        .len() as u64;
    let sampled = from_index(COUNT_SAMPLE).await?;
    if sampled < COUNT_SAMPLE {
        // The sample was every match.
        return Ok(bounded(hits, bound));
    }
    if hits >= COUNT_SAMPLE_HITS {
        // The words' matches, counted only as far as the sample needs them to be.
        let enough = (3 * bound * COUNT_SAMPLE).div_ceil(hits);
        if surely_more(hits, COUNT_SAMPLE, from_index(enough).await?, bound) {
            return Ok(Count::AtLeast(bound));
        }
    }
    let mut walk = fts_walk(select, terms, None)
        .select_only()
        .column(recordings::Column::Id)
        .limit(bound + 1)
        .into_query();
    walk.clear_order_by();
    let stmt = backend.build(
        &sea_orm::sea_query::Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(walk, Alias::new("matches"))
            .to_owned(),
    );
    let row = db.query_one_raw(stmt).await?;
    let n: i64 = row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0);
    Ok(bounded(u64::try_from(n).unwrap_or(0), bound))
}

/// Whether `hits` among `sampled` rows of a `population` say that it holds more than
/// `bound` matches — three times over, and with enough hits to trust the share.
fn surely_more(hits: u64, sampled: u64, population: u64, bound: u64) -> bool {
    hits >= COUNT_SAMPLE_HITS
        && sampled > 0
        && hits as f64 / sampled as f64 * population as f64 >= 3.0 * bound as f64
}

fn bounded(n: u64, bound: u64) -> Count {
    if n > bound {
        Count::AtLeast(bound)
    } else {
        Count::Exact(n)
    }
}

/// On SQLite, the statement that counts the published recordings matching `terms` (and
/// nothing else) from the FTS index alone — it holds only published recordings — no further
/// than `limit`.
fn index_count(backend: DbBackend, terms: &[String], limit: u64) -> Statement {
    Statement::from_sql_and_values(
        backend,
        "SELECT COUNT(*) FROM (SELECT rowid FROM recordings_fts \
         WHERE recordings_fts MATCH ? LIMIT ?) AS matches",
        [
            fts5_query(terms, None).into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
}

/// The text the index is built from.
pub fn search_text(fields: &[&str], tags: &[String]) -> String {
    let mut text = fields
        .iter()
        .filter(|f| !f.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    for tag in tags {
        text.push(' ');
        text.push_str(tag);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(s: &[&str]) -> Vec<String> {
        s.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_sample_says_more_than_the_bound_only_when_surely() {
        // 25 of 250 is a tenth: 30,000 rows hold about 3,000, three times 1,000.
        assert!(surely_more(25, 250, 30_000, 1_000));
        assert!(!surely_more(25, 250, 29_999, 1_000));
        // Two hits are too few to trust, however large the population.
        assert!(!surely_more(2, 250, 1_000_000, 1_000));
        assert!(!surely_more(0, 0, 1_000_000, 1_000));
    }

    #[test]
    fn both_engines_are_asked_the_same_tiers() {
        let t = terms(&["forest", "birds"]);
        assert_eq!(fts5_query(&t, None), r#""forest"* "birds"*"#);
        assert_eq!(
            fts5_query(&t, Some(Tier::Title)),
            r#"title : "forest"* title : "birds"*"#
        );
        assert_eq!(
            fts5_query(&t, Some(Tier::Elsewhere)),
            r#"("forest"* "birds"*) NOT (title : "forest"* title : "birds"*)"#
        );
        assert_eq!(tsquery_all(&t), "forest:* & birds:*");
        assert_eq!(tsquery_any(&t), "forest:* | birds:*");
        let single = terms(&["a", "owl"]);
        assert_eq!(fts5_query(&single, None), r#""a" "owl"*"#);
        assert_eq!(tsquery_all(&single), "a & owl:*");
    }
}
