//! The app behind the balancer, as the README runs them: visitors keep their own addresses
//! (the balancer adds the peer to `X-Forwarded-For`, the app believes its loopback
//! neighbour), so one visitor's failed logins throttle that visitor alone. Clients connect
//! from different loopback addresses (127.0.0.2, 127.0.0.3), as two machines would.

use std::net::{IpAddr, Ipv4Addr};

use domain::Role;
use reqwest::StatusCode;

use crate::{
    both_backends,
    helpers::{Backend, Browser, PASSWORD, Site, TestApp},
};

/// A balancer in front of `app` on a free port (no trusted proxies of its own: whatever
/// `X-Forwarded-For` a client sends is replaced by the client's address); its address.
async fn balancer_in_front_of(app: &TestApp) -> String {
    let (front, _) = balancer_with(app, "").await;
    front
}

/// [`balancer_in_front_of`] with more of its TOML (`[limits]` …); its address and its
/// admin listener's.
pub async fn balancer_with(app: &TestApp, extra: &str) -> (String, std::net::SocketAddr) {
    let (base, admin, _) = balancer_for(&app.base, extra).await;
    (base, admin)
}

/// A balancer in front of the replica at `upstream_base` (`http://host:port`): its address,
/// its admin listener's, and its live state.
pub async fn balancer_for(
    upstream_base: &str,
    extra: &str,
) -> (
    String,
    std::net::SocketAddr,
    std::sync::Arc<balancer::proxy::Shared>,
) {
    balancer_at(
        "127.0.0.1:0".parse().expect("address"),
        upstream_base,
        extra,
    )
    .await
}

/// [`balancer_for`] listening on `listen`.
pub async fn balancer_at(
    listen: std::net::SocketAddr,
    upstream_base: &str,
    extra: &str,
) -> (
    String,
    std::net::SocketAddr,
    std::sync::Arc<balancer::proxy::Shared>,
) {
    let upstream = upstream_base.trim_start_matches("http://");
    let toml = format!(
        "[pools.app]\nupstreams = [\"{upstream}\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n\n{extra}"
    );
    let any = "127.0.0.1:0".parse().expect("address");
    let settings = balancer::Settings::from_toml(&toml, listen, any).expect("balancer settings");
    let front = balancer::Balancer::bind(settings)
        .await
        .expect("balancer starts");
    let base = format!("http://{}", front.local_addr());
    let admin = front.admin_addr();
    let shared = front.shared();
    tokio::spawn(front.run_until(std::future::pending()));
    (base, admin, shared)
}

/// A visitor on its own machine: requests to the balancer from `127.0.0.N`.
pub fn visitor(front: &str, n: u8) -> Site {
    let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, n));
    Site::new(
        front.to_string(),
        reqwest::Client::builder().local_address(from),
    )
}

async fn try_login(site: &Site, username: &str, password: &str) -> StatusCode {
    let mut browser = Browser::default();
    let token = site.form_token("/login", &mut browser).await;
    let fields = [
        ("csrf", token.as_str()),
        ("username", username),
        ("password", password),
        ("next", "/"),
    ];
    // A forged address in the request: the balancer replaces it with the real one.
    site.post_script("/api/login", &fields, &browser, "203.0.113.66")
        .await
        .status()
}

