use domain::{Convention, Role, Status, recordings::NewRecording};
use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

pub async fn seed(app: &TestApp) -> i32 {
    let uploader = app.user("olga", Role::Uploader).await;
    let facts = |title: &str, convention, order: i32, mic: &str, minutes: i64, tags: &[&str]| {
        NewRecording {
            convention: Some(convention),
            order: Some(order),
            microphone: mic.to_string(),
            duration_ms: Some(minutes * 60_000),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..sample(title, uploader)
        }
    };
    app.recording(facts(
        "Dawn Chorus at Wytham",
        Convention::Fuma,
        1,
        "Soundfield SPS200",
        12,
        &["birds", "morning"],
    ))
    .await;
    app.recording(facts(
        "Harbour at Night",
        Convention::Ambix,
        1,
        "TetraMic",
        3,
        &["water"],
    ))
    .await;
    app.recording(NewRecording {
        description: "Gulls and rigging before dawn.".into(),
        ..facts(
            "Quayside",
            Convention::Ambix,
            2,
            "Core Sound OctoMic",
            25,
            &["water", "birds"],
        )
    })
    .await;
    app.recording(NewRecording {
        location: "Église Saint-Eustache".into(),
        ..facts(
            "Organ Improvisation",
            Convention::Uhj,
            1,
            "Soundfield ST450",
            8,
            &["organ"],
        )
    })
    .await;
    app.recording_with_status(
        facts(
            "Secret Dawn Draft",
            Convention::Fuma,
            1,
            "TetraMic",
            5,
            &["birds"],
        ),
        Status::Pending,
    )
    .await;
    uploader
}

async fn search_finds_words_in_titles_descriptions_places_and_tags(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app).await;
    let search = |q: &'static str| {
        let app = &app;
        async move {
            titles(
                &app.get_text(&format!("/catalog?q={q}"), &Browser::default())
                    .await
                    .1,
            )
        }
    };
    let mut dawn = search("dawn").await;
    dawn.sort();
    assert_eq!(
        dawn,
        ["Dawn Chorus at Wytham", "Quayside"],
        "title and description; never the unpublished draft"
    );
    assert_eq!(
        search("harb").await,
        ["Harbour at Night"],
        "words match as prefixes"
    );
    assert_eq!(
        search("eustache").await,
        ["Organ Improvisation"],
        "the location is searched"
    );
    let mut water = search("water").await;
    water.sort();
    assert_eq!(water, ["Harbour at Night", "Quayside"], "tags are searched");
    assert_eq!(
        search("dawn+birds+gulls").await,
        ["Quayside"],
        "every word must match"
    );
    assert!(
        search("%22%29+OR+1%3D1+--").await.is_empty(),
        "query syntax is only text"
    );
    let (_, html) = app.get_text("/catalog?q=zzzz", &Browser::default()).await;
    assert_eq!(count(&html), "No recordings match.");
}

async fn filters_narrow_the_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app).await;
    let list = |query: &'static str| {
        let app = &app;
        async move {
            let mut t = titles(
                &app.get_text(&format!("/catalog?{query}"), &Browser::default())
                    .await
                    .1,
            );
            t.sort();
            t
        }
    };
    assert_eq!(list("convention=fuma").await, ["Dawn Chorus at Wytham"]);
    assert_eq!(
        list("convention=ambix").await,
        ["Harbour at Night", "Quayside"]
    );
    assert_eq!(list("order=2").await, ["Quayside"]);
    assert_eq!(list("mic=TetraMic").await, ["Harbour at Night"]);
    assert_eq!(
        list("tag=birds").await,
        ["Dawn Chorus at Wytham", "Quayside"]
    );
    assert_eq!(
        list("min=5&max=12").await,
        ["Dawn Chorus at Wytham", "Organ Improvisation"]
    );
    assert_eq!(
        list("tag=water&convention=ambix&min=10").await,
        ["Quayside"]
    );
    assert_eq!(list("licence=cc0-1.0").await, Vec::<String>::new());
    assert_eq!(
        list("convention=nonsense").await.len(),
        4,
        "an unknown value is ignored, not an error"
    );
}

