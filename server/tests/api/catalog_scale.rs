//! The catalog at scale: facet counts kept by the writes, counts bounded, pages walked by
//! key, search ranked. Each on SQLite and PostgreSQL.

use std::collections::HashSet;

use domain::{
    Role, Status,
    catalog::COUNT_BOUND,
    facets::{self, Kind},
    model::Facets,
    recordings::NewRecording,
};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::{both_backends, helpers::*};

/// The `href` of the pager's `rel` link ("next" or "prev"), unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].replace("&amp;", "&"))
}

/// The menus as the facet table has them, and as a count from scratch has them: the same,
/// or the writes did not keep the counts.
async fn menus_agree_with_a_recount(app: &TestApp) -> Facets {
    let kept = facets::menus(&app.db).await.expect("menus");
    let kept_rows = count_rows(app).await;
    facets::recount(&app.db).await.expect("recount");
    let counted = facets::menus(&app.db).await.expect("menus");
    assert_eq!(kept, counted, "the kept counts are the counted ones");
    assert_eq!(
        kept_rows,
        count_rows(app).await,
        "every count, pairs of facts included, is the counted one"
    );
    kept
}

/// Every non-zero row of `facet_counts`, in key order.
async fn count_rows(app: &TestApp) -> Vec<(String, String, i64)> {
    use domain::entities::facet_counts::{Column as C, Entity};
    use sea_orm::QueryOrder;
    Entity::find()
        .filter(C::Count.gt(0))
        .order_by_asc(C::Kind)
        .order_by_asc(C::Value)
        .all(&app.db)
        .await
        .expect("counts")
        .into_iter()
        .map(|r| (r.kind, r.value, r.count))
        .collect()
}

fn choice(list: &[domain::model::Facet], value: &str) -> u64 {
    list.iter()
        .find(|f| f.value == value)
        .map_or(0, |f| f.count)
}

async fn post(app: &TestApp, browser: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) {
    let mut b = browser.clone();
    let token = app.form_token(page, &mut b).await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    let res = app.post_form(action, page, &all, &mut b).await;
    assert_eq!(res.status(), StatusCode::FOUND, "{action}");
    assert_eq!(redirect_error(&res), None, "{action}");
}

