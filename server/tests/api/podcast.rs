//! Recordings that travel, tried as podcast apps, feed readers and BitTorrent clients would:
//! the feeds read by feedparser (an independent parser) with every field podcast
//! directories ask for and enclosures whose length and duration are true; conditional
//! requests answered `304` by a replica and by the balancer's cache, and not after a write;
//! the original fetched by `aria2c` through its `.torrent` from the web seed alone, from a
//! media folder and from S3; and the binaural MP3 of the demo's bee heard on the side the
//! bee is on.

use std::{net::SocketAddr, path::Path, process::Command};

use domain::{Role, entities::recordings, store::MediaStore};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use crate::{
    both_backends,
    front_door::{balancer_at, balancer_with, visitor},
    helpers::{Backend, Browser, Setup, TestApp, header_of, location},
    uploads::{fuma_file, processed},
};

const BEE: &str = "a-bee-circling-the-listener";
const BELLS: &str = "three-bells-around-and-above-third-order";
const SOUNDS: [&str; 4] = [BEE, "swift-fly-over", "beech-wood-at-dusk", BELLS];

/// A free address on loopback, for a balancer the app must know before it starts (the
/// site's public URL is the balancer's: feeds and torrents name it).
fn free_address() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("address")
}

/// An app whose public URL is a balancer in front of it, and that balancer's address.
async fn behind_a_balancer(
    backend: Backend,
    s3: Option<domain::store::S3Settings>,
) -> (TestApp, String) {
    let front = free_address();
    let app = TestApp::spawn_configured(
        backend,
        Setup {
            s3,
            public_url: Some(format!("http://{front}")),
            ..Default::default()
        },
    )
    .await;
    let (base, _, _) = balancer_at(front, &app.base, "").await;
    (app, base)
}

/// The demo catalog and its three synthesised recordings, ingested as `demo-data` does and
/// processed by the app's worker; the sounds' rows.
async fn demo_sounds(app: &TestApp) -> Vec<recordings::Model> {
    domain::demo::fill(&app.db).await.expect("the demo catalog");
    let store = match &app.s3 {
        Some(s) => MediaStore::s3(s),
        None => MediaStore::local(&app.media_dir),
    };
    let scratch = app.media_dir.join(".demo");
    domain::demo::sounds(&app.db, &store, &scratch)
        .await
        .expect("the demo sounds");
    let mut rows: Vec<recordings::Model> = Vec::new();
    for slug in SOUNDS {
        let row = processed(app, slug).await;
        assert!(
            row.podcast_key.is_some() && row.torrent_key.is_some(),
            "{slug}: {}",
            row.processing_error
        );
        rows.push(row);
    }
    // The bells are third order: their binaural download and MP3 are heard at third order.
    assert_eq!(rows[3].ambi_order, Some(3), "{}", rows[3].processing_error);
    assert_eq!(rows[3].convention.as_deref(), Some("ambix"));
    assert!(rows[3].hoa_key.is_some() && rows[0].hoa_key.is_none());
    rows
}

