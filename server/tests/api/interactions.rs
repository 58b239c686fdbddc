use domain::Role;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{both_backends, helpers::*};
use domain::entities::comments;

/// Posts the comment form of the recording `slug` as `browser`.
async fn comment(
    app: &TestApp,
    browser: &mut Browser,
    token: &str,
    slug: &str,
    title: &str,
    body: &str,
) -> reqwest::Response {
    let page = format!("/recordings/{slug}");
    let fields = [
        ("csrf", token),
        ("slug", slug),
        ("title", title),
        ("body", body),
    ];
    app.post_form("/api/comment", &page, &fields, browser).await
}

async fn comments_are_for_logged_in_listeners_and_escaped(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("sam", Role::Uploader).await;
    let (_, slug) = app.recording(sample("Night Frogs", uploader)).await;
    let page = format!("/recordings/{slug}");

    // Anonymous: the page offers a log-in link, and a forged post is refused.
    let mut anon = Browser::default();
    let (_, html) = app.get_text(&page, &anon).await;
    assert!(html.contains("to comment.") && !html.contains("name=\"body\""));
    let token = app.form_token("/login", &mut anon).await;
    let res = comment(&app, &mut anon, &token, &slug, "", "hi").await;
    assert!(
        redirect_error(&res)
            .unwrap_or_default()
            .contains("Please log in")
    );
    assert_eq!(
        comments::Entity::find().count(&app.db).await.unwrap_or(9),
        0
    );

    let mut tom = app.register("tom").await;
    let token = app.form_token(&page, &mut tom).await;
    let hostile_title = "<script>alert('t')</script>";
    let hostile_body = "<img src=x onerror=alert(1)> & \"quotes\"";
    let res = comment(&app, &mut tom, &token, &slug, hostile_title, hostile_body).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), format!("/recordings/{slug}#comments"));

    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(html.contains("Comments (1)"));
    assert!(
        html.contains("&lt;script&gt;alert('t')&lt;/script&gt;"),
        "the title is escaped"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; \"quotes\""),
        "the body is escaped"
    );
    assert!(!html.contains("<script>alert") && !html.contains("<img src=x"));

    for (title, body, expect) in [
        ("", "   ", "write something"),
        (&"t".repeat(121)[..], "ok", "at most 120"),
    ] {
        let res = comment(&app, &mut tom, &token, &slug, title, body).await;
        assert!(
            redirect_error(&res).unwrap_or_default().contains(expect),
            "{expect}"
        );
    }
    let res = comment(&app, &mut tom, &token, "no-such-recording", "", "x").await;
    assert!(
        redirect_error(&res)
            .unwrap_or_default()
            .contains("could not find")
    );
    assert_eq!(
        comments::Entity::find().count(&app.db).await.unwrap_or(0),
        1
    );
}

async fn a_listener_rates_once_and_may_change_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut uma = app.register("uma").await;
    let uma_id = app.user_id("uma").await;
    let uploader = app.user("vic", Role::Uploader).await;
    let (_, slug) = app.recording(sample("Brass Band", uploader)).await;
    let (_, own) = app.recording(sample("Uma's Own", uma_id)).await;
    let page = format!("/recordings/{slug}");
    let token = app.form_token(&page, &mut uma).await;
    let rate = |stars: &'static str, slug: String| {
        let app = &app;
        let token = token.clone();
        let mut browser = uma.clone();
        async move {
            let res = app
                .post_form(
                    "/api/rate",
                    &format!("/recordings/{slug}"),
                    &[("csrf", &token), ("slug", &slug), ("stars", stars)],
                    &mut browser,
                )
                .await;
            (res.status(), redirect_error(&res))
        }
    };

    assert_eq!(rate("4", slug.clone()).await, (StatusCode::FOUND, None));
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(
        html.contains("4.0 of 5 from 1 rating<"),
        "one rating of four"
    );

    assert_eq!(rate("2", slug.clone()).await.1, None);
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(
        html.contains("2.0 of 5 from 1 rating<"),
        "changed, still one rating"
    );

    let mut wendy = app.register("wendy").await;
    let wtoken = app.form_token(&page, &mut wendy).await;
    app.post_form(
        "/api/rate",
        &page,
        &[("csrf", &wtoken), ("slug", &slug), ("stars", "5")],
        &mut wendy,
    )
    .await;
    let (_, html) = app.get_text(&page, &Browser::default()).await;
    assert!(html.contains("3.5 of 5 from 2 ratings"));

    for bad in ["0", "6", "x"] {
        let (_, err) = rate(bad, slug.clone()).await;
        assert!(err.unwrap_or_default().contains("from 1 to 5"), "{bad}");
    }
    let (_, err) = rate("5", own.clone()).await;
    assert!(err.unwrap_or_default().contains("your own"));
    let (_, html) = app.get_text(&format!("/recordings/{own}"), &uma).await;
    assert!(
        !html.contains("name=\"stars\""),
        "no rating form on your own recording"
    );
}

both_backends!(
    comments_are_for_logged_in_listeners_and_escaped,
    a_listener_rates_once_and_may_change_it
);
