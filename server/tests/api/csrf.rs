use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{both_backends, helpers::*};
use domain::entities::{comments, users};

async fn posts_without_the_token_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("ivan", domain::Role::Uploader).await;
    let (_, slug) = app.recording(sample("Quiet Lake", uploader)).await;
    let mut browser = app.register("judy").await;
    let good = app
        .form_token(&format!("/recordings/{slug}"), &mut browser)
        .await;

    for (what, fields) in [
        (
            "no token",
            vec![("slug", slug.as_str()), ("title", ""), ("body", "hello")],
        ),
        (
            "wrong token",
            vec![
                ("csrf", "0".repeat(64).leak() as &str),
                ("slug", slug.as_str()),
                ("title", ""),
                ("body", "hello"),
            ],
        ),
    ] {
        let res = app
            .post_form(
                "/api/comment",
                &format!("/recordings/{slug}"),
                &fields,
                &mut browser,
            )
            .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{what}");
    }
    assert_eq!(
        comments::Entity::find().count(&app.db).await.unwrap_or(99),
        0
    );

    // The right token from another site is refused too.
    let res = reqwest::Client::new()
        .post(app.url("/api/comment"))
        .header("origin", "https://evil.example")
        .header("cookie", browser.header())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&[
            ("csrf", &good),
            ("slug", &slug),
            ("title", ""),
            ("body", "hi"),
        ]))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        comments::Entity::find().count(&app.db).await.unwrap_or(99),
        0
    );

    // And the same post with the token and from this site goes through.
    let res = app
        .post_form(
            "/api/comment",
            &format!("/recordings/{slug}"),
            &[
                ("csrf", &good),
                ("slug", &slug),
                ("title", ""),
                ("body", "hello"),
            ],
            &mut browser,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        comments::Entity::find().count(&app.db).await.unwrap_or(0),
        1
    );
}

async fn anonymous_forms_need_their_cookie_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fields = [
        ("username", "mallory"),
        ("email", "m@example.org"),
        ("password", PASSWORD),
        ("next", "/"),
    ];
    let mut stranger = Browser::default();
    let res = app
        .post_form("/api/register", "/register", &fields, &mut stranger)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no token at all");

    // A token copied from somebody else's form does not match this browser's cookie.
    let mut other = Browser::default();
    let token = app.form_token("/register", &mut other).await;
    let mut with_token = vec![("csrf", token.as_str())];
    with_token.extend(fields);
    let mut fresh = Browser::default();
    let _ = app.form_token("/register", &mut fresh).await;
    let res = app
        .post_form("/api/register", "/register", &with_token, &mut fresh)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A value a script chose for both the cookie and the field was never handed out.
    let made_up = "ab".repeat(32);
    let mut with_made_up = vec![("csrf", made_up.as_str())];
    with_made_up.extend(fields);
    let res = reqwest::Client::new()
        .post(app.url("/api/register"))
        .header("cookie", format!("ambisonia_csrf={made_up}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&with_made_up))
        .send()
        .await
        .expect("post");
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a made-up double submit"
    );
    assert_eq!(users::Entity::find().count(&app.db).await.unwrap_or(99), 0);
}

both_backends!(
    posts_without_the_token_are_refused_and_change_nothing,
    anonymous_forms_need_their_cookie_token
);