async fn facet_counts_follow_publish_reject_edit_and_delete(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("ulla", Role::Uploader).await;
    app.user("edith", Role::Editor).await;
    let editor = app.login("edith").await;
    let tagged = |title: &str, tags: &[&str]| NewRecording {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..sample(title, uploader)
    };
    app.recording(tagged("Published One", &["birds"])).await;
    let (_, pending) = app
        .recording_with_status(tagged("Waiting Two", &["birds", "rain"]), Status::Pending)
        .await;
    let (_, doomed) = app
        .recording_with_status(tagged("Rejected Three", &["rain"]), Status::Pending)
        .await;
    let m = menus_agree_with_a_recount(&app).await;
    assert_eq!(
        (
            choice(&m.tags, "birds"),
            choice(&m.tags, "rain"),
            choice(&m.microphones, "TetraMic")
        ),
        (1, 0, 1),
        "only published recordings count"
    );
    assert_eq!(facets::published(&app.db).await.expect("total"), 1);

    post(
        &app,
        &editor,
        "/moderation",
        "/api/moderate",
        &[("slug", &pending), ("decision", "publish"), ("note", "")],
    )
    .await;
    post(
        &app,
        &editor,
        "/moderation",
        "/api/moderate",
        &[("slug", &doomed), ("decision", "reject"), ("note", "hiss")],
    )
    .await;
    let m = menus_agree_with_a_recount(&app).await;
    assert_eq!((choice(&m.tags, "birds"), choice(&m.tags, "rain")), (2, 1));
    assert_eq!(facets::published(&app.db).await.expect("total"), 2);
    // The tag pages (read in each tag's date order) follow too.
    let on = |path: String| {
        let app = &app;
        async move { titles(&app.get_text(&path, &Browser::default()).await.1) }
    };
    assert_eq!(
        on("/tags/birds".into()).await,
        ["Waiting Two", "Published One"]
    );
    assert_eq!(
        on("/tags/rain".into()).await,
        ["Waiting Two"],
        "not the rejected one"
    );
    assert_eq!(on("/catalog?tag=rain".into()).await, ["Waiting Two"]);

    // An editor changes the microphone, the licence and the tags of a published recording.
    let page = format!("/recordings/{pending}");
    post(
        &app,
        &editor,
        &page,
        "/api/describe",
        &[
            ("slug", &pending),
            ("title", "Waiting Two"),
            ("description", ""),
            ("location", ""),
            ("licence", "cc0-1.0"),
            ("microphone", "Zoom H3-VR"),
            ("tags", "Night, rain"),
        ],
    )
    .await;
    let m = menus_agree_with_a_recount(&app).await;
    let both = |a: (Kind, &'static str), b: (Kind, &'static str)| {
        let db = &app.db;
        async move {
            facets::count_all(db, &[a, b])
                .await
                .expect("count")
                .expect("a pair is counted")
        }
    };
    assert_eq!(
        (
            both((Kind::Tag, "rain"), (Kind::Microphone, "Zoom H3-VR")).await,
            both((Kind::Microphone, "TetraMic"), (Kind::Tag, "birds")).await,
            both((Kind::Licence, "cc0-1.0"), (Kind::Convention, "ambix")).await,
            both((Kind::Microphone, "TetraMic"), (Kind::Tag, "rain")).await,
        ),
        (1, 1, 1, 0),
        "pairs follow the edit, in either order"
    );
    assert_eq!(
        (
            choice(&m.microphones, "TetraMic"),
            choice(&m.microphones, "Zoom H3-VR"),
            choice(&m.licences, "cc0-1.0"),
            choice(&m.licences, "cc-by-4.0"),
            choice(&m.tags, "birds"),
            choice(&m.tags, "night"),
        ),
        (1, 1, 1, 1, 1, 1)
    );
    let (_, html) = app.get_text("/catalog", &Browser::default()).await;
    assert!(html.contains("Zoom H3-VR (1)"), "the menus show the counts");
    assert_eq!(on("/tags/night".into()).await, ["Waiting Two"]);
    assert_eq!(
        on("/tags/birds".into()).await,
        ["Published One"],
        "a tag taken off"
    );

    post(
        &app,
        &editor,
        &page,
        "/api/delete-recording",
        &[("slug", &pending)],
    )
    .await;
    let m = menus_agree_with_a_recount(&app).await;
    assert_eq!(
        (
            choice(&m.microphones, "Zoom H3-VR"),
            choice(&m.tags, "night"),
            choice(&m.tags, "rain")
        ),
        (0, 0, 0)
    );
    assert_eq!(facets::published(&app.db).await.expect("total"), 1);
    assert_eq!(
        app.get_text(&page, &Browser::default()).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(
        on("/tags/night".into()).await.is_empty(),
        "deleted: off its tags"
    );
    assert!(on("/catalog?tag=rain".into()).await.is_empty());
    // A listener cannot delete.
    let lena = app.register("lena").await;
    let mut b = lena.clone();
    let token = app.form_token("/catalog", &mut b).await;
    let res = app
        .post_form(
            "/api/delete-recording",
            "/catalog",
            &[("csrf", &token), ("slug", &doomed)],
            &mut b,
        )
        .await;
    assert!(redirect_error(&res).is_some(), "refused");
}

async fn counts_are_exact_up_to_the_bound_then_say_so(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(COUNT_BOUND, 1_000);
    let made = domain::bulk::fill_to(&app.db, 1_050, "not-a-hash")
        .await
        .expect("bulk");
    assert_eq!(made, 1_050);
    let (_, all) = app.get_text("/catalog", &Browser::default()).await;
    assert_eq!(
        count(&all),
        "1,050 recordings",
        "the whole catalog is counted exactly"
    );
    let (_, tens) = app.get_text("/catalog?min=0", &Browser::default()).await;
    assert_eq!(
        count(&tens),
        "1,000+ recordings",
        "a search is counted up to the bound"
    );
    let exact = domain::entities::recordings::Entity::find()
        .filter(domain::entities::recordings::Column::Convention.eq("ambix"))
        .filter(domain::entities::recordings::Column::AmbiOrder.eq(2))
        .count(&app.db)
        .await
        .expect("count");
    assert!((1..COUNT_BOUND).contains(&exact));
    let (_, two) = app
        .get_text("/catalog?convention=ambix&order=2", &Browser::default())
        .await;
    assert_eq!(
        count(&two),
        format!("{} recordings", domain::model::thousands(exact))
    );
    // Words with a filter: the words' newest matches sampled, then counted along the walk
    // (every generated description says "microphone").
    let ambix = domain::entities::recordings::Entity::find()
        .filter(domain::entities::recordings::Column::Convention.eq("ambix"))
        .count(&app.db)
        .await
        .expect("count");
    assert!((1..COUNT_BOUND).contains(&ambix));
    let (_, word_and_filter) = app
        .get_text(
            "/catalog?q=microphone&convention=ambix",
            &Browser::default(),
        )
        .await;
    assert_eq!(
        count(&word_and_filter),
        format!("{} recordings", domain::model::thousands(ambix))
    );
    let (_, word_and_length) = app
        .get_text("/catalog?q=microphone&min=0", &Browser::default())
        .await;
    assert_eq!(count(&word_and_length), "1,000+ recordings");
    let one = facets::count_of(&app.db, Kind::Microphone, "TetraMic")
        .await
        .expect("count");
    let (_, mic) = app
        .get_text("/catalog?mic=TetraMic", &Browser::default())
        .await;
    assert_eq!(
        count(&mic),
        format!("{} recordings", domain::model::thousands(one))
    );
}

async fn keyset_links_walk_the_whole_catalog_while_a_recording_is_published(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("walt", Role::Uploader).await;
    let mut all = HashSet::new();
    for n in 0..60 {
        let title = format!("Walk {n:02}");
        // Durations repeat and some are missing; downloads and ratings all tie: the id
        // must break every tie.
        app.recording(NewRecording {
            duration_ms: (n % 7 != 0).then_some(60_000 * i64::from(n % 5)),
            ..sample(&title, uploader)
        })
        .await;
        all.insert(title);
    }
    for sort in ["newest", "downloads", "rating", "longest"] {
        let mut url = format!("/catalog?sort={sort}");
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        while let Some(next) = {
            let (status, html) = app.get_text(&url, &Browser::default()).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            let page = titles(&html);
            assert!(!page.is_empty(), "{url}");
            seen.extend(page.iter().cloned());
            pages.push((url.clone(), page));
            if pages.len() == 1 {
                // Published mid-walk: newest first, so before where the walk is.
                app.recording(sample(&format!("Late {sort}"), uploader))
                    .await;
            }
            link(&html, "next")
        } {
            assert!(next.contains("after="), "next is by key: {next}");
            url = next;
        }
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{sort}: no recording twice");
        assert!(all.is_subset(&unique), "{sort}: none missing");
        // And back: each page's previous link gives the page before it.
        for w in pages.windows(2) {
            let (_, html) = app.get_text(&w[1].0, &Browser::default()).await;
            let prev = link(&html, "prev").expect("a previous page");
            let (_, back) = app.get_text(&prev, &Browser::default()).await;
            let back = titles(&back);
            let earlier: HashSet<_> = w[0].1.iter().collect();
            assert!(
                back.iter()
                    .all(|t| earlier.contains(t) || t.starts_with("Late")),
                "{sort}: prev of {} is {back:?}, not {:?}",
                w[1].0,
                w[0].1
            );
        }
    }
}

async fn a_title_match_ranks_above_a_description_match(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("rita", Role::Uploader).await;
    app.recording(sample("Forest Stream at Dawn", uploader))
        .await;
    // Newer, so only the rank can put it second.
    app.recording(NewRecording {
        description: "Gulls, and behind the dunes a forest.".into(),
        ..sample("Harbour Gulls", uploader)
    })
    .await;
    app.recording(sample("Market Square", uploader)).await;
    let (_, html) = app.get_text("/catalog?q=fores", &Browser::default()).await;
    assert_eq!(titles(&html), ["Forest Stream at Dawn", "Harbour Gulls"]);
    assert!(html.contains("aria-current=\"true\">Best match"));
    let (_, newest) = app
        .get_text("/catalog?q=fores&sort=newest", &Browser::default())
        .await;
    assert_eq!(titles(&newest), ["Harbour Gulls", "Forest Stream at Dawn"]);
}

/// A search sorted otherwise than by its rank (here the longest first) sorts its matches,
/// whatever else the catalog holds, and pages through all of them by number; with a tag it
/// keeps only the matches carrying the tag, and counts them.
async fn a_search_sorted_otherwise_sorts_its_matches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("otto", Role::Uploader).await;
    let mut expected = Vec::new();
    for n in 0..30i64 {
        let tags = if n % 3 == 0 {
            vec!["birds".to_owned()]
        } else {
            Vec::new()
        };
        app.recording(NewRecording {
            duration_ms: Some(60_000 + (n * 7 % 30) * 1_000),
            tags,
            ..sample(&format!("Owl {n:02}"), uploader)
        })
        .await;
        expected.push((
            60_000 + (n * 7 % 30) * 1_000,
            format!("Owl {n:02}"),
            n % 3 == 0,
        ));
    }
    // Longer, but no owls.
    for n in 0..5i64 {
        app.recording(NewRecording {
            duration_ms: Some(900_000 + n),
            ..sample(&format!("Lake {n}"), uploader)
        })
        .await;
    }
    expected.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut url = Some("/catalog?q=owl&sort=longest".to_owned());
    let mut seen = Vec::new();
    while let Some(u) = url {
        let (status, html) = app.get_text(&u, &Browser::default()).await;
        assert_eq!(status, StatusCode::OK, "{u}");
        seen.extend(titles(&html));
        url = link(&html, "next");
    }
    let all: Vec<String> = expected.iter().map(|e| e.1.clone()).collect();
    assert_eq!(seen, all, "the matches, longest first, each once");
    let (_, html) = app
        .get_text("/catalog?q=owl&tag=birds&sort=longest", &Browser::default())
        .await;
    let birds: Vec<String> = expected
        .iter()
        .filter(|e| e.2)
        .map(|e| e.1.clone())
        .collect();
    assert_eq!(titles(&html), birds);
    assert_eq!(count(&html), "10 recordings");
}

