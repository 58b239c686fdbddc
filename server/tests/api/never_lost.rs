//! No recording is ever lost: long uploads through the front door at an uploader's pace;
//! ten uploads of one file at once, by every way in, make one recording; a long job runs
//! once, and survives the death of the replica running it; a delete can be undone, and the
//! collector removes a recording's rows and media only after its window; the collector
//! removes exactly the objects no row names that are older than its grace period.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use bytes::Bytes;
use domain::{JobKind, JobState, Processing, Role, Status};
use media::wav::{self, Container, Spec};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;

use crate::{
    both_backends,
    helpers::{Backend, Browser, Setup, Site, TestApp, header_of, hidden_field, location},
    uploads::{api_upload, finished, make_token, processed, uploader},
};

/// A first-order FuMa file of about `bytes` bytes (24-bit, 48 kHz), its sound set by
/// `seed` so that two seeds never make the same file. Built from one second repeated.
fn big_file(bytes: usize, seed: u8) -> Vec<u8> {
    let spec = Spec {
        channels: 4,
        sample_rate: 48_000,
        bits: 24,
        float: false,
        sub_format: Some(wav::GUID_AMB_PCM),
        channel_mask: 0,
    };
    let mut second = Vec::with_capacity(48_000 * 12);
    for i in 0..48_000usize {
        for c in 0..4usize {
            let phase = (i * (3 + usize::from(seed)) + c * 17) % 480;
            wav::put_sample(&mut second, &spec, phase as f64 / 960.0 - 0.25);
        }
    }
    let frames = bytes / 12;
    let mut data = Vec::with_capacity(frames * 12);
    while data.len() + second.len() <= frames * 12 {
        data.extend_from_slice(&second);
    }
    data.extend_from_slice(&second[..frames * 12 - data.len()]);
    let mut f = wav::header(Container::Riff, &spec, &[], data.len() as u64);
    f.extend_from_slice(&data);
    f.extend_from_slice(&wav::trailer(Container::Riff, data.len() as u64));
    f
}

