//! Personal tokens made on the account page, and uploading with one through
//! `POST /api/v1/recordings`.

use domain::Role;
use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use super::{api_upload, count_recordings, fuma_file, leftovers, make_token, uploader};
use crate::{
    both_backends,
    helpers::{Backend, PASSWORD, TestApp, header_of, location},
};

async fn a_token_needs_the_password_and_a_new_password_revokes_every_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut paul = uploader(&app, "paul", Role::Uploader).await;
    let count_tokens = || async {
        domain::entities::api_tokens::Entity::find()
            .count(&app.db)
            .await
            .expect("count")
    };
    for password in ["", "not the password"] {
        let token = app.form_token("/account", &mut paul).await;
        let res = app
            .post_form(
                "/api/create-token",
                "/account",
                &[("csrf", &token), ("name", "laptop"), ("password", password)],
                &mut paul,
            )
            .await;
        assert!(
            crate::helpers::redirect_error(&res).is_some(),
            "refused without the password ({password:?})"
        );
    }
    assert_eq!(count_tokens().await, 0, "no token was made");
    let first = make_token(&app, &paul, "laptop").await;
    let second = make_token(&app, &paul, "studio").await;
    assert_eq!(
        api_upload(&app, &first, "title=Before", fuma_file(4800))
            .await
            .status(),
        StatusCode::CREATED
    );

    let res = app
        .change_password(&mut paul, PASSWORD, "another long password")
        .await;
    assert_eq!(location(&res), "/account?saved=password");
    let (_, page) = app.get_text("/account?saved=password", &paul).await;
    assert!(page.contains("API tokens are revoked"), "the page says so");
    for token in [first, second] {
        assert_eq!(
            api_upload(&app, &token, "title=After", fuma_file(4801))
                .await
                .status(),
            StatusCode::UNAUTHORIZED,
            "a token made before the new password no longer uploads"
        );
    }
}

async fn the_uploader_api_takes_a_personal_token_and_refuses_a_revoked_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let paul = uploader(&app, "paul", Role::Uploader).await;
    let token = make_token(&app, &paul, "studio laptop").await;
    // Shown once: the next visit to the account page lists it without the secret.
    let html = app
        .get("/account", &paul)
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(!html.contains(&token) && html.contains("studio laptop"));

    let res = api_upload(
        &app,
        &token,
        "title=Tram%20Depot&location=Lisbon",
        fuma_file(4800),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: serde_json::Value = res.json().await.expect("JSON");
    assert_eq!(
        (body["slug"].as_str(), body["status"].as_str()),
        (Some("tram-depot"), Some("pending"))
    );

    // The terminal Uploader, as a person would run it.
    let dir = std::env::temp_dir().join(format!("ambisonia-cli-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("pier.amb");
    std::fs::write(&file, fuma_file(9600)).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["upload", "--title", "Pier at Night"])
        .arg(&file)
        .env("AMBISONIA_URL", &app.base)
        .env("AMBISONIA_API_TOKEN", &token)
        .output()
        .expect("server upload runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("/recordings/pier-at-night (waiting for an editor)"),
        "{stdout}"
    );
    assert!(stderr.contains("100 %"), "a progress line: {stderr}");
    let bad = dir.join("notes.amb");
    std::fs::write(&bad, "not audio").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["upload", "--title", "Notes"])
        .arg(&bad)
        .env("AMBISONIA_URL", &app.base)
        .env("AMBISONIA_API_TOKEN", &token)
        .output()
        .expect("server upload runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WAVE file"));
    let _ = std::fs::remove_dir_all(&dir);

    // Refusals: no token, a wrong one, a listener's, a bad file.
    let res = api_upload(&app, "", "title=X", fuma_file(480)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&res, "www-authenticate"), "Bearer");
    assert_eq!(
        api_upload(&app, "amb_0000", "title=X", fuma_file(480))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let lena = uploader(&app, "lena", Role::Listener).await;
    let lenas = make_token(&app, &lena, "phone").await;
    assert_eq!(
        api_upload(&app, &lenas, "title=X", fuma_file(480))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let res = api_upload(
        &app,
        &token,
        "title=X",
        b"RIFF\x10\x00\x00\x00WAVEjunk".to_vec(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .is_some_and(|e| e.starts_with("The file:"))
    );
    assert_eq!((count_recordings(&app).await, leftovers(&app).1), (2, 0));

    // Revoked: refused at once.
    let mut b = paul.clone();
    let csrf = app.form_token("/account", &mut b).await;
    let html = app
        .get("/account", &b)
        .await
        .text()
        .await
        .unwrap_or_default();
    let id = html
        .split("name=\"id\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("token id")
        .to_owned();
    let res = app
        .post_form(
            "/api/revoke-token",
            "/account",
            &[("csrf", &csrf), ("id", &id)],
            &mut b,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        api_upload(&app, &token, "title=Late", fuma_file(2400))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(count_recordings(&app).await, 2);
}

both_backends!(
    the_uploader_api_takes_a_personal_token_and_refuses_a_revoked_one,
    a_token_needs_the_password_and_a_new_password_revokes_every_token,
);
