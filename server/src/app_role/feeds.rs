//! Feeds, in Atom and in RSS 2.0 with enclosures (so podcast apps can subscribe): the
//! latest recordings (`/feed.atom`, `/feed.rss`), a tag's (`/tags/{slug}/feed.atom`), an
//! uploader's (`/users/{name}/feed.atom`) and any catalog search's
//! (`/catalog/feed.atom?q=…&tag=…`). The enclosure is the stereo preview. What a feed
//! holds is `domain::feeds`; here it is written out, shareable like the page it mirrors
//! and under that page's surrogate keys.

use std::fmt::Write as _;

use app::ssr::{cache::may_share, state::AppState};
use axum::{
    Router,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
    routing::get,
};
use contract::{
    header::SURROGATE_KEY,
    policy::{PRIVATE, public_headers},
};
use domain::{
    ServiceError,
    catalog_query::CatalogQuery,
    feeds::{Feed, Scope},
};

use crate::app_role::refusal::{Refusal, not_found};

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
    router.with_state(state)
}

async fn answer(s: &AppState, scope: Scope, format: Format) -> Response {
    let feed = match domain::feeds::feed(&s.db, &scope).await {
        Ok(f) => f,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return Refusal::from(e).download_page(),
    };
    let site = s.settings.public_url.trim_end_matches('/');
    let body = match format {
        Format::Atom => atom(&feed, site),
        Format::Rss => rss(&feed, site),
    };
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    // A feed mirrors its page, and is shared as the page is.
    match public_headers(&feed.keys, s.settings.page_ttl_s).filter(|_| may_share(s)) {
        Some((cc, keys)) => {
            h.insert(header::CACHE_CONTROL, cc);
            h.insert(&SURROGATE_KEY, keys);
        }
        None => {
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        }
    }
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

fn rss(feed: &Feed, site: &str) -> String {
    let self_url = format!("{site}{}", feed.rss);
    let mut x = String::with_capacity(2048 + feed.entries.len() * 1024);
    let _ = write!(
        x,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n\
         <channel>\n<title>{}</title>\n<link>{}</link>\n<description>{}</description>\n\
         <atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{}\"/>\n\
         <lastBuildDate>{}</lastBuildDate>\n<generator>Ambisonia</generator>\n",
        esc(&feed.title),
        esc(&format!("{site}{}", feed.page)),
        esc(&feed.title),
        esc(&self_url),
        feed.updated().to_rfc2822(),
    );
    for e in &feed.entries {
        let page = format!("{site}/recordings/{}", e.card.slug);
        let _ = write!(
            x,
            "<item>\n<title>{}</title>\n<link>{}</link>\n<guid isPermaLink=\"true\">{}</guid>\n\
             <pubDate>{}</pubDate>\n<dc:creator>{}</dc:creator>\n<description>{}</description>\n",
            esc(&e.card.title),
            esc(&page),
            esc(&page),
            e.published.to_rfc2822(),
            esc(&e.card.uploader),
            esc(&e.description),
        );
        if let Some(len) = e.preview_bytes {
            let _ = writeln!(
                x,
                "<enclosure url=\"{}\" length=\"{len}\" type=\"audio/ogg\"/>",
                esc(&format!("{page}/preview.ogg"))
            );
        }
        for t in &e.card.tags {
            let _ = writeln!(x, "<category>{}</category>", esc(&t.name));
        }
        x.push_str("</item>\n");
    }
    x.push_str("</channel>\n</rss>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes() {
        assert_eq!(
            esc("a<b> & \"c\" 'd'\u{1}"),
            "a&lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"
        );
    }
}
