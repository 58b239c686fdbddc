//! Uploads with an S3 media store: originals in the bucket and presigned downloads, and
//! direct-to-bucket uploads in parts (their form token, retried parts, unfinished ones swept).

use domain::{Processing, Role};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

use super::{
    api_upload, count_recordings, direct, finished, fuma_file, leftovers, make_token, processed,
    uploader,
};
use crate::helpers::{Backend, Browser, TestApp, header_of, location};

/// The S3 store the app was started with (same bucket), for looking inside.
fn bucket_store(app: &TestApp) -> domain::store::MediaStore {
    domain::store::MediaStore::s3(app.s3.as_ref().expect("an S3 app"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_s3_a_trusted_uploader_publishes_at_once_and_downloads_are_presigned_redirects() {
    let settings = crate::media_store::s3_settings();
    crate::media_store::s3_store_with(&settings).await;
    let app = TestApp::spawn_with(Backend::Sqlite, Some(settings.clone())).await;
    let id = app.user("paul", Role::Uploader).await;
    app.trust(id).await;
    let paul = app.login("paul").await;
    let bytes = fuma_file(9600);
    let res = app
        .upload(
            &paul,
            &[("title", "Harbour at Dawn")],
            "harbour.amb",
            bytes.clone(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_text("/recordings/harbour-at-dawn", &Browser::default())
            .await
            .0,
        StatusCode::OK,
        "trusted: no queue"
    );
    assert_eq!(
        leftovers(&app),
        (0, 0),
        "nothing on local disk: the original is in the bucket"
    );

    let res = app
        .get("/recordings/harbour-at-dawn/download", &Browser::default())
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let url = location(&res);
    assert!(
        url.starts_with(&crate::media_store::s3_url()) && url.contains("X-Amz-Signature"),
        "{url}"
    );
    let fetched = reqwest::get(&url).await.expect("presigned URL");
    assert_eq!(fetched.bytes().await.ok().map(|b| b.to_vec()), Some(bytes));

    // The terminal Uploader's API lands in the bucket too.
    let token = make_token(&app, &paul, "desk").await;
    let res = api_upload(&app, &token, "title=Ferry%20Horn", fuma_file(4800)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let ferry = domain::entities::recordings::Entity::find()
        .all(&app.db)
        .await
        .expect("rows")
        .into_iter()
        .find(|r| r.slug == "ferry-horn")
        .expect("row");
    let key = ferry.media_key.clone().expect("key");
    assert_eq!(
        bucket_store(&app).size(&key).await.ok().flatten(),
        ferry.size_bytes.map(|b| b as u64)
    );

    // Processing read the original from the bucket and put the preview there too.
    let row = processed(&app, "harbour-at-dawn").await;
    assert_eq!(row.processing, Processing::Done, "{}", row.processing_error);
    let res = app
        .get(
            "/recordings/harbour-at-dawn/preview.ogg",
            &Browser::default(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let ogg = reqwest::get(location(&res))
        .await
        .expect("presigned preview")
        .bytes()
        .await
        .unwrap_or_default();
    assert_eq!(&ogg[..4], b"OggS");
    assert_eq!(leftovers(&app), (0, 0));
}

/// PUTs one part; returns the ETag the bucket answers.
async fn put_part(url: &str, bytes: &[u8]) -> String {
    let res = reqwest::Client::new()
        .put(url)
        .body(bytes.to_vec())
        .send()
        .await
        .expect("part PUT");
    assert_eq!(res.status(), StatusCode::OK);
    header_of(&res, "etag")
}

/// Starts a part's PUT and hangs up halfway through its body, as a dropped connection does.
async fn drop_halfway(url: &str, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let u: reqwest::Url = url.parse().expect("url");
    let mut s =
        tokio::net::TcpStream::connect((u.host_str().expect("host"), u.port().expect("port")))
            .await
            .expect("connect");
    let path = format!("{}?{}", u.path(), u.query().unwrap_or(""));
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}:{}\r\nContent-Length: {}\r\n\r\n",
        u.host_str().unwrap_or(""),
        u.port().unwrap_or(80),
        bytes.len()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(&bytes[..bytes.len() / 2]).await.expect("half");
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_file_goes_straight_to_s3_in_parts_one_retried_after_a_drop() {
    use serde_json::json;
    let settings = crate::media_store::s3_settings();
    let bucket = crate::media_store::s3_store_with(&settings).await;
    let app = TestApp::spawn_with(Backend::Sqlite, Some(settings)).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let html = app
        .get("/upload", &paul)
        .await
        .text()
        .await
        .unwrap_or_default();
    let csrf = crate::helpers::hidden_action_token(&html).expect("token");

    let file = fuma_file(1_800_000); // about 20.6 MB: three parts of 8 MiB
    let res = direct(
        &app,
        &paul,
        &csrf,
        "/upload/direct",
        json!({
            "title": "Long Night Harbour",
            "size": file.len(),
            "latitude": "56.962531",
            "longitude": "-2.201234",
            "blur": true,
        }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started: serde_json::Value = res.json().await.expect("JSON");
    let (id, part) = (
        started["id"].as_i64().expect("id"),
        started["part_size"].as_u64().expect("size") as usize,
    );
    assert_eq!(started["parts"], 3);
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/urls"),
        json!({ "parts": [1, 2, 3] }),
    )
    .await;
    let urls: serde_json::Value = res.json().await.expect("JSON");
    let url = |n: usize| {
        urls["urls"][n.to_string()]
            .as_str()
            .expect("url")
            .to_owned()
    };
    let piece = |n: usize| &file[(n - 1) * part..(n * part).min(file.len())];

    let etag1 = put_part(&url(1), piece(1)).await;
    // The connection drops halfway through part 2: no answer, so no ETag for it.
    drop_halfway(&url(2), piece(2)).await;
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/complete"),
        json!({ "parts": [{ "n": 1, "etag": etag1 }] }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(
        res.json::<serde_json::Value>().await.expect("JSON")["missing"],
        json!([2, 3])
    );

    // Resumed: fresh URLs for what has no ETag; part 2 sent again, part 3 sent.
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/urls"),
        json!({ "parts": [2, 3] }),
    )
    .await;
    let urls: serde_json::Value = res.json().await.expect("JSON");
    let url = |n: usize| {
        urls["urls"][n.to_string()]
            .as_str()
            .expect("url")
            .to_owned()
    };
    let etag2 = put_part(&url(2), piece(2)).await;
    let etag3 = put_part(&url(3), piece(3)).await;
    let parts = json!({ "parts": [{ "n": 1, "etag": etag1 }, { "n": 2, "etag": etag2 }, { "n": 3, "etag": etag3 }] });
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/complete"),
        parts,
    )
    .await;
    // Answered at once: a job joins and inspects the file while the page asks.
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let queued: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(
        queued["status_url"].as_str(),
        Some(format!("/upload/direct/{id}").as_str())
    );
    let done = finished(&app, &paul, id).await;
    assert_eq!(
        (done["state"].as_str(), done["slug"].as_str()),
        (Some("done"), Some("long-night-harbour"))
    );
    // Completing again answers the same, never a conflict.
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/complete"),
        json!({ "parts": [] }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<serde_json::Value>().await.expect("JSON")["slug"].as_str(),
        Some("long-night-harbour")
    );
    let row = domain::entities::recordings::Entity::find()
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(row.size_bytes, Some(file.len() as i64));
    assert_eq!(row.status, domain::Status::Pending);
    assert_eq!(
        (row.latitude, row.longitude),
        (Some(56.96), Some(-2.2)),
        "the place the form said, blurred"
    );
    let keys: Vec<String> = bucket
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(keys.iter().any(|k| k.starts_with("originals/")), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.starts_with("incoming/")),
        "the parts' object is gone: {keys:?}"
    );

    // Not audio: joined, inspected, refused, removed.
    let junk = b"these bytes are not a recording".to_vec();
    let res = direct(
        &app,
        &paul,
        &csrf,
        "/upload/direct",
        json!({ "title": "Junk", "size": junk.len() }),
    )
    .await;
    let id = res.json::<serde_json::Value>().await.expect("JSON")["id"]
        .as_i64()
        .expect("id");
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/urls"),
        json!({ "parts": [1] }),
    )
    .await;
    let u = res.json::<serde_json::Value>().await.expect("JSON")["urls"]["1"]
        .as_str()
        .expect("url")
        .to_owned();
    let etag = put_part(&u, &junk).await;
    let res = direct(
        &app,
        &paul,
        &csrf,
        &format!("/upload/direct/{id}/complete"),
        json!({ "parts": [{ "n": 1, "etag": etag }] }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let refused = finished(&app, &paul, id).await;
    assert_eq!(refused["state"].as_str(), Some("refused"));
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|e| e.contains("not a WAVE file")),
        "{refused}"
    );
    assert_eq!(count_recordings(&app).await, 1);
    let keys: Vec<String> = bucket
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(!keys.iter().any(|k| k.starts_with("incoming/")), "{keys:?}");
    // Someone else's upload is not yours to complete.
    let other = uploader(&app, "marta", Role::Uploader).await;
    let html = app
        .get("/upload", &other)
        .await
        .text()
        .await
        .unwrap_or_default();
    let other_csrf = crate::helpers::hidden_action_token(&html).expect("token");
    let res = direct(
        &app,
        &paul,
        &csrf,
        "/upload/direct",
        json!({ "title": "Mine", "size": 10 }),
    )
    .await;
    let id = res.json::<serde_json::Value>().await.expect("JSON")["id"]
        .as_i64()
        .expect("id");
    let res = direct(
        &app,
        &other,
        &other_csrf,
        &format!("/upload/direct/{id}/complete"),
        json!({ "parts": [] }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_uploads_need_s3_and_a_form_token() {
    use serde_json::json;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let html = app
        .get("/upload", &paul)
        .await
        .text()
        .await
        .unwrap_or_default();
    let csrf = crate::helpers::hidden_action_token(&html).expect("token");
    let res = direct(
        &app,
        &paul,
        &csrf,
        "/upload/direct",
        json!({ "title": "Big", "size": 1000 }),
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "the folder store takes the form upload instead"
    );
    let res = direct(
        &app,
        &paul,
        "forged",
        "/upload/direct",
        json!({ "title": "Big", "size": 1000 }),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_uploads_left_unfinished_for_a_day_are_swept() {
    use sea_orm::{ActiveModelTrait, Set};
    use serde_json::json;
    let settings = crate::media_store::s3_settings();
    crate::media_store::s3_store_with(&settings).await;
    let app = TestApp::spawn_with(Backend::Sqlite, Some(settings)).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let html = app
        .get("/upload", &paul)
        .await
        .text()
        .await
        .unwrap_or_default();
    let csrf = crate::helpers::hidden_action_token(&html).expect("token");
    for title in ["Old", "Fresh"] {
        let res = direct(
            &app,
            &paul,
            &csrf,
            "/upload/direct",
            json!({ "title": title, "size": 1000 }),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let rows = domain::entities::direct_uploads::Entity::find()
        .all(&app.db)
        .await
        .expect("rows");
    let mut old: domain::entities::direct_uploads::ActiveModel = rows[0].clone().into();
    old.created_at = Set(chrono::Utc::now() - chrono::Duration::hours(25));
    old.update(&app.db).await.expect("age it");

    let swept = domain::direct_uploads::sweep_abandoned(
        &app.db,
        &bucket_store(&app),
        std::time::Duration::from_secs(24 * 3600),
    )
    .await
    .expect("sweep");
    assert_eq!(swept, 1);
    let left: Vec<String> = domain::entities::direct_uploads::Entity::find()
        .all(&app.db)
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.title)
        .collect();
    assert_eq!(left, ["Fresh"]);
}