/// `bytes` as a request body sent at `per_s` bytes a second (64 KiB at a time).
fn paced(bytes: Vec<u8>, per_s: usize) -> reqwest::Body {
    const CHUNK: usize = 64 * 1024;
    let gap = Duration::from_secs_f64(CHUNK as f64 / per_s as f64);
    let bytes = Bytes::from(bytes);
    let stream = futures::stream::unfold(0usize, move |at| {
        let bytes = bytes.clone();
        async move {
            if at >= bytes.len() {
                return None;
            }
            if at > 0 {
                tokio::time::sleep(gap).await;
            }
            let end = (at + CHUNK).min(bytes.len());
            Some((Ok::<_, std::io::Error>(bytes.slice(at..end)), end))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// A balancer in front of `app` whose one route answers `timeout_ms` after a request body
/// ends and takes bodies up to `max_body_kb`; its address.
async fn front_door(app: &TestApp, timeout_ms: u64, max_body_kb: u64) -> String {
    let upstream = app.base.trim_start_matches("http://");
    let toml = format!(
        "[pools.app]\nupstreams = [\"{upstream}\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\ntimeout_ms = {timeout_ms}\nmax_body_kb = {max_body_kb}\n"
    );
    let any = "127.0.0.1:0".parse().expect("address");
    let settings = balancer::Settings::from_toml(&toml, any, any).expect("balancer settings");
    let front = balancer::Balancer::bind(settings)
        .await
        .expect("balancer starts");
    let base = format!("http://{}", front.local_addr());
    tokio::spawn(front.run_until(std::future::pending()));
    base
}

/// The upload form's token (it rides in the form's action).
async fn form_token(site: &Site, browser: &Browser) -> String {
    let html = site
        .get("/upload", browser)
        .await
        .text()
        .await
        .unwrap_or_default();
    crate::helpers::hidden_action_token(&html).expect("the upload form's token")
}

/// A direct upload of `file` through `site`: started, its parts sent straight to the
/// bucket, completed; the upload's id and the answer to the completion.
async fn direct_upload(
    site: &Site,
    browser: &Browser,
    csrf: &str,
    title: &str,
    file: &[u8],
) -> (i64, reqwest::Response) {
    let client = reqwest::Client::new();
    let post = |path: String, body: serde_json::Value| {
        client
            .post(site.url(&path))
            .header("origin", site.base.clone())
            .header("x-csrf-token", csrf)
            .header("cookie", browser.header())
            .json(&body)
            .send()
    };
    let res = post(
        "/upload/direct".into(),
        json!({ "title": title, "size": file.len() }),
    )
    .await
    .expect("answered");
    assert_eq!(res.status(), StatusCode::CREATED, "started");
    let started: serde_json::Value = res.json().await.expect("JSON");
    let id = started["id"].as_i64().expect("id");
    let part = started["part_size"].as_u64().expect("part size") as usize;
    let parts = started["parts"].as_u64().expect("parts") as usize;
    let mut etags = Vec::new();
    for n in 1..=parts {
        let res = post(format!("/upload/direct/{id}/urls"), json!({ "parts": [n] }))
            .await
            .expect("answered");
        let urls: serde_json::Value = res.json().await.expect("JSON");
        let url = urls["urls"][n.to_string()]
            .as_str()
            .expect("url")
            .to_owned();
        let piece = file[(n - 1) * part..(n * part).min(file.len())].to_vec();
        let put = client
            .put(&url)
            .body(piece)
            .send()
            .await
            .expect("part stored");
        assert_eq!(put.status(), StatusCode::OK);
        let etag = header_of(&put, "etag");
        etags.push(json!({ "n": n, "etag": etag }));
    }
    let res = post(
        format!("/upload/direct/{id}/complete"),
        json!({ "parts": etags }),
    )
    .await
    .expect("answered");
    (id, res)
}

/// The keys in the app's bucket.
async fn bucket_keys(app: &TestApp) -> Vec<String> {
    domain::store::MediaStore::s3(app.s3.as_ref().expect("an S3 app"))
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// Two uploads of about 60 MB sent at 1 MB/s (a minute each, twice the front door's 30 s
/// answer timeout), by the form and by the token API, become recordings; so does a 200 MB
/// direct upload whose finishing takes longer than a front door that answers within 1.5 s
/// (finishing 200 MB took 2.7 s on the fastest machine it has run on).
/// No 504 anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_uploads_through_the_front_door_become_recordings() {
    let settings = crate::media_store::s3_settings();
    crate::media_store::s3_store_with(&settings).await;
    let app = TestApp::spawn_configured(
        Backend::Sqlite,
        Setup {
            s3: Some(settings),
            max_upload_mb: Some(256),
            ..Default::default()
        },
    )
    .await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "desk").await;
    let slow_front = Site::new(
        front_door(&app, 30_000, 256 * 1024).await,
        reqwest::Client::builder(),
    );
    let quick_front = Site::new(
        front_door(&app, 1_500, 256 * 1024).await,
        reqwest::Client::builder(),
    );
    let csrf = form_token(&slow_front, &paul).await;

    let by_api = async {
        let file = big_file(60_000_000, 1);
        let started = Instant::now();
        let res = reqwest::Client::new()
            .post(slow_front.url("/api/v1/recordings?title=Slow%20by%20the%20API"))
            .bearer_auth(&token)
            .header("content-type", "audio/wav")
            .body(paced(file, 1_000_000))
            .send()
            .await
            .expect("answered");
        (res.status(), started.elapsed())
    };
    let by_form = async {
        let file = big_file(60_000_000, 2);
        let len = file.len() as u64;
        let form = reqwest::multipart::Form::new()
            .text("title", "Slow by the form")
            .text("licence", "cc-by-4.0")
            .part(
                "file",
                reqwest::multipart::Part::stream_with_length(paced(file, 1_000_000), len)
                    .file_name("slow.amb"),
            );
        let started = Instant::now();
        let res = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .post(slow_front.url(&format!("/upload?csrf={csrf}")))
            .header("accept", "text/html")
            .header("origin", slow_front.base.clone())
            .header("cookie", paul.header())
            .multipart(form)
            .send()
            .await
            .expect("answered");
        (res.status(), started.elapsed())
    };
    let direct_big = async {
        let file = big_file(200_000_000, 3);
        let csrf = form_token(&quick_front, &paul).await;
        let (id, res) = direct_upload(&quick_front, &paul, &csrf, "Big and direct", &file).await;
        assert_eq!(
            res.status(),
            StatusCode::ACCEPTED,
            "completing answers at once"
        );
        let started = Instant::now();
        let done = finished(&quick_front, &paul, id).await;
        (done, started.elapsed())
    };
    let ((api, api_took), (form, form_took), (direct_done, finishing_took)) =
        tokio::join!(by_api, by_form, direct_big);
    eprintln!(
        "API upload {api_took:?}, form upload {form_took:?}, direct finishing {finishing_took:?}"
    );
    assert_eq!(api, StatusCode::CREATED, "the token API's upload");
    assert!(
        api_took > Duration::from_secs(30),
        "longer than the old timeout"
    );
    assert_eq!(form, StatusCode::SEE_OTHER, "the form's upload");
    assert!(form_took > Duration::from_secs(30));
    assert_eq!(direct_done["state"].as_str(), Some("done"), "{direct_done}");
    assert!(
        finishing_took > Duration::from_millis(1_500),
        "the finishing took longer than the front door's answer timeout"
    );
    let titles: Vec<String> = domain::entities::recordings::Entity::find()
        .all(&app.db)
        .await
        .expect("rows")
        .into_iter()
        .map(|r| r.title)
        .collect();
    for t in ["Slow by the API", "Slow by the form", "Big and direct"] {
        assert!(titles.iter().any(|x| x == t), "{t} in {titles:?}");
    }
    assert!(
        !bucket_keys(&app)
            .await
            .iter()
            .any(|k| k.starts_with("incoming/")),
        "nothing left in incoming/"
    );
}

/// What one of the ten uploads was answered.
#[derive(Debug)]
enum Answer {
    Made(String),
    Duplicate(String),
}

/// Ten uploads of one file by one uploader at once — four by the token API, three by the
/// form, three direct — make one recording, one object; every other upload is told which
/// recording it duplicates; the original downloads byte for byte; nothing is left in
/// `incoming/`.
async fn ten_uploads_of_one_file_at_once_make_one_recording(backend: Backend) {
    let settings = crate::media_store::s3_settings();
    crate::media_store::s3_store_with(&settings).await;
    let app = TestApp::spawn_with(backend, Some(settings)).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "desk").await;
    let csrf = form_token(&app, &paul).await;
    let file = big_file(1_200_000, 7);

    let api = |n: usize| {
        let (app, token, file) = (&app, &token, file.clone());
        async move {
            let res = api_upload(app, token, &format!("title=Twice%20{n}"), file).await;
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            match status {
                StatusCode::CREATED => Answer::Made(body["slug"].as_str().unwrap_or("").into()),
                StatusCode::CONFLICT => {
                    Answer::Duplicate(body["error"].as_str().unwrap_or("").into())
                }
                other => panic!("API upload {n}: {other} {body}"),
            }
        }
    };
    let form = |n: usize| {
        let (app, paul, csrf, file) = (&app, &paul, &csrf, file.clone());
        async move {
            let res = app
                .upload_with(
                    paul,
                    csrf,
                    &[("title", &format!("Twice {n}"))],
                    "twice.amb",
                    file,
                )
                .await;
            let status = res.status();
            match status {
                StatusCode::SEE_OTHER => {
                    Answer::Made(location(&res).trim_start_matches("/recordings/").to_owned())
                }
                StatusCode::CONFLICT => Answer::Duplicate(res.text().await.unwrap_or_default()),
                other => panic!("form upload {n}: {other}"),
            }
        }
    };
    let direct = |n: usize| {
        let (app, paul, csrf, file) = (&app, &paul, &csrf, file.clone());
        async move {
            let (id, res) = direct_upload(app, paul, csrf, &format!("Twice {n}"), &file).await;
            assert_eq!(res.status(), StatusCode::ACCEPTED);
            let done = finished(app, paul, id).await;
            match done["state"].as_str() {
                Some("done") => Answer::Made(done["slug"].as_str().unwrap_or("").into()),
                Some("refused") => Answer::Duplicate(done["message"].as_str().unwrap_or("").into()),
                other => panic!("direct upload {n}: {other:?}"),
            }
        }
    };
    let answers = futures::join!(
        api(1),
        form(2),
        direct(3),
        api(4),
        form(5),
        direct(6),
        api(7),
        form(8),
        direct(9),
        api(10)
    );
    let answers = [
        answers.0, answers.1, answers.2, answers.3, answers.4, answers.5, answers.6, answers.7,
        answers.8, answers.9,
    ];
    let made: Vec<&String> = answers
        .iter()
        .filter_map(|a| match a {
            Answer::Made(slug) => Some(slug),
            Answer::Duplicate(_) => None,
        })
        .collect();
    assert_eq!(made.len(), 1, "exactly one recording: {answers:?}");
    let slug = made[0].clone();
    for a in &answers {
        if let Answer::Duplicate(said) = a {
            assert!(
                said.contains(&format!("/recordings/{slug}")),
                "a duplicate answer names the recording: {said}"
            );
        }
    }
    let rows = domain::entities::recordings::Entity::find()
        .all(&app.db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    let keys = bucket_keys(&app).await;
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("originals/")).count(),
        1,
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.starts_with("incoming/")), "{keys:?}");
    let res = app
        .get(&format!("/recordings/{slug}/download"), &paul)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let fetched = reqwest::get(location(&res)).await.expect("presigned");
    assert_eq!(fetched.bytes().await.ok().map(|b| b.to_vec()), Some(file));
    assert_eq!(
        std::fs::read_dir(app.media_dir.join(".incoming"))
            .map(|d| d.count())
            .unwrap_or(0),
        0,
        "no upload left on the replica's disk"
    );
}

