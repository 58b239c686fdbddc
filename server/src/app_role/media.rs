//! Recordings as files: the upload form's endpoint and the download of an original.
//!
//! An upload streams to a temporary file (memory does not grow with the file), is inspected
//! there (`media::inspect`), and only a file the site accepts becomes an object in the media
//! store and a recording row — pending, or published at once for a trusted uploader. A
//! refused file leaves no object, no row and no temporary file behind.
//!
//! A download is counted and answered with a short-lived presigned URL (S3) or streamed by
//! the app with HTTP Range support (local folder).

use std::{path::PathBuf, sync::Arc, time::Duration};

use app::{
    domain::{Role, Status},
    ssr::{entities::recordings, recordings::NewRecording, request::RequestContext},
};
use axum::{
    Extension,
    body::Body,
    extract::{Multipart, Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};
use tokio::io::AsyncWriteExt;

use crate::media::{
    convert::{self, Direction},
    ingest::{IngestError, ingest},
    inspect::inspect_header,
    store::{MediaStore, StoreError},
    wav::{self, Container},
};

#[derive(Clone)]
pub struct MediaState {
    pub db: DatabaseConnection,
    pub store: Arc<MediaStore>,
    /// Tells this replica's worker a job is waiting.
    pub wake: Arc<tokio::sync::Notify>,
    /// Where uploads land before they are inspected.
    pub incoming: PathBuf,
    pub max_upload_bytes: u64,
}

/// A refusal the uploader reads: status and a sentence.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Upload refused — Ambisonia</title>\
             <link rel=\"stylesheet\" href=\"/style/main.css\"></head><body><main class=\"page\">\
             <h1>Upload refused</h1><p data-testid=\"upload-error\">{}</p><p><a href=\"/upload\">Back to the upload form</a></p>\
             </main></body></html>",
            html_escape(&self.1)
        );
        let mut resp = (self.0, Html(body)).into_response();
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        resp
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Removes the temporary file however the upload ends.
pub(super) struct TempFile(pub(super) PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Default)]
struct Form {
    title: String,
    description: String,
    licence: String,
    location: String,
    convention: String,
    file_name: String,
}

/// `POST /upload` (multipart): the upload form's target.
pub async fn upload(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    multipart: Multipart,
) -> Response {
    match receive(&s, &ctx, multipart).await {
        Ok(slug) => Redirect::to(&format!("/recordings/{slug}")).into_response(),
        Err(refused) => {
            tracing::info!(status = refused.0.as_u16(), reason = %refused.1, "upload refused");
            refused.into_response()
        }
    }
}

async fn receive(
    s: &MediaState,
    ctx: &RequestContext,
    mut multipart: Multipart,
) -> Result<String, Refused> {
    let Some(viewer) = ctx.viewer.as_ref() else {
        return Err(Refused(
            StatusCode::UNAUTHORIZED,
            "Log in to upload recordings.".into(),
        ));
    };
    if viewer.role < Role::Uploader {
        return Err(Refused(
            StatusCode::FORBIDDEN,
            "Your account cannot upload yet: ask an editor to make you an uploader.".into(),
        ));
    }
    tokio::fs::create_dir_all(&s.incoming)
        .await
        .map_err(|e| internal("cannot create the incoming folder", &e))?;
    let temp = TempFile(
        s.incoming
            .join(format!("{:016x}.part", rand::random::<u64>())),
    );
    let mut form = Form::default();
    let mut received: Option<u64> = None;
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        Refused(
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
            form.file_name = field.file_name().unwrap_or_default().to_owned();
            let mut out = tokio::fs::File::create(&temp.0)
                .await
                .map_err(|e| internal("cannot write the upload", &e))?;
            let mut n: u64 = 0;
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                n += chunk.len() as u64;
                if n > s.max_upload_bytes {
                    return Err(Refused(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!(
                            "The file is larger than {} MiB, the most this site takes.",
                            s.max_upload_bytes >> 20
                        ),
                    ));
                }
                out.write_all(&chunk)
                    .await
                    .map_err(|e| internal("cannot write the upload", &e))?;
            }
            out.flush()
                .await
                .map_err(|e| internal("cannot write the upload", &e))?;
            received = Some(n);
        } else {
            let text = field.text().await.map_err(bad_form)?;
            let text: String = text.trim().chars().take(20_000).collect();
            match name.as_str() {
                "title" => form.title = text,
                "description" => form.description = text,
                "licence" => form.licence = text,
                "location" => form.location = text,
                "convention" => form.convention = text,
                _ => {}
            }
        }
    }
    match received {
        None | Some(0) => {
            return Err(Refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Choose a recording to upload.".into(),
            ));
        }
        Some(_) => {}
    }
    if form.title.is_empty() {
        return Err(Refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give the recording a title.".into(),
        ));
    }

    let trusted = user_is_trusted(&s.db, viewer.user_id).await;
    let meta = NewRecording {
        title: form.title.chars().take(200).collect(),
        description: form.description,
        location: form.location.chars().take(200).collect(),
        licence: form.licence,
        uploader_id: viewer.user_id,
        ..NewRecording::default()
    };
    let status = if trusted {
        Status::Published
    } else {
        Status::Pending
    };
    match ingest(&s.db, &s.store, &temp.0, &form.convention, meta, status).await {
        Ok(row) => {
            s.wake.notify_one();
            Ok(row.slug)
        }
        Err(e) => {
            let (status, message) = ingest_refusal(e, &display_name(&form.file_name));
            Err(Refused(status, message))
        }
    }
}

