//! Direct uploads to S3 for large files, as four JSON calls (each with the session and the
//! form token in `x-csrf-token`, like any POST) and one to ask how the finishing goes. The
//! bookkeeping and every rule are `domain::direct_uploads`; these handlers read the request
//! and answer.

use std::time::Duration;

use app::ssr::request::RequestContext;
use axum::{
    Extension, Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use domain::{
    ServiceError, UploadMeta, UploadState,
    direct_uploads::{self, CompleteError, Owned, Status},
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
    /// Where it was recorded (decimal degrees; both empty for nowhere), and whether to
    /// blur it.
    #[serde(default)]
    latitude: String,
    #[serde(default)]
    longitude: String,
    #[serde(default)]
    blur: bool,
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

async fn owned(s: &MediaState, ctx: &RequestContext, id: i32) -> Result<Owned, Refusal> {
    let uploader = uploader(s, ctx).await?;
    direct_uploads::owned(&s.db, uploader.user_id, id)
        .await
        .map_err(|e| match e {
            ServiceError::NotFound => Refusal::new(StatusCode::NOT_FOUND, "No such upload."),
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
        let mut meta = UploadMeta::parse(
            &req.title,
            &req.description,
            &req.location,
            &req.licence,
            &req.convention,
        )
        .map_err(Refusal::from)?;
        meta.place =
            domain::place(&req.latitude, &req.longitude, req.blur).map_err(Refusal::from)?;
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

/// `POST /upload/direct/{id}/complete`: every part sent → `202 Accepted` at once, with the
/// upload's status and where to ask for it again (a job joins, inspects and takes the file);
/// asked again, the same status, whatever it is by then.
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
    match direct_uploads::complete(&s.db, upload, parts).await {
        Ok(status) => {
            s.wake.notify_one();
            answer(&status)
        }
        Err(CompleteError::Missing(missing)) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": "Some parts have not been sent yet; send them, then complete.", "missing": missing })),
        )
            .into_response(),
        Err(CompleteError::Service(e)) => Refusal::of_upload(e).json(),
    }
}

/// `GET /upload/direct/{id}`: where the upload is (`uploading`, `finishing`, `done` with
/// the recording's address, `refused` with why), for its uploader's page to poll.
pub async fn status(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<i32>,
) -> Response {
    let status = async {
        let uploader = uploader(&s, &ctx).await?;
        direct_uploads::status(&s.db, uploader.user_id, id)
            .await
            .map_err(|e| match e {
                ServiceError::NotFound => Refusal::new(StatusCode::NOT_FOUND, "No such upload."),
                other => Refusal::from(other),
            })
    }
    .await;
    match status {
        Ok(status) => answer(&status),
        Err(refused) => refused.json(),
    }
}

/// An upload's status as JSON: `202` while it is being sent or finished, `200` once it is
/// done or refused.
fn answer(status: &Status) -> Response {
    let code = if status.state.in_progress() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let mut body = json!({
        "id": status.id,
        "state": status.state.as_str(),
        "status_url": format!("/upload/direct/{}", status.id),
    });
    if !status.message.is_empty() {
        body["message"] = json!(status.message);
    }
    if let Some(slug) = &status.recording {
        body["slug"] = json!(slug);
        body["url"] = json!(format!("/recordings/{slug}"));
    }
    if status.state == UploadState::Refused {
        body["error"] = json!(status.message);
    }
    let mut res = (code, Json(body)).into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static(contract::policy::PRIVATE),
    );
    res
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
