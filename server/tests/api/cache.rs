use domain::Role;
use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

async fn anonymous_pages_are_public_and_set_no_cookie(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("xena", Role::Uploader).await;
    let (id, slug) = app.recording(sample("Forest Stream", uploader)).await;
    app.recording(domain::recordings::NewRecording {
        tags: vec!["water".into()],
        ..sample("Brook", uploader)
    })
    .await;
    for (path, key) in [
        ("/".to_string(), "catalog".to_string()),
        // Lists name the cards they show; a recording's own page, the recording.
        ("/catalog?q=forest".to_string(), format!("card:{id}")),
        (format!("/recordings/{slug}"), format!("recording:{id}")),
        ("/users/xena".to_string(), format!("user:{uploader}")),
        ("/tags/water".to_string(), "tag:water".to_string()),
    ] {
        let res = app.get(&path, &Browser::default()).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let cc = header_of(&res, "cache-control");
        assert!(
            cc.contains("public") && cc.contains("s-maxage=60"),
            "{path}: {cc}"
        );
        assert!(
            header_of(&res, "surrogate-key")
                .split(' ')
                .any(|k| k == key),
            "{path} names {key}"
        );
        assert!(
            res.headers().get("set-cookie").is_none(),
            "{path} sets no cookie"
        );
    }
}

async fn pages_with_a_session_or_a_form_are_private(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("yuri", Role::Uploader).await;
    let (_, slug) = app.recording(sample("Bells", uploader)).await;
    let me = app.register("zoe").await;
    for path in [
        "/".to_string(),
        "/catalog".to_string(),
        format!("/recordings/{slug}"),
        "/account".to_string(),
    ] {
        let res = app.get(&path, &me).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header_of(&res, "cache-control"),
            "private, no-store",
            "{path}"
        );
        assert!(res.headers().get("surrogate-key").is_none(), "{path}");
    }
    for path in ["/login", "/register"] {
        let res = app.get(path, &Browser::default()).await;
        assert_eq!(
            header_of(&res, "cache-control"),
            "private, no-store",
            "{path} carries a per-visitor form"
        );
    }
    let res = app.get("/nowhere", &Browser::default()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(header_of(&res, "cache-control"), "private, no-store");
}

async fn health_endpoints_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(
        app.get("/healthz", &Browser::default()).await.status(),
        StatusCode::OK
    );
    let res = app.get("/readyz", &Browser::default()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap_or_default(), "ready");
    let res = app.get("/style/main.css", &Browser::default()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(header_of(&res, "content-type").starts_with("text/css"));
}

/// The database goes away under a running replica: pages fail with the 500 page, which
/// names no database detail, logged-in requests get 503, and `/readyz` tells the balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_gives_pages_that_leak_nothing() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let me = app.register("lost").await;
    assert_eq!(
        app.get("/readyz", &Browser::default()).await.status(),
        StatusCode::OK
    );
    app.lose_database().await;

    let (status, html) = app.get_text("/catalog", &Browser::default()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(html.contains("Something went wrong on our side."));
    for secret in [
        "ambisonia_test",
        "does not exist",
        "sqlx",
        "postgres",
        "SELECT",
    ] {
        assert!(
            !html.contains(secret),
            "the 500 page must not show {secret}"
        );
    }
    let res = app.get("/catalog", &Browser::default()).await;
    assert_eq!(
        header_of(&res, "cache-control"),
        "private, no-store",
        "an error is never shared"
    );

    assert_eq!(
        app.get("/account", &me).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        app.get("/readyz", &Browser::default()).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        app.get("/healthz", &Browser::default()).await.status(),
        StatusCode::OK,
        "the process itself is alive"
    );
}

both_backends!(
    anonymous_pages_are_public_and_set_no_cookie,
    pages_with_a_session_or_a_form_are_private,
    health_endpoints_answer
);
