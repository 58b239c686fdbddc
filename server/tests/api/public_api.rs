//! The public API (`/api/v1/…`): it agrees with the catalog page, its cursors walk the whole
//! catalog while recordings are published, bad input is a problem (RFC 9457), tokens do
//! only what their scopes allow, premium downloads need premium, anonymous answers are
//! cached and revalidated, and the allowance holds across replicas sharing Redis.

use domain::{Role, Status, recordings::NewRecording};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, Set};
use serde_json::Value;

use crate::{
    both_backends,
    helpers::*,
    uploads::{fuma_file, make_token_with, processed, uploader},
};

async fn get_json(app: &TestApp, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let (status, _, body) = get_full(&app.url(path), token).await;
    (status, body)
}

async fn get_full(
    url: &str,
    token: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = req.send().await.expect("the API answers");
    let (status, headers) = (res.status(), res.headers().clone());
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn slugs(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["slug"].as_str().expect("slug").to_owned())
        .collect()
}

fn api_titles(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["title"].as_str().expect("title").to_owned())
        .collect()
}

async fn search_agrees_with_the_catalog_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::catalog::seed(&app).await;
    for query in [
        "",
        "q=dawn",
        "q=water",
        "tag=birds",
        "tag=water&sort=longest",
        "convention=ambix",
        "order=2",
        "mic=TetraMic",
        "min=5&max=20",
        "sort=downloads",
        "sort=rating",
        "sort=longest",
        "q=harbour&sort=newest",
    ] {
        let (_, html) = app
            .get_text(&format!("/catalog?{query}"), &Browser::default())
            .await;
        let (status, list) = get_json(&app, &format!("/api/v1/recordings?{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(api_titles(&list), titles(&html), "{query}");
        let total = &list["total"];
        assert_eq!(
            count(&html),
            match (total["count"].as_u64(), total["exact"].as_bool()) {
                (Some(0), Some(true)) => "No recordings match.".to_owned(),
                (Some(1), Some(true)) => "1 recording".to_owned(),
                (Some(n), Some(true)) => format!("{n} recordings"),
                (Some(n), _) => format!("{n}+ recordings"),
                _ => panic!("{query}: a total"),
            },
            "{query}: the count"
        );
    }
    // A recording in full: what its page shows.
    let (_, list) = get_json(&app, "/api/v1/recordings?q=quayside", None).await;
    let slug = slugs(&list).remove(0);
    let (status, r) = get_json(&app, &format!("/api/v1/recordings/{slug}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["title"], "Quayside");
    assert_eq!(r["convention"], "ambix");
    assert_eq!(r["order"], 2);
    assert_eq!(r["microphone"], "Core Sound OctoMic");
    assert_eq!(
        r["licence"]["url"],
        "https://creativecommons.org/licenses/by/4.0/"
    );
    assert_eq!(r["uploader"], "olga");
    assert_eq!(r["status"], "published");
    assert!(
        r["links"]["page"]
            .as_str()
            .is_some_and(|p| p.ends_with(&format!("/recordings/{slug}"))),
        "{r}"
    );
    assert_eq!(r["tags"].as_array().map(Vec::len), Some(2));
    // Drafts and unknown names are not found; comments, a person and their recordings are.
    let (_, drafts) = get_json(&app, "/api/v1/recordings?q=secret", None).await;
    assert!(
        slugs(&drafts).is_empty(),
        "a pending recording is not listed"
    );
    let (status, p) = get_json(&app, "/api/v1/recordings/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(p["type"], "/api#problem-not-found");
    let (status, c) = get_json(&app, &format!("/api/v1/recordings/{slug}/comments"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["items"].as_array().map(Vec::len), Some(0));
    let (status, u) = get_json(&app, "/api/v1/users/olga", None).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    assert_eq!(u["role"], "uploader");
    let (_, mine) = get_json(&app, "/api/v1/users/olga/recordings", None).await;
    assert_eq!(slugs(&mine).len(), 4, "her four published recordings");
}

/// Walks `path` by `next_cursor` to the end; the slugs in order.
async fn walk(app: &TestApp, path: &str, mut between: impl AsyncFnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for page in 0.. {
        let url = match &next {
            None => path.to_owned(),
            Some(c) => {
                let sep = if path.contains('?') { '&' } else { '?' };
                format!("{path}{sep}cursor={c}")
            }
        };
        let (status, list) = get_json(app, &url, None).await;
        assert_eq!(status, StatusCode::OK, "{url}: {list}");
        seen.extend(slugs(&list));
        match list["next_cursor"].as_str() {
            Some(c) => next = Some(c.to_owned()),
            None => break,
        }
        between(page).await;
    }
    seen
}

async fn cursors_walk_everything_once_while_recordings_are_published(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("wanda", Role::Uploader).await;
    let mut all = Vec::new();
    for i in 0..60 {
        let (_, slug) = app
            .recording(NewRecording {
                duration_ms: Some(1_000 * (i % 7)),
                ..sample(&format!("Walk {i:02}"), uploader)
            })
            .await;
        all.push(slug);
    }
    for sort in ["newest", "downloads", "rating", "longest"] {
        let mut late = None;
        let seen = walk(
            &app,
            &format!("/api/v1/recordings?sort={sort}"),
            async |page| {
                // Mid-walk, a recording is published (at the top of each of these sorts).
                if page == 0 {
                    late = Some(
                        app.recording(sample(&format!("Late {sort}"), uploader))
                            .await
                            .1,
                    );
                }
            },
        )
        .await;
        let late = late.expect("published mid-walk");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{sort}: no recording twice");
        let mut expected = all.clone();
        expected.sort();
        unique.retain(|s| *s != late);
        assert_eq!(unique, expected, "{sort}: every recording, none skipped");
        all.push(late);
    }
    // An uploader's recordings walk the same way.
    let mut mine = walk(&app, "/api/v1/users/wanda/recordings", async |_| {}).await;
    mine.sort();
    all.sort();
    assert_eq!(mine, all, "the 60 and the four published mid-walk");
}

async fn bad_input_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::catalog::seed(&app).await;
    // More than a page, for a cursor of the newest-first walk.
    let olga = app.user_id("olga").await;
    for i in 0..30 {
        app.recording(sample(&format!("Filler {i}"), olga)).await;
    }
    let (_, page) = get_json(&app, "/api/v1/recordings?sort=newest", None).await;
    let newest_cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    for (path, kind, status) in [
        ("/api/v1/recordings?sort=popular", "bad-parameter", 400),
        ("/api/v1/recordings?order=7", "bad-parameter", 400),
        ("/api/v1/recordings?order=two", "bad-parameter", 400),
        ("/api/v1/recordings?convention=quad", "bad-parameter", 400),
        ("/api/v1/recordings?min=99999", "bad-parameter", 400),
        ("/api/v1/recordings?colour=blue", "bad-parameter", 400),
        ("/api/v1/recordings?sort=relevance", "bad-parameter", 400),
        ("/api/v1/recordings?cursor=not-a-cursor", "bad-cursor", 400),
        ("/api/v1/recordings?cursor=", "bad-cursor", 400),
        (
            &format!("/api/v1/recordings?sort=downloads&cursor={newest_cursor}"),
            "bad-cursor",
            400,
        ),
        (
            &format!("/api/v1/recordings?q=dawn&cursor={newest_cursor}"),
            "bad-cursor",
            400,
        ),
        (
            &format!("/api/v1/users/olga/recordings?cursor={newest_cursor}"),
            "bad-cursor",
            400,
        ),
        ("/api/v1/users/nobody-at-all", "not-found", 404),
    ] {
        let (s, headers, p) = get_full(&app.url(path), None).await;
        assert_eq!(s.as_u16(), status, "{path}: {p}");
        assert_eq!(
            headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{path}"
        );
        assert_eq!(p["type"], format!("/api#problem-{kind}"), "{path}");
        assert_eq!(p["status"], status, "{path}");
        assert!(
            p["title"].is_string() && p["detail"].is_string(),
            "{path}: {p}"
        );
        assert_eq!(
            headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("private, no-store"),
            "{path}: a problem is never shared"
        );
    }
    // Malformed, unknown and revoked tokens: 401, never read as anonymous.
    let olga = app.login("olga").await;
    let token = crate::uploads::make_token(&app, &olga, "revoked soon").await;
    let id = domain::tokens::list(
        &app.db,
        &domain::model::Viewer {
            user_id: app.user_id("olga").await,
            username: "olga".into(),
            role: Role::Uploader,
            csrf: String::new(),
        },
    )
    .await
    .expect("tokens")[0]
        .id;
    domain::tokens::revoke(
        &app.db,
        &domain::model::Viewer {
            user_id: app.user_id("olga").await,
            username: "olga".into(),
            role: Role::Uploader,
            csrf: String::new(),
        },
        id,
    )
    .await
    .expect("revoked");
    for auth in [
        "Basic b2xnYTpwYXNzd29yZA==".to_owned(),
        "Bearer".to_owned(),
        "Bearer not-a-token".to_owned(),
        format!("Bearer amb_{}", "0".repeat(43)),
        format!("Bearer {token}"),
    ] {
        let res = reqwest::Client::new()
            .get(app.url("/api/v1/recordings"))
            .header("authorization", &auth)
            .send()
            .await
            .expect("answer");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{auth}");
        assert!(res.headers().contains_key("www-authenticate"), "{auth}");
        let p: Value = res.json().await.expect("problem");
        assert_eq!(p["type"], "/api#problem-bad-token", "{auth}");
    }
}

async fn tokens_do_only_what_their_scopes_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let paul_id = app.user_id("paul").await;
    let (_, draft) = app
        .recording_with_status(sample("Paul's draft", paul_id), Status::Draft)
        .await;
    let upload_only = make_token_with(&app, &paul, "uploader", &["upload"]).await;
    let read = make_token_with(&app, &paul, "reader", &["read"]).await;
    let everything = make_token_with(&app, &paul, "all", &["read", "upload", "download"]).await;
    // The account page lists what each may do.
    let (_, html) = app.get_text("/account", &paul).await;
    assert!(html.contains("read, upload, download") && html.contains(">upload<"));
    // Reading needs `read`; with it, the owner sees their draft (privately).
    let path = format!("/api/v1/recordings/{draft}");
    let (s, _, p) = get_full(&app.url(&path), Some(&upload_only)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(p["type"], "/api#problem-missing-scope");
    let (s, headers, r) = get_full(&app.url(&path), Some(&read)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["status"], "draft");
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("private, no-store")
    );
    let (s, _) = get_json(&app, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nobody else sees the draft");
    // Uploading needs `upload`.
    let res = crate::uploads::api_upload(&app, &read, "title=Refused", fuma_file(4_800)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = crate::uploads::api_upload(&app, &upload_only, "title=Taken", fuma_file(4_900)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let slug = res.json::<Value>().await.expect("json")["slug"]
        .as_str()
        .expect("slug")
        .to_owned();
    processed(&app, &slug).await;
    // Downloading with a token needs `download`.
    let download = format!("/api/v1/recordings/{slug}/download");
    let (s, _, p) = get_full(&app.url(&download), Some(&read)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(p["type"], "/api#problem-missing-scope");
    let res = reqwest::Client::new()
        .get(app.url(&download))
        .header("authorization", format!("Bearer {everything}"))
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("audio/wav")
    );
    let body = res.bytes().await.expect("the file");
    assert_eq!(&body[..4], b"RIFF");
}

async fn premium_downloads_need_a_premium_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    app.trust(app.user_id("paul").await).await;
    let res = app
        .upload(
            &paul,
            &[("title", "Premium harbour")],
            "p.amb",
            fuma_file(4_800),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let slug = location(&res).trim_start_matches("/recordings/").to_owned();
    let row = processed(&app, &slug).await;
    domain::entities::recordings::ActiveModel {
        id: Set(row.id),
        is_premium: Set(true),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("made premium");
    app.user("lis", Role::Listener).await;
    let pam = app.user("pam", Role::Listener).await;
    domain::accounts::grant_premium(
        &app.db,
        pam,
        chrono::Utc::now() + chrono::Duration::days(30),
    )
    .await
    .expect("grant");
    let lis_token =
        make_token_with(&app, &app.login("lis").await, "lis", &["read", "download"]).await;
    let pam_token =
        make_token_with(&app, &app.login("pam").await, "pam", &["read", "download"]).await;
    for format in ["", "?format=ambix", "?format=binaural"] {
        let url = app.url(&format!("/api/v1/recordings/{slug}/download{format}"));
        let (s, _, p) = get_full(&url, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "anonymous {format}: {p}");
        assert_eq!(p["type"], "/api#problem-token-needed");
        let (s, _, p) = get_full(&url, Some(&lis_token)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "listener {format}: {p}");
        assert_eq!(p["type"], "/api#problem-premium-only");
        let res = reqwest::Client::new()
            .get(&url)
            .header("authorization", format!("Bearer {pam_token}"))
            .send()
            .await
            .expect("download");
        assert_eq!(res.status(), StatusCode::OK, "premium member {format}");
    }
    // The metadata says so, to everyone.
    let (_, r) = get_json(&app, &format!("/api/v1/recordings/{slug}"), None).await;
    assert_eq!(r["premium"], true);
    assert!(r["formats"].as_array().is_some_and(|f| f.len() > 1), "{r}");
    let (s, _, p) = get_full(
        &app.url(&format!("/api/v1/recordings/{slug}/download?format=mp4")),
        Some(&pam_token),
    )
    .await;
    assert_eq!(s.as_u16(), 400, "{p}");
    assert_eq!(p["type"], "/api#problem-bad-parameter");
}

async fn anonymous_answers_are_shared_revalidated_and_readable_from_anywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::catalog::seed(&app).await;
    let client = reqwest::Client::new();
    let res = client
        .get(app.url("/api/v1/recordings?tag=birds"))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .expect("answer");
    let h = res.headers().clone();
    let get = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(get("cache-control").starts_with("public"), "{h:?}");
    assert!(get("surrogate-key").split(' ').any(|k| k == "catalog"));
    assert_eq!(get("access-control-allow-origin"), "*");
    assert!(get("access-control-expose-headers").contains("RateLimit-Remaining"));
    let etag = get("etag");
    assert!(etag.starts_with('"'), "a strong validator: {etag}");
    let again = client
        .get(app.url("/api/v1/recordings?tag=birds"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("answer");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    // A preflight for a token-carrying script.
    let pre = client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/recordings"))
        .header("origin", "https://elsewhere.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("preflight");
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    let allowed = pre
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(allowed.contains("Authorization"));
    assert!(
        pre.headers()
            .get("access-control-allow-credentials")
            .is_none(),
        "never with credentials"
    );
}

/// Two replicas sharing Redis behind one balancer: a token's allowance is one, whichever
/// replica answers; the headers count it down and the refusal says when to come back.
async fn a_tokens_allowance_holds_across_replicas_sharing_redis(backend: Backend) {
    const LIMIT: u32 = 12;
    let redis = TestRedis::start();
    let app = TestApp::spawn_configured(
        backend,
        Setup {
            bus: server::config::BusConfig {
                redis_url: Some(redis.url()),
                ..Default::default()
            },
            api_token_per_minute: Some(LIMIT),
            ..Default::default()
        },
    )
    .await;
    let second = app.replica().await;
    let upstream = |base: &str| base.trim_start_matches("http://").to_owned();
    let toml = format!(
        "[pools.app]\nupstreams = [\"{}\", \"{}\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n",
        upstream(&app.base),
        upstream(&second.site.base)
    );
    let any = "127.0.0.1:0".parse().expect("address");
    let front = balancer::Balancer::bind(
        balancer::Settings::from_toml(&toml, any, any).expect("balancer settings"),
    )
    .await
    .expect("balancer starts");
    let front_base = format!("http://{}", front.local_addr());
    tokio::spawn(front.run_until(std::future::pending()));

    crate::catalog::seed(&app).await;
    let olga = app.login("olga").await;
    let token = make_token_with(&app, &olga, "script", &["read"]).await;
    let other = make_token_with(&app, &olga, "other script", &["read"]).await;
    let url = format!("{front_base}/api/v1/recordings?tag=birds");
    // Not across a window's end: wait for a fresh one when this one is nearly over.
    // (Asked with the other token: an anonymous answer the balancer keeps carries no
    // RateLimit headers, which speak of one client.)
    let (_, h, _) = get_full(&url, Some(&other)).await;
    let reset: u64 = h["ratelimit-reset"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .expect("reset");
    if reset < 15 {
        tokio::time::sleep(std::time::Duration::from_secs(reset + 1)).await;
    }
    let (a0, b0) = (app.statement_count(), second.statement_count());
    let mut remaining = Vec::new();
    for _ in 0..LIMIT / 2 {
        // Two at once, so that the balancer gives each replica some.
        let (x, y) = tokio::join!(get_full(&url, Some(&token)), get_full(&url, Some(&token)));
        for (status, h, body) in [x, y] {
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(h["ratelimit-limit"], LIMIT.to_string().as_str());
            remaining.push(
                h["ratelimit-remaining"]
                    .to_str()
                    .ok()
                    .and_then(|v| v.parse::<u32>().ok())
                    .expect("remaining"),
            );
        }
    }
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..LIMIT).collect::<Vec<_>>(),
        "one count down, shared by both replicas"
    );
    assert!(
        app.statement_count() > a0 && second.statement_count() > b0,
        "both replicas answered some"
    );
    for _ in 0..3 {
        let (status, h, p) = get_full(&url, Some(&token)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{p}");
        assert_eq!(p["type"], "/api#problem-rate-limited");
        assert_eq!(h["ratelimit-remaining"], "0");
        let wait: u64 = h["retry-after"]
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=60).contains(&wait), "{wait}");
    }
    let (status, _, _) = get_full(&url, Some(&other)).await;
    assert_eq!(status, StatusCode::OK, "another token is not charged");
}

/// `/api/v1/openapi.json` is OpenAPI 3.1 to an independent validator, every example in it
/// matches its schema, and so do real answers; `/api` explains the same endpoints.
async fn the_document_validates_and_real_answers_match_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::catalog::seed(&app).await;
    let dir = std::env::temp_dir().join(format!("ambisonia-openapi-{}", random_suffix()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let save = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("saved");
        path.display().to_string()
    };
    let res = reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .expect("document");
    assert_eq!(res.status(), StatusCode::OK);
    let doc = save("openapi.json", &res.text().await.expect("text"));
    let (_, list) = get_json(&app, "/api/v1/recordings?tag=birds", None).await;
    let slug = slugs(&list).remove(0);
    // A public collection, and a private one that does not exist for anyone else.
    let olga = domain::model::Viewer {
        user_id: app.user_id("olga").await,
        username: "olga".into(),
        role: Role::Uploader,
        csrf: String::new(),
    };
    let public = domain::collections::create(&app.db, &olga, "Birds I like", "", true)
        .await
        .expect("collection");
    domain::collections::add(&app.db, &olga, &public, &slug)
        .await
        .expect("added");
    let private = domain::collections::create(&app.db, &olga, "Secret", "", false)
        .await
        .expect("collection");
    let (status, _) = get_json(&app, &format!("/api/v1/collections/{private}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut args = vec![doc];
    for (path, real) in [
        (
            "/api/v1/recordings",
            "/api/v1/recordings?tag=birds".to_owned(),
        ),
        (
            "/api/v1/recordings/{slug}",
            format!("/api/v1/recordings/{slug}"),
        ),
        (
            "/api/v1/recordings/{slug}/comments",
            format!("/api/v1/recordings/{slug}/comments"),
        ),
        ("/api/v1/users/{username}", "/api/v1/users/olga".to_owned()),
        (
            "/api/v1/users/{username}/recordings",
            "/api/v1/users/olga/recordings".to_owned(),
        ),
        (
            "/api/v1/collections/{slug}",
            format!("/api/v1/collections/{public}"),
        ),
    ] {
        let (status, body) = get_json(&app, &real, None).await;
        assert_eq!(status, StatusCode::OK, "{real}");
        let file = save(&format!("{}.json", random_suffix()), &body.to_string());
        args.push(format!("{path}={file}"));
    }
    let out = std::process::Command::new("python3")
        .arg(format!(
            "{}/tests/tools/check_openapi.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args(&args)
        .output()
        .expect("python3 runs (scripts/test installs openapi-spec-validator)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{report}");
    assert_eq!(
        report.matches(": matches its schema").count(),
        6,
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // The page for people: every endpoint, a curl line each, every problem type.
    let (status, html) = app.get_text("/api", &Browser::default()).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "GET /api/v1/recordings<",
        "GET /api/v1/recordings/{slug}<",
        "GET /api/v1/recordings/{slug}/comments",
        "GET /api/v1/recordings/{slug}/download",
        "GET /api/v1/users/{username}<",
        "GET /api/v1/users/{username}/recordings",
    ] {
        assert!(html.contains(path), "{path}");
    }
    assert_eq!(html.matches("data-testid=\"endpoint\"").count(), 7);
    assert!(html.matches("<pre><code>curl -s ").count() >= 7);
    for kind in [
        "bad-parameter",
        "bad-cursor",
        "bad-token",
        "missing-scope",
        "rate-limited",
    ] {
        assert!(html.contains(&format!("id=\"problem-{kind}\"")), "{kind}");
    }
}

/// `/embed/{slug}` may be framed by any site (and only it), sets and reads no cookie, and is
/// shared like the recording's page; oEmbed hands out its `<iframe>`, which the recording
/// page's Share box and discovery link name too.
async fn the_player_embeds_anywhere_and_nothing_else_does(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::catalog::seed(&app).await;
    let (_, list) = get_json(&app, "/api/v1/recordings?q=quayside", None).await;
    let slug = slugs(&list).remove(0);
    let client = reqwest::Client::new();
    let res = client
        .get(app.url(&format!("/embed/{slug}")))
        .header("cookie", "ambisonia_session=whatever; ambisonia_csrf=x")
        .send()
        .await
        .expect("embed");
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let get = |n: &str| {
        h.get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(get("content-security-policy").contains("frame-ancestors *"));
    assert!(h.get("x-frame-options").is_none(), "framable");
    assert!(
        h.get("set-cookie").is_none(),
        "no cookie set, even for a stale one"
    );
    let html = res.text().await.expect("html");
    assert!(html.contains("data-testid=\"embed\"") && html.contains("Quayside"));
    assert!(html.contains("target=\"_blank\""), "links leave the frame");
    assert!(!html.contains("<form"), "no forms");
    // Anonymous, it is shared under the recording's keys.
    let res = client
        .get(app.url(&format!("/embed/{slug}")))
        .send()
        .await
        .expect("embed");
    let cc = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(cc.starts_with("public"), "{cc}");
    assert!(
        res.headers()
            .get("surrogate-key")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|k| k.contains("recording:"))
    );
    // Every other page still refuses to be framed.
    for path in [
        "/",
        &format!("/recordings/{slug}"),
        "/catalog",
        "/api",
        "/no-such-page",
    ] {
        let res = client.get(app.url(path)).send().await.expect("page");
        assert_eq!(
            res.headers()
                .get("x-frame-options")
                .and_then(|v| v.to_str().ok()),
            Some("DENY"),
            "{path}"
        );
        let csp = res
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    }
    // The recording page: discovery link and Share box.
    let (_, page) = app
        .get_text(&format!("/recordings/{slug}"), &Browser::default())
        .await;
    let discovery = page
        .split("type=\"application/json+oembed\"")
        .next()
        .and_then(|before| before.rsplit("<link").next())
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(page.contains("application/json+oembed"), "discovery link");
    assert!(page.contains("data-testid=\"embed-code\""), "{discovery}");
    assert!(page.contains(&format!("/embed/{slug}")));
    // oEmbed.
    let page_url = format!("http://127.0.0.1/recordings/{slug}");
    let (status, o) = get_json(
        &app,
        &format!(
            "/oembed?url={}&format=json",
            domain::catalog_query::encode_component(&page_url)
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["version"], "1.0");
    assert_eq!(o["type"], "rich");
    assert_eq!(o["width"], 480);
    assert!(
        o["html"]
            .as_str()
            .is_some_and(|h| h.contains(&format!("/embed/{slug}\"")) && h.starts_with("<iframe"))
    );
    assert_eq!(o["author_name"], "olga");
    let (_, small) = get_json(
        &app,
        &format!("/oembed?url={page_url}&maxwidth=300&maxheight=200"),
        None,
    )
    .await;
    assert_eq!(
        (small["width"].as_u64(), small["height"].as_u64()),
        (Some(300), Some(200))
    );
    assert!(
        small["html"]
            .as_str()
            .is_some_and(|h| h.contains("width=\"300\""))
    );
    for (query, status) in [
        (format!("url={page_url}&format=xml"), 501),
        ("url=http://127.0.0.1/users/olga".to_owned(), 404),
        (
            "url=http://127.0.0.1/recordings/no-such-one".to_owned(),
            404,
        ),
        (String::new(), 404),
    ] {
        let res = client
            .get(app.url(&format!("/oembed?{query}")))
            .send()
            .await
            .expect("oembed");
        assert_eq!(res.status().as_u16(), status, "{query}");
    }
    let res = client
        .get(app.url(&format!("/oembed?url={page_url}")))
        .header("origin", "https://blog.example")
        .send()
        .await
        .expect("oembed");
    assert_eq!(
        res.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    // Not published: not embeddable.
    let olga = app.user_id("olga").await;
    let (_, draft) = app
        .recording_with_status(sample("Unready", olga), Status::Draft)
        .await;
    let res = client
        .get(app.url(&format!("/embed/{draft}")))
        .send()
        .await
        .expect("embed");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Through the balancer: an anonymous API answer is kept (a `HIT` the second time, without
/// the first client's `RateLimit-*`), and a comment posted through the site purges it.
async fn the_balancer_keeps_api_answers_until_a_write_changes_them(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    crate::catalog::seed(&app).await;
    let (front, _, _) = crate::front_door::balancer_for(&app.base, "").await;
    let (_, list) = get_json(&app, "/api/v1/recordings?q=quayside", None).await;
    let slug = slugs(&list).remove(0);
    let comments = format!("{front}/api/v1/recordings/{slug}/comments");
    let client = reqwest::Client::new();
    let cache_of = |res: &reqwest::Response| header_of(res, "x-cache");
    let first = client.get(&comments).send().await.expect("answer");
    assert_eq!(cache_of(&first), "MISS");
    let second = client.get(&comments).send().await.expect("answer");
    assert_eq!(cache_of(&second), "HIT");
    assert!(
        second.headers().get("ratelimit-remaining").is_none(),
        "not another client's count"
    );
    let v: Value = second.json().await.expect("json");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
    // A comment, through the balancer, as a browser posts it.
    let site = crate::front_door::visitor(&front, 3);
    let mut tom: Browser = site.register("tom").await;
    let page = format!("/recordings/{slug}");
    let token = site.form_token(&page, &mut tom).await;
    let fields = [
        ("csrf", token.as_str()),
        ("slug", slug.as_str()),
        ("title", ""),
        ("body", "Gulls, rigging, and a bell."),
    ];
    let res = site
        .post_form("/api/comment", &page, &fields, &mut tom)
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let after = client.get(&comments).send().await.expect("answer");
    assert_eq!(cache_of(&after), "MISS", "purged by the comment");
    let v: Value = after.json().await.expect("json");
    assert_eq!(v["items"][0]["body"], "Gulls, rigging, and a bell.");
    assert_eq!(v["items"][0]["author"], "tom");
}

both_backends!(
    search_agrees_with_the_catalog_page,
    cursors_walk_everything_once_while_recordings_are_published,
    bad_input_is_a_problem,
    tokens_do_only_what_their_scopes_allow,
    premium_downloads_need_a_premium_token,
    anonymous_answers_are_shared_revalidated_and_readable_from_anywhere,
    a_tokens_allowance_holds_across_replicas_sharing_redis,
    the_document_validates_and_real_answers_match_it,
    the_player_embeds_anywhere_and_nothing_else_does,
    the_balancer_keeps_api_answers_until_a_write_changes_them,
);
