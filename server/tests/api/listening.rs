//! Listening in the round, against the real replica: the spatial preview processing makes,
//! the binaural filters the player loads, the renditions a download can be had in (each
//! streamed at the length its header promised), recordings processed before spatial
//! previews existed, and the feeds.

use domain::{Role, entities::recordings};
use media::{
    inspect::inspect,
    wav::{Container, Spec},
};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use crate::{
    both_backends,
    helpers::{Backend, Browser, TestApp, header_of, location, sample},
    uploads::{file, fuma_file, processed, uploader},
};

/// A trusted uploader's recording, published at once and processed; its row.
async fn published_upload(
    app: &TestApp,
    who: &Browser,
    title: &str,
    name: &str,
    bytes: Vec<u8>,
) -> recordings::Model {
    let res = app.upload(who, &[("title", title)], name, bytes).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let slug = location(&res)
        .trim_start_matches("/recordings/")
        .to_string();
    let row = processed(app, &slug).await;
    assert_eq!(
        row.processing,
        domain::Processing::Done,
        "{}",
        row.processing_error
    );
    row
}

/// Makes a processed recording look processed before spatial previews existed (no preview
/// size; unless `keep_spatial`, no spatial preview either) and has the worker queue it again.
async fn processed_long_ago(app: &TestApp, id: i32, keep_spatial: bool) {
    recordings::ActiveModel {
        id: Set(id),
        preview_bytes: Set(None),
        spatial_key: if keep_spatial {
            sea_orm::ActiveValue::NotSet
        } else {
            Set(None)
        },
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("aged");
    assert_eq!(
        domain::jobs::queue_missing_previews(&app.db).await.ok(),
        Some(1)
    );
}

/// The recording's row once `ready` holds (30 s at most, saying `what` if not).
async fn row_once(
    app: &TestApp,
    id: i32,
    what: &str,
    ready: impl Fn(&recordings::Model) -> bool,
) -> recordings::Model {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let row = recordings::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .ok()
            .flatten()
            .expect("row");
        if ready(&row) {
            return row;
        }
        assert!(std::time::Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn trusted(app: &TestApp, name: &str) -> Browser {
    let browser = uploader(app, name, Role::Uploader).await;
    app.trust(app.user_id(name).await).await;
    browser
}

fn stereo_file(frames: usize) -> Vec<u8> {
    let spec = Spec {
        channels: 2,
        sample_rate: 44_100,
        bits: 16,
        float: false,
        sub_format: None,
        channel_mask: 0,
    };
    file(Container::Riff, &spec, frames)
}

async fn bytes_of(app: &TestApp, path: &str, who: &Browser) -> (StatusCode, String, Vec<u8>) {
    let res = app.get(path, who).await;
    let status = res.status();
    let content_type = header_of(&res, "content-type");
    let declared = header_of(&res, "content-length");
    let body = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    if status == StatusCode::OK && !declared.is_empty() {
        assert_eq!(
            declared,
            body.len().to_string(),
            "{path}: the promised length"
        );
    }
    (status, content_type, body)
}

async fn a_sound_field_gets_a_spatial_preview_and_every_rendition(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = trusted(&app, "paul").await;
    let row = published_upload(&app, &paul, "Harbour", "harbour.amb", fuma_file(24_000)).await;
    let page = format!("/recordings/{}", row.slug);
    let anyone = Browser::default();

    // The spatial preview: four channels of Ogg Vorbis, shared like the stereo one.
    assert!(row.spatial_key.is_some());
    let res = app.get(&format!("{page}/spatial.ogg"), &anyone).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Filed under its recording, so that a change to it reaches every cache.
    assert!(
        header_of(&res, "cache-control").starts_with("public, max-age=0, s-maxage=3600"),
        "{}",
        header_of(&res, "cache-control")
    );
    assert_eq!(
        header_of(&res, "surrogate-key"),
        format!("recording:{}", row.id)
    );
    let ogg = res.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
    assert_eq!(&ogg[..4], b"OggS");
    assert_eq!(
        ogg[28..35],
        *b"\x01vorbis",
        "a Vorbis identification header"
    );
    assert_eq!(ogg[39], 4, "with four channels");
    let (_, _, preview) = bytes_of(&app, &format!("{page}/preview.ogg"), &anyone).await;
    assert_eq!(
        row.preview_bytes,
        Some(preview.len() as i64),
        "the stereo preview's size is kept"
    );

    // The page offers the player and every rendition.
    let (_, html) = app.get_text(&page, &anyone).await;
    assert!(html.contains("data-spatial-player") && html.contains("/spatial.js"));
    for format in ["ambix", "ambix-48k", "binaural", "uhj", "5.1"] {
        assert!(
            html.contains(&format!("download?format={format}\"")),
            "{format} offered"
        );
    }

    // Each rendition: its promised length, the layout it claims, counted as a download.
    let expect = [
        ("binaural", 2, "stereo", 48_000),
        ("uhj", 2, "uhj", 48_000),
        ("ambix-48k", 4, "unknown", 48_000),
        ("5.1", 6, "gformat", 48_000),
    ];
    for (format, channels, convention, rate) in expect {
        let (status, content_type, body) =
            bytes_of(&app, &format!("{page}/download?format={format}"), &anyone).await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "audio/wav"),
            "{format}"
        );
        let i = inspect(&body[..]).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(
            (i.channels, i.convention, i.spec.sample_rate),
            (channels, convention, rate),
            "{format}"
        );
        assert_eq!(i.frames, 24_000, "{format}: as long as the original");
    }
    app.flush_downloads().await;
    let row = recordings::Entity::find_by_id(row.id)
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(
        row.download_count, 1,
        "four forms by one visitor within the hour: one download"
    );
    // Facing another way: a binaural rendition of its own, named so; a yaw off the 15°
    // steps, or with another form, is refused in words.
    let res = app
        .get(&format!("{page}/download?format=binaural&yaw=90"), &anyone)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        header_of(&res, "content-disposition").contains("-binaural-yaw90.wav"),
        "{}",
        header_of(&res, "content-disposition")
    );
    for bad in [
        "format=binaural&yaw=10",
        "format=binaural&yaw=left",
        "format=uhj&yaw=90",
    ] {
        let res = app.get(&format!("{page}/download?{bad}"), &anyone).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(
            res.text().await.unwrap_or_default().contains("yaw="),
            "{bad}"
        );
    }
    let res = app
        .get(&format!("{page}/download?format=fuma"), &anyone)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "asked for what it is: the original"
    );
    assert_eq!(
        res.bytes().await.map(|b| b.len()).unwrap_or(0),
        fuma_file(24_000).len()
    );

    // A recording that is no sound field: no spatial preview, no player, refusals in words.
    let plain =
        published_upload(&app, &paul, "Plain Stereo", "plain.wav", stereo_file(4_410)).await;
    assert!(plain.spatial_key.is_none() && plain.preview_key.is_some());
    let page = format!("/recordings/{}", plain.slug);
    assert_eq!(
        app.get(&format!("{page}/spatial.ogg"), &anyone)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (_, html) = app.get_text(&page, &anyone).await;
    assert!(!html.contains("data-spatial-player") && !html.contains("download?format="));
    for format in ["binaural", "uhj", "ambix-48k", "5.1", "ambix"] {
        let (status, html) = app
            .get_text(&format!("{page}/download?format={format}"), &anyone)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{format}");
        assert!(
            html.contains("Stereo") || html.contains("stereo"),
            "{format}: {html}"
        );
    }
    app.flush_downloads().await;
    let row = recordings::Entity::find_by_id(plain.id)
        .one(&app.db)
        .await
        .ok()
        .flatten()
        .expect("row");
    assert_eq!(row.download_count, 0, "a refused download is not counted");
}