async fn one_visitors_failed_logins_throttle_that_visitor_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.user("olga", Role::Listener).await;
    app.user("piotr", Role::Listener).await;
    let front = balancer_in_front_of(&app).await;
    let (guesser, owner) = (visitor(&front, 2), visitor(&front, 3));

    // 10 wrong passwords for olga from one address: that address is refused for olga …
    for n in 0..10 {
        let status = try_login(&guesser, "olga", "not her password").await;
        let want = if n < 5 {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(status, want, "guess {n}");
    }
    // … and olga, from her own address, logs in.
    assert_eq!(try_login(&owner, "olga", PASSWORD).await, StatusCode::OK);

    // 25 failed logins from one address (many names) stop that address …
    for n in 0..25 {
        let status = try_login(&guesser, &format!("someone{n}"), "guess").await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
    }
    assert_eq!(
        try_login(&guesser, "piotr", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // … and nobody else.
    assert_eq!(try_login(&owner, "piotr", PASSWORD).await, StatusCode::OK);
}

/// Every HTML page — rendered by Leptos, a refusal, a plain 404 — carries the security
/// headers, and a page's inline scripts all carry the nonce its policy names.
async fn every_page_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("quentin", Role::Uploader).await;
    let (_, slug) = app
        .recording(crate::helpers::sample("Headers", uploader))
        .await;
    let mut pages: Vec<(String, reqwest::Response)> = Vec::new();
    for path in [
        "/".to_string(),
        "/catalog?q=head".to_string(),
        format!("/recordings/{slug}"),
        "/login".to_string(),
        "/register".to_string(),
        "/no/such/page".to_string(),
        format!("/recordings/{slug}/download?format=nonsense"),
    ] {
        let res = app.get(&path, &Browser::default()).await;
        pages.push((path, res));
    }
    let refused = reqwest::Client::new()
        .post(app.url("/api/logout"))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .expect("POST");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    pages.push(("a refused form".into(), refused));
    for (what, res) in pages {
        let h = |n: &str| crate::helpers::header_of(&res, n);
        assert!(h("content-type").starts_with("text/html"), "{what}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(h("x-frame-options"), "DENY", "{what}");
        assert_eq!(
            h("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{what}"
        );
        assert!(
            h("strict-transport-security").is_empty(),
            "{what}: http here, no HSTS"
        );
        let csp = h("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("object-src 'none'"),
            "{what}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .map(str::to_owned);
        let body = res.text().await.unwrap_or_default();
        for script in body.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or_default();
            if tag.contains("src=") {
                continue;
            }
            let want = nonce.as_deref().map(|n| format!("nonce=\"{n}\""));
            assert!(
                want.as_deref().is_some_and(|w| tag.contains(w)),
                "{what}: an inline script without the policy's nonce: <script{tag}> ({csp})"
            );
        }
    }
}

/// Through the balancer as the README runs it: a write purges the cached pages the app
/// names for it (a comment: the recording's page alone; a rating: softly, the lists that
/// show its card), and an anonymous log-out — answered with a redirect to `/` — purges nothing.
async fn a_write_purges_what_the_app_names_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("vera", Role::Uploader).await;
    app.user("wim", Role::Listener).await;
    let (_, slug) = app
        .recording(crate::helpers::sample("Rain on Tin", uploader))
        .await;
    let front = balancer_in_front_of(&app).await;
    let site = visitor(&front, 2);
    let page = format!("/recordings/{slug}");
    let cached = |path: String| {
        let site = &site;
        async move {
            let res = site.get(&path, &Browser::default()).await;
            let x = crate::helpers::header_of(&res, "x-cache");
            (x, res.text().await.unwrap_or_default())
        }
    };
    for p in ["/".to_string(), page.clone()] {
        cached(p.clone()).await;
        assert_eq!(cached(p.clone()).await.0, "HIT", "{p}");
    }

    let mut anonymous = Browser::default();
    let token = site.form_token("/login", &mut anonymous).await;
    let out = site
        .post_form("/api/logout", "/login", &[("csrf", &token)], &mut anonymous)
        .await;
    assert!(out.status().is_redirection(), "{}", out.status());
    assert_eq!(crate::helpers::location(&out), "/");
    assert_eq!(
        cached("/".into()).await.0,
        "HIT",
        "a log-out changed nothing"
    );

    let mut listener = site.login("wim").await;
    let token = site.form_token(&page, &mut listener).await;
    let fields = [
        ("csrf", token.as_str()),
        ("slug", slug.as_str()),
        ("title", "Tin roofs"),
        ("body", "The best rain."),
    ];
    let posted = site
        .post_form("/api/comment", &page, &fields, &mut listener)
        .await;
    assert!(posted.status().is_redirection(), "{}", posted.status());
    let (x, html) = cached(page.clone()).await;
    assert_eq!(x, "MISS", "the recording's page was purged");
    assert!(html.contains("Tin roofs"), "and shows the comment");
    // Cards show no comments, so no list was touched.
    assert_eq!(
        cached("/".into()).await.0,
        "HIT",
        "a comment leaves the lists alone"
    );

    // A rating changes the card: the lists showing it are purged softly. The next visitor
    // gets the stale copy while one request renders it anew, and the ones after get the
    // new page.
    let token = site.form_token(&page, &mut listener).await;
    let fields = [
        ("csrf", token.as_str()),
        ("slug", slug.as_str()),
        ("stars", "4"),
    ];
    let rated = site
        .post_form("/api/rate", &page, &fields, &mut listener)
        .await;
    assert!(rated.status().is_redirection(), "{}", rated.status());
    assert_eq!(
        cached("/".into()).await.0,
        "STALE",
        "the home page was marked stale"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (x, _) = cached("/".into()).await;
        if x == "HIT" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never renewed: {x}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

both_backends!(
    one_visitors_failed_logins_throttle_that_visitor_alone,
    every_page_carries_the_security_headers,
    a_write_purges_what_the_app_names_and_nothing_else,
);
