//! Direct uploads to S3 for large files, as four JSON calls (each with the session and the
//! form token in `x-csrf-token`, like any POST). The bookkeeping and every rule are
//! `domain::direct_uploads`; these handlers read the request and answer.

use std::time::Duration;

use app::ssr::request::RequestContext;
use axum::{
    Extension, Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use domain::{
    ServiceError, UploadMeta,
    direct_uploads::{self, CompleteError, InProgress},
    uploads::Uploader,
};
use serde::Deserialize;
use serde_json::json;

use crate::app_role::{media_state::MediaState, refusal::Refusal};

/// How long a part's presigned URL lasts.
const PART_URL_TTL: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
pub struct Start {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    licence: String,
    #[serde(default)]
    convention: String,
    size: u64,
}

async fn uploader(s: &MediaState, ctx: &RequestContext) -> Result<Uploader, Refusal> {
    let viewer = ctx
        .viewer
        .as_ref()
        .ok_or_else(|| Refusal::new(StatusCode::UNAUTHORIZED, "Log in to upload recordings."))?;
    Uploader::of_user(&s.db, viewer.user_id)
        .await
        .map_err(Refusal::from)
}

async fn owned(s: &MediaState, ctx: &RequestContext, id: i32) -> Result<InProgress, Refusal> {
    let uploader = uploader(s, ctx).await?;
    direct_uploads::owned(&s.db, uploader.user_id, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => {
                Refusal::new(StatusCode::NOT_FOUND, "No such upload in progress.")
            }
            other => Refusal::from(other),
        })
}

/// `POST /upload/direct`: `{title, …, size}` → `{id, part_size, parts}`.
pub async fn start(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Json(req): Json<Start>,
) -> Response {
    let started = async {
        let uploader = uploader(&s, &ctx).await?;
        let meta = UploadMeta::parse(
            &req.title,
            &req.description,
            &req.location,
            &req.licence,
            &req.convention,
        )
        .map_err(Refusal::from)?;
        direct_uploads::start(
            &s.db,
            &s.store,
            uploader,
            &meta,
            req.size,
            s.max_upload_bytes,
        )
        .await
        .map_err(Refusal::from)
    }
    .await;
    match started {
        Ok(st) => (
            StatusCode::CREATED,
            Json(json!({ "id": st.id, "part_size": st.part_size, "parts": st.parts })),
        )
            .into_response(),
        Err(refused) => refused.json(),
    }
}

#[derive(Deserialize)]
pub struct Urls {
    #[serde(default)]
    parts: Vec<i32>,
}

/// `POST /upload/direct/{id}/urls`: `{parts: [1, 2, …]}` → presigned URLs for those parts
/// (ask again for fresh ones when resuming).
pub async fn urls(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<i32>,
    Json(req): Json<Urls>,
) -> Response {
    let answer = async {
        let upload = owned(&s, &ctx, id).await?;
        let urls = upload
            .part_urls(&s.store, &req.parts, PART_URL_TTL)
            .await
            .map_err(Refusal::from)?;
        let urls: serde_json::Map<String, serde_json::Value> = urls
            .into_iter()
            .map(|(n, url)| (n.to_string(), json!(url)))
            .collect();
        Ok::<_, Refusal>(json!({ "urls": urls, "parts": upload.parts() }))
    }
    .await;
    match answer {
        Ok(body) => Json(body).into_response(),
        Err(refused) => refused.json(),
    }
}

#[derive(Deserialize)]
pub struct Part {
    n: i32,
    etag: String,
}

#[derive(Deserialize)]
pub struct Complete {
    parts: Vec<Part>,
}

/// `POST /upload/direct/{id}/complete`: every part there, at its size → one object,
/// inspected like any upload → a recording (`{slug, url}`), or a refusal that leaves
/// nothing behind.
pub async fn complete(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<i32>,
    Json(req): Json<Complete>,
) -> Response {
    let upload = match owned(&s, &ctx, id).await {
        Ok(u) => u,
        Err(refused) => return refused.json(),
    };
    let parts = req.parts.into_iter().map(|p| (p.n, p.etag)).collect();
    match direct_uploads::complete(&s.db, &s.store, &s.incoming, upload, parts).await {
        Ok(rec) => {
            s.wake.notify_one();
            (
                StatusCode::CREATED,
                Json(json!({ "slug": rec.slug, "url": format!("/recordings/{}", rec.slug), "status": rec.status.as_str() })),
            )
                .into_response()
        }
        Err(CompleteError::Missing(missing)) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": "Some parts have not been sent yet; send them, then complete.", "missing": missing })),
        )
            .into_response(),
        Err(CompleteError::Service(e)) => Refusal::of_upload(e).json(),
    }
}

/// `POST /upload/direct/{id}/abort`: the uploader gives up; the parts are dropped.
pub async fn abort(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<i32>,
) -> Response {
    let aborted = async {
        let upload = owned(&s, &ctx, id).await?;
        direct_uploads::abort(&s.db, &s.store, upload)
            .await
            .map_err(Refusal::from)
    }
    .await;
    match aborted {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refused) => refused.json(),
    }
}
