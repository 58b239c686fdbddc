//! Uploading through the web form, moderation, and downloading the original: a recording's
//! way from an uploader's disk to a listener's.

use domain::{JobState, Processing, Role};
use media::wav::{self, Container, Spec};
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{
    both_backends,
    helpers::{Backend, Browser, PASSWORD, TestApp, header_of, location},
};

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

async fn an_uploader_sends_a_recording_and_an_editor_publishes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let editor = uploader(&app, "eddie", Role::Editor).await;
    let bytes = fuma_file(24_000);

    let form = app
        .get("/upload", &marta)
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(
        form.contains("enctype=\"multipart/form-data\""),
        "a plain form that works without JavaScript"
    );
    let res = app
        .upload(
            &marta,
            &[
                ("title", "Rain on the Roof"),
                ("description", "A summer storm."),
                ("licence", "cc-by-4.0"),
            ],
            "rain.amb",
            bytes.clone(),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let page = location(&res);
    assert_eq!(page, "/recordings/rain-on-the-roof");

    let (status, html) = app.get_text(&page, &marta).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Waiting for an editor"),
        "the uploader sees it is pending"
    );
    assert!(
        html.contains("FuMa") || html.contains("fuma"),
        "the facts read from the file are shown"
    );
    assert_eq!(
        app.get_text(&page, &Browser::default()).await.0,
        StatusCode::NOT_FOUND,
        "the public does not"
    );

    processed(&app, "rain-on-the-roof").await;
    let (_, queue) = app.get_text("/moderation", &editor).await;
    assert!(
        queue.contains("Rain on the Roof") && queue.contains("1 recording is waiting"),
        "{queue}"
    );
    assert!(
        queue.contains("/recordings/rain-on-the-roof/preview.ogg"),
        "the editor can listen before deciding"
    );
    assert_eq!(
        app.get_text("/moderation", &marta).await.0,
        StatusCode::FORBIDDEN
    );
    let mut ed = editor.clone();
    let token = app.form_token("/moderation", &mut ed).await;
    let res = app
        .post_form(
            "/api/moderate",
            "/moderation",
            &[
                ("csrf", &token),
                ("slug", "rain-on-the-roof"),
                ("decision", "publish"),
                ("note", ""),
            ],
            &mut ed,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);

    let (status, html) = app.get_text(&page, &Browser::default()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Download the original"));

    // The original, whole and by range, counted once.
    let res = app
        .get(&format!("{page}/download"), &Browser::default())
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "accept-ranges"), "bytes");
    assert_eq!(header_of(&res, "cache-control"), "private, no-store");
    assert!(header_of(&res, "content-disposition").contains("rain-on-the-roof.amb"));
    assert_eq!(
        res.bytes().await.ok().map(|b| b.to_vec()),
        Some(bytes.clone())
    );
    let ranged = reqwest::Client::new()
        .get(app.url(&format!("{page}/download")))
        .header("range", "bytes=100-199")
        .send()
        .await
        .expect("range");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header_of(&ranged, "content-range"),
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(
        ranged.bytes().await.ok().map(|b| b.to_vec()),
        Some(bytes[100..200].to_vec())
    );
    let outside = reqwest::Client::new()
        .get(app.url(&format!("{page}/download")))
        .header("range", format!("bytes={}-", bytes.len() + 10))
        .send()
        .await
        .expect("range");
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let row = domain::entities::recordings::Entity::find()
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(
        row.download_count, 1,
        "a range request past the start is not another download"
    );
    assert_eq!(
        (row.channels, row.sample_rate, row.bit_depth),
        (Some(4), Some(48_000), Some(24))
    );
    assert_eq!(row.duration_ms, Some(500));
    assert_eq!(row.sha256.as_deref().map(str::len), Some(64));

    // Converted on the way out: FuMa → AmbiX, which converts back to the very same file.
    let res = app
        .get(
            &format!("{page}/download?format=ambix"),
            &Browser::default(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "content-disposition").contains("rain-on-the-roof-ambix.wav"));
    let declared: usize = header_of(&res, "content-length").parse().unwrap_or(0);
    let ambix = res.bytes().await.unwrap_or_default().to_vec();
    assert_eq!(ambix.len(), declared);
    let a = media::inspect::inspect(&ambix[..]).expect("an AmbiX WAV");
    assert_eq!((a.convention, a.channels, a.frames), ("unknown", 4, 24_000));
    let data = &ambix[a.data_offset as usize..(a.data_offset + a.data_len) as usize];
    let mut back = Vec::new();
    media::convert::convert(
        &a.spec,
        media::convert::Direction::AmbixToFuma,
        a.data_len,
        data,
        &mut back,
    )
    .expect("converts back");
    assert_eq!(
        back, bytes,
        "FuMa → AmbiX (download) → FuMa is the uploaded file, byte for byte"
    );
    let refused = app
        .get(&format!("{page}/download?format=mp3"), &Browser::default())
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // A second upload, rejected with a reason the uploader reads.
    let res = app
        .upload(&marta, &[("title", "Wind")], "wind.amb", fuma_file(4800))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = app
        .post_form(
            "/api/moderate",
            "/moderation",
            &[
                ("csrf", &token),
                ("slug", "wind"),
                ("decision", "reject"),
                ("note", ""),
            ],
            &mut ed,
        )
        .await;
    assert!(
        crate::helpers::redirect_error(&res).is_some_and(|e| e.contains("Say why")),
        "a rejection needs a reason"
    );
    app.post_form(
        "/api/moderate",
        "/moderation",
        &[
            ("csrf", &token),
            ("slug", "wind"),
            ("decision", "reject"),
            ("note", "Clipped throughout."),
        ],
        &mut ed,
    )
    .await;
    let (_, html) = app.get_text("/recordings/wind", &marta).await;
    assert!(html.contains("Clipped throughout."));
}

