//! The player for other people's pages: `/embed/{slug}` (`app::embed::document`), which any
//! site may frame while every other page keeps refusing it, and oEmbed
//! (`/oembed?url=…&format=json`, `type: rich`), which hands a page or a program the
//! `<iframe>` for a recording page's URL. Neither reads or sets a cookie (they sit outside
//! the session step); both are the same for everyone, read through the replica's read cache
//! and shared by the balancer under the recording's surrogate keys.

use std::collections::HashMap;

use app::ssr::{cache::set_sharing, state::AppState};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use contract::policy::PRIVATE;
use domain::{ServiceError, catalog, key, model::RecordingDetail};

use super::{page_headers::Framable, refusal::Refusal};

/// A published recording as everyone sees it: the recording page's read-cache entry.
async fn published(
    s: &AppState,
    slug: &str,
) -> Result<(RecordingDetail, Vec<String>), ServiceError> {
    s.bus
        .cached(format!("recording/{slug}"), || async {
            let (uploader, d) = catalog::recording(&s.db, slug, None).await?;
            let keys = vec![key::recording(d.card.id), key::user(uploader)];
            Ok((d, keys))
        })
        .await
}

fn shared(s: &AppState, res: &mut Response, keys: &[String]) {
    set_sharing(res.headers_mut(), s, keys, s.settings.page_ttl_s, true);
}

/// `GET /embed/{slug}`.
pub async fn page(State(s): State<AppState>, Path(slug): Path<String>) -> Response {
    let (detail, keys) = match published(&s, &slug).await {
        Ok(found) => found,
        Err(e) => return Refusal::from(e).download_page(),
    };
    let mut res = app::embed::document(&detail, &s.settings.public_url).into_response();
    res.extensions_mut().insert(Framable);
    let policy = app::ssr::headers::embed_security_policy(s.settings.media_origin.as_deref());
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    shared(&s, &mut res, &keys);
    res
}

/// `GET /oembed?url=<a recording page>&format=json[&maxwidth=…&maxheight=…]` (oEmbed 1.0).
pub async fn oembed(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut res = answer(&s, &q).await;
    // Pages on any site may ask for it from their scripts.
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

async fn answer(s: &AppState, q: &HashMap<String, String>) -> Response {
    let refuse = |status: StatusCode, why: &str| {
        let mut r = (status, why.to_owned()).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(PRIVATE));
        r
    };
    if q.get("format").is_some_and(|f| f != "json") {
        return refuse(StatusCode::NOT_IMPLEMENTED, "Only format=json is offered.");
    }
    // A recording page's URL on this site: its path is what names the recording.
    let Some(slug) = q.get("url").and_then(|u| slug_of(u)) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "url= must be a recording page of this site (…/recordings/{slug}).",
        );
    };
    let (detail, keys) = match published(s, &slug).await {
        Ok(found) => found,
        Err(ServiceError::NotFound) => return refuse(StatusCode::NOT_FOUND, "No such recording."),
        Err(e) => return Refusal::from(e).json(),
    };
    let bound = |name: &str, own: u32| {
        q.get(name)
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|m| *m > 0)
            .map_or(own, |m| m.min(own))
    };
    let (width, height) = (
        bound("maxwidth", app::embed::WIDTH),
        bound("maxheight", app::embed::HEIGHT),
    );
    let site = &s.settings.public_url;
    let card = &detail.card;
    let html = app::embed::iframe_code(site, &card.slug, &card.title, width, height);
    let body = serde_json::json!({
        "version": "1.0",
        "type": "rich",
        "provider_name": "Ambisonia",
        "provider_url": site,
        "title": card.title,
        "author_name": card.uploader,
        "author_url": format!("{site}/users/{}", card.uploader),
        "html": html,
        "width": width,
        "height": height,
        "thumbnail_url": format!("{site}/artwork/recordings/{}.png", card.slug),
        "thumbnail_width": media::artwork::SIDE,
        "thumbnail_height": media::artwork::SIDE,
        "cache_age": s.settings.page_ttl_s,
    });
    let mut res = axum::Json(body).into_response();
    shared(s, &mut res, &keys);
    res
}

/// The slug of `…/recordings/{slug}` (any origin: the path names the recording).
fn slug_of(url: &str) -> Option<String> {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.find('/').map_or("", |i| &rest[i..]));
    let path = path.split(['?', '#']).next()?;
    let slug = path.strip_prefix("/recordings/")?.trim_end_matches('/');
    (!slug.is_empty() && !slug.contains('/')).then(|| slug.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_recording_page_names_a_recording() {
        use super::slug_of;
        assert_eq!(
            slug_of("https://ambisonia.example/recordings/dawn?x=1").as_deref(),
            Some("dawn")
        );
        assert_eq!(slug_of("/recordings/dawn/").as_deref(), Some("dawn"));
        for no in [
            "https://ambisonia.example/",
            "https://ambisonia.example/recordings/",
            "https://ambisonia.example/recordings/dawn/download",
            "https://ambisonia.example/users/marta",
            "recordings/dawn",
        ] {
            assert_eq!(slug_of(no), None, "{no}");
        }
    }
}
