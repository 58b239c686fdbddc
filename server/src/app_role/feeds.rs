//! Feeds, in Atom and in RSS 2.0 for podcast apps: the latest recordings (`/feed.atom`,
//! `/feed.rss`), a tag's (`/tags/{slug}/feed.atom`), an uploader's
//! (`/users/{name}/feed.atom`), any catalog search's (`/catalog/feed.atom?q=…&tag=…`), and
//! the latest free originals as torrents (`/feed.torrents.rss`). The RSS is what podcast
//! directories ask for (Apple's `itunes:` tags, the Podcast Index namespace's `podcast:guid`,
//! licence, place, recordist and the spatial forms as alternate enclosures); the enclosure
//! is the binaural MP3. Each feed's cover art is drawn here (`/artwork/…`). What a feed
//! holds is `domain::feeds`; here it is written out, shareable like the page it mirrors and
//! under that page's surrogate keys.

use std::fmt::Write as _;

use app::ssr::{cache::set_sharing, state::AppState};
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use contract::{header::SURROGATE_KEY, policy::public_headers};
use domain::{
    ServiceError,
    catalog_query::CatalogQuery,
    feeds::{Entry, Feed, Scope},
};
use sha1::{Digest, Sha1};

use crate::app_role::refusal::{Refusal, not_found};

/// The language of the site's text (and of its feeds).
const LANGUAGE: &str = "en";
/// Apple's category for field recordings of places, halls and landscapes.
const CATEGORY: (&str, &str) = ("Society &amp; Culture", "Places &amp; Travel");
/// The Podcast Index namespace's UUID for `podcast:guid` (its UUIDv5 namespace).
const PODCAST_GUID_NAMESPACE: [u8; 16] = [
    0xea, 0xd4, 0xc2, 0x36, 0xbf, 0x58, 0x58, 0xc6, 0xa2, 0xc6, 0xa6, 0xb2, 0x8d, 0x12, 0x8c, 0xb6,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Atom,
    Rss,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
        }
    }
}

/// Every feed route, each in both formats.
pub fn routes<S: Clone + Send + Sync + 'static>(state: AppState) -> Router<S> {
    let mut router = Router::new();
    for (format, ext) in [(Format::Atom, "atom"), (Format::Rss, "rss")] {
        router =
            router
                .route(
                    &format!("/feed.{ext}"),
                    get(move |State(s): State<AppState>| async move {
                        answer(&s, Scope::Latest, format).await
                    }),
                )
                .route(
                    &format!("/tags/{{slug}}/feed.{ext}"),
                    get(
                        move |State(s): State<AppState>, Path(slug): Path<String>| async move {
                            answer(&s, Scope::Tag(slug), format).await
                        },
                    ),
                )
                .route(
                    &format!("/users/{{name}}/feed.{ext}"),
                    get(
                        move |State(s): State<AppState>, Path(name): Path<String>| async move {
                            answer(&s, Scope::Uploader(name), format).await
                        },
                    ),
                )
                .route(
                    &format!("/collections/{{slug}}/feed.{ext}"),
                    get(
                        move |State(s): State<AppState>, Path(slug): Path<String>| async move {
                            answer(&s, Scope::Collection(slug), format).await
                        },
                    ),
                )
                // The catalog's own query words (`q`, `tag`, `sort` …).
                .route(
                    &format!("/catalog/feed.{ext}"),
                    get(
                        move |State(s): State<AppState>,
                              Query(pairs): Query<Vec<(String, String)>>| async move {
                            let query = CatalogQuery::from_pairs(
                                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                            );
                            answer(&s, Scope::Search(query), format).await
                        },
                    ),
                );
    }
    router
        .route(
            "/feed.torrents.rss",
            get(|State(s): State<AppState>| async move {
                answer(&s, Scope::Torrents, Format::Rss).await
            }),
        )
        .route("/following/{file}", get(following))
        .route("/artwork/{kind}/{file}", get(artwork))
        .with_state(state)
}