async fn bad_files_are_refused_and_leave_nothing_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let good = fuma_file(4800);
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let mut lying = good.clone();
    let at = lying.windows(4).position(|w| w == b"data").unwrap_or(0) + 4;
    lying[at..at + 4].copy_from_slice(&9_000_000u32.to_le_bytes());
    let mut no_channels = good.clone();
    no_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
    let mut absurd_rate = good.clone();
    absurd_rate[24..28].copy_from_slice(&5u32.to_le_bytes());
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "notes.txt",
            b"these are my field notes, not audio".to_vec(),
            "not a WAVE file",
        ),
        ("cut.amb", truncated, "ends early"),
        ("lying.amb", lying, "longer than the whole file"),
        ("silent.amb", no_channels, "no audio channels"),
        ("slow.amb", absurd_rate, "not a sample rate"),
    ];
    for (name, bytes, says) in cases {
        let res = app
            .upload(&marta, &[("title", "Broken")], name, bytes)
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        let text = res.text().await.unwrap_or_default();
        assert!(text.contains(says) && text.contains(name), "{name}: {text}");
    }
    let res = app
        .upload(&marta, &[("title", "")], "ok.amb", good.clone())
        .await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a title is needed"
    );
    assert_eq!(count_recordings(&app).await, 0, "no row");
    assert_eq!(leftovers(&app), (0, 0), "no object and no temporary file");

    // The same file twice is one recording.
    assert_eq!(
        app.upload(&marta, &[("title", "Once")], "ok.amb", good.clone())
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let again = app
        .upload(&marta, &[("title", "Twice")], "ok.amb", good)
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(
        again
            .text()
            .await
            .unwrap_or_default()
            .contains("/recordings/once")
    );
    assert_eq!((count_recordings(&app).await, leftovers(&app)), (1, (1, 0)));
}

