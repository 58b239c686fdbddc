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
    DbBackend, Order, QueryFilter, QueryOrder, QueryTrait, Select, Statement,
    sea_query::{Alias, Expr},
};

use crate::entities::recordings;

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

fn tsquery_of(terms: &[String], weight: &str) -> String {
    terms
        .iter()
        .map(|t| match (star(t), weight) {
            ("", "") => t.clone(),
            ("", w) => format!("{t}:{w}"),
            (_, w) => format!("{t}:*{w}"),
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

fn tsquery(terms: &[String], tier: Option<Tier>) -> String {
    match tier {
        None => tsquery_of(terms, ""),
        Some(Tier::Title) => tsquery_of(terms, "A"),
        Some(Tier::Elsewhere) => format!(
            "({}) & !({})",
            tsquery_of(terms, ""),
            tsquery_of(terms, "A")
        ),
    }
}

/// A condition on `recordings` that holds when every term matches (as a word prefix).
/// `terms` come from `CatalogQuery::search_terms`: letters and digits only, so they cannot
/// carry query syntax into either engine.
pub fn matches(backend: DbBackend, terms: &[String]) -> Option<Expr> {
    if terms.is_empty() {
        return None;
    }
    Some(match backend {
        DbBackend::Sqlite => Expr::cust_with_values(
            "recordings.id IN (SELECT rowid FROM recordings_fts WHERE recordings_fts MATCH ?)",
            [fts5_query(terms, None)],
        ),
        _ => Expr::cust_with_values(
            "recordings.search_vector @@ to_tsquery('simple', $1)",
            [tsquery(terms, None)],
        ),
    })
}

/// `select` narrowed to one tier of the matches of `terms`, newest id first. On SQLite the
/// FTS table drives the join in rowid order; on PostgreSQL the primary key's order.
pub fn tier(
    backend: DbBackend,
    select: Select<recordings::Entity>,
    terms: &[String],
    tier: Tier,
) -> Select<recordings::Entity> {
    match backend {
        DbBackend::Sqlite => {
            let mut select = select.filter(Expr::cust_with_values(
                "recordings_fts MATCH ?",
                [fts5_query(terms, Some(tier))],
            ));
            // `recordings_fts CROSS JOIN recordings`: SQLite keeps a CROSS JOIN's left table
            // outermost. Left to itself, the planner bundled with sqlx walks `recordings`
            // and asks FTS5 to match row by row — 22 s at a million recordings, where the
            // FTS-driven walk takes 3 ms.
            QueryTrait::query(&mut select)
                .from_clear()
                .from(Alias::new("recordings_fts"))
                .cross_join(recordings::Entity)
                .and_where(Expr::cust("recordings.id = recordings_fts.rowid"))
                .order_by_expr(Expr::cust("recordings_fts.rowid"), Order::Desc);
            select
        }
        _ => select
            .filter(Expr::cust_with_values(
                "recordings.search_vector @@ to_tsquery('simple', $1)",
                [tsquery(terms, Some(tier))],
            ))
            .order_by_desc(recordings::Column::Id),
    }
}

/// On SQLite, the statement that counts the published recordings matching `terms` (and
/// nothing else) from the FTS index alone — it holds only published recordings — no further
/// than `limit`. PostgreSQL has no such shortcut: its GIN index is counted through
/// `recordings` like any other condition (`None`).
pub fn index_count(backend: DbBackend, terms: &[String], limit: u64) -> Option<Statement> {
    (backend == DbBackend::Sqlite).then(|| {
        Statement::from_sql_and_values(
            backend,
            "SELECT COUNT(*) FROM (SELECT rowid FROM recordings_fts \
             WHERE recordings_fts MATCH ? LIMIT ?) AS matches",
            [
                fts5_query(terms, None).into(),
                i64::try_from(limit).unwrap_or(i64::MAX).into(),
            ],
        )
    })
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
        assert_eq!(tsquery(&t, None), "forest:* & birds:*");
        assert_eq!(tsquery(&t, Some(Tier::Title)), "forest:*A & birds:*A");
        assert_eq!(
            tsquery(&t, Some(Tier::Elsewhere)),
            "(forest:* & birds:*) & !(forest:*A & birds:*A)"
        );
        let single = terms(&["a", "owl"]);
        assert_eq!(fts5_query(&single, None), r#""a" "owl"*"#);
        assert_eq!(tsquery(&single, Some(Tier::Title)), "a:A & owl:*A");
        assert_eq!(tsquery(&single, None), "a & owl:*");
    }
}
