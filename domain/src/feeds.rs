//! What each feed holds: the latest published recordings, a tag's, an uploader's, any
//! catalog search's (newest first, a search in its own order), or the latest free ones as
//! torrents, with what a podcast app needs of each entry — the enclosure (the binaural MP3,
//! its length as anyone without premium gets it), duration, licence, place, the spatial
//! forms — and the surrogate keys of the page the feed mirrors, so that the writes that
//! purge the page purge the feed. Writing them as Atom or RSS is the server's.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::{
    catalog::{self, cards},
    catalog_query::CatalogQuery,
    distribution::{offers_torrent, open_podcast_len},
    error::ServiceError,
    key,
    model::RecordingCard,
};

/// Entries a feed carries.
pub const FEED_SIZE: u64 = 30;

/// Which recordings a feed follows.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Latest,
    Tag(String),
    Uploader(String),
    Search(CatalogQuery),
    /// The latest free recordings, each as its original's torrent.
    Torrents,
    /// A public collection, by its slug, in its own order.
    Collection(String),
    /// What someone follows, for their private feed (reached by its secret `token`).
    Following {
        user_id: i32,
        username: String,
        token: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub title: String,
    /// The page the feed mirrors, site-relative (`/tags/birds`).
    pub page: String,
    /// The feed's own address, site-relative, as Atom and as RSS.
    pub atom: String,
    pub rss: String,
    pub entries: Vec<Entry>,
    /// The mirrored page's surrogate keys.
    pub keys: Vec<String>,
    /// Whose it is: an uploader's feed is theirs, the others the site's (`None`).
    pub uploader: Option<String>,
    /// Its cover art, site-relative (`/artwork/tags/birds.png`).
    pub artwork: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub card: RecordingCard,
    pub description: String,
    /// When it was published (feeds order and date entries by it).
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The stereo preview's size: an entry has an enclosure only when it is known.
    pub preview_bytes: Option<u64>,
    /// The podcast enclosure's length as anyone gets it ([`open_podcast_len`]).
    pub podcast_bytes: Option<u64>,
    /// Whether it has a spatial (first-order AmbiX) preview.
    pub spatial: bool,
    /// The original, when anyone may download it whole (free): its size and extension.
    pub original: Option<(u64, String)>,
    /// Its torrent's info hash (hex), when one is offered ([`offers_torrent`]).
    pub torrent: Option<String>,
    pub licence: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Whether what a feed follows exists — its tag, its account — by one lookup, not by
/// making the feed (the cover art asks, for names that may be made up).
pub async fn exists(db: &DatabaseConnection, scope: &Scope) -> Result<bool, ServiceError> {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

    use crate::entities::{tags, users};
    Ok(match scope {
        Scope::Tag(slug) => {
            tags::Entity::find()
                .filter(tags::Column::Slug.eq(slug.as_str()))
                .count(db)
                .await?
                > 0
        }
        Scope::Uploader(name) => {
            users::Entity::find()
                .filter(users::Column::Username.eq(name.to_lowercase()))
                .count(db)
                .await?
                > 0
        }
        Scope::Collection(slug) => crate::collections::public_rows(db, slug, 1).await.is_ok(),
        Scope::Following { .. } => true,
        Scope::Latest | Scope::Torrents | Scope::Search(_) => true,
    })
}

impl Feed {
    /// The newest change among the entries (or now, for an empty feed).
    pub fn updated(&self) -> DateTime<Utc> {
        self.entries
            .iter()
            .map(|e| e.updated)
            .max()
            .unwrap_or_else(Utc::now)
    }
}

#[tracing::instrument(skip_all)]
pub async fn feed(db: &DatabaseConnection, scope: &Scope) -> Result<Feed, ServiceError> {
    let both = |base: &str| (format!("{base}.atom"), format!("{base}.rss"));
    let mut uploader = None;
    let mut artwork = "/artwork/catalog/latest.png".to_string();
    let (title, page, (atom, rss), rows, mut keys) = match scope {
        Scope::Latest => (
            "Ambisonia: the latest recordings".to_string(),
            "/catalog".to_string(),
            both("/feed"),
            catalog::latest_rows(db, FEED_SIZE).await?,
            vec![key::CATALOG.to_string()],
        ),
        Scope::Torrents => {
            let mut rows = catalog::latest_rows(db, FEED_SIZE).await?;
            rows.retain(offers_torrent);
            artwork = "/artwork/catalog/torrents.png".to_string();
            (
                "Ambisonia: the latest free recordings, as torrents".to_string(),
                "/catalog".to_string(),
                ("/feed.atom".to_string(), "/feed.torrents.rss".to_string()),
                rows,
                vec![key::CATALOG.to_string()],
            )
        }
        Scope::Tag(slug) => {
            let (tag, rows) = catalog::tag_rows(db, slug, FEED_SIZE).await?;
            artwork = format!("/artwork/tags/{}.png", tag.slug);
            (
                format!("Ambisonia: recordings tagged {}", tag.name),
                format!("/tags/{}", tag.slug),
                both(&format!("/tags/{}/feed", tag.slug)),
                rows,
                vec![key::CATALOG.to_string(), key::tag(&tag.slug)],
            )
        }
        Scope::Uploader(name) => {
            let (user, rows) = catalog::uploader_rows(db, name, FEED_SIZE).await?;
            artwork = format!("/artwork/users/{}.png", user.username);
            uploader = Some(user.username.clone());
            (
                format!("Ambisonia: recordings by {}", user.username),
                format!("/users/{}", user.username),
                both(&format!("/users/{}/feed", user.username)),
                rows,
                vec![key::user(user.id)],
            )
        }
        Scope::Collection(slug) => {
            let (c, owner, rows) = crate::collections::public_rows(db, slug, FEED_SIZE).await?;
            artwork = format!("/artwork/users/{owner}.png");
            (
                format!("Ambisonia: {}, a collection by {owner}", c.title),
                format!("/collections/{}", c.slug),
                both(&format!("/collections/{}/feed", c.slug)),
                rows,
                vec![key::collection(c.id), key::user(c.owner_id)],
            )
        }
        Scope::Following {
            user_id,
            username,
            token,
        } => (
            format!("Ambisonia: new from what {username} follows"),
            "/following".to_string(),
            both(&format!("/following/{token}")),
            crate::follows::rows(db, *user_id, FEED_SIZE).await?,
            // Private: never shared, so filed under nothing.
            vec![],
        ),
        Scope::Search(query) => {
            let query = query.with_page(1);
            let page = query.href();
            let paths = (query.feed_href("atom"), query.feed_href("rss"));
            let title = if query.q.is_empty() {
                "Ambisonia: a catalog search".to_string()
            } else {
                format!("Ambisonia: recordings matching “{}”", query.q)
            };
            let rows = catalog::search_rows(db, &query, FEED_SIZE).await?;
            (title, page, paths, rows, vec![key::CATALOG.to_string()])
        }
    };
    keys.extend(rows.iter().map(|r| key::card(r.id)));
    let entries = cards(db, rows.clone())
        .await?
        .into_iter()
        .zip(rows)
        .map(|(card, r)| {
            let published = r.published_at.unwrap_or(r.created_at);
            let original = (!r.is_premium)
                .then(|| r.size_bytes.and_then(|b| u64::try_from(b).ok()))
                .flatten()
                .zip(r.media_key.as_deref().and_then(|k| k.rsplit('.').next()))
                .map(|(size, ext)| (size, ext.to_string()));
            Entry {
                published,
                updated: r.updated_at.max(published),
                preview_bytes: r
                    .preview_key
                    .as_ref()
                    .and(r.preview_bytes)
                    .and_then(|b| u64::try_from(b).ok()),
                podcast_bytes: open_podcast_len(&r),
                spatial: r.spatial_key.is_some(),
                original,
                torrent: offers_torrent(&r)
                    .then(|| r.torrent_info_hash.clone())
                    .flatten(),
                licence: r.licence,
                latitude: r.latitude,
                longitude: r.longitude,
                description: r.description,
                card,
            }
        })
        .collect();
    Ok(Feed {
        title,
        page,
        atom,
        rss,
        entries,
        keys,
        uploader,
        artwork,
    })
}