/// `GET /artwork/{catalog|tags|users|recordings}/{name}.png`: a feed's or an item's cover
/// art, 1,400 px square (`media::artwork`), for a name that exists (so that made-up names
/// cost nothing but a lookup), and only at its own address: a query string (which would make
/// every request a new one to the balancer's cache) is not served. One picture is drawn at
/// a time per replica; the balancer keeps each a day.
async fn artwork(
    State(s): State<AppState>,
    Path((kind, file)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Response {
    static DRAWING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
    let Some(name) = file.strip_suffix(".png").filter(|_| uri.query().is_none()) else {
        return not_found();
    };
    let (exists, keys) = match kind.as_str() {
        "catalog" => (matches!(name, "latest" | "torrents" | "search"), vec![]),
        "tags" | "users" => {
            let scope = if kind == "tags" {
                Scope::Tag(name.to_string())
            } else {
                Scope::Uploader(name.to_string())
            };
            match domain::feeds::exists(&s.db, &scope).await {
                Ok(found) => (found, vec![]),
                Err(e) => return Refusal::from(e).download_page(),
            }
        }
        "recordings" => match domain::recordings::visible(&s.db, name, None).await {
            Ok(r) => (true, vec![contract::key::recording(r.id)]),
            Err(ServiceError::NotFound) => (false, vec![]),
            Err(e) => return Refusal::from(e).download_page(),
        },
        _ => (false, vec![]),
    };
    if !exists {
        return not_found();
    }
    let seed = format!("{kind}/{name}");
    let Ok(_turn) = DRAWING.acquire().await else {
        return not_found();
    };
    let png = match tokio::task::spawn_blocking(move || media::artwork::square_png(&seed)).await {
        Ok(png) => png,
        Err(e) => {
            return Refusal::from(ServiceError::internal("drawing cover art", e)).download_page();
        }
    };
    let mut resp = png.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    // The picture depends on the name alone: a day in any cache.
    match public_headers(&keys, 86_400) {
        Some((cc, keys)) => {
            h.insert(header::CACHE_CONTROL, cc);
            h.insert(&SURROGATE_KEY, keys);
        }
        None => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
        }
    }
    resp
}

/// `GET /following/{token}.atom` (or `.rss`): someone's private feed of what they follow,
/// opened by its secret; an unknown or revoked secret is a 404 like any missing page.
async fn following(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let (token, format) = match file.rsplit_once('.') {
        Some((t, "atom")) => (t, Format::Atom),
        Some((t, "rss")) => (t, Format::Rss),
        _ => return not_found(),
    };
    match domain::follows::feed_owner(&s.db, token).await {
        Ok((user_id, username)) => {
            let scope = Scope::Following {
                user_id,
                username,
                token: token.to_owned(),
            };
            answer(&s, scope, format).await
        }
        Err(ServiceError::NotFound) => not_found(),
        Err(e) => Refusal::from(e).download_page(),
    }
}

/// The Podcast Index namespace's `podcast:guid` for a feed: the UUIDv5 (RFC 9562) of its
/// URL without the scheme and trailing slashes, in the namespace's own UUID.
pub fn podcast_guid(feed_url: &str) -> String {
    let name = feed_url
        .split_once("://")
        .map_or(feed_url, |(_, rest)| rest)
        .trim_end_matches('/');
    let mut h = Sha1::new();
    h.update(PODCAST_GUID_NAMESPACE);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&d[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    let x = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..]
    )
}

