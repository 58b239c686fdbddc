//! The API's read side: the catalog's search, a recording, its comments, a person and their
//! recordings, and downloads. Every read goes through the domain's own loaders — the same
//! as the pages — so a filter or a sort means here what it means on `/catalog`. An
//! anonymous answer is the same for everyone: read through this replica's read cache, and
//! shareable by the balancer under the page's surrogate keys, so the writes that purge the
//! page purge it too. A token's answer (its owner may see their own drafts) is private.

use std::collections::HashMap;

use app::ssr::{cache::set_sharing, request::RequestContext};
use axum::{
    Extension,
    extract::{Path, Query, State, rejection::QueryRejection},
    http::{HeaderMap, HeaderValue, Method, header},
    response::{IntoResponse, Response},
};
use domain::{
    catalog,
    catalog_query::{CatalogQuery, Sort},
    key,
    model::Viewer,
    payments::DownloadGate,
    tokens::Scope,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    ApiState,
    caller::{Caller, ClientAddress},
    cursor::{self, Place, Walk},
    model::{Collection, CommentList, Recording, RecordingList, Site, User},
    problem::{ApiError, Kind, Problem},
};
use crate::app_role::downloads;

/// How a search is sorted.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortParam {
    /// Best match first (only with `q`; the default when there is one).
    Relevance,
    /// Newest first (the default without `q`).
    Newest,
    /// Most downloaded first.
    Downloads,
    /// Best rated first.
    Rating,
    /// Longest first.
    Longest,
}

impl SortParam {
    fn sort(self) -> Sort {
        match self {
            SortParam::Relevance => Sort::Relevance,
            SortParam::Newest => Sort::Newest,
            SortParam::Downloads => Sort::MostDownloaded,
            SortParam::Rating => Sort::BestRated,
            SortParam::Longest => Sort::Longest,
        }
    }
}

/// A channel convention.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConventionParam {
    Ambix,
    Fuma,
    Uhj,
    Gformat,
    Stereo,
    Mono,
}

impl ConventionParam {
    fn name(self) -> &'static str {
        let c = match self {
            ConventionParam::Ambix => domain::Convention::Ambix,
            ConventionParam::Fuma => domain::Convention::Fuma,
            ConventionParam::Uhj => domain::Convention::Uhj,
            ConventionParam::Gformat => domain::Convention::Gformat,
            ConventionParam::Stereo => domain::Convention::Stereo,
            ConventionParam::Mono => domain::Convention::Mono,
        };
        c.as_str()
    }
}

/// The catalog page's own filters, sorts and search, by the same names.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words looked for in titles, artists, descriptions, places and tags (ranked: a title
    /// match first).
    #[param(example = "forest")]
    pub q: Option<String>,
    /// A tag's slug.
    #[param(example = "birds")]
    pub tag: Option<String>,
    pub convention: Option<ConventionParam>,
    /// The ambisonic order, 1–3.
    #[param(minimum = 1, maximum = 3)]
    pub order: Option<u8>,
    /// A microphone, as recordings name it.
    pub mic: Option<String>,
    /// A licence key (`cc-by-4.0`, `cc0-1.0` …).
    pub licence: Option<String>,
    /// At least this many minutes long.
    #[param(maximum = 10000)]
    pub min: Option<u32>,
    /// At most this many minutes long.
    #[param(maximum = 10000)]
    pub max: Option<u32>,
    pub sort: Option<SortParam>,
    /// Where the page starts: the `next_cursor` of the page before. Opaque.
    pub cursor: Option<String>,
}

/// A page of an uploader's recordings.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Where the page starts: the `next_cursor` of the page before. Opaque.
    pub cursor: Option<String>,
}

/// A download's form.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DownloadParams {
    /// A rendition (`ambix`, `fuma`, `ambix-48k`, `binaural`, `uhj`, `5.1`); the original
    /// without it.
    pub format: Option<String>,
    /// For `binaural`: the listener's facing in degrees (multiples of 15, −180 to 180).
    pub yaw: Option<i32>,
}

fn params<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|e| ApiError::bad_parameter(e.body_text()))
}

/// JSON, shared as the matching page is when the caller is anonymous, private otherwise.
fn answer<T: Serialize>(s: &ApiState, value: &T, keys: &[String], shared: bool) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    set_sharing(h, &s.app, keys, s.app.settings.page_ttl_s, shared);
    res
}

fn site(s: &ApiState) -> Site<'_> {
    Site(&s.app.settings.public_url)
}

