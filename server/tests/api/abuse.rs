//! What a crowd or an attacker does to a replica, done on purpose: a storm of sign-ups, one
//! account writing as fast as it can, log-outs and failed logins that would each write,
//! ratings that change nothing, page numbers deep enough to make the database count.

use reqwest::StatusCode;
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::{both_backends, helpers::*};
use domain::entities::{comments, login_failures, users};

/// The invalidation log's head: how many writes changed something a page shows.
async fn logged(app: &TestApp) -> u64 {
    domain::write::log::head(&app.db).await.expect("log head")
}

/// 100 sign-ups at once, each from its own address, while /readyz is asked every few
/// milliseconds: /readyz never fails, what the password gate cannot take at once is told
/// the site is busy (503 with Retry-After) before anything is written, and every account
/// answered as made is whole (it logs in) while no refused one exists.
async fn a_sign_up_storm_is_told_busy_and_leaves_no_half_made_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let before = users::Entity::find().count(&app.db).await.expect("count");
    let mut forms = Vec::new();
    for i in 0..100 {
        let mut browser = Browser::default();
        let token = app.form_token("/register", &mut browser).await;
        forms.push((i, browser, token));
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let probe = async {
        let mut answers = Vec::new();
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let res = app.get("/readyz", &Browser::default()).await;
            answers.push(res.status());
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        answers
    };
    let storm = async {
        let sent = forms.iter().map(|(i, browser, token)| {
            let app = &app;
            async move {
                let name = format!("storm{i}");
                let email = format!("{name}@example.org");
                let fields = [
                    ("csrf", token.as_str()),
                    ("username", name.as_str()),
                    ("email", email.as_str()),
                    ("password", PASSWORD),
                    ("next", "/"),
                ];
                let address = format!("10.9.{}.{}", i / 200, i % 200 + 1);
                let res = app
                    .post_script("/api/register", &fields, browser, &address)
                    .await;
                let (status, wait) = (res.status(), header_of(&res, "retry-after"));
                (name, status, wait)
            }
        });
        let answers = futures::future::join_all(sent).await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        answers
    };
    let (ready, answers) = tokio::join!(probe, storm);
    assert!(
        !ready.is_empty() && ready.iter().all(|s| *s == StatusCode::OK),
        "{ready:?}"
    );
    let made: Vec<&String> = answers
        .iter()
        .filter(|(_, s, _)| s.is_success())
        .map(|(n, _, _)| n)
        .collect();
    let busy = answers
        .iter()
        .filter(|(_, s, wait)| *s == StatusCode::SERVICE_UNAVAILABLE && !wait.is_empty())
        .count();
    assert_eq!(
        made.len() + busy,
        100,
        "made or busy, nothing else: {answers:?}"
    );
    assert!(
        busy > 0,
        "more than the gate takes at once were told to wait"
    );
    let after = users::Entity::find().count(&app.db).await.expect("count");
    assert_eq!(
        after - before,
        made.len() as u64,
        "every account made was answered as made"
    );
    for (name, status, _) in &answers {
        let exists = domain::accounts::by_username(&app.db, name).await.is_ok();
        assert_eq!(exists, status.is_success(), "{name}: {status}");
    }
    // A made account is whole: it logs in.
    app.login(made[0]).await;
}

/// One account posting comments as fast as it can is slowed down past its allowance: a
/// script gets 429 with Retry-After, a browser the form again with the reason, and nothing
/// past the allowance is stored.
async fn one_account_writing_as_fast_as_it_can_is_slowed_down(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("ivan", domain::Role::Uploader).await;
    let (_, slug) = app.recording(sample("Quiet Lake", uploader)).await;
    let page = format!("/recordings/{slug}");
    let mut browser = app.register("speedy").await;
    let token = app.form_token(&page, &mut browser).await;
    let allowance = domain::limits::Act::Comment
        .bounds()
        .iter()
        .find(|b| b.who == domain::limits::Who::Account)
        .map_or(0, |b| b.max);
    let mut statuses = Vec::new();
    for n in 0..=allowance {
        let body = format!("comment {n}");
        let fields = [
            ("csrf", token.as_str()),
            ("slug", slug.as_str()),
            ("title", ""),
            ("body", body.as_str()),
        ];
        let res = app
            .post_script("/api/comment", &fields, &browser, "10.8.0.1")
            .await;
        statuses.push((res.status(), header_of(&res, "retry-after")));
    }
    let (last, wait) = statuses.pop().expect("answers");
    assert!(statuses.iter().all(|(s, _)| s.is_success()), "{statuses:?}");
    assert_eq!((last, wait.as_str()), (StatusCode::TOO_MANY_REQUESTS, "60"));
    let stored = comments::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    assert_eq!(stored, u64::from(allowance));
    // A browser is shown the form again, saying why.
    let res = app
        .post_form(
            "/api/comment",
            &page,
            &[
                ("csrf", &token),
                ("slug", &slug),
                ("title", ""),
                ("body", "one more"),
            ],
            &mut browser,
        )
        .await;
    assert!(
        redirect_error(&res).is_some_and(|e| e.contains("faster than this site allows")),
        "{:?}",
        redirect_error(&res)
    );
}