/// A rendition is made once: 32 listeners asking for the binaural form of one recording at
/// the same moment get 32 equal bodies from one render, and later ones the stored object.
async fn concurrent_first_requests_for_a_rendition_share_one_render(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = trusted(&app, "paul").await;
    let row = published_upload(&app, &paul, "Crowded", "crowd.amb", fuma_file(96_000)).await;
    let url = format!("/recordings/{}/download?format=binaural", row.slug);
    let made_before = app.renditions.made();
    let asks = (0..32).map(|_| {
        let (app, url) = (&app, &url);
        async move {
            let res = reqwest::Client::new()
                .get(app.url(url))
                .send()
                .await
                .expect("answered");
            assert_eq!(res.status(), StatusCode::OK);
            res.bytes().await.expect("a body").to_vec()
        }
    });
    let bodies = futures::future::join_all(asks).await;
    assert!(bodies.iter().all(|b| b == &bodies[0]), "32 equal bodies");
    assert!(inspect(&bodies[0][..]).is_ok_and(|i| i.frames == 96_000));
    assert_eq!(app.renditions.made() - made_before, 1, "one render");
    let (status, _, again) = bytes_of(&app, &url, &Browser::default()).await;
    assert_eq!((status, again == bodies[0]), (StatusCode::OK, true));
    assert_eq!(
        app.renditions.made() - made_before,
        1,
        "served from the store"
    );
}