async fn sorts_order_the_catalog(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("pat", Role::Uploader).await;
    for (title, minutes, downloads, rating) in [
        ("Alpha", 3, 10, 2.0),
        ("Bravo", 30, 5, 4.5),
        ("Charlie", 9, 50, 3.0),
    ] {
        let (id, _) = app
            .recording(NewRecording {
                duration_ms: Some(minutes * 60_000),
                ..sample(title, uploader)
            })
            .await;
        use domain::entities::recordings;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        recordings::Entity::update_many()
            .col_expr(
                recordings::Column::DownloadCount,
                Expr::value(downloads as i64),
            )
            .col_expr(recordings::Column::RatingAvg, Expr::value(rating))
            .col_expr(recordings::Column::RatingCount, Expr::value(1))
            .filter(recordings::Column::Id.eq(id))
            .exec(&app.db)
            .await
            .expect("update");
    }
    let order = |sort: &'static str| {
        let app = &app;
        async move {
            titles(
                &app.get_text(&format!("/catalog?sort={sort}"), &Browser::default())
                    .await
                    .1,
            )
        }
    };
    assert_eq!(order("newest").await, ["Charlie", "Bravo", "Alpha"]);
    assert_eq!(order("downloads").await, ["Charlie", "Alpha", "Bravo"]);
    assert_eq!(order("rating").await, ["Bravo", "Charlie", "Alpha"]);
    assert_eq!(order("longest").await, ["Bravo", "Charlie", "Alpha"]);
}

async fn pages_have_stable_urls_and_never_overlap(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("quinn", Role::Uploader).await;
    for n in 0..30 {
        app.recording(sample(&format!("Take {n:02}"), uploader))
            .await;
    }
    let (_, first) = app.get_text("/catalog", &Browser::default()).await;
    let (_, second) = app.get_text("/catalog?page=2", &Browser::default()).await;
    let (a, b) = (titles(&first), titles(&second));
    assert_eq!((a.len(), b.len()), (24, 6));
    assert_eq!(count(&first), "30 recordings");
    let mut all: Vec<_> = a.iter().chain(&b).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 30, "no recording on two pages, none missing");
    assert!(
        first.contains("href=\"/catalog?page=2\""),
        "the pager links to page 2"
    );
    assert!(
        second.contains("rel=\"prev\" href=\"/catalog\""),
        "page 1 has the bare URL"
    );
    let (status, past_end) = app.get_text("/catalog?page=9", &Browser::default()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(titles(&past_end).is_empty());
}

async fn pages_show_recordings_profiles_and_tags(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    seed(&app).await;
    let anon = Browser::default();
    let (status, html) = app.get_text("/", &anon).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Latest recordings") && html.contains("Quayside"));

    let (status, html) = app.get_text("/recordings/quayside", &anon).await;
    assert_eq!(status, StatusCode::OK);
    for fact in [
        "Quayside",
        "AmbiX",
        "2nd order",
        "Core Sound OctoMic",
        "CC BY 4.0",
        "25:00",
        "48.0 kHz 24-bit",
        "data-testid=\"no-media\"",
    ] {
        assert!(html.contains(fact), "the recording page shows {fact}");
    }

    let (status, html) = app.get_text("/users/olga", &anon).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        titles(&html).len(),
        4,
        "a profile lists published recordings only"
    );

    let (status, html) = app.get_text("/tags/birds", &anon).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(titles(&html).len(), 2);

    for missing in [
        "/recordings/secret-dawn-draft",
        "/recordings/nope",
        "/users/nobody",
        "/tags/nothing",
        "/no/such/page",
        "/recordings/..%2Fetc",
    ] {
        let (status, html) = app.get_text(missing, &anon).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert!(html.contains("data-testid=\"error-page\""));
    }
}

async fn an_uploader_sees_their_own_draft(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let browser = app.register("rita").await;
    let rita = app.user_id("rita").await;
    let (_, slug) = app
        .recording_with_status(sample("Unfinished", rita), Status::Draft)
        .await;
    assert_eq!(
        app.get(&format!("/recordings/{slug}"), &browser)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/recordings/{slug}"), &Browser::default())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

both_backends!(
    search_finds_words_in_titles_descriptions_places_and_tags,
    filters_narrow_the_catalog,
    sorts_order_the_catalog,
    pages_have_stable_urls_and_never_overlap,
    pages_show_recordings_profiles_and_tags,
    an_uploader_sees_their_own_draft,
);