async fn only_uploaders_upload_and_plain_multichannel_files_need_a_convention(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let listener = uploader(&app, "lena", Role::Listener).await;
    let res = app
        .upload(&listener, &[("title", "Mine")], "a.amb", fuma_file(480))
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app
        .upload(
            &Browser::default(),
            &[("title", "Mine")],
            "a.amb",
            fuma_file(480),
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "no session, no token: refused before anything is read"
    );
    assert_eq!(
        app.get_text("/upload", &listener).await.0,
        StatusCode::FORBIDDEN
    );

    let trusted = uploader(&app, "paul", Role::Uploader).await;
    let plain = Spec {
        channels: 4,
        sample_rate: 44_100,
        bits: 16,
        float: false,
        sub_format: None,
        channel_mask: 0,
    };
    let res = app
        .upload(
            &trusted,
            &[("title", "Ambix?")],
            "plain.wav",
            file(Container::Wave64, &plain, 4410),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("could be AmbiX or FuMa")
    );
    let res = app
        .upload(
            &trusted,
            &[("title", "Ambix!"), ("convention", "ambix")],
            "plain.w64",
            file(Container::Wave64, &plain, 4410),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let row = domain::entities::recordings::Entity::find()
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(
        (
            row.convention.as_deref(),
            row.ambi_order,
            row.status.as_str()
        ),
        (Some("ambix"), Some(1), "pending")
    );
    assert!(row.media_key.is_some_and(|k| k.ends_with(".w64")));
    assert_eq!(leftovers(&app), (1, 0));
}

/// Waits (with a deadline) until the worker has processed the recording.
pub async fn processed(app: &TestApp, slug: &str) -> domain::entities::recordings::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
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

async fn processing_makes_a_preview_a_waveform_and_a_direction_picture(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let res = app
        .upload(
            &marta,
            &[("title", "Circling Bee")],
            "bee.amb",
            fuma_file(48_000),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let row = processed(&app, "circling-bee").await;
    assert_eq!(
        (row.processing, row.processing_error.as_str()),
        (Processing::Done, "")
    );
    assert!(
        row.preview_key
            .as_deref()
            .is_some_and(|k| k.starts_with("previews/") && k.ends_with(".ogg"))
    );

    // Pending: the uploader hears it, the public does not.
    let preview = app
        .get("/recordings/circling-bee/preview.ogg", &marta)
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(header_of(&preview, "content-type"), "audio/ogg");
    assert_eq!(header_of(&preview, "cache-control"), "private, no-store");
    let ogg = preview.bytes().await.unwrap_or_default();
    assert_eq!(&ogg[..4], b"OggS");
    assert_eq!(
        app.get("/recordings/circling-bee/preview.ogg", &Browser::default())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    for picture in ["waveform.svg", "doa.svg"] {
        let res = app
            .get(&format!("/recordings/circling-bee/{picture}"), &marta)
            .await;
        assert_eq!(
            (res.status(), header_of(&res, "content-type")),
            (StatusCode::OK, "image/svg+xml".to_owned()),
            "{picture}"
        );
        assert!(res.text().await.unwrap_or_default().starts_with("<svg"));
    }
    let (_, html) = app.get_text("/recordings/circling-bee", &marta).await;
    assert!(
        html.contains("<audio") && html.contains("preview.ogg") && html.contains("doa.svg"),
        "the page plays and shows it"
    );

    // A failure is shown to the uploader, who can run it again.
    {
        use sea_orm::{ActiveModelTrait, Set};
        domain::entities::recordings::ActiveModel {
            id: Set(row.id),
            processing: Set(Processing::Failed),
            processing_error: Set("the preview encoder failed: test".into()),
            preview_key: Set(None),
            ..Default::default()
        }
        .update(&app.db)
        .await
        .expect("fail it");
    }
    let (_, html) = app.get_text("/recordings/circling-bee", &marta).await;
    assert!(
        html.contains("Making the preview failed")
            && html.contains("the preview encoder failed: test"),
        "the reason is shown"
    );
    assert!(
        html.contains("/api/retry-processing"),
        "with a way to try again"
    );
    let mut b = marta.clone();
    let token = app.form_token("/recordings/circling-bee", &mut b).await;
    let res = app
        .post_form(
            "/api/retry-processing",
            "/recordings/circling-bee",
            &[("csrf", &token), ("slug", "circling-bee")],
            &mut b,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let row = processed(&app, "circling-bee").await;
    assert_eq!(row.processing, Processing::Done);
    assert!(row.preview_key.is_some());
    let jobs = domain::entities::jobs::Entity::find()
        .all(&app.db)
        .await
        .expect("jobs");
    assert_eq!(
        jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
        [JobState::Done, JobState::Done]
    );
}

/// Makes a token on the account page as a browser would; returns it as shown once.
async fn make_token(app: &TestApp, browser: &Browser, name: &str) -> String {
    let mut b = browser.clone();
    let token = app.form_token("/account", &mut b).await;
    let res = app
        .post_form(
            "/api/create-token",
            "/account",
            &[("csrf", &token), ("name", name), ("password", PASSWORD)],
            &mut b,
        )
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

async fn a_token_needs_the_password_and_a_new_password_revokes_every_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut paul = uploader(&app, "paul", Role::Uploader).await;
    let count_tokens = || async {
        domain::entities::api_tokens::Entity::find()
            .count(&app.db)
            .await
            .expect("count")
    };
    for password in ["", "not the password"] {
        let token = app.form_token("/account", &mut paul).await;
        let res = app
            .post_form(
                "/api/create-token",
                "/account",
                &[("csrf", &token), ("name", "laptop"), ("password", password)],
                &mut paul,
            )
            .await;
        assert!(
            crate::helpers::redirect_error(&res).is_some(),
            "refused without the password ({password:?})"
        );
    }
    assert_eq!(count_tokens().await, 0, "no token was made");
    let first = make_token(&app, &paul, "laptop").await;
    let second = make_token(&app, &paul, "studio").await;
    assert_eq!(
        api_upload(&app, &first, "title=Before", fuma_file(4800))
            .await
            .status(),
        StatusCode::CREATED
    );

    let res = app
        .change_password(&mut paul, PASSWORD, "another long password")
        .await;
    assert_eq!(location(&res), "/account?saved=password");
    let (_, page) = app.get_text("/account?saved=password", &paul).await;
    assert!(page.contains("API tokens are revoked"), "the page says so");
    for token in [first, second] {
        assert_eq!(
            api_upload(&app, &token, "title=After", fuma_file(4801))
                .await
                .status(),
            StatusCode::UNAUTHORIZED,
            "a token made before the new password no longer uploads"
        );
    }
}

async fn api_upload(app: &TestApp, token: &str, query: &str, file: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("/api/v1/recordings?{query}")))
        .bearer_auth(token)
        .body(file)
        .send()
        .await
        .expect("API answers")
}

async fn the_uploader_api_takes_a_personal_token_and_refuses_a_revoked_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "studio laptop").await;
    // Shown once: the next visit to the account page lists it without the secret.
    let html = app
        .get("/account", &paul)
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(!html.contains(&token) && html.contains("studio laptop"));

    let res = api_upload(
        &app,
        &token,
        "title=Tram%20Depot&location=Lisbon",
        fuma_file(4800),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(
        (body["slug"].as_str(), body["status"].as_str()),
        (Some("tram-depot"), Some("pending"))
    );

    // The terminal Uploader, as a person would run it.
    let dir = std::env::temp_dir().join(format!("ambisonia-cli-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("pier.amb");
    std::fs::write(&file, fuma_file(9600)).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["upload", "--title", "Pier at Night"])
        .arg(&file)
        .env("AMBISONIA_URL", &app.base)
        .env("AMBISONIA_API_TOKEN", &token)
        .output()
        .expect("server upload runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("/recordings/pier-at-night (waiting for an editor)"),
        "{stdout}"
    );
    assert!(stderr.contains("100 %"), "a progress line: {stderr}");
    let bad = dir.join("notes.amb");
    std::fs::write(&bad, "not audio").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["upload", "--title", "Notes"])
        .arg(&bad)
        .env("AMBISONIA_URL", &app.base)
        .env("AMBISONIA_API_TOKEN", &token)
        .output()
        .expect("server upload runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WAVE file"));
    let _ = std::fs::remove_dir_all(&dir);

    // Refusals: no token, a wrong one, a listener's, a bad file.
    let res = api_upload(&app, "", "title=X", fuma_file(480)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, "www-authenticate"), "Bearer");
    assert_eq!(
        api_upload(&app, "amb_0000", "title=X", fuma_file(480))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let lena = uploader(&app, "lena", Role::Listener).await;
    let lenas = make_token(&app, &lena, "phone").await;
    assert_eq!(
        api_upload(&app, &lenas, "title=X", fuma_file(480))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = api_upload(
        &app,
        &token,
        "title=X",
        b"RIFF\x10\x00\x00\x00WAVEjunk".to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .is_some_and(|e| e.starts_with("The file:"))
    );
    assert_eq!((count_recordings(&app).await, leftovers(&app).1), (2, 0));

    // Revoked: refused at once.
    let mut b = paul.clone();
    let csrf = app.form_token("/account", &mut b).await;
    let html = app
        .get("/account", &b)
        .await
        .text()
        .await
        .unwrap_or_default();
    let id = html
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("token id")
        .to_owned();
    let res = app
        .post_form(
            "/api/revoke-token",
            "/account",
            &[("csrf", &csrf), ("id", &id)],
            &mut b,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        api_upload(&app, &token, "title=Late", fuma_file(2400))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(count_recordings(&app).await, 2);
}

async fn the_uploader_describes_a_recording_after_uploading_and_again_after_a_rejection(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let editor = uploader(&app, "eddie", Role::Editor).await;
    let token = make_token(&app, &paul, "laptop").await;
    assert_eq!(
        api_upload(&app, &token, "title=Untitled%20take%203", fuma_file(4800))
            .await
            .status(),
        StatusCode::CREATED
    );
    let page = "/recordings/untitled-take-3";
    let (_, html) = app.get_text(page, &paul).await;
    assert!(
        html.contains("Describe this recording"),
        "the uploader is asked to describe it"
    );

    let mut b = paul.clone();
    let csrf = app.form_token(page, &mut b).await;
    let describe = |title: &'static str, description: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("slug", "untitled-take-3".to_owned()),
            ("title", title.to_owned()),
            ("description", description.to_owned()),
            ("location", "Porto".to_owned()),
            ("licence", "cc-by-sa-4.0".to_owned()),
        ]
    };
    let fields = describe("Ribeira at Dawn", "Boats knocking against the quay.");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = app.post_form("/api/describe", page, &fields, &mut b).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, html) = app.get_text(page, &paul).await;
    assert!(html.contains("Boats knocking against the quay.") && html.contains("Ribeira at Dawn"));
    assert!(html.contains("CC BY-SA 4.0"));

    // Someone else may not.
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let mut m = marta.clone();
    let other = app.form_token("/upload", &mut m).await;
    let res = app
        .post_form(
            "/api/describe",
            page,
            &[
                ("csrf", &other),
                ("slug", "untitled-take-3"),
                ("title", "Mine now"),
                ("description", ""),
                ("location", ""),
                ("licence", ""),
            ],
            &mut m,
        )
        .await;
    assert!(crate::helpers::redirect_error(&res).is_some_and(|e| e.contains("Only its uploader")));

    // Rejected, re-described: back in the queue.
    let mut ed = editor.clone();
    let etoken = app.form_token("/moderation", &mut ed).await;
    app.post_form(
        "/api/moderate",
        "/moderation",
        &[
            ("csrf", &etoken),
            ("slug", "untitled-take-3"),
            ("decision", "reject"),
            ("note", "Say where the microphone was."),
        ],
        &mut ed,
    )
    .await;
    let fields = describe(
        "Ribeira at Dawn",
        "Boats knocking against the quay; a Soundfield ST450 on the steps.",
    );
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form("/api/describe", page, &fields, &mut b).await;
    let (_, queue) = app.get_text("/moderation", &editor).await;
    assert!(queue.contains("Ribeira at Dawn") && queue.contains("1 recording is waiting"));

    // Published: the uploader's form is gone.
    app.post_form(
        "/api/moderate",
        "/moderation",
        &[
            ("csrf", &etoken),
            ("slug", "untitled-take-3"),
            ("decision", "publish"),
            ("note", ""),
        ],
        &mut ed,
    )
    .await;
    let (_, html) = app.get_text(page, &paul).await;
    assert!(!html.contains("Describe this recording"));
    let (_, results) = app
        .get_text("/catalog?q=soundfield", &Browser::default())
        .await;
    assert!(
        results.contains("Ribeira at Dawn"),
        "the search index follows the description"
    );
}