/// Search the catalog.
///
/// The catalog page's search, filters and sorts (`/catalog?…` and this agree for the same
/// query), a page of 24 at a time. Walk on with `cursor=next_cursor` (or follow `next`, also
/// in the `Link` header): without a search text the cursor is where the page ended, so a
/// walk never repeats or skips a recording, even while recordings are published; a ranked
/// search pages through its best 480 matches.
#[utoipa::path(
    get,
    path = "/api/v1/recordings",
    tag = "recordings",
    params(SearchParams),
    responses(
        (status = 200, description = "A page of recordings", body = RecordingList,
            headers(
                ("RateLimit-Limit" = u32, description = "Requests allowed in the window"),
                ("RateLimit-Remaining" = u32, description = "Requests left in the window"),
                ("RateLimit-Reset" = u64, description = "Seconds until the window ends"),
                ("ETag" = String, description = "Strong validator (anonymous answers)"),
            )),
        (status = 400, description = "An unknown parameter, a value out of range, an unknown sort or a bad cursor", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A malformed, unknown or revoked token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `read` scope", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
    security((), ("bearer" = ["read"])),
)]
pub async fn search(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let viewer = caller.reader()?;
    let p = params(q)?;
    let query = catalog_query(&p)?;
    let walk = Walk::Catalog(query.sort);
    let load = || async {
        let page = catalog::listing(&s.app.db, &query).await?;
        let mut keys = vec![key::CATALOG.to_owned()];
        keys.extend(page.items.iter().map(|c| key::card(c.id)));
        Ok((page, keys))
    };
    let (page, keys) = match viewer {
        None => {
            let cache_key = format!(
                "api/recordings?{}",
                serde_json::to_string(&query).unwrap_or_default()
            );
            s.app.bus.cached(cache_key, load).await?
        }
        Some(_) => load().await?,
    };
    let next_cursor = page
        .next
        .as_deref()
        .and_then(|href| cursor::of_next_link(href, query.sort))
        .map(|place| cursor::encode(walk, place));
    let next = next_cursor
        .as_ref()
        .map(|c| site(&s).absolute(&next_href(&query, c)));
    let list = RecordingList {
        items: page.items.iter().map(|c| site(&s).summary(c)).collect(),
        next_cursor,
        next: next.clone(),
        total: Some(page.total.into()),
    };
    let mut res = answer(&s, &list, &keys, matches!(caller, Caller::Anonymous));
    link_next(res.headers_mut(), next.as_deref());
    Ok(res)
}

/// The strict reading of the API's parameters into the catalog's query.
fn catalog_query(p: &SearchParams) -> Result<CatalogQuery, ApiError> {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let text = p.q.as_deref().map(str::trim).unwrap_or("");
    if text.chars().count() > 200 {
        return Err(ApiError::bad_parameter("q: at most 200 characters."));
    }
    if !text.is_empty() {
        pairs.push(("q", text.to_owned()));
    }
    if let Some(o) = p.order {
        if !(1..=3).contains(&o) {
            return Err(ApiError::bad_parameter("order: 1, 2 or 3."));
        }
        pairs.push(("order", o.to_string()));
    }
    for (name, value) in [("min", p.min), ("max", p.max)] {
        if let Some(v) = value {
            if v > 10_000 {
                return Err(ApiError::bad_parameter(format!(
                    "{name}: at most 10000 minutes."
                )));
            }
            pairs.push((name, v.to_string()));
        }
    }
    for (name, value) in [("tag", &p.tag), ("mic", &p.mic), ("licence", &p.licence)] {
        if let Some(v) = value {
            let v = v.trim();
            if v.is_empty() || v.len() > 100 {
                return Err(ApiError::bad_parameter(format!(
                    "{name}: 1 to 100 characters."
                )));
            }
            pairs.push((name, v.to_owned()));
        }
    }
    if let Some(c) = p.convention {
        pairs.push(("convention", c.name().to_owned()));
    }
    if let Some(sort) = p.sort {
        if matches!(sort, SortParam::Relevance) && text.is_empty() {
            return Err(ApiError::bad_parameter(
                "sort: relevance needs a search text (q).",
            ));
        }
        pairs.push(("sort", sort.sort().as_str().to_owned()));
    }
    let mut query = CatalogQuery::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
    if let Some(raw) = &p.cursor {
        match cursor::decode(Walk::Catalog(query.sort), raw)? {
            Place::After(c) if query.search_terms().is_empty() => query = query.with_after(c),
            Place::Page(n) if !query.search_terms().is_empty() => query = query.with_page(n),
            _ => {
                return Err(ApiError::new(
                    Kind::BadCursor,
                    "That cursor belongs to another query; start again without one.",
                ));
            }
        }
    }
    Ok(query)
}