/// Writes that change nothing write nothing: the same stars again, a log-out with a
/// made-up session, failed logins once the address is throttled.
async fn writes_that_change_nothing_write_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("ivan", domain::Role::Uploader).await;
    let (_, slug) = app.recording(sample("Quiet Lake", uploader)).await;
    let page = format!("/recordings/{slug}");
    let mut rater = app.register("rita").await;
    let token = app.form_token(&page, &mut rater).await;
    let rate = |stars: &'static str| {
        let fields = [
            ("csrf", token.clone()),
            ("slug", slug.clone()),
            ("stars", stars.into()),
        ];
        let rater = rater.clone();
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app
                .post_script("/api/rate", &fields, &rater, "10.8.0.2")
                .await;
            assert!(res.status().is_success(), "{}", res.status());
            header_of(&res, "x-purge-keys")
        }
    };
    let first = rate("4").await;
    assert!(
        first.contains("~card:"),
        "a new rating soft-purges its card: {first}"
    );
    let head = logged(&app).await;
    assert_eq!(rate("4").await, "", "the same stars again name nothing");
    assert_eq!(logged(&app).await, head, "and log nothing");

    // A log-out with a session cookie nobody was given.
    let mut anonymous = Browser {
        cookies: vec![("ambisonia_session".into(), "ab".repeat(32))],
    };
    let token = app.form_token("/login", &mut anonymous).await;
    let res = app
        .post_form("/api/logout", "/login", &[("csrf", &token)], &mut anonymous)
        .await;
    assert!(res.status().is_redirection());
    assert_eq!(logged(&app).await, head, "a made-up log-out writes nothing");

    // Failed logins past the throttle are refused with a read: no more rows.
    let mut guesser = Browser::default();
    let token = app.form_token("/login", &mut guesser).await;
    let guess = |n: usize| {
        let password = format!("wrong-{n}");
        let (token, guesser, app) = (token.clone(), guesser.clone(), &app);
        async move {
            let fields = [
                ("csrf", token.as_str()),
                ("username", "rita"),
                ("password", password.as_str()),
                ("next", "/"),
            ];
            app.post_script("/api/login", &fields, &guesser, "10.8.0.3")
                .await
                .status()
        }
    };
    let mut statuses = Vec::new();
    for n in 0..12 {
        statuses.push(guess(n).await);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let rows = login_failures::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    for n in 12..20 {
        assert_eq!(guess(n).await, StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(
        login_failures::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        rows,
        "throttled attempts are not kept"
    );
}

/// `page=N` past the numbered pages is read as the first page (only `after` links walk
/// further), so no deep OFFSET is ever asked of the database.
async fn page_numbers_past_the_pager_are_the_first_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("ivan", domain::Role::Uploader).await;
    for n in 0..3 {
        app.recording(sample(&format!("Lake {n}"), uploader)).await;
    }
    let (_, first) = app.get_text("/catalog", &Browser::default()).await;
    for deep in ["21", "100000", "99999999999999999999"] {
        let (status, html) = app
            .get_text(&format!("/catalog?page={deep}"), &Browser::default())
            .await;
        assert_eq!(status, StatusCode::OK, "page={deep}");
        assert_eq!(titles(&html), titles(&first), "page={deep}");
    }
}

both_backends!(
    a_sign_up_storm_is_told_busy_and_leaves_no_half_made_account,
    one_account_writing_as_fast_as_it_can_is_slowed_down,
    writes_that_change_nothing_write_nothing,
    page_numbers_past_the_pager_are_the_first_page,
);