async fn recordings_processed_before_spatial_previews_are_processed_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = trusted(&app, "paul").await;
    let row = published_upload(&app, &paul, "Old Harbour", "old.amb", fuma_file(4_800)).await;
    // As it was before: a preview, but neither its size nor a spatial preview.
    processed_long_ago(&app, row.id, false).await;
    assert_eq!(
        domain::jobs::queue_missing_previews(&app.db).await.ok(),
        Some(0),
        "not twice while its job waits"
    );
    row_once(&app, row.id, "processed again", |r| {
        r.spatial_key.is_some() && r.preview_bytes.is_some()
    })
    .await;
}

/// A failure is told to the uploader in a plain sentence; the I/O text stays in the log.
async fn a_processing_failure_reads_as_a_sentence(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = trusted(&app, "paul").await;
    let row = published_upload(&app, &paul, "Vanishing", "gone.amb", fuma_file(4_800)).await;
    // The original disappears from the media folder, then processing runs again.
    let original = app
        .media_dir
        .join(row.media_key.as_deref().expect("stored"));
    std::fs::remove_file(&original).expect("the original was in the folder");
    processed_long_ago(&app, row.id, true).await;
    let shown = row_once(&app, row.id, "the failure is recorded", |r| {
        !r.processing_error.is_empty()
    })
    .await
    .processing_error;
    assert_eq!(
        shown,
        "The uploaded file could not be read back from the media store."
    );
}

both_backends!(
    a_processing_failure_reads_as_a_sentence,
    a_sound_field_gets_a_spatial_preview_and_every_rendition,
    concurrent_first_requests_for_a_rendition_share_one_render,
    recordings_processed_before_spatial_previews_are_processed_again,
    feeds_carry_published_recordings_with_their_previews,
);

