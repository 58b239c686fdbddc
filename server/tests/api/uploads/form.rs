//! Uploading through the web form, moderation, describing a recording on its page, and
//! downloading the original; also a form upload cut off half way or met by a store that is down.

use domain::Role;
use media::wav::{Container, Spec};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

use super::{
    api_upload, count_recordings, file, fuma_file, leftovers, make_token, processed, uploader,
};
use crate::{
    both_backends,
    helpers::{Backend, Browser, TestApp, header_of, location},
};

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
    app.flush_downloads().await;
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
    the_uploader_describes_a_recording_after_uploading_and_again_after_a_rejection,
    an_uploader_sends_a_recording_and_an_editor_publishes_it,
    bad_files_are_refused_and_leave_nothing_behind,
    only_uploaders_upload_and_plain_multichannel_files_need_a_convention,
);

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
