//! Direct uploads to S3 for large files: the server starts a multipart upload and presigns
//! each part's URL; the browser sends the parts (in parallel, each retried on failure) to
//! the bucket, never through the app, and keeps the ETag the bucket answers for each part,
//! so after a dropped connection it sends only the parts it has no ETag for. Then the
//! server completes the upload with those ETags (the bucket refuses a part that does not
//! match), checks the joined object's size, reads it back through the same inspection an
//! ordinary upload gets, and keeps it — or removes it and says why.
//!
//! (The part list is the browser's, not the bucket's ListParts: S3-compatible stores differ
//! in how they answer ListParts, and the ETags are all completion needs. On AWS the
//! bucket's CORS rules must allow PUT from the site and expose `ETag`.)
//!
//! All four steps take the session and the form token (`x-csrf-token`), like any POST.

use std::time::Duration;

use app::{
    domain::{Role, Status},
    ssr::{entities::direct_uploads, recordings::NewRecording, request::RequestContext},
};
use axum::{
    Extension, Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, EntityTrait, ModelTrait, Set};
use serde::Deserialize;
use serde_json::json;

use super::media::MediaState;
use crate::media::ingest::{IngestError, ingest};

/// S3 takes at most 10,000 parts of at least 5 MiB (but the last).
const MIN_PART: u64 = 8 * 1024 * 1024;
const MAX_PARTS: u64 = 9_000;
/// How long a part's presigned URL lasts.
const PART_URL_TTL: Duration = Duration::from_secs(3600);

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

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

fn uploader(ctx: &RequestContext) -> Result<i32, (StatusCode, &'static str)> {
    match &ctx.viewer {
        None => Err((StatusCode::UNAUTHORIZED, "Log in to upload recordings.")),
        Some(v) if v.role < Role::Uploader => Err((
            StatusCode::FORBIDDEN,
            "Your account cannot upload yet: ask an editor to make you an uploader.",
        )),
        Some(v) => Ok(v.user_id),
    }
}

/// `POST /upload/direct`: `{title, …, size}` → `{id, part_size, parts}`.
pub async fn start(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Json(req): Json<Start>,
) -> Response {
    let user_id = match uploader(&ctx) {
        Ok(u) => u,
        Err((status, msg)) => return error(status, msg),
    };
    let title: String = req.title.trim().chars().take(200).collect();
    if title.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give the recording a title.",
        );
    }
    if req.size == 0 || req.size > s.max_upload_bytes {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("A recording may be up to {} MiB.", s.max_upload_bytes >> 20),
        );
    }
    let part_size = MIN_PART.max(req.size.div_ceil(MAX_PARTS));
    let parts = req.size.div_ceil(part_size);
    let key = format!("incoming/{:032x}", rand::random::<u128>());
    let upload_id = match s.store.start_multipart(&key).await {
        Ok(id) => id,
        Err(crate::media::store::StoreError::Unsupported) => {
            return error(
                StatusCode::CONFLICT,
                "Direct uploads need the S3 media store; use the upload form.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start a multipart upload");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The media store cannot take uploads just now.",
            );
        }
    };
    let row = direct_uploads::ActiveModel {
        user_id: Set(user_id),
        key: Set(key),
        upload_id: Set(upload_id),
        size_bytes: Set(i64::try_from(req.size).unwrap_or(i64::MAX)),
        part_size: Set(i64::try_from(part_size).unwrap_or(i64::MAX)),
        title: Set(title),
        description: Set(req.description.chars().take(20_000).collect()),
        location: Set(req.location.chars().take(200).collect()),
        licence: Set(req.licence.chars().take(40).collect()),
        convention: Set(req.convention.chars().take(16).collect()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&s.db)
    .await;
    match row {
        Ok(row) => (
            StatusCode::CREATED,
            Json(json!({ "id": row.id, "part_size": part_size, "parts": parts })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot record a direct upload");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The site could not start the upload.",
            )
        }
    }
}

async fn owned(
    s: &MediaState,
    ctx: &RequestContext,
    id: i32,
) -> Result<direct_uploads::Model, Response> {
    let user_id = uploader(ctx).map_err(|(status, msg)| error(status, msg))?;
    match direct_uploads::Entity::find_by_id(id).one(&s.db).await {
        Ok(Some(row)) if row.user_id == user_id => Ok(row),
        Ok(_) => Err(error(StatusCode::NOT_FOUND, "No such upload in progress.")),
        Err(e) => {
            tracing::error!(error = %e, "database");
            Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                "The site cannot reach its database just now.",
            ))
        }
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
    let row = match owned(&s, &ctx, id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let total = (row.size_bytes as u64).div_ceil(row.part_size as u64) as i32;
    let mut urls = serde_json::Map::new();
    for n in req
        .parts
        .iter()
        .copied()
        .filter(|n| (1..=total).contains(n))
        .take(64)
    {
        match s
            .store
            .presign_part(&row.key, &row.upload_id, n, PART_URL_TTL)
            .await
        {
            Ok(url) => {
                urls.insert(n.to_string(), json!(url));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot presign a part");
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The media store cannot take uploads just now.",
                );
            }
        }
    }
    Json(json!({ "urls": urls, "parts": total })).into_response()
}

