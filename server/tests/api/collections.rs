//! Collections, bookmarks and packs, as listeners and uploaders use them through the site's
//! forms: order, privacy (a private collection does not exist for anyone else), public
//! pages shared and purged when edited, one-click saving, packs on recordings and profiles.

use domain::{
    Role, Status,
    collections::MAX_ITEMS,
    entities::{collection_items, collections},
    recordings::{NewRecording, life},
    write::{Changed, Write},
};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::{both_backends, helpers::*};

/// The titles of an owner's collection page, in order.
fn item_titles(html: &str) -> Vec<String> {
    html.split("data-testid=\"collection-item\"><a href=\"/recordings/")
        .skip(1)
        .filter_map(|s| {
            s.split_once("\">")
                .and_then(|(_, rest)| rest.split_once("</a>"))
                .map(|(t, _)| t.to_owned())
        })
        .collect()
}

/// Makes a collection through its form, as `who`; its slug.
async fn new_collection(app: &TestApp, who: &mut Browser, fields: &[(&str, &str)]) -> String {
    let res = post_on(app, who, "/collections", "/api/create-collection", fields).await;
    assert_eq!(res.status(), StatusCode::FOUND, "the collection is made");
    location(&res)
        .trim_start_matches("/collections/")
        .to_owned()
}

async fn three_recordings(app: &TestApp) -> Vec<String> {
    let marta = app.user("marta", Role::Uploader).await;
    let mut slugs = Vec::new();
    for title in ["Forest One", "Forest Two", "Forest Three"] {
        slugs.push(
            app.recording(NewRecording {
                tags: vec!["forest".into()],
                ..sample(title, marta)
            })
            .await
            .1,
        );
    }
    slugs
}

