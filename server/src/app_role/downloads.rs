//! Downloads of a recording and of what processing made from it. Who may see a recording
//! and which renditions it allows are the domain's rules; here the bytes are answered: a
//! short-lived presigned redirect (S3) or streamed with HTTP Range support (local folder).
//! A rendition (`?format=ambix|fuma|ambix-48k|binaural|uhj|5.1`) is made once
//! (`domain::renditions`): the first request streams it through fixed buffers, with the
//! length known up front, while it is stored; later ones are served the stored object.
//! Downloads are counted in memory (`domain::downloads::Counter`), a `HEAD` not at all.

use std::{collections::HashMap, time::Duration};

use app::ssr::request::RequestContext;
use axum::{
    Extension,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use domain::{
    Rendition, ServiceError, Status,
    payments::DownloadGate,
    renditions::{self, Turn},
    store::{MediaStore, StoreError, TempFile},
};
use media::{inspect::inspect_header, rendition::Plan};

use crate::app_role::{
    media_state::MediaState,
    refusal::{Refusal, not_found},
};

fn internal(what: &str, e: impl std::fmt::Display) -> Response {
    Refusal::from(ServiceError::internal(what, e)).download_page()
}

/// `GET /recordings/{slug}/download[?format=…]`: the original file, or a rendition of it.
pub async fn download(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
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
    let wanted = q.get("format").map(String::as_str);
    let rendition = match domain::downloads::rendition(&row, wanted) {
        Ok(r) => r,
        Err(e) => return Refusal::from(e).download_page(),
    };
    let facing = match domain::downloads::facing(rendition, q.get("yaw").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return Refusal::from(e).download_page(),
    };
    let range = match headers.get(header::RANGE).map(parse_range) {
        None => None,
        Some(Some(r)) => Some(r),
        Some(None) => return range_not_satisfiable(row.size_bytes.unwrap_or(0)),
    };
    // A download is one GET without a range, or the first piece of one; a visitor's
    // repeats within the hour count once.
    if method == Method::GET && range.is_none_or(|(start, _)| start == 0) {
        let visitor = ctx
            .viewer
            .as_ref()
            .map_or_else(|| ctx.client_ip.clone(), |v| format!("user:{}", v.user_id));
        s.downloads.count(&visitor, row.id);
    }
    let Some(rendition) = rendition else {
        let filename = format!("{}.{ext}", row.slug);
        return serve_object(
            &s.store,
            &key,
            range,
            "audio/wav",
            Some(&filename),
            contract::policy::PRIVATE,
        )
        .await;
    };
    let name = format!("{}{}", row.slug, renditions::file_suffix(rendition, facing));
    let stored = renditions::key(&row, rendition, facing);
    loop {
        if let Ok(Some(_)) = s.store.size(&stored).await {
            return serve_object(
                &s.store,
                &stored,
                range,
                "audio/wav",
                Some(&name),
                contract::policy::PRIVATE,
            )
            .await;
        }
        match s.renditions.turn(&stored).await {
            Ok(Turn::Make(making)) => {
                let convention = row.convention();
                let form = Form { rendition, facing };
                return render_and_store(&s, &key, &stored, convention, form, &name, making).await;
            }
            Ok(Turn::Wait(mut done)) => {
                // The one being made: once stored, served from the store like the rest.
                match done.wait_for(Option::is_some).await.map(|v| *v) {
                    Ok(Some(true)) => continue,
                    _ => return internal("rendering a download", "the rendition was not made"),
                }
            }
            Err(e) => return Refusal::from(e).download_page(),
        }
    }
}

/// The bytes of `rendition` (facing front) of `row` for another answer to stream (a
/// collection's ZIP): from the store when it was made before, else made now — streamed
/// while a copy is stored for later, as a download makes it — or, while another request
/// makes it, once that is stored. `Err` carries the answer a download would have given.
pub async fn rendition_bytes(
    s: &MediaState,
    row: &domain::entities::recordings::Model,
    rendition: domain::Rendition,
) -> Result<std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>, Response> {
    use futures::TryStreamExt;
    let Some(key) = row.media_key.clone() else {
        return Err(not_found());
    };
    let stored = renditions::key(row, rendition, 0);
    loop {
        if let Ok(Some(_)) = s.store.size(&stored).await {
            return match s.store.get(&stored, None).await {
                Ok(o) => Ok(o.body),
                Err(e) => Err(internal("reading a rendition from the media store", e)),
            };
        }
        match s.renditions.turn(&stored).await {
            Ok(Turn::Make(making)) => {
                let form = Form {
                    rendition,
                    facing: 0,
                };
                let name = format!("{}{}", row.slug, renditions::file_suffix(rendition, 0));
                let resp =
                    render_and_store(s, &key, &stored, row.convention(), form, &name, making).await;
                if !resp.status().is_success() {
                    return Err(resp);
                }
                let body = resp
                    .into_body()
                    .into_data_stream()
                    .map_err(std::io::Error::other);
                return Ok(Box::pin(tokio_util::io::StreamReader::new(body)));
            }
            Ok(Turn::Wait(mut done)) => match done.wait_for(Option::is_some).await.map(|v| *v) {
                Ok(Some(true)) => continue,
                _ => {
                    return Err(internal(
                        "rendering a download",
                        "the rendition was not made",
                    ));
                }
            },
            Err(e) => return Err(Refusal::from(e).download_page()),
        }
    }
}

/// Renders `rendition` of the original at `key`, streaming it to this request while a copy
/// goes to a scratch file; once whole, the copy is stored at `stored` for every later
/// request, and the waiters are told. The header is read first, so the length is known
/// before the answer starts; frames flow through fixed buffers. The rendering goes on to
/// the end (and is stored) even when this request's client hangs up.
async fn render_and_store(
    s: &MediaState,
    key: &str,
    stored: &str,
    convention: Option<domain::Convention>,
    form: Form,
    filename: &str,
    making: renditions::Making,
) -> Response {
    let Form { rendition, facing } = form;
    let object = match s.store.get(key, None).await {
        Ok(o) => o,
        Err(e) => return internal("reading from the media store", e),
    };
    let scratch = s.incoming.clone();
    if let Err(e) = tokio::fs::create_dir_all(&scratch).await {
        return internal("making a rendition's scratch file", e);
    }
    let copy = TempFile::new(&scratch, "rendition");
    let copy_path = copy.path().to_path_buf();
    let (writer, reader) = tokio::io::duplex(256 * 1024);
    let (len_tx, len_rx) = tokio::sync::oneshot::channel::<Result<u64, String>>();
    let rendering = tokio::task::spawn_blocking(move || -> Result<(), String> {
        use std::io::Write;
        let mut input = std::io::BufReader::with_capacity(
            256 * 1024,
            tokio_util::io::SyncIoBridge::new(object.body),
        );
        let plan = inspect_header(&mut input)
            .map_err(|e| e.to_string())
            .and_then(|h| {
                Plan::new(&h.spec, convention, h.data_len, rendition)
                    .map(|p| p.facing(f64::from(facing)))
                    .map_err(|e| e.to_string())
            });
        let plan = match plan {
            Ok(p) => p,
            Err(e) => {
                let _ = len_tx.send(Err(e.clone()));
                return Err(e);
            }
        };
        let _ = len_tx.send(Ok(plan.total_len()));
        let file = std::fs::File::create(&copy_path).map_err(|e| e.to_string())?;
        let mut out = std::io::BufWriter::with_capacity(
            256 * 1024,
            Tee {
                client: Some(tokio_util::io::SyncIoBridge::new(writer)),
                file,
            },
        );
        match plan.write(&mut input, &mut out) {
            Ok(clipped) if clipped > 0 => tracing::info!(
                clipped,
                format = rendition.as_str(),
                "samples clipped rendering a download"
            ),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        out.flush().map_err(|e| e.to_string())
    });
    let total = match len_rx.await {
        Ok(Ok(total)) => total,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a stored original does not read as WAVE");
            return internal("rendering a download", e);
        }
        Err(e) => return internal("rendering a download", e),
    };
    // Stored once whole, whoever is still listening.
    let (store, stored_key) = (std::sync::Arc::clone(&s.store), stored.to_owned());
    tokio::spawn(async move {
        let (copy, mut making) = (copy, making);
        let rendering = rendering.await;
        making.rendered();
        match rendering {
            Ok(Ok(())) => match store.put_file(&stored_key, copy.path()).await {
                Ok(bytes) => {
                    tracing::info!(key = %stored_key, bytes, "rendition made and stored");
                    making.stored();
                }
                Err(e) => tracing::warn!(error = %e, "a rendition could not be stored"),
            },
            Ok(Err(e)) => {
                tracing::warn!(error = %e, format = rendition.as_str(), "rendering stopped")
            }
            Err(e) => tracing::warn!(error = %e, "the rendering task failed"),
        }
    });
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

/// A rendition as asked for: its form, and for binaural the yaw its listener faces.
#[derive(Debug, Clone, Copy)]
struct Form {
    rendition: Rendition,
    facing: i32,
}

/// Writes a rendition to its scratch copy and, while it listens, to the client.
struct Tee<C: std::io::Write> {
    client: Option<C>,
    file: std::fs::File,
}

impl<C: std::io::Write> std::io::Write for Tee<C> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write_all(buf)?;
        if let Some(c) = &mut self.client
            && c.write_all(buf).is_err()
        {
            // The client hung up: the rendering goes on for the store.
            self.client = None;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        if let Some(c) = &mut self.client {
            let _ = c.flush();
        }
        Ok(())
    }
}

/// `GET /recordings/{slug}/{preview.ogg|spatial.ogg|spatial-hoa-{1,2}.ogg|binaural.mp3|waveform.svg|doa.svg}`:
/// what processing made. The previews (and the podcast MP3) of a premium recording are
/// whole only for those who may download it; anyone else hears their first
/// `PREMIUM_EXCERPT_S` seconds.
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
    let (key, content_type, is_preview) = match file.as_str() {
        "preview.ogg" => (row.preview_key.clone(), "audio/ogg", true),
        "spatial.ogg" => (row.spatial_key.clone(), "audio/ogg", true),
        "binaural.mp3" => (row.podcast_key.clone(), "audio/mpeg", true),
        "spatial-hoa-1.ogg" | "spatial-hoa-2.ogg" => (
            row.hoa_key
                .as_ref()
                .map(|stem| format!("{stem}-{}", &file["spatial-hoa-".len()..])),
            "audio/ogg",
            true,
        ),
        "waveform.svg" => (row.waveform_key.clone(), "image/svg+xml", false),
        "doa.svg" => (row.doa_key.clone(), "image/svg+xml", false),
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
    if is_preview && row.is_premium {
        return match domain::payments::download_gate(&s.db, &row, ctx.viewer.as_ref()).await {
            // Whole, for this listener alone.
            Ok(DownloadGate::Open) => {
                serve_object(
                    &s.store,
                    &key,
                    range,
                    content_type,
                    None,
                    contract::policy::PRIVATE,
                )
                .await
            }
            // The MP3's frames are all alike: its excerpt is a prefix of whole frames.
            Ok(_) if content_type == "audio/mpeg" => {
                match domain::distribution::open_podcast_len(&row) {
                    Some(len) => serve_prefix(&s.store, &key, len, range, row.id, published).await,
                    None => not_found(),
                }
            }
            Ok(_) => match s.excerpts.of(&s.store, &key).await {
                Ok(excerpt) => serve_excerpt(&excerpt, range, row.id, published),
                Err(e) => Refusal::from(e).download_page(),
            },
            Err(e) => Refusal::from(e).download_page(),
        };
    }
    // What processing made of a published recording is everyone's: shared, filed under the
    // recording so that a change to it (made premium, taken down, reprocessed) reaches
    // every cache.
    let mut resp = serve_object(
        &s.store,
        &key,
        range,
        content_type,
        None,
        contract::policy::PRIVATE,
    )
    .await;
    if published && resp.status().is_success() {
        share_as_recording(resp.headers_mut(), row.id, true);
    }
    resp
}

/// A premium preview's excerpt, with Range support. Everyone without premium hears the
/// same, so shared caches may keep it — filed under the recording, so that a change to it
/// (made free, taken down) reaches them — while a browser asks again each time: the same
/// listener with premium tomorrow gets the whole.
fn serve_excerpt(
    excerpt: &std::sync::Arc<Vec<u8>>,
    range: Option<(u64, Option<u64>)>,
    recording_id: i32,
    published: bool,
) -> Response {
    let total = excerpt.len() as u64;
    let Some(part) = Part::of(range, total) else {
        return range_not_satisfiable(i64::try_from(total).unwrap_or(0));
    };
    let bytes = bytes::Bytes::from_owner(ExcerptBytes(std::sync::Arc::clone(excerpt)))
        .slice(usize::try_from(part.start).unwrap_or(0)..usize::try_from(part.end).unwrap_or(0));
    part.answer(Body::from(bytes), "audio/ogg", recording_id, published)
}

/// The bytes of an excerpt a request asks for: `start..end` of `total`.
struct Part {
    start: u64,
    end: u64,
    total: u64,
    ranged: bool,
}

impl Part {
    /// Where the request's range falls in `total` bytes (all of them without one); `None`
    /// for a range outside them.
    fn of(range: Option<(u64, Option<u64>)>, total: u64) -> Option<Self> {
        let (start, end) = match range {
            None => (0, total),
            Some((start, _)) if start >= total => return None,
            Some((start, end)) => (start, end.map_or(total, |e| e.min(total - 1) + 1)),
        };
        Some(Self {
            start,
            end,
            total,
            ranged: range.is_some(),
        })
    }

    /// The answer carrying `body` (these bytes): 206 with `Content-Range` when a range was
    /// asked, shared as everyone's copy of the recording.
    fn answer(
        &self,
        body: Body,
        content_type: &'static str,
        recording_id: i32,
        published: bool,
    ) -> Response {
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(self.end - self.start),
        );
        share_as_recording(h, recording_id, published);
        if self.ranged {
            let range = format!("bytes {}-{}/{}", self.start, self.end - 1, self.total);
            if let Ok(v) = HeaderValue::from_str(&range) {
                h.insert(header::CONTENT_RANGE, v);
            }
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        resp
    }
}

/// An excerpt's bytes, shared with the cache that keeps them.
struct ExcerptBytes(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for ExcerptBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// The first `len` bytes of a stored object, as if they were the whole (with Range
/// support): a premium recording's podcast excerpt. Cached as [`serve_excerpt`] is.
async fn serve_prefix(
    store: &MediaStore,
    key: &str,
    len: u64,
    range: Option<(u64, Option<u64>)>,
    recording_id: i32,
    published: bool,
) -> Response {
    // Never more than the stored object holds, whatever the row says.
    let len = match store.size(key).await {
        Ok(Some(size)) => len.min(size),
        Ok(None) => return not_found(),
        Err(e) => return internal("reading from the media store", e),
    };
    let Some(part) = Part::of(range, len) else {
        return range_not_satisfiable(i64::try_from(len).unwrap_or(0));
    };
    if part.end == part.start {
        return part.answer(Body::empty(), "audio/mpeg", recording_id, published);
    }
    let object = match store.get(key, Some((part.start, Some(part.end - 1)))).await {
        Ok(o) => o,
        Err(e) => return internal("reading from the media store", e),
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        object.body,
        64 * 1024,
    ));
    part.answer(body, "audio/mpeg", recording_id, published)
}

/// Shared caches may keep what everyone gets of a published recording, filed under it (so
/// that a change to it reaches them); a browser asks again each time.
fn share_as_recording(h: &mut HeaderMap, recording_id: i32, published: bool) {
    let shared = published
        .then(|| contract::policy::public_headers(&[contract::key::recording(recording_id)], 3600))
        .flatten();
    match shared {
        Some((cache_control, keys)) => {
            h.insert(header::CACHE_CONTROL, cache_control);
            h.insert(&contract::header::SURROGATE_KEY, keys);
        }
        None => {
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(contract::policy::PRIVATE),
            );
        }
    }
}