/// How an upload that did not become a recording is answered, whichever way it came in:
/// the status and a sentence for the uploader (`file` names the file in it).
pub(super) fn ingest_refusal(e: IngestError, file: &str) -> (StatusCode, String) {
    match e {
        IngestError::Refused(why) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{file}: {why}")),
        IngestError::Duplicate { title, slug } => (
            StatusCode::CONFLICT,
            format!("This exact file is already in the catalog as “{title}” (/recordings/{slug})."),
        ),
        IngestError::Internal(e) => {
            tracing::error!(error = %e, "cannot keep an upload");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The site could not keep your upload just now; nothing was saved. Please try again.".into(),
            )
        }
    }
}

fn display_name(file_name: &str) -> String {
    let n: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    if n.is_empty() { "The file".into() } else { n }
}

pub(super) async fn user_is_trusted(db: &DatabaseConnection, user_id: i32) -> bool {
    app::ssr::entities::users::Entity::find_by_id(user_id)
        .one(db)
        .await
        .ok()
        .flatten()
        .is_some_and(|u| u.trusted)
}

fn internal(what: &str, e: &dyn std::fmt::Display) -> Refused {
    tracing::error!(error = %e, "{what}");
    Refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The site could not keep your upload just now; nothing was saved. Please try again.".into(),
    )
}

/// The recording named by `slug`, if this viewer may see it (the same rule as its page);
/// otherwise the answer to give: 404 (never "forbidden", which would say it exists).
async fn visible_recording(
    s: &MediaState,
    ctx: &RequestContext,
    slug: &str,
) -> Result<recordings::Model, Box<Response>> {
    match recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(slug))
        .one(&s.db)
        .await
    {
        Ok(Some(r)) if app::ssr::catalog::visible_to(&r, ctx.viewer.as_ref()) => Ok(r),
        Ok(_) => Err(Box::new(not_found())),
        Err(e) => Err(Box::new(internal("database", &e).into_response())),
    }
}

/// `GET /recordings/{slug}/download[?format=ambix|fuma]`: the original file, or a
/// full-sphere recording converted between FuMa and AmbiX on the way out.
pub async fn download(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(slug): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let row = match visible_recording(&s, &ctx, &slug).await {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let Some(key) = row.media_key.clone() else {
        return not_found();
    };
    let ext = key.rsplit('.').next().unwrap_or("wav");
    let filename = format!("{}.{ext}", row.slug);
    let wanted = q
        .get("format")
        .map(String::as_str)
        .filter(|f| !f.is_empty());
    let direction = match (row.convention.as_deref(), wanted) {
        (_, None) => None,
        (Some(have), Some(want)) if have == want => None,
        (Some("fuma"), Some("ambix")) => Some(Direction::FumaToAmbix),
        (Some("ambix"), Some("fuma")) => Some(Direction::AmbixToFuma),
        _ => {
            return Refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Downloads convert between FuMa and AmbiX only (format=ambix or format=fuma) for B-format recordings.".into(),
            )
            .into_response();
        }
    };
    if let Some(direction) = direction {
        if !matches!(row.channels, Some(4 | 9 | 16)) {
            return Refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Only full-sphere recordings of order 1 to 3 convert between FuMa and AmbiX."
                    .into(),
            )
            .into_response();
        }
        count_download(&s.db, row.id).await;
        let name = match direction {
            Direction::FumaToAmbix => format!("{}-ambix.wav", row.slug),
            Direction::AmbixToFuma => format!("{}-fuma.amb", row.slug),
        };
        return converted(&s.store, &key, direction, &name).await;
    }
    let range = match headers.get(header::RANGE).map(parse_range) {
        None => None,
        Some(Some(r)) => Some(r),
        Some(None) => return range_not_satisfiable(row.size_bytes.unwrap_or(0)),
    };
    // A download is one request without a range, or the first piece of one.
    if range.is_none_or(|(start, _)| start == 0) {
        count_download(&s.db, row.id).await;
    }
    serve_object(
        &s.store,
        &key,
        range,
        "audio/wav",
        Some(&filename),
        "private, no-store",
    )
    .await
}

