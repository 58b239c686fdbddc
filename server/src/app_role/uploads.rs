//! Two ways a file arrives: the upload form (`POST /upload`, multipart, logged in) and the
//! token API (`POST /api/v1/recordings`, the file as the body). Each streams the file to a
//! temporary file (memory does not grow with the file), reads the uploader's words into an
//! `UploadMeta`, and hands both to `domain::uploads::accept`, which owns every rule. A
//! refused file leaves no object, no row and no temporary file behind.

use std::collections::HashMap;

use app::ssr::request::RequestContext;
use axum::{
    Extension,
    body::Body,
    extract::{Multipart, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use domain::{
    ServiceError, UploadMeta,
    store::TempFile,
    uploads::{Uploader, accept},
};
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::app_role::{media_state::MediaState, refusal::Refusal};

/// `POST /upload` (multipart): the upload form's target.
pub async fn form(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    multipart: Multipart,
) -> Response {
    match receive_form(&s, &ctx, multipart).await {
        Ok(slug) => Redirect::to(&format!("/recordings/{slug}")).into_response(),
        Err(refused) => {
            tracing::info!(status = refused.status().as_u16(), reason = %refused.message(), "upload refused");
            refused.page()
        }
    }
}

async fn receive_form(
    s: &MediaState,
    ctx: &RequestContext,
    mut multipart: Multipart,
) -> Result<String, Refusal> {
    let viewer = ctx
        .viewer
        .as_ref()
        .ok_or_else(|| Refusal::new(StatusCode::UNAUTHORIZED, "Log in to upload recordings."))?;
    let uploader = Uploader::of_user(&s.db, viewer.user_id)
        .await
        .map_err(Refusal::of_upload)?;
    let temp = incoming(s).await?;
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut file_name = String::new();
    let mut received: Option<u64> = None;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!(
                "The upload did not arrive whole ({}); please send it again.",
                e.body_text()
            ),
        )
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            file_name = field.file_name().unwrap_or_default().to_owned();
            let mut out = create(&temp).await?;
            let mut n: u64 = 0;
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                n += chunk.len() as u64;
                if n > s.max_upload_bytes {
                    return Err(Refusal::from(s.too_large()));
                }
                write(&mut out, &chunk).await?;
            }
            out.flush().await.map_err(write_failed)?;
            received = Some(n);
        } else if matches!(
            name.as_str(),
            "title"
                | "description"
                | "licence"
                | "location"
                | "convention"
                | "latitude"
                | "longitude"
                | "blur"
        ) {
            fields.insert(name, field.text().await.map_err(bad_form)?);
        }
    }
    if received.unwrap_or(0) == 0 {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose a recording to upload.",
        ));
    }
    let meta = meta(|k| fields.get(k).map(String::as_str)).map_err(Refusal::from)?;
    let row = accept(&s.db, &s.store, temp.path(), &file_name, meta, uploader)
        .await
        .map_err(Refusal::of_upload)?;
    s.wake.notify_one();
    Ok(row.slug)
}

/// `POST /api/v1/recordings?title=…[&description=…&location=…&licence=…&convention=ambix|fuma]`
/// with the file as the body and `Authorization: Bearer <personal API token>`: the desktop
/// Uploader's and `server upload`'s way in. Answers JSON.
pub async fn api(
    State(s): State<MediaState>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match receive_api(&s, &q, &headers, body).await {
        Ok(row) => {
            let mut resp = (
                StatusCode::CREATED,
                axum::Json(serde_json::json!({
                    "slug": row.slug,
                    "url": format!("/recordings/{}", row.slug),
                    "status": row.status.as_str(),
                    "sha256": row.sha256,
                })),
            )
                .into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(contract::policy::PRIVATE),
            );
            resp
        }
        Err(refused) => {
            let unauthorized = refused.status() == StatusCode::UNAUTHORIZED;
            let mut resp = refused.json();
            if unauthorized {
                resp.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            resp
        }
    }
}

async fn receive_api(
    s: &MediaState,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<domain::entities::recordings::Model, Refusal> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let token = domain::tokens::authenticate(&s.db, bearer.trim())
        .await
        .map_err(Refusal::from)?
        .ok_or_else(|| {
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                "A valid personal API token is needed (make one on your account page).",
            )
        })?;
    token
        .require(domain::tokens::Scope::Upload)
        .map_err(Refusal::from)?;
    let uploader =
        Uploader::check(token.user_id, token.role, token.trusted).map_err(Refusal::from)?;
    let meta = meta(|k| q.get(k).map(String::as_str)).map_err(Refusal::from)?;
    let temp = incoming(s).await?;
    let n = stream_to(s, &temp, body.into_data_stream()).await?;
    if n == 0 {
        return Err(Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The request carried no file.",
        ));
    }
    let row = accept(&s.db, &s.store, temp.path(), "The file", meta, uploader)
        .await
        .map_err(Refusal::of_upload)?;
    s.wake.notify_one();
    Ok(row)
}

/// The uploader's words, from a form or a query string, read into one `UploadMeta`.
fn meta<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<UploadMeta, ServiceError> {
    let get = |k: &str| field(k).unwrap_or("");
    let mut meta = UploadMeta::parse(
        get("title"),
        get("description"),
        get("location"),
        get("licence"),
        get("convention"),
    )?;
    // `latitude` and `longitude` in decimal degrees, `blur` (any value) to round them.
    meta.place = domain::place(get("latitude"), get("longitude"), !get("blur").is_empty())?;
    Ok(meta)
}

/// A fresh temporary file in the incoming folder (removed when dropped).
async fn incoming(s: &MediaState) -> Result<TempFile, Refusal> {
    tokio::fs::create_dir_all(&s.incoming).await.map_err(|e| {
        Refusal::of_upload(ServiceError::internal("creating the incoming folder", e))
    })?;
    Ok(TempFile::new(&s.incoming, "part"))
}

async fn create(temp: &TempFile) -> Result<tokio::fs::File, Refusal> {
    tokio::fs::File::create(temp.path())
        .await
        .map_err(write_failed)
}

async fn write(out: &mut tokio::fs::File, chunk: &[u8]) -> Result<(), Refusal> {
    out.write_all(chunk).await.map_err(write_failed)
}

fn write_failed(e: std::io::Error) -> Refusal {
    Refusal::of_upload(ServiceError::internal("writing an upload", e))
}

/// Streams a request body to `temp`, refusing it past the size limit; returns its length.
async fn stream_to<E>(
    s: &MediaState,
    temp: &TempFile,
    mut body: impl Stream<Item = Result<bytes::Bytes, E>> + Unpin,
) -> Result<u64, Refusal> {
    let mut out = create(temp).await?;
    let mut n: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                "The upload did not arrive whole; please send it again.",
            )
        })?;
        n += chunk.len() as u64;
        if n > s.max_upload_bytes {
            return Err(Refusal::from(s.too_large()));
        }
        write(&mut out, &chunk).await?;
    }
    out.flush().await.map_err(write_failed)?;
    Ok(n)
}
