//! Counts for two filters at once: `facet_counts` also holds, for every pair of facts a
//! published recording has (its microphone and its licence, its convention and each of its
//! tags …), how many have both — so a two-filter search says how many it found without
//! counting rows. A pair's kind is the two kinds joined by `+` in the order below, its value
//! the two values joined by `|` (only a microphone, always first, is free text, so the join
//! cannot be read two ways). The columns grow to hold them (PostgreSQL enforces lengths;
//! SQLite does not), and the pairs of the recordings already published are counted here.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The kinds that pair, in pair order, with the expression that gives a recording's value
/// (`r` is `recordings`, `t` the tag) and the condition that it has one.
const KINDS: [(&str, &str, &str); 5] = [
    ("microphone", "r.microphone", "r.microphone <> ''"),
    ("licence", "r.licence", "r.licence <> ''"),
    ("convention", "r.convention", "r.convention IS NOT NULL"),
    (
        "order",
        "CAST(r.ambi_order AS VARCHAR(4))",
        "r.ambi_order IS NOT NULL",
    ),
    ("tag", "t.slug", "t.slug IS NOT NULL"),
];

/// The statements that count every pair from `recordings` (after the pair rows are gone):
/// the migration's backfill and `domain::facets::recount` both run them.
pub fn pair_count_statements() -> Vec<String> {
    let mut out = Vec::new();
    for (i, (ka, ea, ca)) in KINDS.iter().enumerate() {
        for (kb, eb, cb) in &KINDS[i + 1..] {
            let from = if *kb == "tag" {
                "recordings r JOIN recording_tags rt ON rt.recording_id = r.id \
                 JOIN tags t ON t.id = rt.tag_id"
            } else {
                "recordings r"
            };
            out.push(format!(
                "INSERT INTO facet_counts (kind, value, count) \
                 SELECT '{ka}+{kb}', {ea} || '|' || {eb}, COUNT(*) FROM {from} \
                 WHERE r.status = 'published' AND {ca} AND {cb} GROUP BY {ea}, {eb}"
            ));
        }
    }
    out
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE facet_counts ALTER COLUMN kind TYPE VARCHAR(40), \
                 ALTER COLUMN value TYPE VARCHAR(255)",
            )
            .await?;
        }
        db.execute_unprepared("DELETE FROM facet_counts WHERE kind LIKE '%+%'")
            .await?;
        for sql in pair_count_statements() {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM facet_counts WHERE kind LIKE '%+%'")
            .await?;
        Ok(())
    }
}