/// A tag alone is read in its own date order: its pages, walked on by `after` links and back
/// by `before` links, hold every recording carrying it, newest first, each once.
async fn a_tag_walks_in_its_date_order_both_ways(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("otto", Role::Uploader).await;
    let mut expected = Vec::new();
    for n in 0..60 {
        let tags = if n % 4 == 0 {
            Vec::new()
        } else {
            vec!["owls".to_owned()]
        };
        let tagged = !tags.is_empty();
        app.recording(NewRecording {
            tags,
            ..sample(&format!("Night {n:02}"), uploader)
        })
        .await;
        if tagged {
            expected.insert(0, format!("Night {n:02}"));
        }
    }
    let (mut url, mut pages) = (Some("/catalog?tag=owls".to_owned()), Vec::new());
    while let Some(u) = url {
        let (status, html) = app.get_text(&u, &Browser::default()).await;
        assert_eq!(status, StatusCode::OK, "{u}");
        pages.push((u, titles(&html), link(&html, "prev")));
        url = link(&html, "next");
    }
    let seen: Vec<String> = pages.iter().flat_map(|p| p.1.clone()).collect();
    assert_eq!(seen, expected, "every owl, newest first, once");
    assert_eq!(pages.len(), 2);
    let back = pages[1].2.clone().expect("a way back");
    let (_, html) = app.get_text(&back, &Browser::default()).await;
    assert_eq!(titles(&html), pages[0].1, "back to the first page");
    let (_, tag_page) = app.get_text("/tags/owls", &Browser::default()).await;
    assert_eq!(titles(&tag_page), expected, "the tag page: its newest");
}