async fn count_download(db: &DatabaseConnection, id: i32) {
    let counted = recordings::Entity::update_many()
        .col_expr(
            recordings::Column::DownloadCount,
            Expr::col(recordings::Column::DownloadCount).add(1),
        )
        .filter(recordings::Column::Id.eq(id))
        .exec(db)
        .await;
    if let Err(e) = counted {
        tracing::warn!(error = %e, "download not counted");
    }
}

/// Streams the original through the converter: the header is read first (so the length is
/// known before the answer starts), then frames flow through a fixed buffer.
async fn converted(
    store: &MediaStore,
    key: &str,
    direction: Direction,
    filename: &str,
) -> Response {
    let object = match store.get(key, None).await {
        Ok(o) => o,
        Err(e) => return internal("cannot read from the media store", &e).into_response(),
    };
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let (len_tx, len_rx) = tokio::sync::oneshot::channel::<Result<u64, String>>();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut input = std::io::BufReader::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new(object.body),
        );
        let header = match inspect_header(&mut input) {
            Ok(h) => h,
            Err(e) => {
                let _ = len_tx.send(Err(e.to_string()));
                return;
            }
        };
        let target = match convert::target_spec(&header.spec, direction) {
            Ok(t) => t,
            Err(e) => {
                let _ = len_tx.send(Err(e.to_string()));
                return;
            }
        };
        let data_len = header.data_len;
        let container = if data_len + 1024 > u64::from(u32::MAX) {
            Container::Rf64
        } else {
            Container::Riff
        };
        let total = wav::header(container, &target, &[], data_len).len() as u64
            + data_len
            + wav::trailer(container, data_len).len() as u64;
        let _ = len_tx.send(Ok(total));
        let mut out = std::io::BufWriter::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new(writer),
        );
        match convert::convert(&header.spec, direction, data_len, &mut input, &mut out) {
            Ok(clipped) if clipped > 0 => {
                tracing::info!(clipped, "samples clipped converting to AmbiX")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "conversion stopped"),
        }
        let _ = out.flush();
    });
    let total = match len_rx.await {
        Ok(Ok(total)) => total,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a stored original does not read as WAVE");
            return internal("cannot convert", &e).into_response();
        }
        Err(e) => return internal("cannot convert", &e).into_response(),
    };
    let mut resp = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024),
    ));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `GET /recordings/{slug}/{preview.ogg|waveform.svg|doa.svg}`: what processing made.
