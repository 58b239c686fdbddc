//! The filter menus and their counts, without a scan of `recordings`: the `facet_counts`
//! table holds, for each microphone, licence, convention, order and tag, how many
//! published recordings have it (and `all`, how many are published). Every write that
//! changes what a published recording shows — creating one published, publishing,
//! an edit of its licence or tags, deleting it — reads the recording's [`Facts`] before
//! and after, in its transaction, and calls [`shift`] with both. Nothing else writes the
//! table, so the counts are exact. Pairs of facts are counted the same way (a recording's
//! microphone with its licence, its convention with each of its tags …), so a search with
//! two filters is counted by one lookup too.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::{
    Convention, Status,
    entities::{facet_counts, recording_tags, recordings, tags},
    error::ServiceError,
    licence_label,
    model::{Facet, Facets},
    order_label,
    write::{Changed, Write, key},
};

/// How many tags the menu offers (the most used first).
pub const TAG_MENU: u64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    All,
    Microphone,
    Licence,
    Convention,
    Order,
    Tag,
}

/// The longest value a count row holds (a pair's two values and their `|`).
const VALUE_MAX: usize = 255;

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::All => "all",
            Kind::Microphone => "microphone",
            Kind::Licence => "licence",
            Kind::Convention => "convention",
            Kind::Order => "order",
            Kind::Tag => "tag",
        }
    }
}

/// A count row's key for one fact, or for two (in the order of [`Kind`], which is the
/// migration's pair order: the kinds joined by `+`, the values by `|`).
pub fn key(facts: &[(Kind, &str)]) -> Option<(String, String)> {
    match facts {
        [(k, v)] => Some((k.as_str().to_owned(), (*v).to_owned())),
        [a, b] if a.0 != b.0 => {
            let (a, b) = if (a.0 as u8) < (b.0 as u8) {
                (a, b)
            } else {
                (b, a)
            };
            Some((
                format!("{}+{}", a.0.as_str(), b.0.as_str()),
                format!("{}|{}", a.1, b.1),
            ))
        }
        _ => None,
    }
}

/// What the facets count of one recording: nothing unless it is published; each fact alone
/// and each pair of them (two tags do not pair: a search names one tag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts(Vec<(String, String)>);

impl Facts {
    /// The facts of `row` with these tag slugs.
    pub fn new(row: &recordings::Model, tag_slugs: &[String]) -> Self {
        if row.status != Status::Published {
            return Self::default();
        }
        let order = row.ambi_order.map(|o| o.to_string());
        let mut single: Vec<(Kind, &str)> = Vec::new();
        if !row.microphone.is_empty() {
            single.push((Kind::Microphone, &row.microphone));
        }
        if !row.licence.is_empty() {
            single.push((Kind::Licence, &row.licence));
        }
        if let Some(c) = row.convention() {
            single.push((Kind::Convention, c.as_str()));
        }
        if let Some(o) = &order {
            single.push((Kind::Order, o));
        }
        single.extend(tag_slugs.iter().map(|t| (Kind::Tag, t.as_str())));
        let mut facts: Vec<(String, String)> = vec![(Kind::All.as_str().to_owned(), String::new())];
        for (i, a) in single.iter().enumerate() {
            facts.extend(key(&[*a]));
            for b in &single[i + 1..] {
                facts.extend(key(&[*a, *b]));
            }
        }
        Self(facts)
    }

    /// The facts of `row`, reading its tags.
    pub async fn of(
        db: &impl ConnectionTrait,
        row: &recordings::Model,
    ) -> Result<Self, ServiceError> {
        if row.status != Status::Published {
            return Ok(Self::default());
        }
        let slugs: Vec<String> = recording_tags::Entity::find()
            .filter(recording_tags::Column::RecordingId.eq(row.id))
            .find_also_related(tags::Entity)
            .all(db)
            .await?
            .into_iter()
            .filter_map(|(_, t)| t.map(|t| t.slug))
            .collect();
        Ok(Self::new(row, &slugs))
    }
}

/// Moves the counts from what a recording was (`before`) to what it is (`after`), in the
/// caller's transaction. Unchanged facts cost nothing.
pub async fn shift(w: &Write, before: &Facts, after: &Facts) -> Result<(), ServiceError> {
    let mut delta: HashMap<(&str, &str), i64> = HashMap::new();
    for (k, v) in &before.0 {
        *delta.entry((k.as_str(), v.as_str())).or_default() -= 1;
    }
    for (k, v) in &after.0 {
        *delta.entry((k.as_str(), v.as_str())).or_default() += 1;
    }
    for ((kind, value), d) in delta.into_iter().filter(|(_, d)| *d != 0) {
        add(w, kind, value, d).await?;
    }
    Ok(())
}

async fn add(w: &Write, kind: &str, value: &str, d: i64) -> Result<(), ServiceError> {
    use facet_counts::Column as C;
    facet_counts::Entity::insert(facet_counts::ActiveModel {
        kind: sea_orm::Set(kind.to_owned()),
        value: sea_orm::Set(value.chars().take(VALUE_MAX).collect()),
        count: sea_orm::Set(Ord::max(d, 0)),
    })
    .on_conflict(
        OnConflict::columns([C::Kind, C::Value])
            .value(C::Count, Expr::col((facet_counts::Entity, C::Count)).add(d))
            .to_owned(),
    )
    .exec_without_returning(w)
    .await?;
    Ok(())
}

