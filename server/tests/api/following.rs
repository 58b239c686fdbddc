//! Following uploaders and tags: the Follow forms, `/following` (newest first, only what is
//! followed), a profile's follower count, and the private feed — its secret shown once,
//! private to caches, a 404 once revoked or replaced.

use domain::{Role, recordings::NewRecording};
use reqwest::StatusCode;

use crate::{both_backends, bus::within_seconds, helpers::*};

async fn follows_show_what_is_followed_and_a_private_feed_of_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = app.user("marta", Role::Uploader).await;
    let olga = app.user("olga", Role::Uploader).await;
    app.recording(sample("Marta's harbour", marta)).await;
    app.recording(sample("Olga's city", olga)).await;
    let mut lena = app.register("lena").await;
    let (_, profile) = app.get_text("/users/marta", &lena).await;
    assert!(profile.contains(">Follow<") && profile.contains("0 followers"));
    let res = post_on(
        &app,
        &mut lena,
        "/users/marta",
        "/api/follow",
        &[("kind", "user"), ("name", "marta")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), "/users/marta");
    let (_, profile) = app.get_text("/users/marta", &lena).await;
    assert!(profile.contains("Following (stop)"), "the button says so");
    within_seconds("the follower counted", async || {
        app.get_text("/users/marta", &Browser::default())
            .await
            .1
            .contains("1 follower<")
    })
    .await;
    // A tag too; then a new recording with it, by someone else.
    app.recording(NewRecording {
        tags: vec!["forest".into()],
        ..sample("Olga's forest", olga)
    })
    .await;
    let res = post_on(
        &app,
        &mut lena,
        "/tags/forest",
        "/api/follow",
        &[("kind", "tag"), ("name", "forest")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let (_, html) = app.get_text("/following", &lena).await;
    assert_eq!(
        titles(&html),
        ["Olga's forest", "Marta's harbour"],
        "newest first, only what is followed"
    );
    // Nobody else's business.
    assert_ne!(
        app.get("/following", &Browser::default()).await.status(),
        StatusCode::OK
    );
    // The private feed: shown once, private, and gone when revoked or replaced.
    let res = post_on(&app, &mut lena, "/following", "/api/following-feed", &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let res = app.get("/following", &lena).await;
    // A browser takes the cookie that clears the secret.
    lena.absorb(&res);
    let html = res.text().await.unwrap_or_default();
    let url = html
        .split("data-testid=\"following-feed-url\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the feed's address, once")
        .to_owned();
    assert!(
        url.starts_with("/following/fol_") && url.ends_with(".rss"),
        "{url}"
    );
    let (_, again) = app.get_text("/following", &lena).await;
    assert!(!again.contains("following-feed-url"), "shown once");
    let res = app.get(&url, &Browser::default()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "cache-control"), "private, no-store");
    // (Its RSS carries the recordings whose podcast MP3 is made; these have no sound.)
    let atom = url.replace(".rss", ".atom");
    let res = app.get(&atom, &Browser::default()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header_of(&res, "cache-control"), "private, no-store");
    let atom_text = res.text().await.unwrap_or_default();
    assert!(
        atom_text.contains("Olga&apos;s forest") && atom_text.contains("Marta&apos;s harbour"),
        "{atom_text}"
    );
    assert!(!atom_text.contains("Olga&apos;s city"));
    let res = post_on(&app, &mut lena, "/following", "/api/following-feed", &[]).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        app.get(&url, &Browser::default()).await.status(),
        StatusCode::NOT_FOUND,
        "replaced"
    );
    let res = post_on(
        &app,
        &mut lena,
        "/following",
        "/api/revoke-following-feed",
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    for bad in [
        "/following/fol_nothing.rss",
        "/following/anything.atom",
        "/following/x.txt",
    ] {
        assert_eq!(
            app.get(bad, &Browser::default()).await.status(),
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
    // Unfollowing takes them off the list.
    post_on(
        &app,
        &mut lena,
        "/users/marta",
        "/api/follow",
        &[("kind", "user"), ("name", "marta")],
    )
    .await;
    let (_, html) = app.get_text("/following", &lena).await;
    assert_eq!(titles(&html), ["Olga's forest"]);
    // Following oneself is refused.
    let mut marta_b = app.login("marta").await;
    let res = post_on(
        &app,
        &mut marta_b,
        "/users/marta",
        "/api/follow",
        &[("kind", "user"), ("name", "marta")],
    )
    .await;
    assert!(redirect_error(&res).is_some());
}

both_backends!(follows_show_what_is_followed_and_a_private_feed_of_it);