/// The processing job of recording `id`.
async fn process_job(app: &TestApp, id: i32) -> domain::entities::jobs::Model {
    domain::jobs::of_subject(&app.db, JobKind::Process, id)
        .await
        .expect("jobs")
        .pop()
        .expect("a processing job")
}

/// With two healthy replicas and a lease shorter than the job, the job runs once: its
/// holder renews the lease while it works, and the other replica never starts it. The
/// lease is 3 s, renewed every second: with 1 s (renewed every 333 ms) the PostgreSQL run
/// once did not finish within the 120 s deadline under the whole suite (11 s alone, in a
/// debug build on two shared cores); a renewal late by more than the lease hands the job
/// to the other replica, which can happen again and again when the cores are that busy.
async fn a_job_longer_than_its_lease_runs_once(backend: Backend) {
    const LEASE_S: u64 = 3;
    let app = TestApp::spawn_configured(
        backend,
        Setup {
            job_lease_s: Some(LEASE_S),
            ..Default::default()
        },
    )
    .await;
    let _other = app.replica().await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "desk").await;
    // About 100 s of sound: several seconds of work, under a lease of one.
    let res = api_upload(&app, &token, "title=Long%20Job", big_file(60_000_000, 11)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let started = Instant::now();
    let row = processed(&app, "long-job").await;
    let took = started.elapsed();
    assert_eq!(row.processing, Processing::Done, "{}", row.processing_error);
    let job = process_job(&app, row.id).await;
    eprintln!("the job took {took:?} under a {LEASE_S} s lease");
    assert!(
        took > Duration::from_secs(2 * LEASE_S),
        "the job outlived its lease"
    );
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Done, 1),
        "run once, by one replica"
    );
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn replica_process(app: &TestApp, lease_s: u64) -> Process {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", app.database_url())
        .env("AMBISONIA_MEDIA_DIR", &app.media_dir)
        .env("AMBISONIA_JOB_LEASE_S", lease_s.to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("server starts");
    Process(child)
}

async fn until<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `kill -9` of the replica running a long job: another replica, running beside it all
/// along without touching the job, takes it over within one lease and finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_replica_is_killed_is_finished_by_another_within_a_lease() {
    let app = TestApp::spawn_configured(
        Backend::Sqlite,
        Setup {
            no_jobs: true,
            max_upload_mb: Some(256),
            ..Default::default()
        },
    )
    .await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "desk").await;
    // About six minutes of sound: many seconds of work, many leases long.
    let res = api_upload(
        &app,
        &token,
        "title=Orphaned%20Job",
        big_file(200_000_000, 12),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = domain::entities::recordings::Entity::find()
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row")
        .id;
    const LEASE_S: u64 = 2;
    let mut first = replica_process(&app, LEASE_S);
    until(
        "the first replica takes the job",
        Duration::from_secs(30),
        async || {
            let job = process_job(&app, id).await;
            (job.state == JobState::Running).then_some(())
        },
    )
    .await;
    let _second = replica_process(&app, LEASE_S);
    // Long enough for the second replica to start and look for work more than once, past
    // two leases: the job stays the first one's while it renews.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let job = process_job(&app, id).await;
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Running, 1),
        "a running job is not started twice"
    );
    let _ = first.0.kill();
    let _ = first.0.wait();
    let killed = Instant::now();
    until(
        "the second replica takes the job over",
        Duration::from_secs(30),
        async || (process_job(&app, id).await.attempts == 2).then_some(()),
    )
    .await;
    let taken_over = killed.elapsed();
    eprintln!("taken over {taken_over:?} after the kill (lease {LEASE_S} s)");
    assert!(
        taken_over
            < Duration::from_secs(LEASE_S)
                + server::app_role::JOB_LOOK_EVERY
                + Duration::from_secs(1),
        "within a lease and one look for work"
    );
    let job = until("the job is done", Duration::from_secs(120), async || {
        let job = process_job(&app, id).await;
        (job.state == JobState::Done).then_some(job)
    })
    .await;
    assert_eq!(job.attempts, 2);
    let row = domain::entities::recordings::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(row.processing, Processing::Done, "{}", row.processing_error);
    assert!(row.preview_key.is_some());
}