async fn a_collection_keeps_its_order_and_its_privacy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slugs = three_recordings(&app).await;
    let mut lena = app.register("lena").await;
    let res = post_on(
        &app,
        &mut lena,
        "/collections",
        "/api/create-collection",
        &[("title", "Forests at dawn"), ("note", "")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let page = location(&res);
    assert!(page.starts_with("/collections/forests-at-dawn-"), "{page}");
    let slug = page.trim_start_matches("/collections/").to_owned();
    for r in &slugs {
        let res = post_on(
            &app,
            &mut lena,
            &format!("/recordings/{r}"),
            "/api/add-to-collection",
            &[("collection", &slug), ("recording", r)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FOUND, "{r}");
    }
    let (_, html) = app.get_text(&page, &lena).await;
    assert_eq!(
        item_titles(&html),
        ["Forest One", "Forest Two", "Forest Three"]
    );
    // The last one up, the first one out.
    for (r, change) in [(&slugs[2], "up"), (&slugs[0], "remove")] {
        let res = post_on(
            &app,
            &mut lena,
            &page,
            "/api/collection-item",
            &[("collection", &slug), ("recording", r), ("change", change)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::FOUND, "{change}");
    }
    let res = app.get(&page, &lena).await;
    assert_eq!(header_of(&res, "cache-control"), "private, no-store");
    let html = res.text().await.unwrap_or_default();
    assert_eq!(item_titles(&html), ["Forest Three", "Forest Two"]);
    // Private: nobody else, and no anonymous visitor, finds it.
    let tom = app.register("tom").await;
    for (who, browser) in [("anonymous", Browser::default()), ("tom", tom.clone())] {
        assert_eq!(
            app.get(&page, &browser).await.status(),
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    let mut tom2 = tom.clone();
    let res = post_on(
        &app,
        &mut tom2,
        &format!("/recordings/{}", slugs[1]),
        "/api/add-to-collection",
        &[("collection", &slug), ("recording", &slugs[1])],
    )
    .await;
    assert!(
        redirect_error(&res).is_some(),
        "tom cannot add to lena's collection"
    );
    // Public: shared, under its key; an edit is seen at once by everyone.
    let res = post_on(
        &app,
        &mut lena,
        &page,
        "/api/edit-collection",
        &[
            ("slug", &slug),
            ("title", "Forests at dawn"),
            ("note", "Two favourites."),
            ("public", "on"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let res = app.get(&page, &Browser::default()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "cache-control").starts_with("public"));
    assert!(header_of(&res, "surrogate-key").contains("collection:"));
    let html = res.text().await.unwrap_or_default();
    assert_eq!(titles(&html), ["Forest Three", "Forest Two"]);
    assert!(html.contains("Two favourites."));
    let res = post_on(
        &app,
        &mut lena,
        &page,
        "/api/edit-collection",
        &[
            ("slug", &slug),
            ("title", "Forests at dusk"),
            ("note", ""),
            ("public", "on"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(
        html.contains("Forests at dusk"),
        "the read cache was purged"
    );
    // Its recordings say so; private again, they do not.
    let (_, rec) = app
        .get_text(&format!("/recordings/{}", slugs[1]), &Browser::default())
        .await;
    assert!(rec.contains("In 1 public collection."), "counted");
    let res = post_on(
        &app,
        &mut lena,
        &page,
        "/api/edit-collection",
        &[("slug", &slug), ("title", "Forests at dusk"), ("note", "")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        app.get(&page, &Browser::default()).await.status(),
        StatusCode::NOT_FOUND
    );
    let (_, rec) = app
        .get_text(&format!("/recordings/{}", slugs[1]), &Browser::default())
        .await;
    assert!(!rec.contains("public collection"), "no longer counted");
}

async fn saving_is_one_click_and_private(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slugs = three_recordings(&app).await;
    let mut lena = app.register("lena").await;
    let rec = format!("/recordings/{}", slugs[0]);
    let (_, html) = app.get_text(&rec, &lena).await;
    assert!(html.contains("☆ Save"));
    let res = post_on(&app, &mut lena, &rec, "/api/save", &[("slug", &slugs[0])]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, html) = app.get_text(&rec, &lena).await;
    assert!(html.contains("★ Saved"), "saved");
    let (_, mine) = app.get_text("/collections", &lena).await;
    assert!(
        mine.contains(">Saved</a>") && mine.contains("1 recording"),
        "{mine}"
    );
    let saved = mine
        .split("href=\"/collections/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the saved collection's link")
        .to_owned();
    let tom = app.register("tom").await;
    assert_eq!(
        app.get(&format!("/collections/{saved}"), &tom)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    // Nothing anyone else sees changed: the recording page does not count it.
    let (_, public) = app.get_text(&rec, &Browser::default()).await;
    assert!(!public.contains("public collection"));
    assert!(
        public.contains("to save it"),
        "anonymous visitors are asked to log in"
    );
    let res = post_on(&app, &mut lena, &rec, "/api/save", &[("slug", &slugs[0])]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, html) = app.get_text(&rec, &lena).await;
    assert!(html.contains("☆ Save"), "unsaved");
    // One click from a card, back to the list.
    let (_, catalog) = app.get_text("/catalog?tag=forest", &lena).await;
    assert_eq!(catalog.matches("data-testid=\"card-save\"").count(), 3);
    let (_, public) = app
        .get_text("/catalog?tag=forest", &Browser::default())
        .await;
    assert!(!public.contains("card-save"), "not on the shared page");
    let res = post_on(
        &app,
        &mut lena,
        "/catalog?tag=forest",
        "/api/save-card",
        &[("slug", &slugs[2]), ("next", "/catalog?tag=forest")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/catalog?tag=forest");
    let (_, html) = app
        .get_text(&format!("/recordings/{}", slugs[2]), &lena)
        .await;
    assert!(html.contains("★ Saved"), "saved from its card");
}

async fn a_public_collection_of_ones_own_recordings_is_a_pack(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slugs = three_recordings(&app).await;
    let mut marta = app.login("marta").await;
    let slug = new_collection(
        &app,
        &mut marta,
        &[
            ("title", "Church in eight positions"),
            ("note", ""),
            ("public", "on"),
        ],
    )
    .await;
    let page = format!("/collections/{slug}");
    for r in &slugs[..2] {
        post_on(
            &app,
            &mut marta,
            &format!("/recordings/{r}"),
            "/api/add-to-collection",
            &[("collection", &slug), ("recording", r)],
        )
        .await;
    }
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(html.contains(">A pack<"), "{html}");
    let (_, rec) = app
        .get_text(&format!("/recordings/{}", slugs[0]), &Browser::default())
        .await;
    assert!(rec.contains("data-testid=\"pack\"") && rec.contains("Church in eight positions"));
    let (_, profile) = app.get_text("/users/marta", &Browser::default()).await;
    assert!(
        profile.contains("data-testid=\"profile-pack\""),
        "on her profile"
    );
    // Someone else's recording in it: a collection, not a pack.
    let other = app.user("olga", Role::Uploader).await;
    let (_, theirs) = app.recording(sample("Not Marta's", other)).await;
    post_on(
        &app,
        &mut marta,
        &format!("/recordings/{theirs}"),
        "/api/add-to-collection",
        &[("collection", &slug), ("recording", &theirs)],
    )
    .await;
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(html.contains(">A public collection<"), "no longer a pack");
    let first = format!("/recordings/{}", slugs[0]);
    let (_, rec) = app.get_text(&first, &Browser::default()).await;
    assert!(
        !rec.contains("data-testid=\"pack\""),
        "nor on the pages of the recordings in it"
    );
    let (_, profile) = app.get_text("/users/marta", &Browser::default()).await;
    assert!(
        !profile.contains("data-testid=\"profile-pack\""),
        "no longer a pack on her profile"
    );
    // An editor deletes Olga's: it stays in the collection, unseen, until the collector
    // takes it; the page, Marta's list and her profile all count what is shown — a pack of
    // two again.
    app.user("edith", Role::Editor).await;
    let mut edith = app.login("edith").await;
    let res = post_on(
        &app,
        &mut edith,
        &format!("/recordings/{theirs}?delete=confirm"),
        "/api/delete-recording",
        &[("slug", &theirs)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND, "deleted");
    assert!(!location(&res).contains("__err"), "{}", location(&res));
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(html.contains(">A pack<"), "a pack again: {html}");
    let (_, rec) = app.get_text(&first, &Browser::default()).await;
    assert!(
        rec.contains("data-testid=\"pack\""),
        "a pack again on its recordings' pages"
    );
    let (_, mine) = app.get_text("/collections", &marta).await;
    assert!(mine.contains("2 recordings"), "{mine}");
    let (_, profile) = app.get_text("/users/marta", &Browser::default()).await;
    assert!(
        profile.contains("data-testid=\"profile-pack\""),
        "a pack again on her profile"
    );
}

/// Opens `zip` with Python's zipfile: every entry's CRC, each original against the SHA-256
/// the manifest gives; prints the manifest.
fn python_reads(zip: &[u8]) -> serde_json::Value {
    let path = std::env::temp_dir().join(format!("ambisonia-collection-{}.zip", random_suffix()));
    std::fs::write(&path, zip).expect("saved");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile, json, hashlib\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             assert z.testzip() is None, 'a bad CRC'\n\
             names = z.namelist()\n\
             assert names[0] == 'README.txt' and names[-1] == 'manifest.json', names\n\
             m = json.loads(z.read('manifest.json'))\n\
             for item in m['items']:\n\
             \x20   data = z.read(item['file'])\n\
             \x20   assert hashlib.sha256(data).hexdigest() == item['sha256'], item['file']\n\
             \x20   assert len(data) == item['size_bytes'], item['file']\n\
             assert len(names) == 2 + len(m['items'])\n\
             m['readme'] = z.read('README.txt').decode()\n\
             print(json.dumps(m))",
        ])
        .arg(&path)
        .output()
        .expect("python3");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the manifest")
}

async fn a_public_collection_downloads_as_one_zip_through_the_balancer(backend: Backend) {
    use crate::uploads::{fuma_file, processed, uploader};
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(backend).await;
    let mut paul = uploader(&app, "paul", Role::Uploader).await;
    app.trust(app.user_id("paul").await).await;
    let mut slugs = Vec::new();
    for (title, name, frames) in [
        ("Harbour free", "a.amb", 48_000),
        ("Harbour premium", "b.amb", 48_100),
        ("Harbour also free", "c.amb", 48_200),
    ] {
        let res = app
            .upload(&paul, &[("title", title)], name, fuma_file(frames))
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let slug = location(&res).trim_start_matches("/recordings/").to_owned();
        processed(&app, &slug).await;
        slugs.push(slug);
    }
    let premium = domain::recordings::by_slug(&app.db, &slugs[1])
        .await
        .expect("row");
    domain::entities::recordings::ActiveModel {
        id: Set(premium.id),
        is_premium: Set(true),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("made premium");
    let slug = new_collection(
        &app,
        &mut paul,
        &[
            ("title", "The harbour, three ways"),
            ("note", "Dawn to dusk."),
            ("public", "on"),
        ],
    )
    .await;
    let page = format!("/collections/{slug}");
    for r in &slugs {
        post_on(
            &app,
            &mut paul,
            &format!("/recordings/{r}"),
            "/api/add-to-collection",
            &[("collection", &slug), ("recording", r)],
        )
        .await;
    }
    let (front, _, _) = crate::front_door::balancer_for(&app.base, "").await;
    let zip_url = format!("{front}/collections/{slug}/download.zip");
    // Anonymous: the free ones, and the manifest says why the premium one is not there.
    let res = reqwest::get(&zip_url).await.expect("zip");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "content-type"), "application/zip");
    let zip = res.bytes().await.expect("bytes");
    let m = python_reads(&zip);
    let files: Vec<&str> = m["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["file"].as_str())
        .collect();
    assert_eq!(files.len(), 2, "{m}");
    assert!(
        files[0].starts_with("001-harbour-free") && files[1].starts_with("002-harbour-also-free"),
        "{files:?}"
    );
    assert_eq!(m["left_out"][0]["title"], "Harbour premium");
    assert!(
        m["left_out"][0]["why"]
            .as_str()
            .is_some_and(|w| w.contains("premium"))
    );
    assert_eq!(
        m["items"][0]["licence"]["url"],
        "https://creativecommons.org/licenses/by/4.0/"
    );
    assert!(
        m["items"][0]["attribution"]
            .as_str()
            .is_some_and(|a| a.contains("Harbour free") && a.contains("paul"))
    );
    assert!(
        m["readme"]
            .as_str()
            .is_some_and(|r| r.contains("Left out") && r.contains("Dawn to dusk."))
    );
    // The originals are the uploaded files: their SHA-256 is the one stored.
    let free = domain::recordings::by_slug(&app.db, &slugs[0])
        .await
        .expect("row");
    assert_eq!(m["items"][0]["sha256"].as_str(), free.sha256.as_deref());
    // A premium member gets all three.
    let pam = app.user("pam", Role::Listener).await;
    domain::accounts::grant_premium(
        &app.db,
        pam,
        chrono::Utc::now() + chrono::Duration::days(30),
    )
    .await
    .expect("grant");
    let browser = app.login("pam").await;
    let res = reqwest::Client::new()
        .get(&zip_url)
        .header("cookie", browser.header())
        .send()
        .await
        .expect("zip");
    assert_eq!(res.status(), StatusCode::OK);
    let m = python_reads(&res.bytes().await.expect("bytes"));
    assert_eq!(m["items"].as_array().map(Vec::len), Some(3), "{m}");
    assert_eq!(m["left_out"].as_array().map(Vec::len), Some(0));
    // One form for all: AmbiX made from the FuMa originals, each file's SHA-256 as sent.
    let res = reqwest::Client::new()
        .get(format!("{zip_url}?format=ambix"))
        .header("cookie", browser.header())
        .send()
        .await
        .expect("zip");
    assert_eq!(res.status(), StatusCode::OK);
    let m = python_reads(&res.bytes().await.expect("bytes"));
    let items = m["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "{m}");
    assert!(items.iter().all(|i| i["format"] == "ambix"), "{m}");
    assert!(items.iter().all(|i| i["sha256"] != serde_json::Value::Null));
    assert_ne!(
        items[0]["sha256"].as_str(),
        free.sha256.as_deref(),
        "a rendition, not the original"
    );
    let res = reqwest::get(format!("{zip_url}?format=mp3"))
        .await
        .expect("zip");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The public page and its feed are shared, and name the collection.
    let feed = reqwest::get(format!("{front}{page}/feed.atom"))
        .await
        .expect("feed");
    assert_eq!(feed.status(), StatusCode::OK);
    assert!(header_of(&feed, "cache-control").starts_with("public"));
    let atom = feed.text().await.unwrap_or_default();
    assert_eq!(atom.matches("<entry>").count(), 3, "{atom}");
}

/// Two tabs (or a double click) adding the same recording at the same instant, and a new
/// listener's first saves arriving together: every answer is the form's own redirect, the
/// recording is in the collection once, and the listener has one *Saved*.
async fn the_same_addition_from_two_tabs_is_made_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slugs = three_recordings(&app).await;
    let mut lena = app.register("lena").await;
    let slug = new_collection(&app, &mut lena, &[("title", "Twice"), ("note", "")]).await;
    let page = format!("/recordings/{}", slugs[0]);
    let rec = page.as_str();
    let token = app.form_token(rec, &mut lena).await;
    let tabs = (0..8).map(|_| {
        let (app, mut tab) = (&app, lena.clone());
        let fields = [
            ("csrf", token.as_str()),
            ("collection", slug.as_str()),
            ("recording", slugs[0].as_str()),
        ];
        async move {
            app.post_form("/api/add-to-collection", rec, &fields, &mut tab)
                .await
        }
    });
    for res in futures::future::join_all(tabs).await {
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(!location(&res).contains("__err"), "{}", location(&res));
    }
    let (_, html) = app.get_text(&format!("/collections/{slug}"), &lena).await;
    assert_eq!(item_titles(&html), ["Forest One"]);
    // The first saves from cards, all at once: one Saved is made, holding each once.
    let token = app.form_token("/catalog?tag=forest", &mut lena).await;
    let saves = slugs.iter().chain(slugs.iter()).map(|r| {
        let (app, mut tab) = (&app, lena.clone());
        let fields = [
            ("csrf", token.as_str()),
            ("slug", r.as_str()),
            ("next", "/catalog?tag=forest"),
        ];
        async move {
            app.post_form("/api/save-card", "/catalog?tag=forest", &fields, &mut tab)
                .await
        }
    });
    for res in futures::future::join_all(saves).await {
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(!location(&res).contains("__err"), "{}", location(&res));
    }
    let (_, mine) = app.get_text("/collections", &lena).await;
    assert_eq!(mine.matches(">Saved</a>").count(), 1, "{mine}");
    assert!(mine.contains("3 recordings"), "{mine}");
}

/// Adds each of `recordings` to `collection` as `who`, all at once, as many tabs would;
/// for each, whether it was refused.
async fn add_all_at_once(
    app: &TestApp,
    who: &mut Browser,
    collection: &str,
    recordings: &[String],
) -> Vec<bool> {
    let page = format!("/recordings/{}", recordings[0]);
    let token = app.form_token(&page, who).await;
    let tabs = recordings.iter().map(|r| {
        let (mut tab, page, token) = (who.clone(), page.clone(), token.clone());
        async move {
            let fields = [
                ("csrf", token.as_str()),
                ("collection", collection),
                ("recording", r.as_str()),
            ];
            let res = app
                .post_form("/api/add-to-collection", &page, &fields, &mut tab)
                .await;
            assert_eq!(res.status(), StatusCode::FOUND);
            location(&res).contains("__err")
        }
    });
    futures::future::join_all(tabs).await
}

/// The collection's id and its items' places, in order.
async fn places(app: &TestApp, slug: &str) -> (i32, Vec<i32>) {
    let c = collections::Entity::find()
        .filter(collections::Column::Slug.eq(slug))
        .one(&app.db)
        .await
        .expect("collection")
        .expect("it exists");
    let mut places: Vec<i32> = collection_items::Entity::find()
        .filter(collection_items::Column::CollectionId.eq(c.id))
        .all(&app.db)
        .await
        .expect("items")
        .into_iter()
        .map(|i| i.position)
        .collect();
    places.sort_unstable();
    (c.id, places)
}

/// Additions of different recordings arriving together each take a place of their own, and
/// a collection four short of its cap takes exactly four of eight arriving at once (the
/// others are told it is full). Without the collection's lock each addition would count
/// the same items and take the same next place.
async fn additions_arriving_together_keep_their_places_and_the_cap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = app.user("marta", Role::Uploader).await;
    let mut lena = app.register("lena").await;
    let mut eight = Vec::new();
    for n in 0..8 {
        eight.push(
            app.recording(sample(&format!("Arriving {n}"), marta))
                .await
                .1,
        );
    }

    // An empty collection: eight places, one each.
    let empty = new_collection(&app, &mut lena, &[("title", "Together"), ("note", "")]).await;
    let refused = add_all_at_once(&app, &mut lena, &empty, &eight).await;
    assert!(refused.iter().all(|r| !r), "{refused:?}");
    assert_eq!(places(&app, &empty).await.1, (0..8).collect::<Vec<_>>());

    // One four short of the cap (filled as a fixture): four more, four told it is full.
    let full = new_collection(&app, &mut lena, &[("title", "Nearly full"), ("note", "")]).await;
    let (id, _) = places(&app, &full).await;
    let filler = usize::try_from(MAX_ITEMS).expect("cap") - 4;
    let w = Write::begin(&app.db).await.expect("write");
    let mut rows = Vec::new();
    for n in 0..filler {
        let new = sample(&format!("Filler {n:04}"), marta);
        let (row, _) = life::create(&w, new, Status::Published, Some(chrono::Utc::now()))
            .await
            .expect("recording");
        rows.push(row.id);
    }
    w.commit(Changed::nothing_shown()).await.expect("commit");
    for (chunk, ids) in rows.chunks(200).enumerate() {
        collection_items::Entity::insert_many(ids.iter().enumerate().map(|(k, r)| {
            collection_items::ActiveModel {
                collection_id: Set(id),
                recording_id: Set(*r),
                position: Set(i32::try_from(chunk * 200 + k).expect("place")),
                added_at: Set(chrono::Utc::now()),
            }
        }))
        .exec(&app.db)
        .await
        .expect("filler items");
    }
    let refused = add_all_at_once(&app, &mut lena, &full, &eight).await;
    assert_eq!(refused.iter().filter(|r| **r).count(), 4, "{refused:?}");
    let (_, places) = places(&app, &full).await;
    let cap = i32::try_from(MAX_ITEMS).expect("cap");
    assert_eq!(places, (0..cap).collect::<Vec<_>>());
}

both_backends!(
    additions_arriving_together_keep_their_places_and_the_cap,
    a_collection_keeps_its_order_and_its_privacy,
    the_same_addition_from_two_tabs_is_made_once,
    saving_is_one_click_and_private,
    a_public_collection_of_ones_own_recordings_is_a_pack,
    a_public_collection_downloads_as_one_zip_through_the_balancer,
);

/// Resident memory of this process (server and client both), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A public collection of `BENCH_ZIP_GB` (default 5) GiB of originals — one sparse file of
/// a GiB per recording in the media folder — downloaded whole as a ZIP through the app, the
/// bytes counted and dropped by the client: the process's resident memory is sampled all
/// along, and the throughput is compared with reading the same files straight from disk
/// (the baseline). Prints one `bench-collection-zip:` line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-collection-zip runs it"]
async fn bench_collection_zip() {
    use sea_orm::{ActiveModelTrait, Set};
    const GIB: u64 = 1 << 30;
    let gb: u64 = std::env::var("BENCH_ZIP_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let app = TestApp::spawn(Backend::Sqlite).await;
    let owner = app.user("bench", Role::Uploader).await;
    let mut browser = app.login("bench").await;
    let slug = new_collection(
        &app,
        &mut browser,
        &[("title", "Five gigabytes"), ("note", ""), ("public", "on")],
    )
    .await;
    let page = format!("/collections/{slug}");
    let mut paths = Vec::new();
    for i in 0..gb {
        let key = format!("bench/original-{i}.wav");
        let path = app.media_dir.join(&key);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("folder");
        let f = std::fs::File::create(&path).expect("file");
        f.set_len(GIB).expect("a sparse gigabyte");
        paths.push(path);
        let (id, rec) = app.recording(sample(&format!("Big {i}"), owner)).await;
        domain::entities::recordings::ActiveModel {
            id: Set(id),
            media_key: Set(Some(key)),
            size_bytes: Set(Some(GIB as i64)),
            sha256: Set(Some(format!("{i:064x}"))),
            ..Default::default()
        }
        .update(&app.db)
        .await
        .expect("media");
        post_on(
            &app,
            &mut browser,
            &format!("/recordings/{rec}"),
            "/api/add-to-collection",
            &[("collection", &slug), ("recording", &rec)],
        )
        .await;
    }
    // The baseline: the same bytes read from disk, no server.
    let started = std::time::Instant::now();
    let read = {
        let paths = paths.clone();
        tokio::task::spawn_blocking(move || {
            paths
                .iter()
                .map(|p| {
                    use std::io::Read;
                    // The chunk size the server reads with.
                    let mut f = std::fs::File::open(p).expect("open");
                    let (mut buf, mut n) = (vec![0u8; 256 * 1024], 0u64);
                    loop {
                        match f.read(&mut buf).expect("read") {
                            0 => return n,
                            k => n += k as u64,
                        }
                    }
                })
                .sum::<u64>()
        })
        .await
        .expect("read")
    };
    let disk = started.elapsed();
    let before = rss_kib();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampling = {
        let peak = std::sync::Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    let started = std::time::Instant::now();
    let mut res = reqwest::get(app.url(&format!("{page}/download.zip")))
        .await
        .expect("zip");
    assert_eq!(res.status(), StatusCode::OK);
    let mut got = 0u64;
    while let Some(chunk) = res.chunk().await.expect("a chunk") {
        got += chunk.len() as u64;
    }
    let zip = started.elapsed();
    sampling.abort();
    let grew = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    assert!(got > read, "the archive holds every byte ({got} vs {read})");
    let mib_s =
        |bytes: u64, t: std::time::Duration| bytes as f64 / (1 << 20) as f64 / t.as_secs_f64();
    println!(
        "bench-collection-zip: {gb} GiB of originals in {} entries: ZIP {:.0} MiB/s ({:.1} s), disk read alone {:.0} MiB/s (the baseline): {:.2}x the baseline's time; resident memory grew {:.1} MiB (before {:.1} MiB; goal < 32 MiB)",
        gb + 2,
        mib_s(got, zip),
        zip.as_secs_f64(),
        mib_s(read, disk),
        zip.as_secs_f64() / disk.as_secs_f64(),
        grew as f64 / 1024.0,
        before as f64 / 1024.0,
    );
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}