async fn answer(s: &AppState, scope: Scope, format: Format) -> Response {
    let feed = match domain::feeds::feed(&s.db, &scope).await {
        Ok(f) => f,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return Refusal::from(e).download_page(),
    };
    let site = s.settings.public_url.trim_end_matches('/');
    let body = match (format, &scope) {
        (Format::Rss, Scope::Torrents) => torrents(&feed, site, &s.settings.torrent_trackers),
        (Format::Atom, _) => atom(&feed, site),
        (Format::Rss, _) => rss(
            &feed,
            &Channel {
                site,
                email: s.settings.feed_email.as_deref(),
                payments: s.payments.is_on(),
            },
        ),
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // Its newest entry; the `ETag` is the pipeline's (`conditional`).
    let modified = std::time::SystemTime::from(feed.updated());
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    // A feed mirrors its page, and is shared as the page is.
    // A private feed (what someone follows) is theirs alone, however it is asked for.
    let private = matches!(scope, Scope::Following { .. });
    set_sharing(h, s, &feed.keys, s.settings.page_ttl_s, !private);
    resp
}

/// Text for XML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn atom(feed: &Feed, site: &str) -> String {
    let self_url = format!("{site}{}", feed.atom);
    let mut x = String::with_capacity(2048 + feed.entries.len() * 1024);
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>{}</title>\n<id>{}</id>\n\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
         <updated>{}</updated>\n<generator>Ambisonia</generator>\n",
        esc(&feed.title),
        esc(&self_url),
        esc(&self_url),
        esc(&format!("{site}{}", feed.page)),
        feed.updated().to_rfc3339(),
    );
    for e in &feed.entries {
        let page = format!("{site}/recordings/{}", e.card.slug);
        let _ = write!(
            x,
            "<entry>\n<title>{}</title>\n<id>{}</id>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n\
             <published>{}</published>\n<updated>{}</updated>\n\
             <author><name>{}</name><uri>{}</uri></author>\n",
            esc(&e.card.title),
            esc(&page),
            esc(&page),
            e.published.to_rfc3339(),
            e.updated.to_rfc3339(),
            esc(&e.card.uploader),
            esc(&format!("{site}/users/{}", e.card.uploader)),
        );
        if let Some(len) = e.podcast_bytes {
            let _ = writeln!(
                x,
                "<link rel=\"enclosure\" type=\"audio/mpeg\" length=\"{len}\" href=\"{}\"/>",
                esc(&format!("{page}/binaural.mp3"))
            );
        }
        if let Some(len) = e.preview_bytes {
            let _ = writeln!(
                x,
                "<link rel=\"enclosure\" type=\"audio/ogg\" length=\"{len}\" href=\"{}\"/>",
                esc(&format!("{page}/preview.ogg"))
            );
        }
        for t in &e.card.tags {
            let _ = writeln!(
                x,
                "<category term=\"{}\" label=\"{}\"/>",
                esc(&t.slug),
                esc(&t.name)
            );
        }
        let _ = write!(x, "<summary>{}</summary>\n</entry>\n", esc(&e.description));
    }
    x.push_str("</feed>\n");
    x
}

/// What the RSS channel says beyond the feed itself.
struct Channel<'a> {
    site: &'a str,
    /// `itunes:owner`'s address, when the site has one.
    email: Option<&'a str>,
    /// Payments are on: the feed names where to support the site (`podcast:funding`).
    payments: bool,
}

const RSS_NAMESPACES: &str = "xmlns:atom=\"http://www.w3.org/2005/Atom\" \
     xmlns:dc=\"http://purl.org/dc/elements/1.1/\" \
     xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" \
     xmlns:podcast=\"https://podcastindex.org/namespace/1.0\"";

/// The channel's opening: title, links, language, cover art, and the podcast directories'
/// tags.
fn rss_channel(x: &mut String, feed: &Feed, site: &str, description: &str) {
    let self_url = format!("{site}{}", feed.rss);
    let page = format!("{site}{}", feed.page);
    let art = format!("{site}{}", feed.artwork);
    let author = feed.uploader.as_deref().unwrap_or("Ambisonia");
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" {RSS_NAMESPACES}>\n\
         <channel>\n<title>{title}</title>\n<link>{page}</link>\n<description>{description}</description>\n\
         <language>{LANGUAGE}</language>\n\
         <atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{self_url}\"/>\n\
         <lastBuildDate>{updated}</lastBuildDate>\n<generator>Ambisonia</generator>\n\
         <image><url>{art}</url><title>{title}</title><link>{page}</link></image>\n\
         <itunes:image href=\"{art}\"/>\n\
         <itunes:category text=\"{cat}\"><itunes:category text=\"{sub}\"/></itunes:category>\n\
         <itunes:explicit>false</itunes:explicit>\n<itunes:author>{author}</itunes:author>\n\
         <itunes:type>episodic</itunes:type>\n\
         <podcast:guid>{guid}</podcast:guid>\n",
        title = esc(&feed.title),
        page = esc(&page),
        description = esc(description),
        self_url = esc(&self_url),
        updated = feed.updated().to_rfc2822(),
        art = esc(&art),
        cat = CATEGORY.0,
        sub = CATEGORY.1,
        author = esc(author),
        guid = podcast_guid(&self_url),
    );
}

