use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

async fn register_login_logout(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = app.register("ada").await;

    let (status, html) = app.get_text("/account", &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-testid=\"account-username\">ada<"));

    let token = app.form_token("/account", &mut browser).await;
    let res = app
        .post_form("/api/logout", "/account", &[("csrf", &token)], &mut browser)
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/");
    assert!(
        browser.cookie("ambisonia_session").is_none(),
        "logout clears the cookie"
    );
    let (status, _) = app.get_text("/account", &browser).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let token = app.form_token("/login", &mut browser).await;
    let res = app
        .post_password_form(
            "/api/login",
            "/login",
            &[
                ("csrf", &token),
                ("username", "ADA"),
                ("password", PASSWORD),
                ("next", "/account"),
            ],
            &mut browser,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/account");
    let (status, html) = app.get_text("/account", &browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("ada@example.org"));
}

async fn a_stolen_logout_cookie_is_useless(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = app.register("bob").await;
    let copy = browser.clone();
    let token = app.form_token("/account", &mut browser).await;
    app.post_form("/api/logout", "/account", &[("csrf", &token)], &mut browser)
        .await;
    let res = app.get("/account", &copy).await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the session is gone from the database"
    );
    assert!(
        header_of(&res, "set-cookie").contains("ambisonia_session=;"),
        "a dead cookie is cleared"
    );
}

async fn wrong_password_is_refused_with_a_message(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("carol", domain::Role::Listener).await;
    let mut browser = Browser::default();
    let token = app.form_token("/login", &mut browser).await;
    let res = app
        .post_password_form(
            "/api/login",
            "/login?next=/x",
            &[
                ("csrf", &token),
                ("username", "carol"),
                ("password", "not the password"),
                ("next", "/"),
            ],
            &mut browser,
        )
        .await;
    assert_eq!(
        res.status(),
        StatusCode::FOUND,
        "a browser is sent back to the form"
    );
    assert!(
        location(&res).contains("/login?next=%2Fx&__path=%2Fapi%2Flogin&__err=")
            || location(&res).contains("__path=%2Fapi%2Flogin")
    );
    assert!(
        redirect_error(&res)
            .unwrap_or_default()
            .contains("Wrong username or password")
    );
    assert!(browser.cookie("ambisonia_session").is_none());

    // The form page shows the message it was sent back with.
    let back = location(&res);
    let path = back.trim_start_matches(&app.base);
    let (_, html) = app.get_text(path, &browser).await;
    assert!(
        html.contains("Wrong username or password."),
        "the login page shows the error"
    );

    // Only errors this site signed are shown: the same link without its signature, with
    // another's, or with the error moved to another form shows nothing.
    let (unsigned, signature) = path.rsplit_once("&__sig=").expect("a signed error");
    let forged_sig = format!("{unsigned}&__sig={}", "0".repeat(signature.len()));
    let other_form = path
        .replace("__path=%2Fapi%2Flogin", "__path=%2Fapi%2Fregister")
        .replace("/login?", "/register?");
    for link in [unsigned.to_string(), forged_sig, other_form] {
        let (_, html) = app.get_text(&link, &browser).await;
        assert!(
            !html.contains("Wrong username or password."),
            "{link} shows an error the site did not sign for it"
        );
    }
}

async fn registration_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("dora").await;
    for (username, email, password, expect) in [
        ("dora", "other@example.org", PASSWORD, "taken"),
        ("x", "x@example.org", PASSWORD, "3 to 32"),
        ("eve", "not-an-email", PASSWORD, "email address"),
        ("eve", "eve@example.org", "short", "at least 10"),
        ("eve", "dora@example.org", PASSWORD, "already registered"),
    ] {
        let mut browser = Browser::default();
        let token = app.form_token("/register", &mut browser).await;
        let res = app
            .post_password_form(
                "/api/register",
                "/register",
                &[
                    ("csrf", &token),
                    ("username", username),
                    ("email", email),
                    ("password", password),
                    ("next", "/"),
                ],
                &mut browser,
            )
            .await;
        let err = redirect_error(&res).unwrap_or_default();
        assert!(
            err.contains(expect),
            "{username}/{email}: expected '{expect}' in {err}"
        );
        assert!(browser.cookie("ambisonia_session").is_none());
    }
}