pub async fn derived(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let row = match visible_recording(&s, &ctx, &slug).await {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let published = row.status == Status::Published.as_str();
    let (key, content_type) = match file.as_str() {
        "preview.ogg" => (row.preview_key, "audio/ogg"),
        "waveform.svg" => (row.waveform_key, "image/svg+xml"),
        "doa.svg" => (row.doa_key, "image/svg+xml"),
        _ => return not_found(),
    };
    let Some(key) = key else {
        return not_found();
    };
    let range = match headers.get(header::RANGE).map(parse_range) {
        None => None,
        Some(Some(r)) => Some(r),
        Some(None) => return range_not_satisfiable(0),
    };
    // Previews of published recordings are public and change only when reprocessed.
    let cache = if published {
        "public, max-age=3600"
    } else {
        "private, no-store"
    };
    serve_object(&s.store, &key, range, content_type, None, cache).await
}

/// An object from the store: a presigned redirect when the store can make one, else
/// streamed here with Range support.
async fn serve_object(
    store: &MediaStore,
    key: &str,
    range: Option<(u64, Option<u64>)>,
    content_type: &'static str,
    attachment: Option<&str>,
    cache_control: &'static str,
) -> Response {
    match store
        .presigned_get(key, Duration::from_secs(300), attachment.unwrap_or(""))
        .await
    {
        Ok(Some(url)) => {
            let mut resp = Redirect::to(&url).into_response();
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, no-store"),
            );
            return resp;
        }
        Ok(None) => {}
        Err(e) => return internal("cannot sign a download", &e).into_response(),
    }
    let object = match store.get(key, range).await {
        Ok(o) => o,
        Err(StoreError::BadRange) => {
            let size = store.size(key).await.ok().flatten().unwrap_or(0);
            return range_not_satisfiable(i64::try_from(size).unwrap_or(0));
        }
        Err(StoreError::NotFound(_)) => {
            tracing::error!(key = %key, "an object a recording names is missing from the media store");
            return not_found();
        }
        Err(e) => return internal("cannot read from the media store", &e).into_response(),
    };
    let mut resp = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(object.body, 256 * 1024),
    ));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(object.len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(v) = attachment
        .and_then(|f| HeaderValue::from_str(&format!("attachment; filename=\"{f}\"")).ok())
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some((start, _)) = range {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        let end = start + object.len.saturating_sub(1);
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", object.total)) {
            resp.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    resp
}

/// `bytes=a-b` or `bytes=a-` (one range; a suffix range `bytes=-n` and lists are refused).
fn parse_range(v: &HeaderValue) -> Option<(u64, Option<u64>)> {
    let spec = v.to_str().ok()?.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let start = a.trim().parse().ok()?;
    let end = match b.trim() {
        "" => None,
        e => Some(e.parse().ok()?),
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    Some((start, end))
}

fn range_not_satisfiable(size: i64) -> Response {
    let mut resp = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        resp.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    resp
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><h1>Not found</h1>"),
    )
        .into_response()
}

/// `POST /api/v1/recordings?title=…[&description=…&location=…&licence=…&convention=ambix|fuma]`
/// with the file as the body and `Authorization: Bearer <personal API token>`: the desktop
/// Uploader's and `server upload`'s way in. Answers JSON.
pub async fn api_upload(
    State(s): State<MediaState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    use futures::StreamExt;
    let json = |status: StatusCode, value: serde_json::Value| {
        let mut resp = (status, axum::Json(value)).into_response();
        resp.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        resp
    };
    let error = |status: StatusCode, msg: &str| json(status, serde_json::json!({ "error": msg }));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let who = match app::ssr::tokens::authenticate(&s.db, bearer.trim()).await {
        Ok(Some(who)) => who,
        Ok(None) => {
            let mut resp = error(
                StatusCode::UNAUTHORIZED,
                "A valid personal API token is needed (make one on your account page).",
            );
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return resp;
        }
        Err(e) => {
            return error(StatusCode::SERVICE_UNAVAILABLE, &{
                tracing::error!(error = %e, "token check");
                "The site cannot check tokens just now.".to_string()
            });
        }
    };
    let (user_id, role, trusted) = who;
    if role < Role::Uploader {
        return error(
            StatusCode::FORBIDDEN,
            "This account cannot upload yet: ask an editor to make you an uploader.",
        );
    }
    let title: String = q
        .get("title")
        .map(|t| t.trim().chars().take(200).collect())
        .unwrap_or_default();
    if title.is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Give the recording a title (?title=…).",
        );
    }
    if let Err(e) = tokio::fs::create_dir_all(&s.incoming).await {
        tracing::error!(error = %e, "cannot create the incoming folder");
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The site could not keep your upload just now.",
        );
    }
    let temp = TempFile(
        s.incoming
            .join(format!("{:016x}.part", rand::random::<u64>())),
    );
    let written = async {
        let mut out = tokio::fs::File::create(&temp.0)
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let mut stream = body.into_data_stream();
        let mut n: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                (
                    StatusCode::BAD_REQUEST,
                    "The upload did not arrive whole; please send it again.".to_string(),
                )
            })?;
            n += chunk.len() as u64;
            if n > s.max_upload_bytes {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "The file is larger than {} MiB, the most this site takes.",
                        s.max_upload_bytes >> 20
                    ),
                ));
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        }
        out.flush()
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        Ok(n)
    }
    .await;
    match written {
        Ok(0) => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The request carried no file.",
            );
        }
        Ok(_) => {}
        Err((status, msg)) => {
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::error!(error = %msg, "cannot write an API upload");
                return error(status, "The site could not keep your upload just now.");
            }
            return error(status, &msg);
        }
    }
    let field = |k: &str| {
        q.get(k)
            .map(|v| v.trim().chars().take(5000).collect::<String>())
            .unwrap_or_default()
    };
    let meta = NewRecording {
        title,
        description: field("description"),
        location: field("location"),
        licence: field("licence"),
        uploader_id: user_id,
        ..NewRecording::default()
    };
    let status = if trusted {
        Status::Published
    } else {
        Status::Pending
    };
    match ingest(&s.db, &s.store, &temp.0, &field("convention"), meta, status).await {
        Ok(row) => {
            s.wake.notify_one();
            json(
                StatusCode::CREATED,
                serde_json::json!({
                    "slug": row.slug,
                    "url": format!("/recordings/{}", row.slug),
                    "status": row.status,
                    "sha256": row.sha256,
                }),
            )
        }
        Err(e) => {
            let (status, message) = ingest_refusal(e, "The file");
            error(status, &message)
        }
    }
}