/// A ranked search walked page by page:/// A ranked search walked page by page: every title match, newest first, then every other
/// match, each once; counted by the search index, which holds published recordings only —
/// until one is published, and after it is edited.
async fn a_ranked_search_pages_through_both_tiers_and_only_published_recordings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("otto", Role::Uploader).await;
    app.user("edna", Role::Editor).await;
    let editor = app.login("edna").await;
    let mut expected = Vec::new();
    for n in 0..30 {
        app.recording(sample(&format!("Owl {n:02}"), uploader))
            .await;
        expected.insert(0, format!("Owl {n:02}"));
    }
    let mut elsewhere = Vec::new();
    for n in 0..30 {
        app.recording(NewRecording {
            description: "Far off, an owl calls.".into(),
            ..sample(&format!("Night {n:02}"), uploader)
        })
        .await;
        elsewhere.insert(0, format!("Night {n:02}"));
    }
    expected.extend(elsewhere);
    let (_, waiting) = app
        .recording_with_status(sample("Owl Waiting", uploader), Status::Pending)
        .await;
    app.recording(sample("Quiet Lake", uploader)).await;

    let walk = |url: String| {
        let app = &app;
        async move {
            let (mut url, mut seen, mut first) = (Some(url), Vec::new(), None);
            while let Some(u) = url {
                let (status, html) = app.get_text(&u, &Browser::default()).await;
                assert_eq!(status, StatusCode::OK, "{u}");
                first.get_or_insert_with(|| count(&html));
                seen.extend(titles(&html));
                url = link(&html, "next");
            }
            (first.unwrap_or_default(), seen)
        }
    };
    let (total, seen) = walk("/catalog?q=owl".into()).await;
    assert_eq!(total, "60 recordings");
    assert_eq!(
        seen, expected,
        "title matches first, newest first in each tier"
    );
    // A page asked for by number past the title tier starts in the right place.
    let (_, third) = app
        .get_text("/catalog?q=owl&page=3", &Browser::default())
        .await;
    let past_two = 2 * domain::catalog_query::PAGE_SIZE as usize;
    assert_eq!(titles(&third), expected[past_two..]);

    post(
        &app,
        &editor,
        "/moderation",
        "/api/moderate",
        &[("slug", &waiting), ("decision", "publish"), ("note", "")],
    )
    .await;
    let (total, seen) = walk("/catalog?q=owl".into()).await;
    assert_eq!(total, "61 recordings", "published: now in the index");
    assert_eq!(seen.first().map(String::as_str), Some("Owl Waiting"));

    // Renamed, it moves to the other tier; the old title is found no more.
    let page = format!("/recordings/{waiting}");
    post(
        &app,
        &editor,
        &page,
        "/api/describe",
        &[
            ("slug", &waiting),
            ("title", "Heron Waiting"),
            ("description", "An owl, far off."),
            ("location", ""),
            ("licence", "cc-by-4.0"),
            ("microphone", ""),
            ("tags", ""),
        ],
    )
    .await;
    let (_, seen) = walk("/catalog?q=owl".into()).await;
    assert_eq!(seen.len(), 61);
    assert_eq!(seen[30], "Heron Waiting", "first of the other tier");
    let (_, heron) = walk("/catalog?q=heron".into()).await;
    assert_eq!(heron, ["Heron Waiting"]);
}

both_backends!(
    a_ranked_search_pages_through_both_tiers_and_only_published_recordings,
    facet_counts_follow_publish_reject_edit_and_delete,
    counts_are_exact_up_to_the_bound_then_say_so,
    keyset_links_walk_the_whole_catalog_while_a_recording_is_published,
    a_title_match_ranks_above_a_description_match,
    a_search_sorted_otherwise_sorts_its_matches,
    a_tag_walks_in_its_date_order_both_ways,
);
