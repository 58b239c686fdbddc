//! The same rules on every way in (the web form, the token API, the start of a direct
//! upload): who may upload, which licences, and the length caps.

use domain::Role;
use reqwest::StatusCode;
use sea_orm::EntityTrait;

use super::{api_upload, count_recordings, direct, fuma_file, leftovers, make_token, uploader};
use crate::{
    both_backends,
    helpers::{Backend, Browser, TestApp},
};

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

both_backends!(
    a_listener_is_refused_on_every_way_in,
    an_unknown_licence_is_refused_on_every_way_in,
    the_same_length_caps_hold_on_every_way_in,
);