async fn logins_are_throttled_per_account_and_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("frank", domain::Role::Listener).await;
    let mut browser = Browser::default();
    let token = app.form_token("/login", &mut browser).await;
    let login = |user: &'static str, password: &'static str, ip: &'static str| {
        let fields = [
            ("csrf", token.clone()),
            ("username", user.to_string()),
            ("password", password.to_string()),
            ("next", "/".to_string()),
        ];
        let browser = browser.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post_script("/api/login", &fields, &browser, ip)
                .await
                .status()
        }
    };
    for _ in 0..5 {
        assert_eq!(
            login("frank", "wrong password!", "10.0.0.1").await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        login("frank", PASSWORD, "10.0.0.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "from the guessing address the right password does not help any more"
    );
    assert_eq!(
        login("frank", PASSWORD, "10.0.0.2").await,
        StatusCode::OK,
        "the owner on another address still logs in"
    );

    // Guesses sent all at once are each counted before any password is checked.
    app.user("ivan", domain::Role::Listener).await;
    let statuses =
        futures::future::join_all((0..12).map(|_| login("ivan", "wrong password!", "10.0.0.20")))
            .await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert!(
        checked <= 5
            && statuses
                .iter()
                .all(|s| *s == StatusCode::FORBIDDEN || *s == StatusCode::TOO_MANY_REQUESTS),
        "at most five parallel guesses reach the password check: {statuses:?}"
    );

    app.user("grace", domain::Role::Listener).await;
    for n in 0..20 {
        let name: &'static str = Box::leak(format!("nobody{n}").into_boxed_str());
        assert_eq!(
            login(name, "wrong password!", "10.0.0.9").await,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(
        login("grace", PASSWORD, "10.0.0.9").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is throttled"
    );
    assert_eq!(
        login("grace", PASSWORD, "10.0.0.10").await,
        StatusCode::OK,
        "another address is not"
    );
}

async fn changing_the_password_ends_other_sessions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut here = app.register("heidi").await;
    let mut elsewhere = Browser::default();
    let token = app.form_token("/login", &mut elsewhere).await;
    app.post_password_form(
        "/api/login",
        "/login",
        &[
            ("csrf", &token),
            ("username", "heidi"),
            ("password", PASSWORD),
            ("next", "/"),
        ],
        &mut elsewhere,
    )
    .await;
    assert_eq!(
        app.get("/account", &elsewhere).await.status(),
        StatusCode::OK
    );

    let res = app
        .change_password(&mut here, PASSWORD, "an even longer password")
        .await;
    assert_eq!(location(&res), "/account?saved=password");
    assert_eq!(app.get("/account", &here).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/account", &elsewhere).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let res = app
        .change_password(&mut here, "wrong", "yet another password")
        .await;
    assert!(
        redirect_error(&res)
            .unwrap_or_default()
            .contains("current password is not right")
    );
}

/// `next` may only name a path on this site: a tab or a line break that browsers would drop
/// (making `/\t/evil.example` the protocol-relative `//evil.example`) or that cannot go in a
/// header sends the visitor home instead, on the login page's form and after logging in.
async fn login_redirects_only_to_paths_on_this_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.register("eve").await;
    let mut browser = Browser::default();
    let (status, html) = app
        .get_text("/login?next=%2F%09%2Fevil.example", &browser)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"name="next" value="/""#),
        "the form carries home"
    );
    for next in [
        "/\t/evil.example",
        "/\r\n/evil.example",
        "//evil.example",
        "/account",
    ] {
        let token = app.form_token("/login", &mut browser).await;
        let res = app
            .post_password_form(
                "/api/login",
                "/login",
                &[
                    ("csrf", &token),
                    ("username", "eve"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
                &mut browser,
            )
            .await;
        assert_eq!(res.status(), StatusCode::FOUND, "{next:?}");
        let expected = if next == "/account" { "/account" } else { "/" };
        assert_eq!(location(&res), expected, "{next:?}");
    }
}

both_backends!(
    login_redirects_only_to_paths_on_this_site,
    register_login_logout,
    a_stolen_logout_cookie_is_useless,
    wrong_password_is_refused_with_a_message,
    registration_rules,
    logins_are_throttled_per_account_and_per_address,
    changing_the_password_ends_other_sessions,
);
