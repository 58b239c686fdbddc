//! `GET /collections/{slug}/download.zip`: a collection's originals in one ZIP, streamed as
//! it is made (`zip_stream`: nothing is built whole in memory or on disk; a channel of a
//! few chunks between the media store and the client is all that is held), with a manifest
//! first — `README.txt` for people, `manifest.json` for programs: titles, licences with
//! their links, attribution lines, formats and SHA-256 — which also says which recordings
//! were left out and why (a premium one for a listener without premium, one with no file).

use app::ssr::request::RequestContext;
use axum::{
    Extension,
    body::Body,
    extract::{Path, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use domain::{
    ServiceError, entities::recordings, licence_label, licence_url, payments::DownloadGate,
};
use serde_json::json;
use tokio::io::AsyncReadExt;

use super::{media_state::MediaState, refusal::Refusal, zip_stream::ZipWriter};

/// Chunks read from the store at a time, and how many may wait for a slow client.
const CHUNK: usize = 256 * 1024;
const QUEUED: usize = 8;

struct Item {
    file: String,
    row: recordings::Model,
    uploader: String,
}

pub async fn download(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(slug): Path<String>,
) -> Response {
    let viewer = ctx.viewer.as_ref();
    let (c, owner, rows) = match domain::collections::contents(&s.db, &slug, viewer).await {
        Ok(found) => found,
        Err(ServiceError::NotFound) => return super::refusal::not_found(),
        Err(e) => return Refusal::from(e).download_page(),
    };
    let site = s.settings.public_url.clone();
    let mut items = Vec::new();
    let mut left_out = Vec::new();
    for (row, uploader) in rows {
        let page = format!("{site}/recordings/{}", row.slug);
        let why = match (&row.media_key, row.sha256.as_deref()) {
            (None, _) | (_, None) => Some("no file has been uploaded for it yet"),
            _ => match domain::payments::download_gate(&s.db, &row, viewer).await {
                Ok(DownloadGate::Open) => None,
                Ok(DownloadGate::NeedsLogin) => {
                    Some("a premium recording: log in with a premium membership to include it")
                }
                Ok(DownloadGate::NeedsPremium) => {
                    Some("a premium recording, and this account is not premium")
                }
                Err(e) => return Refusal::from(e).download_page(),
            },
        };
        match why {
            Some(why) => left_out.push(json!({"title": row.title, "page": page, "why": why})),
            None => {
                let ext = row
                    .media_key
                    .as_deref()
                    .and_then(|k| k.rsplit('.').next())
                    .unwrap_or("wav");
                items.push(Item {
                    file: format!("{:03}-{}.{ext}", items.len() + 1, row.slug),
                    row,
                    uploader,
                });
            }
        }
    }
    let (readme, manifest) = manifest(&c, &owner, &site, &items, &left_out);
    // Counted as downloads of each recording it carries, once per visitor as on the site.
    let visitor = viewer.map_or_else(|| ctx.client_ip.clone(), |v| format!("user:{}", v.user_id));
    for item in &items {
        s.downloads.count(&visitor, item.row.id);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(QUEUED);
    let store = std::sync::Arc::clone(&s.store);
    tokio::spawn(async move {
        let mut zip = ZipWriter::new(chrono::Utc::now());
        let send = |b: Bytes| {
            let tx = tx.clone();
            async move { tx.send(Ok(b)).await.is_ok() }
        };
        if !send(zip.small("README.txt", readme.as_bytes())).await
            || !send(zip.small("manifest.json", manifest.as_bytes())).await
        {
            return;
        }
        for item in items {
            let Some(key) = item.row.media_key.as_deref() else {
                continue;
            };
            let mut object = match store.get(key, None).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(key = %key, error = %e, "a collection's original could not be read; the ZIP is cut short");
                    let _ = tx.send(Err(std::io::Error::other("media store"))).await;
                    return;
                }
            };
            if !send(zip.start(&item.file)).await {
                return;
            }
            let mut buf = vec![0u8; CHUNK];
            loop {
                match object.body.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        zip.data(&buf[..n]);
                        if !send(Bytes::copy_from_slice(&buf[..n])).await {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(key = %key, error = %e, "reading a collection's original failed; the ZIP is cut short");
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if !send(zip.end()).await {
                return;
            }
        }
        let _ = send(zip.finish()).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.zip\"", c.slug)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(contract::policy::PRIVATE),
    );
    resp
}

/// The README and the manifest: what is in the archive, under which licence, credited how.
fn manifest(
    c: &domain::entities::collections::Model,
    owner: &str,
    site: &str,
    items: &[Item],
    left_out: &[serde_json::Value],
) -> (String, String) {
    let page = format!("{site}/collections/{}", c.slug);
    let entries: Vec<serde_json::Value> = items
        .iter()
        .map(|i| {
            let r = &i.row;
            let by = if r.artist.is_empty() {
                &i.uploader
            } else {
                &r.artist
            };
            let url = format!("{site}/recordings/{}", r.slug);
            let licence = licence_label(&r.licence);
            json!({
                "file": i.file,
                "title": r.title,
                "artist": r.artist,
                "uploader": i.uploader,
                "page": url,
                "format": "original",
                "convention": r.convention,
                "order": r.ambi_order,
                "channels": r.channels,
                "sample_rate": r.sample_rate,
                "size_bytes": r.size_bytes,
                "sha256": r.sha256,
                "licence": {"key": r.licence, "name": licence, "url": licence_url(&r.licence)},
                "attribution": format!("“{}” by {by}, {url}, licensed {licence}", r.title),
            })
        })
        .collect();
    let manifest = json!({
        "collection": {"title": c.title, "owner": owner, "page": page, "note": c.note},
        "made_at": chrono::Utc::now().to_rfc3339(),
        "items": entries,
        "left_out": left_out,
    });
    let mut readme = format!(
        "{}\nA collection by {owner} on Ambisonia: {page}\n\n",
        c.title
    );
    if !c.note.is_empty() {
        readme.push_str(&format!("{}\n\n", c.note));
    }
    readme.push_str("In this archive (the originals, as uploaded; SHA-256 in manifest.json):\n\n");
    for e in &entries {
        readme.push_str(&format!(
            "{}\n    {}\n    Licence: {} {}\n\n",
            e["file"].as_str().unwrap_or_default(),
            e["attribution"].as_str().unwrap_or_default(),
            e["licence"]["name"].as_str().unwrap_or_default(),
            e["licence"]["url"].as_str().unwrap_or_default(),
        ));
    }
    if !left_out.is_empty() {
        readme.push_str("Left out:\n\n");
        for l in left_out {
            readme.push_str(&format!(
                "{} ({}): {}\n",
                l["title"].as_str().unwrap_or_default(),
                l["page"].as_str().unwrap_or_default(),
                l["why"].as_str().unwrap_or_default()
            ));
        }
    }
    let manifest = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    (readme, manifest)
}