#[tokio::test]
async fn the_player_gets_binaural_filters_for_its_sample_rate() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for rate in [44_100u32, 48_000, 96_000] {
        let res = app
            .get(&format!("/binaural/{rate}.json"), &Browser::default())
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(header_of(&res, "cache-control").contains("public"));
        let v: serde_json::Value = res.json().await.expect("JSON");
        assert_eq!(v["rate"], rate);
        assert_eq!(v["order"], 1);
        assert!(
            v["method"]
                .as_str()
                .unwrap_or_default()
                .starts_with("MagLS")
        );
        assert_eq!(v["rightEarSigns"], serde_json::json!([1, -1, 1, 1]));
        assert!(
            v["model"]
                .as_str()
                .unwrap_or_default()
                .starts_with("spherical head")
        );
        let left = v["left"].as_array().expect("per channel");
        assert_eq!(left.len(), 4);
        assert!(
            left.iter()
                .all(|c| c.as_array().map(Vec::len) == left[0].as_array().map(Vec::len))
        );
    }
    // Higher orders, by name: (order + 1)² channels, the odd ones' signs turned.
    for (order, channels) in [(2, 9), (3, 16)] {
        let res = app
            .get(
                &format!("/binaural/48000-{order}.json"),
                &Browser::default(),
            )
            .await;
        let v: serde_json::Value = res.json().await.expect("JSON");
        assert_eq!(v["order"], order);
        assert_eq!(v["left"].as_array().map(Vec::len), Some(channels));
        // Fitted to the KU100 from second order on, and saying under which terms.
        assert!(v["model"].as_str().unwrap_or_default().contains("KU100"));
        assert_eq!(v["head"], "the KU100 dummy head");
        assert!(
            v["licence"]
                .as_str()
                .unwrap_or_default()
                .starts_with("GPL-3.0-or-later")
        );
        assert_eq!(
            v["rightEarSigns"]
                .as_array()
                .map(|s| s.iter().filter(|x| **x == -1).count()),
            Some(order * (order + 1) / 2)
        );
    }
    for bad in [
        "/binaural/5.json",
        "/binaural/48000",
        "/binaural/lots.json",
        "/binaural/900000.json",
        "/binaural/48000-4.json",
        "/binaural/48000-0.json",
    ] {
        assert_eq!(
            app.get(bad, &Browser::default()).await.status(),
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
}

/// The feed at `path`, parsed; with its response headers.
async fn feed(app: &TestApp, path: &str, who: &Browser) -> (String, String, String) {
    let res = app.get(path, who).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let content_type = header_of(&res, "content-type");
    let cache = header_of(&res, "cache-control");
    let keys = header_of(&res, "surrogate-key");
    let body = res.text().await.unwrap_or_default();
    if let Err(e) = roxmltree::Document::parse(&body) {
        panic!("{path} is not well-formed XML: {e}\n{body}");
    }
    (format!("{content_type}\n{cache}"), keys, body)
}

struct Item {
    title: String,
    link: String,
    enclosure: Option<(String, u64, String)>,
}

/// An enclosure's address (in attribute `url_attribute`), length and type.
fn enclosure(node: roxmltree::Node<'_, '_>, url_attribute: &str) -> (String, u64, String) {
    (
        node.attribute(url_attribute)
            .unwrap_or_default()
            .to_string(),
        node.attribute("length")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        node.attribute("type").unwrap_or_default().to_string(),
    )
}

fn atom_entries(xml: &str) -> Vec<Item> {
    const ATOM: &str = "http://www.w3.org/2005/Atom";
    let doc = roxmltree::Document::parse(xml).expect("XML");
    let root = doc.root_element();
    assert!(root.has_tag_name((ATOM, "feed")), "an Atom feed");
    for required in ["title", "id", "updated"] {
        assert!(
            root.children().any(|c| c.has_tag_name((ATOM, required))),
            "feed {required}"
        );
    }
    root.children()
        .filter(|c| c.has_tag_name((ATOM, "entry")))
        .map(|e| {
            for required in ["title", "id", "updated", "author"] {
                assert!(
                    e.children().any(|c| c.has_tag_name((ATOM, required))),
                    "entry {required}"
                );
            }
            let text = |name: &str| {
                e.children()
                    .find(|c| c.has_tag_name((ATOM, name)))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_string()
            };
            let link = |rel: &str| {
                e.children()
                    .find(|c| c.has_tag_name((ATOM, "link")) && c.attribute("rel") == Some(rel))
            };
            Item {
                title: text("title"),
                link: link("alternate")
                    .and_then(|l| l.attribute("href"))
                    .unwrap_or_default()
                    .to_string(),
                enclosure: link("enclosure").map(|l| enclosure(l, "href")),
            }
        })
        .collect()
}

fn rss_items(xml: &str) -> Vec<Item> {
    let doc = roxmltree::Document::parse(xml).expect("XML");
    let root = doc.root_element();
    assert!(root.has_tag_name("rss") && root.attribute("version") == Some("2.0"));
    let channel = root
        .children()
        .find(|c| c.has_tag_name("channel"))
        .expect("a channel");
    for required in ["title", "link", "description"] {
        assert!(
            channel.children().any(|c| c.has_tag_name(required)),
            "channel {required}"
        );
    }
    channel
        .children()
        .filter(|c| c.has_tag_name("item"))
        .map(|item| {
            let text = |name: &str| {
                item.children()
                    .find(|c| c.has_tag_name(name))
                    .and_then(|c| c.text())
                    .unwrap_or_default()
                    .to_string()
            };
            Item {
                title: text("title"),
                link: text("link"),
                enclosure: item
                    .children()
                    .find(|c| c.has_tag_name("enclosure"))
                    .map(|l| enclosure(l, "url")),
            }
        })
        .collect()
}

async fn feeds_carry_published_recordings_with_their_previews(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = trusted(&app, "paul").await;
    let with_sound = published_upload(
        &app,
        &paul,
        "Rain & <Thunder>",
        "rain.amb",
        fuma_file(9_600),
    )
    .await;
    let marta_id = app.user("marta", Role::Uploader).await;
    let mut quiet = sample("Quiet Chapel", marta_id);
    quiet.tags = vec!["church".into()];
    let (quiet_id, _) = app.recording(quiet).await;
    app.recording_with_status(
        sample("Not Yet Published", marta_id),
        domain::Status::Pending,
    )
    .await;
    let anyone = Browser::default();
    let (_, _, mp3) = bytes_of(
        &app,
        &format!("/recordings/{}/binaural.mp3", with_sound.slug),
        &anyone,
    )
    .await;

    let (headers, keys, atom) = feed(&app, "/feed.atom", &anyone).await;
    assert!(headers.starts_with("application/atom+xml"), "{headers}");
    assert!(
        headers.contains("public") && headers.contains("s-maxage="),
        "shareable: {headers}"
    );
    assert!(
        keys.split(' ').any(|k| k == "catalog")
            && keys.contains(&format!("card:{}", with_sound.id))
            && keys.contains(&format!("card:{quiet_id}")),
        "the catalog's keys: {keys}"
    );
    let (_, _, rss) = feed(&app, "/feed.rss", &anyone).await;
    // Atom lists every published recording; the RSS, a podcast, those with their sound.
    for (what, items, want) in [
        ("atom", atom_entries(&atom), 2),
        ("rss", rss_items(&rss), 1),
    ] {
        let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles.len(), want, "{what}: {titles:?}");
        assert!(titles.contains(&"Rain & <Thunder>"), "{what}: {titles:?}");
        let rain = items
            .iter()
            .find(|i| i.title.starts_with("Rain"))
            .expect("rain");
        assert_eq!(
            rain.link,
            format!("http://127.0.0.1/recordings/{}", with_sound.slug)
        );
        assert_eq!(
            rain.enclosure,
            Some((
                format!("{}/binaural.mp3", rain.link),
                mp3.len() as u64,
                "audio/mpeg".to_string()
            )),
            "{what}: the binaural MP3, its length and type"
        );
        if let Some(chapel) = items.iter().find(|i| i.title == "Quiet Chapel") {
            assert!(chapel.enclosure.is_none(), "{what}: no sound, no enclosure");
        }
    }
    assert!(
        atom.contains(&format!("/recordings/{}/preview.ogg", with_sound.slug)),
        "Atom keeps the stereo preview beside the MP3"
    );

    // A tag's, an uploader's and a search's feed hold just theirs, keyed like their pages.
    let (_, keys, tag) = feed(&app, "/tags/church/feed.atom", &anyone).await;
    assert_eq!(
        atom_entries(&tag)
            .iter()
            .map(|i| i.title.clone())
            .collect::<Vec<_>>(),
        ["Quiet Chapel"]
    );
    assert!(keys.contains("tag:church"), "{keys}");
    let (_, keys, by_paul) = feed(&app, "/users/paul/feed.rss", &anyone).await;
    assert_eq!(rss_items(&by_paul).len(), 1);
    let (_, _, by_marta) = feed(&app, "/users/marta/feed.rss", &anyone).await;
    assert!(
        rss_items(&by_marta).is_empty(),
        "no sound yet: not a podcast episode"
    );
    assert!(
        keys.contains(&format!("user:{}", app.user_id("paul").await)),
        "{keys}"
    );
    let (_, _, search) = feed(&app, "/catalog/feed.atom?q=rain", &anyone).await;
    assert_eq!(
        atom_entries(&search)
            .iter()
            .map(|i| i.title.clone())
            .collect::<Vec<_>>(),
        ["Rain & <Thunder>"]
    );
    for missing in ["/tags/nothing-here/feed.atom", "/users/nobody/feed.rss"] {
        assert_eq!(
            app.get(missing, &anyone).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // Pages announce their feeds; a logged-in reader's copy is not shared.
    let (_, home) = app.get_text("/", &anyone).await;
    assert!(
        home.contains("href=\"/feed.atom\" rel=\"alternate\""),
        "the home page links its feed"
    );
    let (_, tag_page) = app.get_text("/tags/church", &anyone).await;
    assert!(tag_page.contains("/tags/church/feed.rss"));
    let (_, catalog) = app.get_text("/catalog?q=rain", &anyone).await;
    assert!(catalog.contains("/catalog/feed.atom?q=rain"));
    let (headers, keys, _) = feed(&app, "/feed.atom", &paul).await;
    assert!(
        headers.contains("private, no-store") && keys.is_empty(),
        "{headers} {keys}"
    );
}