/// The next page of a search, as an API path: the catalog's canonical query words (the
/// same names) and the cursor.
fn next_href(query: &CatalogQuery, cursor: &str) -> String {
    let page = query.with_page(1).href();
    let words = page
        .split_once('?')
        .map(|(_, q)| format!("{q}&"))
        .unwrap_or_default();
    format!("/api/v1/recordings?{words}cursor={cursor}")
}

fn link_next(h: &mut HeaderMap, next: Option<&str>) {
    if let Some(v) = next.and_then(|n| HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok())
    {
        h.insert(header::LINK, v);
    }
}

/// A recording, as its page shows it (for everyone, a published one; for its uploader's
/// or an editor's token, any of theirs).
async fn detail(
    s: &ApiState,
    slug: &str,
    viewer: Option<&Viewer>,
) -> Result<(domain::model::RecordingDetail, Vec<String>), ApiError> {
    let keys = |uploader: i32, d: &domain::model::RecordingDetail| {
        vec![key::recording(d.card.id), key::user(uploader)]
    };
    Ok(match viewer {
        Some(v) => {
            let (uploader, d) = catalog::recording(&s.app.db, slug, Some(v)).await?;
            let k = keys(uploader, &d);
            (d, k)
        }
        // The same read-cache entry as the recording's page.
        None => {
            s.app
                .bus
                .cached(format!("recording/{slug}"), || async {
                    let (uploader, d) = catalog::recording(&s.app.db, slug, None).await?;
                    let k = keys(uploader, &d);
                    Ok((d, k))
                })
                .await?
        }
    })
}

/// A recording.
///
/// Everything its page says: convention, order, layout, channels, rate, duration, licence,
/// place, tags, uploader, counts, the previews and pictures, and the forms it downloads in.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{slug}",
    tag = "recordings",
    params(("slug" = String, Path, description = "The recording's name in URLs")),
    responses(
        (status = 200, description = "The recording", body = Recording),
        (status = 401, description = "A malformed, unknown or revoked token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `read` scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No published recording by that name", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = ["read"])),
)]
pub async fn recording(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = caller.reader()?;
    let (d, keys) = detail(&s, &slug, viewer.as_ref()).await?;
    Ok(answer(&s, &site(&s).recording(&d), &keys, viewer.is_none()))
}

/// A recording's comments, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{slug}/comments",
    tag = "recordings",
    params(("slug" = String, Path, description = "The recording's name in URLs")),
    responses(
        (status = 200, description = "Its comments", body = CommentList),
        (status = 404, description = "No published recording by that name", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = ["read"])),
)]
pub async fn comments(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = caller.reader()?;
    let (d, keys) = detail(&s, &slug, viewer.as_ref()).await?;
    Ok(answer(
        &s,
        &site(&s).comments(&d.comments),
        &keys,
        viewer.is_none(),
    ))
}

/// A person's public profile.
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}",
    tag = "users",
    params(("username" = String, Path, description = "Their user name")),
    responses(
        (status = 200, description = "The profile", body = User),
        (status = 404, description = "Nobody by that name", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = ["read"])),
)]
pub async fn user(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> Result<Response, ApiError> {
    caller.reader()?;
    // The profile page's read-cache entry.
    let (page, keys) = s
        .app
        .bus
        .cached(format!("profile/{username}"), || async {
            let (user_id, page) = catalog::profile(&s.app.db, &username).await?;
            let mut keys = vec![key::user(user_id)];
            keys.extend(page.recordings.iter().map(|c| key::card(c.id)));
            Ok((page, keys))
        })
        .await?;
    Ok(answer(&s, &site(&s).user(&page), &keys, true))
}

/// A person's published recordings, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/users/{username}/recordings",
    tag = "users",
    params(("username" = String, Path, description = "Their user name"), PageParams),
    responses(
        (status = 200, description = "A page of their recordings", body = RecordingList),
        (status = 400, description = "A bad cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Nobody by that name", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = ["read"])),
)]
pub async fn user_recordings(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.reader()?;
    let p = params(q)?;
    let after = match &p.cursor {
        None => None,
        Some(raw) => match cursor::decode(Walk::Uploads, raw)? {
            Place::After(c) => Some(c),
            Place::Page(_) => {
                return Err(ApiError::new(
                    Kind::BadCursor,
                    "That cursor belongs to another walk; start again without one.",
                ));
            }
        },
    };
    let cache_key = format!(
        "api/uploads/{username}?{}",
        after.map(|c| c.encode()).unwrap_or_default()
    );
    let ((cards, next), keys) = s
        .app
        .bus
        .cached(cache_key, || async {
            let (user_id, cards, next) =
                catalog::uploads(&s.app.db, &username, after.as_ref()).await?;
            let mut keys = vec![key::user(user_id), key::CATALOG.to_owned()];
            keys.extend(cards.iter().map(|c| key::card(c.id)));
            Ok(((cards, next), keys))
        })
        .await?;
    let next_cursor = next.map(|c| cursor::encode(Walk::Uploads, Place::After(c)));
    let next = next_cursor.as_ref().map(|c| {
        site(&s).absolute(&format!(
            "/api/v1/users/{}/recordings?cursor={c}",
            domain::catalog_query::encode_component(&username)
        ))
    });
    let list = RecordingList {
        items: cards.iter().map(|c| site(&s).summary(c)).collect(),
        next_cursor,
        next: next.clone(),
        total: None,
    };
    let mut res = answer(&s, &list, &keys, true);
    link_next(res.headers_mut(), next.as_deref());
    Ok(res)
}

