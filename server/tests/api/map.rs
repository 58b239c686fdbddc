//! The map: `/map` lists the located recordings by place (what a visitor without JavaScript
//! reads) with the catalog's filters; `/map/recordings.geojson` carries the same, shared
//! under the catalog's key; Leaflet is served by the site itself; a located recording's page
//! has its small map.

use domain::{Role, recordings::NewRecording};
use reqwest::StatusCode;
use serde_json::Value;

use crate::{both_backends, helpers::*};

async fn the_map_shows_where_recordings_were_made(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = app.user("marta", Role::Uploader).await;
    let at = |title: &str, place: &str, lat: f64, lon: f64, tags: &[&str]| NewRecording {
        location: place.into(),
        latitude: Some(lat),
        longitude: Some(lon),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..sample(title, marta)
    };
    app.recording(at(
        "Dawn at Białowieża",
        "Białowieża Forest",
        52.7,
        23.85,
        &["birds"],
    ))
    .await;
    app.recording(at(
        "Gulls at Stonehaven",
        "Stonehaven Harbour",
        56.96,
        -2.2,
        &["birds", "water"],
    ))
    .await;
    let (_, bells) = app
        .recording(at("York bells", "York Minster", 53.96, -1.08, &["bells"]))
        .await;
    app.recording(sample("Nowhere in particular", marta)).await;
    let (status, html) = app.get_text("/map", &Browser::default()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("3 recordings."), "only the located ones");
    for place in ["Białowieża Forest", "Stonehaven Harbour", "York Minster"] {
        assert!(
            html.contains(&format!("<dt>{place}</dt>")),
            "{place}: listed by place without JavaScript"
        );
    }
    assert!(!html.contains("Nowhere in particular"));
    assert!(html.contains("data-geojson=\"/map/recordings.geojson\""));
    let (_, birds) = app.get_text("/map?tag=birds", &Browser::default()).await;
    assert!(birds.contains("2 recordings.") && !birds.contains("York bells"));
    assert!(birds.contains("data-geojson=\"/map/recordings.geojson?tag=birds\""));
    // The data, shared like the catalog.
    let res = reqwest::get(app.url("/map/recordings.geojson?tag=birds"))
        .await
        .expect("geojson");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "content-type"), "application/geo+json");
    assert!(header_of(&res, "cache-control").starts_with("public"));
    assert_eq!(header_of(&res, "surrogate-key"), "catalog");
    assert!(!header_of(&res, "etag").is_empty());
    let g: Value = res.json().await.expect("json");
    assert_eq!(g["type"], "FeatureCollection");
    let features = g["features"].as_array().expect("features");
    assert_eq!(features.len(), 2);
    let dawn = features
        .iter()
        .find(|f| f["properties"]["title"] == "Dawn at Białowieża")
        .expect("dawn");
    assert_eq!(
        dawn["geometry"]["coordinates"],
        serde_json::json!([23.85, 52.7]),
        "longitude first"
    );
    assert!(
        dawn["properties"]["url"]
            .as_str()
            .is_some_and(|u| u.contains("/recordings/dawn-at-bia"))
    );
    // A search applies too.
    let g: Value = reqwest::get(app.url("/map/recordings.geojson?q=gulls"))
        .await
        .expect("geojson")
        .json()
        .await
        .expect("json");
    assert_eq!(g["features"].as_array().map(Vec::len), Some(1));
    // Leaflet from the site itself.
    for (path, ct) in [
        ("/vendor/leaflet.js", "text/javascript; charset=utf-8"),
        ("/vendor/leaflet.css", "text/css; charset=utf-8"),
        (
            "/vendor/leaflet.markercluster.js",
            "text/javascript; charset=utf-8",
        ),
        ("/vendor/images/marker-icon.png", "image/png"),
        ("/map.js", "text/javascript; charset=utf-8"),
    ] {
        let res = reqwest::get(app.url(path)).await.expect("asset");
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header_of(&res, "content-type"), ct, "{path}");
    }
    assert_eq!(
        reqwest::get(app.url("/vendor/../Cargo.toml"))
            .await
            .expect("asset")
            .status(),
        StatusCode::NOT_FOUND
    );
    // A located recording's page has its small map.
    let (_, page) = app
        .get_text(&format!("/recordings/{bells}"), &Browser::default())
        .await;
    assert!(page.contains("data-small-map") && page.contains("data-lat=\"53.96\""));
}

