//! Full-text search behind one interface: SQLite's FTS5 table and PostgreSQL's text search
//! both index `recordings.search_text`, and both are asked for every term as a prefix, so a
//! query finds the same recordings on either backend.

use sea_orm::{DbBackend, sea_query::Expr};

/// A condition on `recordings` that holds when every term matches (as a word prefix).
/// `terms` come from `CatalogQuery::search_terms`: letters and digits only, so they cannot
/// carry query syntax into either engine.
pub fn matches(backend: DbBackend, terms: &[String]) -> Option<Expr> {
    if terms.is_empty() {
        return None;
    }
    match backend {
        DbBackend::Sqlite => {
            let query = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" ");
            Some(Expr::cust_with_values(
                "recordings.id IN (SELECT rowid FROM recordings_fts WHERE recordings_fts MATCH ?)",
                [query],
            ))
        }
        _ => {
            let query = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Some(Expr::cust_with_values(
                "to_tsvector('simple', recordings.search_text) @@ to_tsquery('simple', $1)",
                [query],
            ))
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