fn rss(feed: &Feed, channel: &Channel<'_>) -> String {
    let site = channel.site;
    let mut x = String::with_capacity(4096 + feed.entries.len() * 2048);
    let description = match &feed.uploader {
        Some(name) => format!(
            "Ambisonic (surround) recordings by {name}, rendered binaurally for headphones; \
             each recording's page plays the sound field itself."
        ),
        None => format!(
            "{}. Ambisonic (surround) recordings — concerts, churches, forests, cities — \
             rendered binaurally for headphones; each recording's page plays the sound field itself.",
            feed.title
        ),
    };
    rss_channel(&mut x, feed, site, &description);
    let author = feed.uploader.as_deref().unwrap_or("Ambisonia");
    let _ = write!(
        x,
        "<itunes:owner><itunes:name>{}</itunes:name>",
        esc(author)
    );
    if let Some(email) = channel.email {
        let _ = write!(x, "<itunes:email>{}</itunes:email>", esc(email));
    }
    x.push_str("</itunes:owner>\n");
    if channel.payments {
        let (url, text) = match &feed.uploader {
            Some(name) => (
                format!("{site}/users/{name}"),
                format!("Tip {name} on any of their recordings"),
            ),
            None => (
                format!("{site}/premium"),
                "Support Ambisonia: premium".to_string(),
            ),
        };
        let _ = writeln!(
            x,
            "<podcast:funding url=\"{}\">{}</podcast:funding>",
            esc(&url),
            esc(&text)
        );
    }
    // Podcast apps keep an item as they first saw it: only what has its sound yet.
    for e in feed.entries.iter().filter(|e| e.podcast_bytes.is_some()) {
        rss_item(&mut x, e, site);
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

fn rss_item(x: &mut String, e: &Entry, site: &str) {
    let page = format!("{site}/recordings/{}", e.card.slug);
    let _ = write!(
        x,
        "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n\
         <pubDate>{}</pubDate>\n<dc:creator>{}</dc:creator>\n<description>{}</description>\n\
         <itunes:image href=\"{}\"/>\n<itunes:explicit>false</itunes:explicit>\n",
        esc(&e.card.title),
        esc(&page),
        esc(&page),
        e.published.to_rfc2822(),
        esc(&e.card.uploader),
        esc(&e.description),
        esc(&format!("{site}/artwork/recordings/{}.png", e.card.slug)),
    );
    if let Some(ms) = e.card.duration_ms {
        let _ = writeln!(
            x,
            "<itunes:duration>{}</itunes:duration>",
            (ms + 500) / 1000
        );
    }
    if let Some(len) = e.podcast_bytes {
        let mp3 = esc(&format!("{page}/binaural.mp3"));
        let _ = write!(
            x,
            "<enclosure url=\"{mp3}\" length=\"{len}\" type=\"audio/mpeg\"/>\n\
             <podcast:alternateEnclosure type=\"audio/mpeg\" length=\"{len}\" bitrate=\"{}\" \
             default=\"true\" title=\"Binaural, for headphones\">\
             <podcast:source uri=\"{mp3}\"/></podcast:alternateEnclosure>\n",
            media::mp3::KBPS * 1000,
        );
    }
    if e.spatial {
        let _ = writeln!(
            x,
            "<podcast:alternateEnclosure type=\"audio/ogg\" title=\"Spatial preview: first-order AmbiX, 4 channels\">\
             <podcast:source uri=\"{}\"/></podcast:alternateEnclosure>",
            esc(&format!("{page}/spatial.ogg"))
        );
    }
    if let Some((size, _)) = &e.original {
        let _ = write!(
            x,
            "<podcast:alternateEnclosure type=\"audio/wav\" length=\"{size}\" title=\"The original\">\
             <podcast:source uri=\"{}\"/>",
            esc(&format!("{page}/download"))
        );
        if e.torrent.is_some() {
            let _ = write!(
                x,
                "<podcast:source uri=\"{}\" contentType=\"application/x-bittorrent\"/>",
                esc(&format!("{page}/download.torrent"))
            );
        }
        x.push_str("</podcast:alternateEnclosure>\n");
    }
    let licence = domain::LICENCES
        .iter()
        .find(|(k, ..)| *k == e.licence)
        .map(|(_, label, url)| (*label, *url));
    if let Some((label, url)) = licence {
        if url.is_empty() {
            let _ = writeln!(x, "<podcast:license>{}</podcast:license>", esc(label));
        } else {
            let _ = writeln!(
                x,
                "<podcast:license url=\"{}\">{}</podcast:license>",
                esc(url),
                esc(&e.licence)
            );
        }
    }
    if let (Some(lat), Some(lon)) = (e.latitude, e.longitude) {
        let name = if e.card.location.is_empty() {
            "Where it was recorded"
        } else {
            &e.card.location
        };
        let _ = writeln!(
            x,
            "<podcast:location geo=\"geo:{lat:.5},{lon:.5}\">{}</podcast:location>",
            esc(name)
        );
    }
    let _ = writeln!(
        x,
        "<podcast:person group=\"audio post-production\" role=\"audio engineer\" href=\"{}\">{}</podcast:person>",
        esc(&format!("{site}/users/{}", e.card.uploader)),
        esc(&e.card.uploader)
    );
    for t in &e.card.tags {
        let _ = writeln!(x, "<category>{}</category>", esc(&t.name));
    }
    x.push_str("</item>\n");
}

/// `/feed.torrents.rss`: the latest free originals, each enclosed as its `.torrent`.
fn torrents(feed: &Feed, site: &str, trackers: &[String]) -> String {
    let mut x = String::with_capacity(4096 + feed.entries.len() * 1024);
    rss_channel(
        &mut x,
        feed,
        site,
        "The latest free ambisonic recordings on Ambisonia, as BitTorrent: each torrent is \
         seeded by the site itself (a web seed), so a client fetches from the site and from \
         every peer at once.",
    );
    x.push_str("<itunes:owner><itunes:name>Ambisonia</itunes:name></itunes:owner>\n");
    for e in &feed.entries {
        let (Some((size, ext)), Some(hash)) = (&e.original, &e.torrent) else {
            continue;
        };
        let page = format!("{site}/recordings/{}", e.card.slug);
        let name = format!("{}.{ext}", e.card.slug);
        let len = torrent_len(
            &name,
            *size,
            &format!("{page}/download"),
            trackers,
            e.published.timestamp(),
        );
        let _ = write!(
            x,
            "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"false\">urn:btih:{hash}</guid>\n\
             <pubDate>{}</pubDate>\n<dc:creator>{}</dc:creator>\n<description>{}</description>\n\
             <enclosure url=\"{}\" length=\"{len}\" type=\"application/x-bittorrent\"/>\n</item>\n",
            esc(&e.card.title),
            esc(&page),
            e.published.to_rfc2822(),
            esc(&e.card.uploader),
            esc(&e.description),
            esc(&format!("{page}/download.torrent")),
        );
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

/// The `.torrent`'s length, as `downloads::torrent` makes it, without reading it.
pub fn torrent_len(
    name: &str,
    size: u64,
    web_seed: &str,
    trackers: &[String],
    created: i64,
) -> usize {
    let info = vec![0u8; media::torrent::info_len(name, size)];
    media::torrent::metainfo(&info, web_seed, trackers, created).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The namespace's own example (its spec: `mp3s.nashownotes.com/pc20rss.xml`).
    #[test]
    fn podcast_guid_is_the_namespaces_uuidv5_of_the_url_without_scheme() {
        for url in [
            "https://mp3s.nashownotes.com/pc20rss.xml",
            "http://mp3s.nashownotes.com/pc20rss.xml/",
            "mp3s.nashownotes.com/pc20rss.xml",
        ] {
            assert_eq!(
                podcast_guid(url),
                "917393e3-1b1e-5cef-ace4-edaa54e1f810",
                "{url}"
            );
        }
    }

    #[test]
    fn text_escapes() {
        assert_eq!(
            esc("a<b> & \"c\" 'd'\u{1}\u{FFFF}"),
            "a&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"
        );
    }
}
