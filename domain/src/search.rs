//! Full-text search behind one interface. SQLite's FTS5 table (columns `title` and
//! `search_text`) and PostgreSQL's weighted `search_vector` (title `A`, the rest `B`) index
//! the same text, and both are asked for every term as a prefix, so a query finds the same
//! recordings on either backend. Ranked, a title match comes before a match elsewhere:
//! `bm25` with the title weighted ten times on SQLite, `ts_rank` on PostgreSQL.

use sea_orm::{
    DbBackend, Order, QueryFilter, QueryOrder, QueryTrait, Select,
    sea_query::{Alias, Expr, JoinType},
};

use crate::entities::recordings;

fn fts5_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{t}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tsquery(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("{t}:*"))
        .collect::<Vec<_>>()
        .join(" & ")
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
            [fts5_query(terms)],
        ),
        _ => Expr::cust_with_values(
            "recordings.search_vector @@ to_tsquery('simple', $1)",
            [tsquery(terms)],
        ),
    })
}

/// `select` narrowed to the matches of `terms` and ordered best match first (then newest
/// id), for a search sorted by relevance.
pub fn ranked(
    backend: DbBackend,
    select: Select<recordings::Entity>,
    terms: &[String],
) -> Select<recordings::Entity> {
    match backend {
        DbBackend::Sqlite => {
            let mut select = select.filter(Expr::cust_with_values(
                "recordings_fts MATCH ?",
                [fts5_query(terms)],
            ));
            QueryTrait::query(&mut select)
                .join(
                    JoinType::InnerJoin,
                    Alias::new("recordings_fts"),
                    Expr::cust("recordings_fts.rowid = recordings.id"),
                )
                .order_by_expr(Expr::cust("bm25(recordings_fts, 10.0, 1.0)"), Order::Asc);
            select.order_by_desc(recordings::Column::Id)
        }
        _ => {
            let q = tsquery(terms);
            let mut select = select.filter(Expr::cust_with_values(
                "recordings.search_vector @@ to_tsquery('simple', $1)",
                [q.clone()],
            ));
            QueryTrait::query(&mut select).order_by_expr(
                Expr::cust_with_values(
                    "ts_rank(recordings.search_vector, to_tsquery('simple', $1))",
                    [q],
                ),
                Order::Desc,
            );
            select.order_by_desc(recordings::Column::Id)
        }
    }
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
