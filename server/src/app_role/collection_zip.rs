//! `GET /collections/{slug}/download.zip[?format=…]`: a collection's originals — or each in
//! one download form (`ambix`, `binaural` …, as a recording's download takes it) — in one
//! ZIP, streamed as it is made (`zip_stream`: nothing is built whole in memory or on disk;
//! a channel of a few chunks between the media store and the client is all that is held).
//! `README.txt` comes first, for people: titles, licences with their links, attribution
//! lines, and which recordings were left out and why (a premium one for a listener without
//! premium, one with no file, one that has no such form). `manifest.json` comes last, for
//! programs: the same, with each file's format, size and SHA-256 as it was sent.

use app::ssr::request::RequestContext;
use axum::{
    Extension,
    body::Body,
    extract::{Path, Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use domain::{
    Rendition, ServiceError, entities::recordings, licence_label, licence_url,
    payments::DownloadGate,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::{media_state::MediaState, refusal::Refusal, zip_stream::ZipWriter};

/// Chunks read from the store at a time, and how many may wait for a slow client.
const CHUNK: usize = 256 * 1024;
const QUEUED: usize = 8;

struct Item {
    file: String,
    row: recordings::Model,
    uploader: String,
    /// `None`: the original.
    rendition: Option<Rendition>,
}

pub async fn download(
    State(s): State<MediaState>,
    Extension(ctx): Extension<RequestContext>,
    Path(slug): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let viewer = ctx.viewer.as_ref();
    let wanted = q
        .get("format")
        .map(String::as_str)
        .filter(|f| !f.is_empty());
    if let Some(f) = wanted
        && Rendition::parse(f).is_none()
    {
        return Refusal::new(
            axum::http::StatusCode::BAD_REQUEST,
            "A collection downloads as the originals, or with format= ambix, fuma, ambix-48k, binaural, uhj or 5.1.",
        )
        .download_page();
    }
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
        // The form asked for, where this recording has it (its own form is its original).
        let rendition = match (why, wanted) {
            (None, Some(_)) => match domain::downloads::rendition(&row, wanted) {
                Ok(r) => Ok(r),
                Err(_) => Err("it has no such form (its channels or convention do not allow it)"),
            },
            _ => Ok(None),
        };
        match (why, rendition) {
            (Some(why), _) | (None, Err(why)) => {
                left_out.push(json!({"title": row.title, "page": page, "why": why}));
            }
            (None, Ok(rendition)) => {
                let n = items.len() + 1;
                let file = match rendition {
                    Some(r) => format!(
                        "{n:03}-{}{}",
                        row.slug,
                        domain::renditions::file_suffix(r, 0)
                    ),
                    None => {
                        let ext = row
                            .media_key
                            .as_deref()
                            .and_then(|k| k.rsplit('.').next())
                            .unwrap_or("wav");
                        format!("{n:03}-{}.{ext}", row.slug)
                    }
                };
                items.push(Item {
                    file,
                    row,
                    uploader,
                    rendition,
                });
            }
        }
    }
    let (readme, mut manifest) = manifest(&c, &owner, &site, &items, &left_out);
    // Counted as downloads of each recording it carries, once per visitor as on the site.
    let visitor = viewer.map_or_else(|| ctx.client_ip.clone(), |v| format!("user:{}", v.user_id));
    for item in &items {
        s.downloads.count(&visitor, item.row.id);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(QUEUED);
    let media = s.clone();
    tokio::spawn(async move {
        let mut zip = ZipWriter::new(chrono::Utc::now());
        let send = |b: Bytes| {
            let tx = tx.clone();
            async move { tx.send(Ok(b)).await.is_ok() }
        };
        if !send(zip.small("README.txt", readme.as_bytes())).await {
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let mut body = match item.rendition {
                None => {
                    let Some(key) = item.row.media_key.as_deref() else {
                        continue;
                    };
                    match media.store.get(key, None).await {
                        Ok(o) => o.body,
                        Err(e) => {
                            tracing::error!(key = %key, error = %e, "a collection's original could not be read; the ZIP is cut short");
                            let _ = tx.send(Err(std::io::Error::other("media store"))).await;
                            return;
                        }
                    }
                }
                Some(r) => match super::downloads::rendition_bytes(&media, &item.row, r).await {
                    Ok(b) => b,
                    Err(resp) => {
                        tracing::error!(recording = %item.row.slug, status = %resp.status(), "a rendition for a collection's ZIP could not be made; the ZIP is cut short");
                        let _ = tx.send(Err(std::io::Error::other("rendition"))).await;
                        return;
                    }
                },
            };
            if !send(zip.start(&item.file)).await {
                return;
            }
            let (mut digest, mut size) = (Sha256::new(), 0u64);
            let mut buf = vec![0u8; CHUNK];
            loop {
                match body.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        zip.data(&buf[..n]);
                        digest.update(&buf[..n]);
                        size += n as u64;
                        if !send(Bytes::copy_from_slice(&buf[..n])).await {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::error!(recording = %item.row.slug, error = %e, "reading a collection's file failed; the ZIP is cut short");
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
            if !send(zip.end()).await {
                return;
            }
            // What was sent, as sent.
            manifest["items"][i]["sha256"] = json!(hex::encode(digest.finalize()));
            manifest["items"][i]["size_bytes"] = json!(size);
        }
        let manifest = serde_json::to_string_pretty(&manifest).unwrap_or_default();
        if send(zip.small("manifest.json", manifest.as_bytes())).await {
            let _ = send(zip.finish()).await;
        }
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
) -> (String, serde_json::Value) {
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
                "format": i.rendition.map_or("original", Rendition::as_str),
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
    readme.push_str("In this archive (SHA-256 of each file in manifest.json, at the end):\n\n");
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
    (readme, manifest)
}