/// An uploader sets the place on the describe form — typed, or blurred to about a
/// kilometre — and can take it away again; nonsense is refused and changes nothing.
async fn an_uploader_places_a_recording_and_may_blur_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta_id = app.user("marta", Role::Uploader).await;
    let (id, slug) = app
        .recording_with_status(sample("Garden at night", marta_id), domain::Status::Draft)
        .await;
    let mut marta = app.login("marta").await;
    let page = format!("/recordings/{slug}");
    let describe = async |who: &mut Browser, lat: &str, lon: &str, blur: bool| {
        let token = app.form_token(&page, who).await;
        let mut fields = vec![
            ("csrf", token.as_str()),
            ("slug", slug.as_str()),
            ("title", "Garden at night"),
            ("description", "Crickets."),
            ("location", "My garden"),
            ("licence", ""),
            ("place", "1"),
            ("latitude", lat),
            ("longitude", lon),
        ];
        if blur {
            fields.push(("blur", "on"));
        }
        app.post_form("/api/describe", &page, &fields, who).await
    };
    let row = async || {
        domain::entities::recordings::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .expect("row")
            .expect("there")
    };
    use sea_orm::EntityTrait;
    let res = describe(&mut marta, "51.752123", "-1.257891", true).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let r = row().await;
    assert_eq!(
        (r.latitude, r.longitude),
        (Some(51.75), Some(-1.26)),
        "blurred"
    );
    describe(&mut marta, "51.752123", "-1.257891", false).await;
    let r = row().await;
    assert_eq!(
        (r.latitude, r.longitude),
        (Some(51.752123), Some(-1.257891))
    );
    for (lat, lon) in [("91", "0"), ("10", ""), ("north", "east"), ("NaN", "1")] {
        let res = describe(&mut marta, lat, lon, false).await;
        assert!(redirect_error(&res).is_some(), "{lat} {lon} refused");
    }
    let r = row().await;
    assert_eq!(r.latitude, Some(51.752123), "unchanged by a refusal");
    let (_, html) = app.get_text(&page, &marta).await;
    assert!(html.contains("data-pick-map") && html.contains("value=\"51.752123\""));
    describe(&mut marta, "", "", false).await;
    let r = row().await;
    assert_eq!((r.latitude, r.longitude), (None, None), "taken away");
}

/// The upload form (and the token API, which reads the same words) takes the place too.
async fn an_upload_carries_its_place(backend: Backend) {
    use crate::uploads::{api_upload, fuma_file, make_token, uploader};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let res = app
        .upload(
            &paul,
            &[
                ("title", "Placed by the form"),
                ("latitude", "56.962531"),
                ("longitude", "-2.201234"),
                ("blur", "on"),
            ],
            "a.amb",
            fuma_file(4_800),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let token = make_token(&app, &paul, "laptop").await;
    let res = api_upload(
        &app,
        &token,
        "title=Placed+by+the+API&latitude=52.7&longitude=23.85",
        fuma_file(4_900),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = api_upload(
        &app,
        &token,
        "title=Nowhere&latitude=123&longitude=0",
        fuma_file(5_000),
    )
    .await;
    assert_eq!(res.status().as_u16(), 422, "out of range: refused");
    for (title, lat, lon) in [
        ("Placed by the form", 56.96, -2.2),
        ("Placed by the API", 52.7, 23.85),
    ] {
        let r = domain::entities::recordings::Entity::find()
            .filter(domain::entities::recordings::Column::Title.eq(title))
            .one(&app.db)
            .await
            .expect("row")
            .expect("there");
        assert_eq!((r.latitude, r.longitude), (Some(lat), Some(lon)), "{title}");
    }
}

both_backends!(
    the_map_shows_where_recordings_were_made,
    an_uploader_places_a_recording_and_may_blur_it,
    an_upload_carries_its_place,
);
