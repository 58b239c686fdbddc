//! Uploading a recording, one file per way in or concern: `form` (the web form, moderation,
//! downloading the original), `token_api` (personal tokens and `POST /api/v1/recordings`),
//! `direct` (S3 and direct-to-bucket uploads), `processing` (the processing job) and
//! `every_way_in` (the rules all three ways in share). Here: the helpers they share, some also
//! used by other test modules.

mod direct;
mod every_way_in;
mod form;
mod processing;
mod token_api;

use domain::{Processing, Role};
use media::wav::{self, Container, Spec};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::helpers::{Browser, PASSWORD, TestApp};

/// A short B-format file: FuMa first order, 24-bit, 48 kHz, `frames` frames of a ramp.
pub fn fuma_file(frames: usize) -> Vec<u8> {
    let spec = Spec {
        channels: 4,
        sample_rate: 48_000,
        bits: 24,
        float: false,
        sub_format: Some(wav::GUID_AMB_PCM),
        channel_mask: 0,
    };
    file(Container::Riff, &spec, frames)
}

pub fn file(container: Container, spec: &Spec, frames: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..frames {
        for c in 0..spec.channels {
            wav::put_sample(
                &mut data,
                spec,
                ((i * 7 + usize::from(c) * 13) % 200) as f64 / 400.0 - 0.25,
            );
        }
    }
    let mut f = wav::header(container, spec, &[], data.len() as u64);
    f.extend_from_slice(&data);
    f.extend_from_slice(&wav::trailer(container, data.len() as u64));
    f
}

async fn count_recordings(app: &TestApp) -> u64 {
    domain::entities::recordings::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

/// Objects in the media folder, and files still in its incoming folder.
fn leftovers(app: &TestApp) -> (usize, usize) {
    let count = |dir: std::path::PathBuf| -> usize {
        let mut n = 0;
        let mut dirs = vec![dir];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                } else {
                    n += 1;
                }
            }
        }
        n
    };
    (
        count(app.media_dir.join("originals")),
        count(app.media_dir.join(".incoming")),
    )
}

pub async fn uploader(app: &TestApp, name: &str, role: Role) -> Browser {
    app.user(name, role).await;
    app.login(name).await
}

/// Waits (with a deadline) until the worker has processed the recording. The deadline only
/// keeps a stuck job from hanging the run: a debug build processing 100 s of sound while
/// another test works on the other core took over 30 s once.
pub async fn processed(app: &TestApp, slug: &str) -> domain::entities::recordings::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let row = domain::entities::recordings::Entity::find()
            .filter(domain::entities::recordings::Column::Slug.eq(slug))
            .one(&app.db)
            .await
            .ok()
            .flatten()
            .expect("row");
        if row.processing == Processing::Done || row.processing == Processing::Failed {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "processing did not finish: {:?}",
            row.processing
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Makes a token on the account page as a browser would, with the scopes the form ticks by
/// default (read, upload); returns it as shown once.
pub async fn make_token(app: &TestApp, browser: &Browser, name: &str) -> String {
    make_token_with(app, browser, name, &["read", "upload"]).await
}

/// [`make_token`] with these scopes ticked.
pub async fn make_token_with(
    app: &TestApp,
    browser: &Browser,
    name: &str,
    scopes: &[&str],
) -> String {
    let mut b = browser.clone();
    let token = app.form_token("/account", &mut b).await;
    let ticked: Vec<String> = scopes.iter().map(|s| format!("scope_{s}")).collect();
    let mut fields = vec![
        ("csrf", token.as_str()),
        ("name", name),
        ("password", PASSWORD),
    ];
    fields.extend(ticked.iter().map(|f| (f.as_str(), "on")));
    let res = app
        .post_form("/api/create-token", "/account", &fields, &mut b)
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let html = app
        .get("/account", &b)
        .await
        .text()
        .await
        .unwrap_or_default();
    let start = html
        .find("data-testid=\"new-token\">")
        .expect("the new token is shown")
        + "data-testid=\"new-token\">".len();
    let token = html[start..]
        .split('<')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(token.starts_with("amb_"), "{token}");
    token
}

pub async fn api_upload(
    app: &TestApp,
    token: &str,
    query: &str,
    file: Vec<u8>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("/api/v1/recordings?{query}")))
        .bearer_auth(token)
        .body(file)
        .send()
        .await
        .expect("API answers")
}

async fn direct(
    app: &TestApp,
    browser: &Browser,
    csrf: &str,
    path: &str,
    body: serde_json::Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(path))
        .header("origin", app.base.clone())
        .header("x-csrf-token", csrf)
        .header("cookie", browser.header())
        .json(&body)
        .send()
        .await
        .expect("answer")
}

/// Asks for direct upload `id`'s status, as its page does, until it is finished (done or
/// refused, within a minute); the last answer.
pub async fn finished(app: &crate::helpers::Site, browser: &Browser, id: i64) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let res = app.get(&format!("/upload/direct/{id}"), browser).await;
        let status = res.status();
        let body: serde_json::Value = res.json().await.expect("a status");
        match body["state"].as_str() {
            Some("done" | "refused") => {
                assert_eq!(status, StatusCode::OK, "{body}");
                return body;
            }
            Some("uploading" | "finishing") => assert_eq!(status, StatusCode::ACCEPTED),
            other => panic!("no upload state: {other:?} ({body})"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "upload {id} finished within a minute: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