/// `GET /recordings/{slug}/download.torrent`: the original's torrent — the info dictionary
/// processing stored, with this site's download as web seed and the configured trackers —
/// for a published free recording (premium originals are not offered).
pub async fn torrent(State(s): State<MediaState>, Path(slug): Path<String>) -> Response {
    let row = match domain::recordings::visible(&s.db, &slug, None).await {
        Ok(r) => r,
        Err(ServiceError::NotFound) => return not_found(),
        Err(e) => return Refusal::from(e).download_page(),
    };
    let (true, Some(key), Some(name)) = (
        domain::distribution::offers_torrent(&row),
        row.torrent_key.as_deref(),
        domain::distribution::original_name(&row),
    ) else {
        return not_found();
    };
    let info = match read_small(&s.store, key).await {
        Ok(b) => b,
        Err(e) => return internal("reading a torrent", e),
    };
    let site = s.settings.public_url.trim_end_matches('/');
    let seed = format!("{site}/recordings/{}/download", row.slug);
    let created = row.published_at.unwrap_or(row.created_at).timestamp();
    let body = media::torrent::metainfo(&info, &seed, &s.settings.torrent_trackers, created);
    let mut resp = Response::new(Body::from(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-bittorrent"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.torrent\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    share_as_recording(h, row.id, true);
    resp
}

/// A small object (a torrent's info dictionary), whole, in memory.
async fn read_small(store: &MediaStore, key: &str) -> Result<Vec<u8>, StoreError> {
    use tokio::io::AsyncReadExt;
    let mut object = store.get(key, None).await?;
    let mut out = Vec::with_capacity(usize::try_from(object.len).unwrap_or(0).min(1 << 20));
    object.body.read_to_end(&mut out).await?;
    Ok(out)
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