both_backends!(
    a_listener_is_refused_on_every_way_in,
    an_unknown_licence_is_refused_on_every_way_in,
    the_same_length_caps_hold_on_every_way_in,
    a_job_left_running_by_a_replica_that_died_is_done_by_another,
    the_uploader_describes_a_recording_after_uploading_and_again_after_a_rejection,
    the_uploader_api_takes_a_personal_token_and_refuses_a_revoked_one,
    a_token_needs_the_password_and_a_new_password_revokes_every_token,
    processing_makes_a_preview_a_waveform_and_a_direction_picture,
    an_uploader_sends_a_recording_and_an_editor_publishes_it,
    bad_files_are_refused_and_leave_nothing_behind,
    only_uploaders_upload_and_plain_multichannel_files_need_a_convention,
);

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
        json!({ "title": "Long Night Harbour", "size": file.len() }),
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
    assert_eq!(res.status(), StatusCode::CREATED);
    let done: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(
        (done["slug"].as_str(), done["status"].as_str()),
        (Some("long-night-harbour"), Some("pending"))
    );
    let row = domain::entities::recordings::Entity::find()
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(row.size_bytes, Some(file.len() as i64));
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
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .is_some_and(|e| e.contains("not a WAVE file"))
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

async fn a_job_left_running_by_a_replica_that_died_is_done_by_another(backend: Backend) {
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(backend).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    assert_eq!(
        app.upload(
            &marta,
            &[("title", "Night Rain")],
            "rain.amb",
            fuma_file(9600)
        )
        .await
        .status(),
        StatusCode::SEE_OTHER
    );
    let row = processed(&app, "night-rain").await;
    assert_eq!(row.processing, Processing::Done);
    // A replica claimed a second job and died: the job is `running`, its lock ran out.
    domain::entities::recordings::ActiveModel {
        id: Set(row.id),
        preview_key: Set(None),
        processing: Set(Processing::Running),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("row");
    let now = chrono::Utc::now();
    domain::entities::jobs::ActiveModel {
        kind: Set("process".into()),
        recording_id: Set(row.id),
        state: Set(JobState::Running),
        attempts: Set(1),
        locked_until: Set(Some(now - chrono::Duration::seconds(1))),
        last_error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("job");
    let row = processed(&app, "night-rain").await;
    assert_eq!(row.processing, Processing::Done);
    assert!(
        row.preview_key.is_some(),
        "the abandoned job was claimed and finished"
    );
    let jobs = domain::entities::jobs::Entity::find()
        .all(&app.db)
        .await
        .expect("jobs");
    assert!(
        jobs.iter().all(|j| j.state == JobState::Done),
        "{:?}",
        jobs.iter().map(|j| &j.state).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_half_way_leaves_nothing_behind() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn(Backend::Sqlite).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let html = app
        .get("/upload", &marta)
        .await
        .text()
        .await
        .unwrap_or_default();
    let csrf = crate::helpers::hidden_action_token(&html).expect("token");
    let file = fuma_file(200_000);
    let boundary = "----ambisonia-cut";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nCut\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.amb\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    let full_len = body.len() + file.len() + format!("\r\n--{boundary}--\r\n").len();
    body.extend_from_slice(&file[..file.len() / 2]);
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /upload?csrf={csrf} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {}\r\nCookie: {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {full_len}\r\n\r\n",
        app.base,
        marta.header()
    );
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(&body).await.expect("half the body");
    // Give the server time to have started writing the file, then hang up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while leftovers(&app).1 == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(leftovers(&app).1, 1, "the upload was arriving");
    drop(s);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while leftovers(&app) != (0, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the half-written file stays: {:?}",
            leftovers(&app)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(count_recordings(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_media_store_down_an_upload_fails_cleanly() {
    // A bucket on a port where nothing listens: S3 is down.
    let mut settings = crate::media_store::s3_settings();
    settings.endpoint_url = Some("http://127.0.0.1:9".into());
    let app = TestApp::spawn_with(Backend::Sqlite, Some(settings)).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let res = app
        .upload(
            &marta,
            &[("title", "Lost at Sea")],
            "sea.amb",
            fuma_file(4800),
        )
        .await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = res.text().await.unwrap_or_default();
    assert!(
        text.contains("nothing was saved") && !text.contains("127.0.0.1:9"),
        "{text}"
    );
    assert_eq!((count_recordings(&app).await, leftovers(&app)), (0, (0, 0)));
    // The rest of the site is up.
    assert_eq!(
        app.get_text("/catalog", &Browser::default()).await.0,
        StatusCode::OK
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_preview_is_being_made_is_shared_only_briefly() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let owner = app.user("paul", Role::Uploader).await;
    let (id, slug) = app
        .recording(crate::helpers::sample("Gulls at the Pier", owner))
        .await;
    let set = |processing: Processing, preview: Option<&'static str>| {
        domain::entities::recordings::ActiveModel {
            id: Set(id),
            media_key: Set(Some("originals/00/gulls.amb".into())),
            preview_key: Set(preview.map(Into::into)),
            processing: Set(processing),
            ..Default::default()
        }
    };
    let cache_control = |slug: String| {
        let app = &app;
        async move {
            header_of(
                &app.get(&format!("/recordings/{slug}"), &Browser::default())
                    .await,
                "cache-control",
            )
        }
    };
    // Each change as the worker makes it: written, and logged for the read cache.
    let save = |row: domain::entities::recordings::ActiveModel| {
        let app = &app;
        async move {
            let w = domain::write::Write::begin(&app.db).await.expect("write");
            row.update(&w).await.expect("row");
            w.commit(domain::write::Changed::keys([domain::key::recording(id)]))
                .await
                .expect("commit");
            app.bus.catch_up().await.expect("caught up");
        }
    };
    save(set(Processing::Running, None)).await;
    assert!(
        cache_control(slug.clone()).await.contains("s-maxage=5,"),
        "the player is about to appear"
    );
    save(set(Processing::Done, Some("previews/00/gulls.ogg"))).await;
    assert!(cache_control(slug.clone()).await.contains("s-maxage=60,"));
    save(set(Processing::Failed, None)).await;
    assert!(
        cache_control(slug).await.contains("s-maxage=60,"),
        "a failure does not change by itself"
    );
}

/// What each way in answers for the same upload: the form, the token API, and the start of
/// a direct upload. (A direct upload is refused on its words before the store is asked,
/// so the folder store is enough here.)
async fn every_way_in(
    app: &TestApp,
    browser: &Browser,
    fields: &[(&str, &str)],
) -> [(StatusCode, String); 3] {
    // The session's form token, from a page every account has (a listener has no upload
    // form, but the rule, not the missing token, must be what refuses it).
    let html = app
        .get("/account", browser)
        .await
        .text()
        .await
        .unwrap_or_default();
    let csrf = crate::helpers::hidden_field(&html, "csrf").expect("form token");
    let form = app
        .upload_with(browser, &csrf, fields, "rule.amb", fuma_file(480))
        .await;
    let form = (form.status(), form.text().await.unwrap_or_default());
    let token = make_token(app, browser, "rules").await;
    let api = api_upload(
        app,
        &token,
        &crate::helpers::encode_form(fields),
        fuma_file(480),
    )
    .await;
    let api = (api.status(), api.text().await.unwrap_or_default());
    let mut body = serde_json::Map::new();
    for (k, v) in fields {
        body.insert((*k).to_owned(), serde_json::json!(v));
    }
    body.insert("size".into(), serde_json::json!(1000));
    let res = direct(
        app,
        browser,
        &csrf,
        "/upload/direct",
        serde_json::Value::Object(body),
    )
    .await;
    let direct = (res.status(), res.text().await.unwrap_or_default());
    [form, api, direct]
}

async fn a_listener_is_refused_on_every_way_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let lena = uploader(&app, "lena", Role::Listener).await;
    for (way, (status, text)) in ["form", "api", "direct"]
        .iter()
        .zip(every_way_in(&app, &lena, &[("title", "Mine")]).await)
    {
        assert_eq!(status, StatusCode::FORBIDDEN, "{way}: {text}");
        assert!(text.contains("ask an editor"), "{way}: {text}");
    }
    assert_eq!((count_recordings(&app).await, leftovers(&app)), (0, (0, 0)));
}

async fn an_unknown_licence_is_refused_on_every_way_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let fields = [("title", "Free?"), ("licence", "do-what-you-like")];
    for (way, (status, text)) in ["form", "api", "direct"]
        .iter()
        .zip(every_way_in(&app, &paul, &fields).await)
    {
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{way}: {text}");
        assert!(text.contains("licences offered"), "{way}: {text}");
    }
    assert_eq!((count_recordings(&app).await, leftovers(&app)), (0, (0, 0)));
}

async fn the_same_length_caps_hold_on_every_way_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let long_title = "t".repeat(domain::caps::TITLE + 1);
    let long_place = "p".repeat(domain::caps::LOCATION + 1);
    for (fields, says) in [
        (
            vec![("title", long_title.as_str())],
            "title has at most 200",
        ),
        (
            vec![("title", "Fine"), ("location", long_place.as_str())],
            "place has at most 200",
        ),
    ] {
        for (way, (status, text)) in ["form", "api", "direct"]
            .iter()
            .zip(every_way_in(&app, &paul, &fields).await)
        {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{way}: {text}");
            assert!(text.contains(says), "{way}: {text}");
        }
    }
    assert_eq!((count_recordings(&app).await, leftovers(&app)), (0, (0, 0)));
    // At the cap itself, the form takes it whole, and describing it later holds the same cap.
    let at_cap = "t".repeat(domain::caps::TITLE);
    let res = app
        .upload(&paul, &[("title", &at_cap)], "cap.amb", fuma_file(480))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let row = domain::entities::recordings::Entity::find()
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(row.title, at_cap);
    let mut b = paul.clone();
    let page = format!("/recordings/{}", row.slug);
    let token = app.form_token(&page, &mut b).await;
    let res = app
        .post_form(
            "/api/describe",
            &page,
            &[
                ("csrf", &token),
                ("slug", &row.slug),
                ("title", &long_title),
                ("description", ""),
                ("location", ""),
                ("licence", ""),
            ],
            &mut b,
        )
        .await;
    assert!(
        crate::helpers::redirect_error(&res).is_some_and(|e| e.contains("title has at most 200")),
        "describe refuses the same over-long title"
    );
}