/// How many recordings are published.
pub async fn published(db: &impl ConnectionTrait) -> Result<u64, ServiceError> {
    count_of(db, Kind::All, "").await
}

/// How many published recordings have `value` of `kind`.
pub async fn count_of(
    db: &impl ConnectionTrait,
    kind: Kind,
    value: &str,
) -> Result<u64, ServiceError> {
    Ok(count_all(db, &[(kind, value)]).await?.unwrap_or(0))
}

/// How many published recordings have every one of one or two facts; `None` for what is
/// not counted (more facts, or two of one kind).
pub async fn count_all(
    db: &impl ConnectionTrait,
    facts: &[(Kind, &str)],
) -> Result<Option<u64>, ServiceError> {
    let Some((kind, value)) = key(facts) else {
        return Ok(None);
    };
    let value: String = value.chars().take(VALUE_MAX).collect();
    Ok(Some(
        facet_counts::Entity::find_by_id((kind, value))
            .one(db)
            .await?
            .map_or(0, |f| u64::try_from(f.count).unwrap_or(0)),
    ))
}

/// The filter menus: every value published recordings have, with how many have it.
pub async fn menus(db: &impl ConnectionTrait) -> Result<Facets, ServiceError> {
    // One statement: the menus' choices, and the most used tags with their names.
    let sql = format!(
        "SELECT f.kind, f.value, f.count, t.name FROM facet_counts f \
         LEFT JOIN tags t ON f.kind = 'tag' AND t.slug = f.value \
         WHERE f.count > 0 AND (f.kind IN ('{}', '{}', '{}', '{}') OR (f.kind = 'tag' AND f.value IN \
           (SELECT value FROM facet_counts WHERE kind = 'tag' AND count > 0 \
            ORDER BY count DESC, value LIMIT {TAG_MENU}))) \
         ORDER BY f.kind, f.value",
        Kind::Microphone.as_str(),
        Kind::Licence.as_str(),
        Kind::Convention.as_str(),
        Kind::Order.as_str(),
    );
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql,
        ))
        .await?;
    let mut facets = Facets::default();
    for row in rows {
        let kind: String = row.try_get_by_index(0)?;
        let value: String = row.try_get_by_index(1)?;
        let count = u64::try_from(row.try_get_by_index::<i64>(2)?).unwrap_or(0);
        let name: Option<String> = row.try_get_by_index(3)?;
        let (list, label) = match kind.as_str() {
            "microphone" => (&mut facets.microphones, value.clone()),
            "licence" => (&mut facets.licences, licence_label(&value).to_owned()),
            "convention" => match Convention::parse(&value) {
                Some(c) => (&mut facets.conventions, c.label().to_owned()),
                None => continue,
            },
            "tag" => (&mut facets.tags, name.unwrap_or_else(|| value.clone())),
            _ => match value.parse::<i32>() {
                Ok(o) => (&mut facets.orders, order_label(o)),
                Err(_) => continue,
            },
        };
        list.push(Facet {
            value,
            label,
            count,
        });
    }
    facets.tags.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(facets)
}

/// Counts everything again from `recordings` (after a bulk load, which writes rows by the
/// thousand and counts once at the end). The one scan, and never on a page.
pub async fn recount(db: &sea_orm::DatabaseConnection) -> Result<(), ServiceError> {
    let w = Write::begin(db).await?;
    facet_counts::Entity::delete_many().exec(&w).await?;
    let published = "status = 'published'";
    for sql in [
        format!(
            "INSERT INTO facet_counts (kind, value, count) SELECT 'all', '', COUNT(*) FROM recordings WHERE {published}"
        ),
        format!(
            "INSERT INTO facet_counts (kind, value, count) SELECT 'microphone', microphone, COUNT(*) FROM recordings WHERE {published} AND microphone <> '' GROUP BY microphone"
        ),
        format!(
            "INSERT INTO facet_counts (kind, value, count) SELECT 'licence', licence, COUNT(*) FROM recordings WHERE {published} AND licence <> '' GROUP BY licence"
        ),
        format!(
            "INSERT INTO facet_counts (kind, value, count) SELECT 'convention', convention, COUNT(*) FROM recordings WHERE {published} AND convention IS NOT NULL GROUP BY convention"
        ),
        format!(
            "INSERT INTO facet_counts (kind, value, count) SELECT 'order', CAST(ambi_order AS VARCHAR(4)), COUNT(*) FROM recordings WHERE {published} AND ambi_order IS NOT NULL GROUP BY ambi_order"
        ),
        format!(
            "INSERT INTO facet_counts (kind, value, count) SELECT 'tag', t.slug, COUNT(*) FROM recording_tags rt JOIN tags t ON t.id = rt.tag_id JOIN recordings r ON r.id = rt.recording_id WHERE r.{published} GROUP BY t.slug"
        ),
    ]
    .into_iter()
    .chain(migrations::pair_count_statements())
    {
        w.execute_unprepared(&sql).await?;
    }
    // Every list of recordings shows the menus.
    w.commit(Changed::keys([key::CATALOG.to_owned()])).await?;
    Ok(())
}