/// A collection.
///
/// A public collection for everyone; a private one only for its owner's token (with the
/// `read` scope) — for anyone else it does not exist.
#[utoipa::path(
    get,
    path = "/api/v1/collections/{slug}",
    tag = "collections",
    params(("slug" = String, Path, description = "The collection's name in URLs")),
    responses(
        (status = 200, description = "The collection and its recordings, in its order", body = Collection),
        (status = 404, description = "No such collection (or not yours to see)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = ["read"])),
)]
pub async fn collection(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(slug): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = caller.reader()?;
    let (page, keys) = match &viewer {
        Some(v) => domain::collections::page(&s.app.db, &slug, Some(v)).await?,
        // The collection page's read-cache entry.
        None => {
            s.app
                .bus
                .cached(format!("collection/{slug}"), || async {
                    domain::collections::page(&s.app.db, &slug, None).await
                })
                .await?
        }
    };
    let shared = viewer.is_none() && page.is_public;
    Ok(answer(&s, &site(&s).collection(&page), &keys, shared))
}

/// Download a recording.
///
/// The original, or a rendition (`format=`), as the site's download: ranges work, a free
/// recording needs no token, and a premium one needs the token (with the `download` scope)
/// of a premium member, its uploader or an editor.
#[utoipa::path(
    get,
    path = "/api/v1/recordings/{slug}/download",
    tag = "recordings",
    params(("slug" = String, Path, description = "The recording's name in URLs"), DownloadParams),
    responses(
        (status = 200, description = "The file (WAVE)", content_type = "audio/wav"),
        (status = 206, description = "The range asked for", content_type = "audio/wav"),
        (status = 400, description = "An unknown format or facing", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A premium recording and no token, or a malformed, unknown or revoked token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks the `download` scope, or its owner is not premium", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No published recording by that name", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The allowance is used up", body = Problem, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = ["download"])),
)]
pub async fn download(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    Path(slug): Path<String>,
    q: Result<Query<DownloadParams>, QueryRejection>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let viewer = match &caller {
        Caller::Anonymous => None,
        Caller::Token(t) => {
            t.require(Scope::Download)?;
            Some(t.viewer())
        }
    };
    let p = params(q)?;
    let row = domain::recordings::visible(&s.app.db, &slug, viewer.as_ref()).await?;
    if row.media_key.is_none() {
        return Err(ApiError::new(Kind::NotFound, "This recording has no file."));
    }
    match domain::payments::download_gate(&s.app.db, &row, viewer.as_ref()).await? {
        DownloadGate::Open => {}
        DownloadGate::NeedsLogin => {
            return Err(ApiError::new(
                Kind::TokenNeeded,
                "A premium recording: send the token (with the download scope) of a premium account.",
            ));
        }
        DownloadGate::NeedsPremium => {
            return Err(ApiError::new(
                Kind::PremiumOnly,
                "A premium recording, and this token's account is not premium.",
            ));
        }
    }
    let wanted = p.format.as_deref();
    let rendition = domain::downloads::rendition(&row, wanted)?;
    let yaw = p.yaw.map(|y| y.to_string());
    domain::downloads::facing(rendition, yaw.as_deref())?;
    // The site's own download, for this caller.
    let mut query = HashMap::new();
    if let Some(f) = p.format {
        query.insert("format".to_owned(), f);
    }
    if let Some(y) = yaw {
        query.insert("yaw".to_owned(), y);
    }
    let ctx = RequestContext {
        viewer,
        csrf: String::new(),
        csrf_is_new: false,
        client_ip: address,
        secure_cookies: s.app.settings.secure_cookies(),
    };
    Ok(downloads::download(
        State(s.media.clone()),
        Extension(ctx),
        Path(slug),
        Query(query),
        method,
        headers,
    )
    .await)
}