/// `POST /upload/direct/{id}/complete`: every part there, at its size → one object,
/// inspected like any upload → a recording (`{slug, url}`), or a refusal that leaves
/// nothing behind.
#[derive(Deserialize)]
pub struct Part {
    n: i32,
    etag: String,
}

#[derive(Deserialize)]
pub struct Complete {
    parts: Vec<Part>,
}

pub async fn complete(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<i32>,
    Json(req): Json<Complete>,
) -> Response {
    let row = match owned(&s, &ctx, id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let total = (row.size_bytes as u64).div_ceil(row.part_size as u64) as i32;
    let missing: Vec<i32> = (1..=total)
        .filter(|n| !req.parts.iter().any(|p| p.n == *n && !p.etag.is_empty()))
        .collect();
    if !missing.is_empty() {
        return (
            StatusCode::CONFLICT,
            Json(json!({ "error": "Some parts have not been sent yet; send them, then complete.", "missing": missing })),
        )
            .into_response();
    }
    let mut parts: Vec<(i32, String, u64)> = req
        .parts
        .into_iter()
        .filter(|p| p.n <= total)
        .map(|p| (p.n, p.etag, 0))
        .collect();
    parts.sort_by_key(|p| p.0);
    parts.dedup_by_key(|p| p.0);
    if let Err(e) = s
        .store
        .complete_multipart(&row.key, &row.upload_id, &parts)
        .await
    {
        tracing::info!(error = %e, "a multipart upload could not be completed");
        return error(
            StatusCode::CONFLICT,
            "The bucket does not have every part as sent (a part was cut off?): send the parts again, then complete.",
        );
    }
    // The joined object must be as long as announced: a part cut short shows here.
    match s.store.size(&row.key).await {
        Ok(Some(size)) if size == row.size_bytes as u64 => {}
        other => {
            tracing::info!(
                ?other,
                expected = row.size_bytes,
                "a direct upload joined at the wrong size"
            );
            let _ = s.store.delete(&row.key).await;
            let _ = row.delete(&s.db).await;
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The parts joined do not make the file announced (a part was cut short); nothing was kept, please upload again.",
            );
        }
    }

    // Read the object back through the inspector, exactly as a form upload is read.
    let outcome = async {
        tokio::fs::create_dir_all(&s.incoming)
            .await
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        let temp = super::media::TempFile(
            s.incoming
                .join(format!("{:016x}.direct", rand::random::<u64>())),
        );
        s.store
            .download_to(&row.key, &temp.0)
            .await
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        let trusted = super::media::user_is_trusted(&s.db, row.user_id).await;
        let meta = NewRecording {
            title: row.title.clone(),
            description: row.description.clone(),
            location: row.location.clone(),
            licence: row.licence.clone(),
            uploader_id: row.user_id,
            ..NewRecording::default()
        };
        let status = if trusted {
            Status::Published
        } else {
            Status::Pending
        };
        ingest(&s.db, &s.store, &temp.0, &row.convention, meta, status).await
    }
    .await;
    // The incoming object and the bookkeeping go either way.
    let _ = s.store.delete(&row.key).await;
    let _ = row.clone().delete(&s.db).await;
    match outcome {
        Ok(rec) => {
            s.wake.notify_one();
            (StatusCode::CREATED, Json(json!({ "slug": rec.slug, "url": format!("/recordings/{}", rec.slug), "status": rec.status })))
                .into_response()
        }
        Err(e) => {
            let (status, message) = super::media::ingest_refusal(e, "The file");
            error(status, &message)
        }
    }
}

/// `POST /upload/direct/{id}/abort`: the uploader gives up; the parts are dropped.
pub async fn abort(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(id): Path<i32>,
) -> Response {
    let row = match owned(&s, &ctx, id).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let _ = s.store.abort_multipart(&row.key, &row.upload_id).await;
    let _ = row.delete(&s.db).await;
    StatusCode::NO_CONTENT.into_response()
}

/// Direct uploads neither completed nor aborted within `older_than` (a closed tab, a lost
/// laptop) are aborted in the bucket, so their parts stop costing storage, and forgotten.
/// The job worker calls this now and then; returns how many went.
pub async fn sweep_abandoned(
    db: &sea_orm::DatabaseConnection,
    store: &crate::media::store::MediaStore,
    older_than: Duration,
) -> Result<usize, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let cutoff = Utc::now() - chrono::Duration::from_std(older_than).unwrap_or_default();
    let stale = direct_uploads::Entity::find()
        .filter(direct_uploads::Column::CreatedAt.lt(cutoff))
        .all(db)
        .await?;
    let n = stale.len();
    for row in stale {
        if let Err(e) = store.abort_multipart(&row.key, &row.upload_id).await {
            tracing::info!(error = %e, key = %row.key, "abandoned upload could not be aborted (already gone?)");
        }
        row.delete(db).await?;
    }
    if n > 0 {
        tracing::info!(abandoned = n, "abandoned direct uploads swept");
    }
    Ok(n)
}
