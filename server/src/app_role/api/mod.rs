//! The public API, version 1: the catalog for programs (`/api/v1/…`, JSON), its OpenAPI 3.1
//! document (`/api/v1/openapi.json`, generated from these handlers and types) and the page
//! that explains it to people (`/api`, written from the same document).
//!
//! Every read passes `caller::meter` (CORS, the bearer token, the allowance) and then the
//! pages' own `conditional` and `cache_policy` steps (validators and `304`s; only an
//! anonymous answer may be shared). The token upload (`POST /api/v1/recordings`) is
//! `uploads::api`, outside this allowance: uploads have limits of their own.

mod caller;
mod cursor;
mod docs;
mod examples;
mod model;
mod problem;
mod read;

use std::sync::Arc;

use app::ssr::state::AppState;
use axum::{
    Router,
    http::{HeaderValue, header},
    middleware::{from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
    routing::get,
};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        RefOr,
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
        server::Server,
    },
};

use super::{cache_policy, conditional, media_state::MediaState};
pub use caller::Meter;

#[derive(Clone)]
pub struct ApiState {
    pub app: AppState,
    pub media: MediaState,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ambisonia API",
        version = "1.0.0",
        description = "The catalog of ambisonic recordings, for programs: search with the catalog's own filters and sorts, recordings, comments, people, downloads. Anonymous reads need no token and are cached; a personal token (`Authorization: Bearer amb_…`, made on your account page with the scopes it needs) reads as you and downloads premium recordings if you are premium. Errors are problem details (RFC 9457).",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(
        read::search,
        read::recording,
        read::comments,
        read::download,
        read::user,
        read::user_recordings,
        read::collection,
    ),
    components(schemas(problem::Problem, read::SortParam, read::ConventionParam)),
    tags(
        (name = "recordings", description = "The catalog and its recordings"),
        (name = "users", description = "People and what they published"),
        (name = "collections", description = "Collections and packs"),
    ),
    modifiers(&Bearer, &Examples),
)]
struct Document;

/// The personal token scheme.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("amb_…")
                    .description(Some(
                        "A personal API token, made on the account page with the scopes it may use: read, upload, download.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Example answers, made by the code that makes real ones (`examples`).
struct Examples;

impl Modify for Examples {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let answers = examples::answers();
        for (path, item) in &mut api.paths.paths {
            let Some(op) = item.get.as_mut() else {
                continue;
            };
            for (status, response) in &mut op.responses.responses {
                let RefOr::T(response) = response else {
                    continue;
                };
                let example = if status == "200" {
                    answers
                        .iter()
                        .find(|(p, _)| p == path)
                        .map(|(_, v)| v.clone())
                } else {
                    examples::problem(status)
                };
                let Some(example) = example else { continue };
                for content in response.content.values_mut() {
                    if let RefOr::T(content) = content
                        && content.schema.is_some()
                    {
                        content.example = Some(example.clone());
                    }
                }
            }
        }
    }
}

/// The document, naming this site as its server.
pub fn document(public_url: &str) -> utoipa::openapi::OpenApi {
    let mut api = Document::openapi();
    api.servers = Some(vec![Server::new(public_url)]);
    api
}

/// The API's routes, with the steps around them.
pub fn routes(state: ApiState, meter: Meter) -> Router {
    let doc = document(&state.app.settings.public_url);
    let json: Arc<str> = doc.to_pretty_json().unwrap_or_default().into();
    let page: Arc<str> = docs::page(&doc).into();
    let ttl = state.app.settings.page_ttl_s;
    let reads = Router::new()
        .route("/api/v1/recordings", get(read::search))
        .route("/api/v1/recordings/{slug}", get(read::recording))
        .route("/api/v1/recordings/{slug}/comments", get(read::comments))
        .route("/api/v1/recordings/{slug}/download", get(read::download))
        .route("/api/v1/users/{username}", get(read::user))
        .route("/api/v1/collections/{slug}", get(read::collection))
        .route(
            "/api/v1/users/{username}/recordings",
            get(read::user_recordings),
        )
        .with_state(state)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let json = Arc::clone(&json);
                async move { fixed("application/json", &json, ttl) }
            }),
        )
        .layer(from_fn(conditional::validate))
        .layer(from_fn(cache_policy::apply))
        .layer(from_fn_with_state(meter, caller::meter));
    let docs = Router::new()
        .route(
            "/api",
            get(move || {
                let page = Arc::clone(&page);
                async move { fixed("text/html; charset=utf-8", &page, ttl) }
            }),
        )
        .layer(from_fn(conditional::validate))
        .layer(from_fn(cache_policy::apply));
    reads.merge(docs)
}

/// Something that changes only with the program: shared for a page's lifetime.
fn fixed(content_type: &'static str, body: &str, ttl: u32) -> Response {
    let mut res = body.to_owned().into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some((cc, _)) = contract::policy::public_headers(&[], ttl) {
        h.insert(header::CACHE_CONTROL, cc);
    }
    res
}