/// Posts the page's own form for `action` (the page's form token), as a browser would.
async fn post_on_page(
    site: &Site,
    browser: &mut Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let res = site.get(page, browser).await;
    browser.absorb(&res);
    let html = res.text().await.expect("page");
    let token = hidden_field(&html, "csrf").expect("a form token");
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    site.post_form(action, page, &all, browser).await
}

/// Deleting hides a recording everywhere at once (through the balancer's cache too); its
/// uploader or an editor restores it, comments and ratings and all; past its window the
/// collector removes its rows and every object of it.
async fn a_delete_can_be_undone_until_the_collector_takes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul_id = app.user("paul", Role::Uploader).await;
    app.trust(paul_id).await;
    let paul = app.login("paul").await;
    app.user("edith", Role::Editor).await;
    app.user("lena", Role::Listener).await;
    let token = make_token(&app, &paul, "desk").await;
    let res = api_upload(&app, &token, "title=Chapel%20Bells", big_file(600_000, 21)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let row = processed(&app, "chapel-bells").await;
    assert_eq!(row.processing, Processing::Done, "{}", row.processing_error);
    let page = "/recordings/chapel-bells";
    let mut lena = app.login("lena").await;
    let res = post_on_page(
        &app,
        &mut lena,
        page,
        "/api/comment",
        &[
            ("slug", "chapel-bells"),
            ("title", ""),
            ("body", "The bells at noon!"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let res = post_on_page(
        &app,
        &mut lena,
        page,
        "/api/rate",
        &[("slug", "chapel-bells"), ("stars", "5")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);

    let front = Site::new(
        crate::front_door::balancer_with(&app, "").await.0,
        reqwest::Client::builder(),
    );
    let anyone = Browser::default();
    front.get(page, &anyone).await;
    assert_eq!(header_of(&front.get(page, &anyone).await, "x-cache"), "HIT");

    // Deleting asks first, then deletes.
    let mut edith = front.login("edith").await;
    let res = front.get(&format!("{page}?delete=confirm"), &edith).await;
    let html = res.text().await.unwrap_or_default();
    assert!(
        html.contains("data-testid=\"delete-confirm\""),
        "asks first"
    );
    let res = post_on_page(
        &front,
        &mut edith,
        &format!("{page}?delete=confirm"),
        "/api/delete-recording",
        &[("slug", "chapel-bells")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        front.get(page, &anyone).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, catalog) = front.get_text("/catalog", &anyone).await;
    assert!(!catalog.contains("Chapel Bells"), "gone from the lists");
    let (status, own) = front.get_text(page, &paul).await;
    assert_eq!(status, StatusCode::OK, "its uploader still sees it");
    assert!(
        own.contains("data-testid=\"restore\""),
        "and may restore it"
    );

    // Its uploader restores it: back for everyone, with its comment and rating.
    let mut paul = paul;
    let res = post_on_page(
        &front,
        &mut paul,
        page,
        "/api/restore-recording",
        &[("slug", "chapel-bells")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (status, back) = front.get_text(page, &anyone).await;
    assert_eq!(status, StatusCode::OK);
    assert!(back.contains("The bells at noon!"), "its comment survived");
    let row = domain::entities::recordings::Entity::find_by_id(row.id)
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!((row.status, row.rating_count), (Status::Published, 1));

    // Deleted again, and its window passes: the collector takes rows and media.
    let res = post_on_page(
        &front,
        &mut edith,
        &format!("{page}?delete=confirm"),
        "/api/delete-recording",
        &[("slug", "chapel-bells")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let store = domain::store::MediaStore::local(&app.media_dir);
    let report = domain::collector::collect(
        &app.db,
        &store,
        domain::collector::Options {
            dry_run: false,
            grace: Duration::ZERO,
        },
    )
    .await
    .expect("collect");
    assert!(report.purged.is_empty(), "not within its window");
    let mut aged: domain::entities::recordings::ActiveModel = row.clone().into();
    aged.deleted_at = Set(Some(
        chrono::Utc::now() - chrono::Duration::days(Status::RESTORE_DAYS + 1),
    ));
    aged.update(&app.db).await.expect("aged");
    let report = domain::collector::collect(
        &app.db,
        &store,
        domain::collector::Options {
            dry_run: false,
            grace: Duration::ZERO,
        },
    )
    .await
    .expect("collect");
    assert_eq!(report.purged, ["chapel-bells"]);
    assert!(
        domain::entities::recordings::Entity::find_by_id(row.id)
            .one(&app.db)
            .await
            .expect("read")
            .is_none()
    );
    let comments = domain::entities::comments::Entity::find()
        .filter(domain::entities::comments::Column::RecordingId.eq(row.id))
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(comments, 0, "its comments went with it");
    let keys: Vec<String> = [
        row.media_key,
        row.preview_key,
        row.spatial_key,
        row.waveform_key,
        row.doa_key,
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(keys.len() >= 4, "{keys:?}");
    for key in &keys {
        assert!(
            report.removed.iter().any(|o| &o.key == key),
            "{key} removed: {:?}",
            report.removed
        );
        assert_eq!(store.size(key).await.ok().flatten(), None, "{key} is gone");
    }
}

/// Runs `server media collect` as an operator would, against the app's database and store.
fn collect_command(app: &TestApp, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.args(["media", "collect"])
        .args(args)
        .env("DATABASE_URL", app.database_url())
        .env("AMBISONIA_MEDIA_DIR", &app.media_dir)
        .env("RUST_LOG", "error");
    if let Some(s3) = &app.s3 {
        cmd.env("AMBISONIA_S3_BUCKET", &s3.bucket)
            .env(
                "AMBISONIA_S3_ENDPOINT",
                s3.endpoint_url.clone().unwrap_or_default(),
            )
            .env("AMBISONIA_S3_PATH_STYLE", "true")
            .env("AWS_ACCESS_KEY_ID", &s3.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", s3.secret_access_key.expose());
    }
    let out = cmd.output().expect("server media collect runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The collector on a store seeded with objects rows name, orphans past the grace period
/// and fresh orphans: `--dry-run` names exactly the old orphans and removes nothing; then
/// exactly they go.
async fn the_collector_removes_exactly_the_old_orphans(app: TestApp) {
    let store = match &app.s3 {
        Some(s3) => domain::store::MediaStore::s3(s3),
        None => domain::store::MediaStore::local(&app.media_dir),
    };
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "desk").await;
    let res = api_upload(&app, &token, "title=Named", big_file(300_000, 31)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let named = processed(&app, "named").await;
    let scratch = crate::media_store::temp_dir("collect");
    let seed = async |key: &str| {
        let f = scratch.join("object");
        std::fs::write(&f, key.as_bytes()).expect("scratch");
        store.put_file(key, &f).await.expect("seeded");
    };
    let old = [
        "originals/zz/orphan.amb",
        "previews/zz/replaced.ogg",
        "incoming/abandoned",
    ];
    for key in old {
        seed(key).await;
    }
    // Older than a 3 s grace period by the time the collector looks; the fresh ones not.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let fresh = ["originals/zz/just-stored.amb", "incoming/arriving"];
    for key in fresh {
        seed(key).await;
    }
    let before = store.list().await.expect("list");

    let dry = collect_command(&app, &["--dry-run", "--grace-s", "3"]);
    let said: Vec<&str> = dry
        .lines()
        .filter_map(|l| l.strip_prefix("would remove "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut expected = old.to_vec();
    expected.sort_unstable();
    assert_eq!(said, expected, "{dry}");
    assert_eq!(
        store.list().await.expect("list"),
        before,
        "a dry run removes nothing"
    );

    let wet = collect_command(&app, &["--grace-s", "3"]);
    let removed: Vec<&str> = wet
        .lines()
        .filter_map(|l| l.strip_prefix("removed "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(removed, expected, "{wet}");
    assert!(wet.contains("removed 3 objects"), "{wet}");
    let after: Vec<String> = store
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for key in old {
        assert!(!after.iter().any(|k| k == key), "{key} went");
    }
    for key in fresh {
        assert!(
            after.iter().any(|k| k == key),
            "{key} is younger than the grace period"
        );
    }
    for key in [
        named.media_key,
        named.preview_key,
        named.spatial_key,
        named.waveform_key,
        named.doa_key,
    ]
    .into_iter()
    .flatten()
    {
        assert!(after.contains(&key), "{key} is named by a row");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

async fn the_collector_on_the_media_folder(backend: Backend) {
    the_collector_removes_exactly_the_old_orphans(TestApp::spawn(backend).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_on_s3() {
    let settings = crate::media_store::s3_settings();
    crate::media_store::s3_store_with(&settings).await;
    the_collector_removes_exactly_the_old_orphans(
        TestApp::spawn_with(Backend::Sqlite, Some(settings)).await,
    )
    .await;
}

both_backends!(
    ten_uploads_of_one_file_at_once_make_one_recording,
    a_job_longer_than_its_lease_runs_once,
    a_delete_can_be_undone_until_the_collector_takes_it,
    the_collector_on_the_media_folder,
);
