//! Downloads of a recording and of what processing made from it. Who may see a recording
//! and which renditions it allows are the domain's rules; here the bytes are answered: a
//! short-lived presigned redirect (S3) or streamed with HTTP Range support (local folder),
//! and renditions (`?format=ambix|fuma|ambix-48k|binaural|uhj|5.1`) streamed through fixed
//! buffers with the length known up front.

use std::{collections::HashMap, time::Duration};

use app::ssr::request::RequestContext;
use axum::{
    Extension,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use domain::{
    Rendition, ServiceError, Status,
    payments::DownloadGate,
    store::{MediaStore, StoreError},
};
use media::{inspect::inspect_header, rendition::Plan};

use crate::app_role::{
    media_state::MediaState,
    refusal::{Refusal, not_found},
};

fn internal(what: &str, e: impl std::fmt::Display) -> Response {
    Refusal::from(ServiceError::internal(what, e)).download_page()
}

/// `GET /recordings/{slug}/download[?format=…]`: the original file, or a rendition of it
/// made on the way out.
pub async fn download(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let row = match domain::recordings::visible(&s.db, &slug, ctx.viewer.as_ref()).await {
        Ok(r) => r,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return Refusal::from(e).download_page(),
    };
    let Some(key) = row.media_key.clone() else {
        return not_found();
    };
    // Before anything is counted or signed: premium recordings are for premium members.
    match domain::payments::download_gate(&s.db, &row, ctx.viewer.as_ref()).await {
        Ok(DownloadGate::Open) => {}
        Ok(gate) => return Refusal::premium_page(gate, &row.slug),
        Err(e) => return Refusal::from(e).download_page(),
    }
    let ext = key.rsplit('.').next().unwrap_or("wav");
    let filename = format!("{}.{ext}", row.slug);
    let wanted = q.get("format").map(String::as_str);
    let rendition = match domain::downloads::rendition(&row, wanted) {
        Ok(r) => r,
        Err(e) => return Refusal::from(e).download_page(),
    };
    if let Some(rendition) = rendition {
        domain::downloads::count(&s.db, row.id).await;
        let name = format!("{}{}", row.slug, rendition.file_suffix());
        return rendered(&s.store, &key, row.convention(), rendition, &name).await;
    }
    let range = match headers.get(header::RANGE).map(parse_range) {
        None => None,
        Some(Some(r)) => Some(r),
        Some(None) => return range_not_satisfiable(row.size_bytes.unwrap_or(0)),
    };
    // A download is one request without a range, or the first piece of one.
    if range.is_none_or(|(start, _)| start == 0) {
        domain::downloads::count(&s.db, row.id).await;
    }
    serve_object(
        &s.store,
        &key,
        range,
        "audio/wav",
        Some(&filename),
        contract::policy::PRIVATE,
    )
    .await
}

/// Streams the original through the renderer: the header is read first (so the length is
/// known before the answer starts), then frames flow through fixed buffers.
async fn rendered(
    store: &MediaStore,
    key: &str,
    convention: Option<domain::Convention>,
    rendition: Rendition,
    filename: &str,
) -> Response {
    let object = match store.get(key, None).await {
        Ok(o) => o,
        Err(e) => return internal("reading from the media store", e),
    };
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let (len_tx, len_rx) = tokio::sync::oneshot::channel::<Result<u64, String>>();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut input = std::io::BufReader::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new(object.body),
        );
        let plan = inspect_header(&mut input)
            .map_err(|e| e.to_string())
            .and_then(|h| {
                Plan::new(&h.spec, convention, h.data_len, rendition).map_err(|e| e.to_string())
            });
        let plan = match plan {
            Ok(p) => p,
            Err(e) => {
                let _ = len_tx.send(Err(e));
                return;
            }
        };
        let _ = len_tx.send(Ok(plan.total_len()));
        let mut out = std::io::BufWriter::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new(writer),
        );
        match plan.write(&mut input, &mut out) {
            Ok(clipped) if clipped > 0 => {
                tracing::info!(
                    clipped,
                    format = rendition.as_str(),
                    "samples clipped rendering a download"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, format = rendition.as_str(), "rendering stopped"),
        }
        let _ = out.flush();
    });
    let total = match len_rx.await {
        Ok(Ok(total)) => total,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a stored original does not read as WAVE");
            return internal("rendering a download", e);
        }
        Err(e) => return internal("rendering a download", e),
    };
    let mut resp = Response::new(Body::from_stream(
        tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024),
    ));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/wav"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(contract::policy::PRIVATE),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `GET /recordings/{slug}/{preview.ogg|spatial.ogg|waveform.svg|doa.svg}`: what
/// processing made.
pub async fn derived(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path((slug, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let row = match domain::recordings::visible(&s.db, &slug, ctx.viewer.as_ref()).await {
        Ok(r) => r,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return Refusal::from(e).download_page(),
    };
    let published = row.status == Status::Published;
    let (key, content_type) = match file.as_str() {
        "preview.ogg" => (row.preview_key, "audio/ogg"),
        "spatial.ogg" => (row.spatial_key, "audio/ogg"),
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
        contract::policy::PRIVATE
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
                HeaderValue::from_static(contract::policy::PRIVATE),
            );
            return resp;
        }
        Ok(None) => {}
        Err(e) => return internal("signing a download", e),
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
        Err(e) => return internal("reading from the media store", e),
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