fn tool(path: &str) -> String {
    format!("{}/tests/tools/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `check_feed.py` (feedparser, ffprobe) with `args`; its output, or the test fails
/// with it.
fn check_feeds(args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(tool("check_feed.py"))
        .args(args)
        .output()
        .expect("python3 runs (scripts/test installs feedparser and ffmpeg)");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feed_is_one_podcast_apps_and_directories_take() {
    let (app, front) = behind_a_balancer(Backend::Sqlite, None).await;
    demo_sounds(&app).await;
    // The bee was recorded somewhere (the feed says where).
    let bee = recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(BEE))
        .one(&app.db)
        .await
        .expect("query")
        .expect("the bee");
    recordings::ActiveModel {
        id: Set(bee.id),
        latitude: Set(Some(51.5)),
        longitude: Set(Some(-0.125)),
        location: Set("Kew, London".into()),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("located");

    let feeds = [
        "/feed.rss",
        "/tags/demo/feed.rss",
        "/users/soundwalker/feed.rss",
        "/catalog/feed.rss?q=bee",
    ];
    let mut args = vec![front.as_str()];
    args.extend(feeds);
    let report = check_feeds(&args);
    println!("{report}");
    // All four sounds, the premium one's enclosure its excerpt (whole: six seconds).
    assert_eq!(
        report
            .lines()
            .filter(|l| l.starts_with("  /feed.rss: '"))
            .count(),
        4,
        "{report}"
    );
    println!(
        "{}",
        check_feeds(&["--torrents", &front, "/feed.torrents.rss"])
    );

    let rss = reqwest::get(format!("{front}/feed.rss"))
        .await
        .expect("feed")
        .text()
        .await
        .expect("body");
    assert!(
        rss.contains(
            "<podcast:location geo=\"geo:51.50000,-0.12500\">Kew, London</podcast:location>"
        ),
        "{rss}"
    );
    // Cover art at its own address only (a query would bust the balancer's cache).
    let art = reqwest::get(format!("{front}/artwork/catalog/latest.png"))
        .await
        .expect("art");
    assert_eq!(
        (art.status(), header_of(&art, "content-type")),
        (StatusCode::OK, "image/png".to_string())
    );
    let busting = reqwest::get(format!("{front}/artwork/catalog/latest.png?n=1"))
        .await
        .expect("art");
    assert_eq!(busting.status(), StatusCode::NOT_FOUND);
    for (path, want) in [
        ("/artwork/tags/demo.png", StatusCode::OK),
        ("/artwork/users/soundwalker.png", StatusCode::OK),
        ("/artwork/tags/no-such-tag.png", StatusCode::NOT_FOUND),
        ("/artwork/users/nobody-here.png", StatusCode::NOT_FOUND),
        (
            "/artwork/recordings/no-such-recording.png",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let res = reqwest::get(format!("{front}{path}")).await.expect("art");
        assert_eq!(res.status(), want, "{path}");
    }
    // The MP3 is filed under its recording, so making it premium or taking it down purges it.
    // (At the replica: the balancer keeps the keys to itself.)
    let mp3 = reqwest::get(format!("{}/recordings/{BEE}/binaural.mp3", app.base))
        .await
        .expect("mp3");
    let bee_id = recordings::Entity::find()
        .filter(recordings::Column::Slug.eq(BEE))
        .one(&app.db)
        .await
        .expect("query")
        .expect("the bee")
        .id;
    assert_eq!(
        header_of(&mp3, "surrogate-key"),
        format!("recording:{bee_id}"),
        "{:?}",
        mp3.headers()
    );
    // The premium recording's original is not offered, nor as a torrent.
    let torrents = reqwest::get(format!("{front}/feed.torrents.rss"))
        .await
        .expect("feed")
        .text()
        .await
        .expect("body");
    assert!(!torrents.contains("beech-wood-at-dusk"), "{torrents}");
    let premium = reqwest::get(format!(
        "{front}/recordings/beech-wood-at-dusk/download.torrent"
    ))
    .await
    .expect("torrent");
    assert_eq!(premium.status(), StatusCode::NOT_FOUND);
}

/// `(status, ETag, X-Cache)` of a GET with `If-None-Match: etag` (when given).
async fn conditional(
    client: &reqwest::Client,
    url: &str,
    etag: Option<&str>,
) -> (StatusCode, String, String) {
    let mut req = client.get(url);
    if let Some(e) = etag {
        req = req.header("if-none-match", e);
    }
    let res = req.send().await.expect("request");
    let (status, etag, cache) = (
        res.status(),
        header_of(&res, "etag"),
        header_of(&res, "x-cache"),
    );
    let body = res.bytes().await.expect("body");
    if status == StatusCode::NOT_MODIFIED {
        assert!(body.is_empty(), "a 304 has no body");
    }
    (status, etag, cache)
}

async fn conditional_gets_are_answered_304_until_a_write_changes_the_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (front, _) = balancer_with(&app, "").await;
    let paul_id = app.user("paul", Role::Uploader).await;
    app.trust(paul_id).await;
    let paul = app.login("paul").await;
    let res = app
        .upload(
            &paul,
            &[("title", "Harbour at night")],
            "harbour.amb",
            fuma_file(24_000),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = location(&res);
    processed(&app, page.trim_start_matches("/recordings/")).await;
    let client = reqwest::Client::new();

    for path in [page.as_str(), "/feed.rss"] {
        // From the replica itself: the same answer has the same strong ETag.
        let direct = format!("{}{path}", app.base);
        let (status, etag, _) = conditional(&client, &direct, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            etag.starts_with('"') && etag.len() > 10,
            "{path}: a strong ETag: {etag}"
        );
        assert_eq!(
            conditional(&client, &direct, None).await.1,
            etag,
            "{path}: stable"
        );
        let (status, again, _) = conditional(&client, &direct, Some(&etag)).await;
        assert_eq!(
            (status, again.as_str()),
            (StatusCode::NOT_MODIFIED, etag.as_str()),
            "{path}"
        );
        let res = client.get(&direct).send().await.expect("request");
        assert!(
            !header_of(&res, "last-modified").is_empty(),
            "{path}: Last-Modified"
        );

        // Through the balancer: its copy has the replica's validators, and answers 304 itself.
        let through = format!("{front}{path}");
        conditional(&client, &through, None).await;
        let (status, cached, cache) = conditional(&client, &through, None).await;
        assert_eq!(
            (status, cached.as_str()),
            (StatusCode::OK, etag.as_str()),
            "{path}"
        );
        assert_eq!(cache, "HIT", "{path}");
        let (status, _, cache) = conditional(&client, &through, Some(&etag)).await;
        assert_eq!(
            (status, cache.as_str()),
            (StatusCode::NOT_MODIFIED, "HIT"),
            "{path}"
        );
    }

    // A comment, through the balancer, changes the page: the old ETag gets the new page.
    let (_, old_page, _) = conditional(&client, &format!("{}{page}", app.base), None).await;
    let site = visitor(&front, 2);
    let mut tom: Browser = site.register("tom").await;
    let token = site.form_token(&page, &mut tom).await;
    let slug = page.trim_start_matches("/recordings/");
    let fields = [
        ("csrf", token.as_str()),
        ("slug", slug),
        ("title", ""),
        ("body", "Lovely gulls."),
    ];
    let res = site
        .post_form("/api/comment", &page, &fields, &mut tom)
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    for base in [app.base.as_str(), front.as_str()] {
        let (status, etag, _) =
            conditional(&client, &format!("{base}{page}"), Some(&old_page)).await;
        assert_eq!(status, StatusCode::OK, "{base}: the page changed");
        assert_ne!(etag, old_page, "{base}");
    }

    // A new recording changes the feed.
    let (_, old_feed, _) = conditional(&client, &format!("{}/feed.rss", app.base), None).await;
    let res = app
        .upload(
            &paul,
            &[("title", "Harbour at dawn")],
            "dawn.amb",
            fuma_file(36_000),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    processed(&app, location(&res).trim_start_matches("/recordings/")).await;
    let (status, etag, _) =
        conditional(&client, &format!("{}/feed.rss", app.base), Some(&old_feed)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(etag, old_feed);
}

/// `aria2c` with the `.torrent` only: no tracker, no DHT, no peers — the web seed alone.
async fn torrent_fetches_the_original(front: &str, row: &recordings::Model) {
    let dir = std::env::temp_dir().join(format!(
        "ambisonia-torrent-{}",
        crate::helpers::random_suffix()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("{front}/recordings/{}/download.torrent", row.slug);
    let res = reqwest::get(&url).await.expect("torrent");
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    assert_eq!(header_of(&res, "content-type"), "application/x-bittorrent");
    let torrent = res.bytes().await.expect("body");
    let seed = format!("{front}/recordings/{}/download", row.slug);
    assert!(
        torrent.windows(seed.len()).any(|w| w == seed.as_bytes()),
        "the web seed is the site's download through the balancer"
    );
    // As the README runs it (the URL of the `.torrent`), kept to the web seed: no DHT, no
    // local peer discovery, no peer exchange.
    let out = Command::new("aria2c")
        .current_dir(&dir)
        .args([
            "--seed-time=0",
            &url,
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--bt-stop-timeout=60",
            "--console-log-level=warn",
            "--summary-interval=0",
        ])
        .output()
        .expect("aria2c runs (scripts/test installs aria2)");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let name = domain::distribution::original_name(row).expect("a name");
    let got = std::fs::read(dir.join(&name)).expect("the downloaded original");
    assert_eq!(
        Some(hex::encode(Sha256::digest(&got))),
        row.sha256,
        "{name}: the torrent gives the original, byte for byte"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_comes_by_bittorrent_from_the_web_seed_alone() {
    let (app, front) = behind_a_balancer(Backend::Sqlite, None).await;
    let rows = demo_sounds(&app).await;
    torrent_fetches_the_original(&front, &rows[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_comes_by_bittorrent_from_s3_too() {
    let settings = crate::media_store::s3_settings();
    crate::media_store::s3_store_with(&settings).await;
    let (app, front) = behind_a_balancer(Backend::Sqlite, Some(settings)).await;
    let rows = demo_sounds(&app).await;
    torrent_fetches_the_original(&front, &rows[1]).await;
}

/// Decodes MP3 to stereo 48 kHz samples with ffmpeg.
fn decode_mp3(mp3: &[u8], dir: &Path) -> Vec<[f32; 2]> {
    let path = dir.join("bee.mp3");
    std::fs::write(&path, mp3).expect("write");
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "f32le", "-ac", "2", "-ar", "48000", "-"])
        .output()
        .expect("ffmpeg runs (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(8)
        .map(|f| {
            [
                f32::from_le_bytes([f[0], f[1], f[2], f[3]]),
                f32::from_le_bytes([f[4], f[5], f[6], f[7]]),
            ]
        })
        .collect()
}

/// The bee flies anticlockwise once round the listener in six seconds, from the front: at
/// 1.5 s it is on the left, at 4.5 s on the right. The MP3's left/right balance says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binaural_mp3_puts_the_bee_where_it_flies() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    demo_sounds(&app).await;
    let res = reqwest::get(format!("{}/recordings/{BEE}/binaural.mp3", app.base))
        .await
        .expect("mp3");
    assert_eq!(header_of(&res, "content-type"), "audio/mpeg");
    let mp3 = res.bytes().await.expect("body");
    let frames = decode_mp3(&mp3, &app.media_dir);
    let window = 12_000; // a quarter of a second
    let (mut agree, mut windows) = (0, 0);
    let mut report = String::new();
    for (i, w) in frames.chunks_exact(window).enumerate() {
        let t = (i as f64 + 0.5) * window as f64 / 48_000.0;
        let azimuth = 360.0 * t / 6.0;
        let energy = |c: usize| w.iter().map(|f| f64::from(f[c]).powi(2)).sum::<f64>() + 1e-12;
        let balance = 10.0 * (energy(0) / energy(1)).log10();
        report.push_str(&format!(
            "{t:.2} s at {azimuth:.0}°: L−R {balance:+.1} dB\n"
        ));
        let side = azimuth.to_radians().sin();
        if side.abs() > 0.7 {
            windows += 1;
            if balance.signum() == side.signum() && balance.abs() > 0.5 {
                agree += 1;
            }
        }
    }
    println!("{report}");
    assert!(windows >= 10, "{report}");
    assert_eq!(
        agree, windows,
        "louder on the bee's side whenever it is to one side:\n{report}"
    );
}

both_backends!(conditional_gets_are_answered_304_until_a_write_changes_the_answer);
