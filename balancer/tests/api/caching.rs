//! The anonymous page cache, seen from outside: what is stored, what never is, what a
//! person with a session always gets fresh, and how many requests reach the origin.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use super::{Origin, Reply, TestBalancer, eventually, header, one_pool, tally};

/// A page numbered by how many times the origin made it, cacheable for `ttl` seconds.
fn counting(cc: &'static str) -> impl Fn(&super::Seen) -> Reply + Send + Sync + 'static {
    let n = Arc::new(AtomicUsize::new(0));
    move |_| Reply::ok(format!("page {}", n.fetch_add(1, SeqCst) + 1)).with("cache-control", cc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miss_then_hit_then_stale_while_one_request_revalidates() {
    let origin = Origin::spawn(counting("public, s-maxage=1, stale-while-revalidate=30")).await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;

    let first = lb.get("/catalog?b=2&a=1").await;
    assert_eq!(header(&first, "x-cache"), "MISS");
    assert_eq!(first.text().await.unwrap_or_default(), "page 1");
    let second = lb.get("/catalog?a=1&b=2").await;
    assert_eq!(
        header(&second, "x-cache"),
        "HIT",
        "the sorted query is the same page"
    );
    assert!(header(&second, "age").parse::<u64>().is_ok());
    assert_eq!(second.text().await.unwrap_or_default(), "page 1");
    assert_eq!(origin.hits(), 1);

    lb.clock.advance(Duration::from_millis(1100));
    let stale = lb.get("/catalog?a=1&b=2").await;
    assert_eq!(header(&stale, "x-cache"), "STALE");
    assert_eq!(
        stale.text().await.unwrap_or_default(),
        "page 1",
        "grace serves the old page at once"
    );
    eventually(
        "the background revalidation reached the origin",
        Duration::from_secs(5),
        || async { origin.hits() == 2 },
    )
    .await;
    eventually(
        "the revalidated page is served",
        Duration::from_secs(5),
        || async {
            let r = lb.get("/catalog?a=1&b=2").await;
            header(&r, "x-cache") == "HIT" && r.text().await.unwrap_or_default() == "page 2"
        },
    )
    .await;
    assert_eq!(
        origin.hits(),
        2,
        "one revalidation, however many stale hits"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_is_served_while_every_upstream_is_down_then_not_beyond_its_window() {
    let origin = Origin::spawn(counting(
        "public, max-age=1, stale-while-revalidate=0, stale-if-error=2",
    ))
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    assert_eq!(header(&lb.get("/").await, "x-cache"), "MISS");
    origin.kill();
    lb.clock.advance(Duration::from_millis(1100));
    let r = lb.get("/").await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-cache"), "STALE");
    assert_eq!(r.text().await.unwrap_or_default(), "page 1");
    lb.clock.advance(Duration::from_millis(2100));
    let r = lb.get("/").await;
    assert!(
        r.status().is_server_error(),
        "past stale-if-error the outage shows: {}",
        r.status()
    );
    let body = r.text().await.unwrap_or_default();
    assert!(
        !body.contains("127.0.0.1") && !body.contains(&origin.addr.port().to_string()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_responses_are_never_stored() {
    let n = Arc::new(AtomicUsize::new(0));
    let origin = Origin::spawn(move |s| {
        let i = n.fetch_add(1, SeqCst);
        match s.path.as_str() {
            "/cookie" => Reply::ok(format!("c{i}"))
                .with("cache-control", "public, s-maxage=60")
                .with("set-cookie", "a=b"),
            "/private" => Reply::ok(format!("p{i}")).with("cache-control", "private, max-age=60"),
            "/no-store" => Reply::ok(format!("n{i}")).with("cache-control", "no-store"),
            _ => Reply::ok(format!("u{i}")),
        }
    })
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    for path in ["/cookie", "/private", "/no-store", "/unlabelled"] {
        let before = origin.hits();
        for _ in 0..3 {
            let r = lb.get(path).await;
            assert_eq!(header(&r, "x-cache"), "MISS", "{path}");
        }
        assert_eq!(
            origin.hits(),
            before + 3,
            "{path} reached the origin every time"
        );
    }
    let r = lb.get("/cookie").await;
    assert_eq!(
        header(&r, "set-cookie"),
        "a=b",
        "the cookie still reaches its owner"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_or_authorization_is_never_answered_from_the_cache() {
    let origin = Origin::spawn(counting("public, s-maxage=60")).await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    lb.get("/recordings/dawn").await;
    assert_eq!(header(&lb.get("/recordings/dawn").await, "x-cache"), "HIT");

    let with_session = lb
        .http
        .get(lb.url("/recordings/dawn"))
        .header("cookie", "theme=dark; ambisonia_session=secret")
        .send()
        .await
        .expect("answer");
    assert_eq!(header(&with_session, "x-cache"), "BYPASS");
    assert_eq!(with_session.text().await.unwrap_or_default(), "page 2");
    let with_auth = lb
        .http
        .get(lb.url("/recordings/dawn"))
        .header("authorization", "Bearer t")
        .send()
        .await
        .expect("answer");
    assert_eq!(header(&with_auth, "x-cache"), "BYPASS");
    assert_eq!(origin.hits(), 3);
    // …and what they got was not stored for the next anonymous visitor.
    assert_eq!(
        lb.get("/recordings/dawn")
            .await
            .text()
            .await
            .unwrap_or_default(),
        "page 1"
    );

    let post = lb
        .http
        .post(lb.url("/recordings/dawn"))
        .body("x")
        .send()
        .await
        .expect("answer");
    assert_eq!(header(&post, "x-cache"), "PASS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vary_keeps_one_variant_per_request_header_value() {
    let origin = Origin::spawn(|s| {
        let lang = s
            .headers
            .get("accept-language")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        Reply::ok(lang)
            .with("cache-control", "public, s-maxage=60")
            .with("vary", "Accept-Language")
    })
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    let get = |lang: &'static str| {
        let req = lb.http.get(lb.url("/")).header("accept-language", lang);
        async move {
            let r = req.send().await.expect("answer");
            let x = header(&r, "x-cache").to_owned();
            (x, r.text().await.unwrap_or_default())
        }
    };
    assert_eq!(get("fr").await, ("MISS".into(), "fr".into()));
    assert_eq!(get("en").await, ("MISS".into(), "en".into()));
    assert_eq!(get("fr").await, ("HIT".into(), "fr".into()));
    assert_eq!(get("en").await, ("HIT".into(), "en".into()));
    assert_eq!(origin.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_for_a_cold_page_reach_the_origin_once() {
    let origin = Origin::spawn(|_| {
        Reply::ok("x".repeat(20_000))
            .with("cache-control", "public, s-maxage=60")
            .after(Duration::from_millis(300))
    })
    .await;
    // A thousand visitors, here all on one address: no per-address connection cap.
    let toml = format!(
        "{}\n[limits]\nmax_connections_per_client = 0\n",
        one_pool(&[&origin], "")
    );
    let lb = Arc::new(TestBalancer::start(&toml).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let lb = Arc::clone(&lb);
        tasks.spawn(async move {
            let r = lb.get("/catalog").await;
            let ok = r.status() == 200;
            let x = header(&r, "x-cache").to_owned();
            (
                ok && r.bytes().await.map(|b| b.len()).unwrap_or(0) == 20_000,
                x,
            )
        });
    }
    let results = tasks.join_all().await;
    assert!(
        results.iter().all(|(ok, _)| *ok),
        "every request got the whole page"
    );
    let kinds = tally(results.into_iter().map(|(_, x)| x));
    assert_eq!(origin.hits(), 1, "coalesced: {kinds:?}");
    assert_eq!(kinds.get("MISS"), Some(&1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_by_url_and_by_surrogate_key_needs_the_token() {
    let origin = Origin::spawn(|s| {
        let key = if s.path.starts_with("/recordings/") {
            "recording:1 catalog"
        } else {
            "catalog"
        };
        Reply::ok(s.path.clone())
            .with("cache-control", "public, s-maxage=60")
            .with("surrogate-key", key)
    })
    .await;
    let mut settings = super::settings(&one_pool(&[&origin], ""));
    settings.purge_token = balancer::token::BearerToken::new("purge-secret".into());
    let lb = TestBalancer::with(settings).await;
    for p in ["/recordings/1", "/catalog", "/tags/birds"] {
        let r = lb.get(p).await;
        assert_eq!(
            header(&r, "surrogate-key"),
            "",
            "keys are for the cache, not for clients"
        );
    }
    let purge = |path: &str, token: &str, keys: Option<&str>| {
        let mut req = lb.http.request(
            reqwest::Method::from_bytes(b"PURGE").expect("method"),
            lb.url(path),
        );
        req = req.header("authorization", format!("Bearer {token}"));
        if let Some(k) = keys {
            req = req.header("surrogate-key", k);
        }
        async move { req.send().await.expect("answer") }
    };
    assert_eq!(purge("/catalog", "wrong", None).await.status(), 403);
    assert_eq!(header(&lb.get("/catalog").await, "x-cache"), "HIT");

    let r = purge("/catalog", "purge-secret", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap_or_default().trim(), "{\"purged\":1}");
    assert_eq!(header(&lb.get("/catalog").await, "x-cache"), "MISS");
    assert_eq!(header(&lb.get("/recordings/1").await, "x-cache"), "HIT");

    let r = purge("/", "purge-secret", Some("recording:1")).await;
    assert_eq!(r.text().await.unwrap_or_default().trim(), "{\"purged\":1}");
    assert_eq!(header(&lb.get("/recordings/1").await, "x-cache"), "MISS");
    assert_eq!(header(&lb.get("/tags/birds").await, "x-cache"), "HIT");
    let r = purge("/", "purge-secret", Some("catalog")).await;
    assert_eq!(r.text().await.unwrap_or_default().trim(), "{\"purged\":3}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_conditional_requests_are_answered_from_the_cache() {
    let origin = Origin::spawn(|_| {
        Reply::ok("hello")
            .with("cache-control", "public, s-maxage=60")
            .with("etag", "\"v1\"")
            .with("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT")
    })
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    let head = lb.http.head(lb.url("/r")).send().await.expect("answer");
    assert_eq!(header(&head, "x-cache"), "MISS");
    assert_eq!(header(&head, "content-length"), "5");
    assert_eq!(
        origin.seen()[0].method,
        "GET",
        "a HEAD miss fetches the whole object to store"
    );
    let inm = lb
        .http
        .get(lb.url("/r"))
        .header("if-none-match", "\"v1\"")
        .send()
        .await
        .expect("answer");
    assert_eq!(inm.status(), 304);
    assert_eq!(header(&inm, "x-cache"), "HIT");
    let ims = lb
        .http
        .get(lb.url("/r"))
        .header("if-modified-since", "Fri, 02 Jan 2026 00:00:00 GMT")
        .send()
        .await
        .expect("answer");
    assert_eq!(ims.status(), 304);
    let changed = lb
        .http
        .get(lb.url("/r"))
        .header("if-none-match", "\"v0\"")
        .send()
        .await
        .expect("answer");
    assert_eq!(changed.status(), 200);
    assert_eq!(origin.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_bound_holds_under_more_pages_than_fit() {
    let origin = Origin::spawn(|s| {
        Reply::ok(format!("{}{}", s.path, "x".repeat(50_000)))
            .with("cache-control", "public, s-maxage=60")
    })
    .await;
    let mut settings = super::settings(&one_pool(&[&origin], ""));
    settings.cache.size_bytes = 1024 * 1024;
    let lb = TestBalancer::with(settings).await;
    for i in 0..100 {
        assert_eq!(lb.get(&format!("/recordings/{i}")).await.status(), 200);
    }
    let metrics = lb.metrics().await;
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    let bytes = value("balancer_cache_bytes ");
    assert!(
        bytes <= 1024 * 1024,
        "{bytes} bytes cached over a 1 MiB budget"
    );
    assert!(
        bytes > 512 * 1024,
        "the budget is used, not wasted: {bytes}"
    );
    assert!(value("balancer_cache_evictions_total ") >= 70);
    // The most recent pages are the ones kept.
    assert_eq!(header(&lb.get("/recordings/99").await, "x-cache"), "HIT");
    assert_eq!(header(&lb.get("/recordings/0").await, "x-cache"), "MISS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_write_drops_its_own_url_and_what_the_app_names_and_nothing_else() {
    let n = Arc::new(AtomicUsize::new(0));
    let origin = Origin::spawn(move |s| {
        let i = n.fetch_add(1, SeqCst);
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/recordings/dawn/comments") => Reply::ok("")
                .status(303)
                .with("location", "/recordings/dawn")
                .with("x-purge-keys", "recording:1 user:7"),
            // An anonymous log-out changes nothing cached, whatever it redirects to.
            ("POST", "/api/logout") => Reply::ok("").status(303).with("location", "/"),
            ("POST", _) => Reply::ok("refused").status(403),
            (_, "/recordings/dawn") => Reply::ok(format!("dawn #{i}"))
                .with("cache-control", "public, s-maxage=60")
                .with("surrogate-key", "recording:1 user:7"),
            (_, "/users/ada") => Reply::ok(format!("ada #{i}"))
                .with("cache-control", "public, s-maxage=60")
                .with("surrogate-key", "user:7"),
            _ => Reply::ok(format!("{} #{i}", s.path))
                .with("cache-control", "public, s-maxage=60")
                .with("surrogate-key", "catalog"),
        }
    })
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    let pages = [
        "/",
        "/recordings/dawn",
        "/recordings/dawn/comments",
        "/users/ada",
        "/catalog",
    ];
    for p in pages {
        lb.get(p).await;
        assert_eq!(header(&lb.get(p).await, "x-cache"), "HIT", "{p}");
    }
    let post = |path: &'static str| {
        let lb = &lb;
        async move {
            lb.http
                .post(lb.url(path))
                .body("x")
                .send()
                .await
                .expect("answer")
        }
    };
    assert_eq!(post("/catalog").await.status(), 403);
    assert_eq!(post("/api/logout").await.status(), 303);
    for p in pages {
        assert_eq!(
            header(&lb.get(p).await, "x-cache"),
            "HIT",
            "{p}: a refused write, or one that names nothing, changes nothing"
        );
    }

    let posted = post("/recordings/dawn/comments").await;
    assert_eq!(posted.status(), 303);
    assert_eq!(header(&posted, "x-purge-keys"), "", "kept from the client");
    for (p, want) in [
        ("/recordings/dawn/comments", "MISS"), // its own URL
        ("/recordings/dawn", "MISS"),          // tagged recording:1
        ("/users/ada", "MISS"),                // tagged user:7
        ("/catalog", "HIT"),
        ("/", "HIT"),
    ] {
        assert_eq!(header(&lb.get(p).await, "x-cache"), want, "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_too_big_to_store_are_still_served_whole() {
    let origin = Origin::spawn(|s| {
        let size = if s.path == "/huge" { 80_000 } else { 60_000 };
        Reply::ok("x".repeat(size)).with("cache-control", "public, s-maxage=60")
    })
    .await;
    let mut settings = super::settings(&one_pool(&[&origin], ""));
    // /big fits the object limit but not half the budget; /huge is over the object limit.
    settings.cache.size_bytes = 100_000;
    settings.cache.max_object_bytes = 70_000;
    settings.cache.hit_for_miss = Duration::from_secs(10);
    let lb = TestBalancer::with(settings).await;
    for (path, size) in [("/big", 60_000), ("/huge", 80_000)] {
        for _ in 0..2 {
            let r = lb.get(path).await;
            assert_eq!(header(&r, "x-cache"), "MISS", "{path}");
            assert_eq!(
                r.bytes().await.map(|b| b.len()).unwrap_or(0),
                size,
                "{path}"
            );
        }
    }
    assert_eq!(origin.hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revalidation_asks_conditionally_and_a_304_refreshes_the_stored_page() {
    let origin = Origin::spawn(|s| {
        let matches =
            s.headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"v1\"");
        let reply = if matches {
            Reply::ok("").status(304)
        } else {
            Reply::ok("the page")
        };
        reply
            .with(
                "cache-control",
                "public, s-maxage=1, stale-while-revalidate=30",
            )
            .with("etag", "\"v1\"")
    })
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    assert_eq!(header(&lb.get("/").await, "x-cache"), "MISS");
    lb.clock.advance(Duration::from_millis(1100));
    let stale = lb.get("/").await;
    assert_eq!(header(&stale, "x-cache"), "STALE");
    eventually(
        "the conditional revalidation reached the origin",
        Duration::from_secs(5),
        || async { origin.hits() == 2 },
    )
    .await;
    let asked = &origin.seen()[1];
    assert_eq!(
        asked
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok()),
        Some("\"v1\"")
    );
    eventually(
        "the refreshed page is fresh again",
        Duration::from_secs(5),
        || async {
            let r = lb.get("/").await;
            header(&r, "x-cache") == "HIT" && r.text().await.unwrap_or_default() == "the page"
        },
    )
    .await;
    assert_eq!(origin.hits(), 2);
}

/// RFC 9111 §5.2.2.2: a stale response that said `must-revalidate` (with a positive
/// `max-age`) is revalidated — a conditional request — before it is used again; the 304
/// refreshes it, and the client gets the stored page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_must_revalidate_page_is_revalidated_conditionally_before_reuse() {
    let origin = Origin::spawn(|s| {
        let matches =
            s.headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("\"v1\"");
        let reply = if matches {
            Reply::ok("").status(304)
        } else {
            Reply::ok("the page")
        };
        reply
            .with("cache-control", "max-age=1, must-revalidate")
            .with("etag", "\"v1\"")
    })
    .await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    assert_eq!(header(&lb.get("/").await, "x-cache"), "MISS");
    lb.clock.advance(Duration::from_millis(1100));
    let again = lb.get("/").await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.text().await.unwrap_or_default(), "the page");
    assert_eq!(origin.hits(), 2, "asked the origin before reuse");
    let asked = &origin.seen()[1];
    assert_eq!(
        asked
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok()),
        Some("\"v1\""),
        "conditionally"
    );
    let fresh = lb.get("/").await;
    assert_eq!(header(&fresh, "x-cache"), "HIT", "the 304 refreshed it");
    assert_eq!(origin.hits(), 2);
}

/// RFC 9111 §3: an interim (1xx) response is never stored. An origin that sends `103 Early
/// Hints` before its page: the page is answered and stored, and the next request is a hit
/// on it. (The 103 itself is not passed on: hyper's server side cannot send one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interim_response_is_never_stored_the_final_one_is() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let pages = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&pages);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut have = 0;
                loop {
                    let Ok(n) = conn.read(&mut buf[have..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    let text = String::from_utf8_lossy(&buf[..have]).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let answer = if text.starts_with("GET /readyz") {
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned()
                    } else {
                        counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
                         HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n\
                         Content-Length: 8\r\n\r\nthe page"
                            .to_owned()
                    };
                    if conn.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                    buf.drain(..end + 4);
                    have -= end + 4;
                }
            });
        }
    });
    let toml = format!(
        "[pools.app]\nupstreams = [\"{addr}\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n"
    );
    let lb = TestBalancer::start(&toml).await;
    let first = lb.get("/").await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-cache"), "MISS");
    assert_eq!(first.text().await.unwrap_or_default(), "the page");
    let second = lb.get("/").await;
    assert_eq!(
        (second.status().as_u16(), header(&second, "x-cache")),
        (200, "HIT")
    );
    assert_eq!(second.text().await.unwrap_or_default(), "the page");
    assert_eq!(pages.load(std::sync::atomic::Ordering::Relaxed), 1);
}
