//! Routing and load balancing: which replica gets a request, what happens when one is slow,
//! sick, dying, drained or full, and what a client sees through all of it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::SeqCst},
    },
    time::Duration,
};

use super::{Origin, Reply, TestBalancer, eventually, header, one_pool};

const NO_CACHE_ROUTE: &str = "cache = false";

/// `one_pool` with caching off, so every request is a balancing decision.
/// Health checks on `/health` every 30 ms, two results to change state.
const CHECKS_EVERY_30MS: &str = "[pools.app.health]\npath = \"/health\"\ninterval_ms = 30\ntimeout_ms = 200\nrise = 2\nfall = 2";

/// The balancer's live pool named `app`.
fn app_pool(lb: &TestBalancer) -> Arc<balancer::pool::Pool> {
    lb.shared
        .live()
        .pools
        .get("app")
        .map(Arc::clone)
        .expect("pool app")
}

fn passing(origins: &[&Origin], pool_extra: &str) -> String {
    format!("{}{NO_CACHE_ROUTE}\n", one_pool(origins, pool_extra))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_longest_prefix_and_strips_when_asked() {
    let app = Origin::spawn(|s| Reply::ok(format!("app {}", s.path))).await;
    let wiki = Origin::spawn(|s| Reply::ok(format!("wiki {}", s.path))).await;
    let forum = Origin::spawn(|s| Reply::ok(format!("forum {}", s.path))).await;
    let toml = format!(
        "[pools.app]\nupstreams = [\"{}\"]\n[pools.wiki]\nupstreams = [\"{}\"]\n[pools.forum]\nupstreams = [\"{}\"]\n\
         [[routes]]\nprefix = \"/\"\npool = \"app\"\n\
         [[routes]]\nprefix = \"/wiki\"\npool = \"wiki\"\nstrip_prefix = true\n\
         [[routes]]\nprefix = \"/forum\"\npool = \"forum\"\n",
        app.addr, wiki.addr, forum.addr
    );
    let lb = TestBalancer::start(&toml).await;
    let body = |path: &'static str| {
        let lb = &lb;
        async move { lb.get(path).await.text().await.unwrap_or_default() }
    };
    assert_eq!(body("/catalog?q=rain").await, "app /catalog?q=rain");
    assert_eq!(body("/wiki/Main_Page").await, "wiki /Main_Page");
    assert_eq!(body("/wiki").await, "wiki /");
    assert_eq!(body("/wikipedia").await, "app /wikipedia");
    assert_eq!(body("/forum/t/1").await, "forum /forum/t/1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_replica_gets_fewer_requests_than_a_fast_one() {
    let slow = Origin::spawn(|_| Reply::ok("slow").after(Duration::from_millis(100))).await;
    let fast = Origin::spawn(|_| Reply::ok("fast").after(Duration::from_millis(2))).await;
    let lb = Arc::new(TestBalancer::start(&passing(&[&slow, &fast], "")).await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let lb = Arc::clone(&lb);
        tasks.spawn(async move {
            for _ in 0..25 {
                assert_eq!(lb.get("/").await.status(), 200);
            }
        });
    }
    tasks.join_all().await;
    assert_eq!(slow.hits() + fast.hits(), 200);
    assert!(
        fast.hits() > 3 * slow.hits(),
        "fast {} vs slow {}",
        fast.hits(),
        slow.hits()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_health_check_fails_the_pool_panics_and_routes_to_all() {
    // Both replicas answer pages but fail their health path: a broken check, not two dead
    // replicas. Below the panic threshold (half) the pool routes to both anyway.
    let sick = |name: &'static str| {
        Origin::spawn(move |s| {
            if s.path == "/health" {
                Reply::ok("no").status(503)
            } else {
                Reply::ok(name)
            }
        })
    };
    let (a, b) = (sick("a").await, sick("b").await);
    let toml = passing(&[&a, &b], CHECKS_EVERY_30MS);
    let lb = TestBalancer::start(&toml).await;
    let pool = || app_pool(&lb);
    eventually(
        "both replicas fail their checks",
        Duration::from_secs(5),
        || async { pool().upstreams.iter().all(|u| !u.is_healthy()) },
    )
    .await;
    let mut bodies = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = lb.get("/").await;
        assert_eq!(r.status(), 200, "answered in panic mode");
        bodies.insert(r.text().await.unwrap_or_default());
    }
    assert_eq!(bodies.len(), 2, "both replicas take requests: {bodies:?}");
    let metrics = lb.metrics().await;
    assert!(
        metrics.contains("balancer_pool_panic{pool=\"app\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("balancer_pool_panic_routed_total{pool=\"app\"} 20\n"),
        "counted"
    );

    // With the threshold off, the same pool refuses instead.
    let off = passing(
        &[&a, &b],
        &format!("panic_below_percent = 0\n{CHECKS_EVERY_30MS}"),
    );
    let strict = TestBalancer::start(&off).await;
    let strict_pool = || app_pool(&strict);
    eventually("both fail again", Duration::from_secs(5), || async {
        strict_pool().upstreams.iter().all(|u| !u.is_healthy())
    })
    .await;
    assert_ne!(strict.get("/").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_health_check_takes_a_replica_out_and_passing_ones_bring_it_back() {
    let ready = Arc::new(AtomicBool::new(true));
    let well = Origin::spawn(|_| Reply::ok("well")).await;
    // This origin fails its health path on demand.
    let r = Arc::clone(&ready);
    let gate = Origin::spawn(move |s| {
        if s.path == "/health" && !r.load(SeqCst) {
            Reply::ok("down").status(503)
        } else {
            Reply::ok("up")
        }
    })
    .await;
    let toml = passing(&[&gate, &well], CHECKS_EVERY_30MS);
    let lb = TestBalancer::start(&toml).await;
    let pool = || app_pool(&lb);
    let gate_up = || {
        pool()
            .find(&gate.addr.to_string())
            .map(|u| u.is_healthy())
            .unwrap_or(false)
    };

    ready.store(false, SeqCst);
    eventually(
        "the failing replica is taken out",
        Duration::from_secs(5),
        || async { !gate_up() },
    )
    .await;
    let before = gate.hits();
    for _ in 0..20 {
        assert_eq!(lb.get("/").await.text().await.unwrap_or_default(), "well");
    }
    // Only health checks reached it while it was out.
    let real_requests = gate
        .seen()
        .iter()
        .skip(before)
        .filter(|s| s.path != "/health")
        .count();
    assert_eq!(real_requests, 0);
    assert!(lb.metrics().await.contains(&format!(
        "balancer_upstream_healthy{{pool=\"app\",upstream=\"{}\"}} 0",
        gate.addr
    )));

    ready.store(true, SeqCst);
    eventually(
        "the replica returns after passing checks",
        Duration::from_secs(5),
        || async { gate_up() },
    )
    .await;
    let mut saw_gate = false;
    for _ in 0..20 {
        saw_gate |= lb.get("/").await.text().await.unwrap_or_default() == "up";
    }
    assert!(saw_gate, "the returned replica takes requests again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_survive_a_replica_dying_mid_test_with_no_failed_request() {
    let doomed = Origin::spawn(|_| Reply::ok("doomed").after(Duration::from_millis(5))).await;
    let steady = Origin::spawn(|_| Reply::ok("steady").after(Duration::from_millis(5))).await;
    // Health checks slow enough that only retries and passive ejection can save requests.
    let lb = Arc::new(
        TestBalancer::start(&passing(
            &[&doomed, &steady],
            "[pools.app.health]\ninterval_ms = 60000",
        ))
        .await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let lb = Arc::clone(&lb);
        tasks.spawn(async move {
            let mut failures = 0;
            for _ in 0..60 {
                if lb.get("/").await.status() != 200 {
                    failures += 1;
                }
            }
            failures
        });
    }
    eventually("both replicas served", Duration::from_secs(5), || async {
        doomed.hits() > 5 && steady.hits() > 5
    })
    .await;
    doomed.kill();
    let failures: usize = tasks.join_all().await.into_iter().sum();
    assert_eq!(
        failures, 0,
        "every GET was answered, retried on the live replica if need be"
    );
    assert!(steady.hits() > 100);
    let metrics = lb.metrics().await;
    assert!(
        !metrics.contains("balancer_retries_total 0\n"),
        "retries happened: {metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_sent_twice() {
    let hangs_up = Origin::spawn(|_| Reply::HangUp).await;
    let answers = Origin::spawn(|_| Reply::ok("done")).await;
    let lb = TestBalancer::start(&passing(
        &[&hangs_up, &answers],
        "[pools.app.health]\nenabled = false\n[pools.app.eject]\nafter_failures = 1000",
    ))
    .await;
    let (mut bad_gateway, mut ok) = (0, 0);
    for i in 0..20 {
        let r = lb
            .http
            .post(lb.url("/comment"))
            .body(format!("comment {i}"))
            .send()
            .await
            .expect("answer");
        match r.status().as_u16() {
            502 => bad_gateway += 1,
            200 => ok += 1,
            s => panic!("unexpected {s}"),
        }
    }
    assert!(
        bad_gateway > 0,
        "some POSTs went to the replica that hangs up"
    );
    assert_eq!(
        hangs_up.hits(),
        bad_gateway,
        "each failed POST reached it once"
    );
    assert_eq!(
        answers.hits(),
        ok,
        "and none of them was repeated on the other replica"
    );
    // The same replica, a GET: retried, and answered.
    let before = answers.hits();
    for _ in 0..10 {
        assert_eq!(lb.get("/").await.status(), 200);
    }
    assert_eq!(answers.hits(), before + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_limit_and_the_queue_clients_get_503_with_retry_after() {
    let origin = Origin::spawn(|_| Reply::ok("slow").after(Duration::from_millis(400))).await;
    let lb = Arc::new(
        TestBalancer::start(&passing(
            &[&origin],
            "max_connections = 1\nqueue = 1\nqueue_timeout_ms = 5000",
        ))
        .await,
    );
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let lb = Arc::clone(&lb);
        tasks.spawn(async move {
            let r = lb.get("/").await;
            (r.status().as_u16(), header(&r, "retry-after").to_owned())
        });
    }
    let results = tasks.join_all().await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s == 503).collect();
    assert_eq!(
        ok, 2,
        "one in flight and one queued are served: {results:?}"
    );
    assert_eq!(refused.len(), 4, "{results:?}");
    assert!(refused.iter().all(|(_, retry)| !retry.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_admin_token_every_admin_path_asks_for_it_and_the_purge_token_will_not_do() {
    let a = Origin::spawn(|_| Reply::ok("a")).await;
    let mut settings = super::settings(&passing(&[&a], ""));
    settings.admin_token = balancer::token::BearerToken::new("admin-secret".into());
    settings.purge_token = balancer::token::BearerToken::new("purge-secret".into());
    let lb = TestBalancer::with(settings).await;
    let admin = |method: reqwest::Method, path: String, token: Option<&'static str>| {
        let mut req = reqwest::Client::new().request(method, format!("http://{}{path}", lb.admin));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.expect("admin answers");
            let challenge = header(&resp, "www-authenticate").to_owned();
            (
                resp.status(),
                challenge,
                resp.text().await.unwrap_or_default(),
            )
        }
    };
    let drain = format!("/upstreams/{}/drain", a.addr);
    for (method, path) in [
        (reqwest::Method::GET, "/metrics".to_owned()),
        (reqwest::Method::GET, "/upstreams".to_owned()),
        (reqwest::Method::POST, drain.clone()),
    ] {
        for wrong in [None, Some("purge-secret")] {
            let (status, challenge, body) = admin(method.clone(), path.clone(), wrong).await;
            assert_eq!(status, 401, "{method} {path} with {wrong:?}");
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            assert!(!body.contains(&a.addr.to_string()), "nothing told: {body}");
        }
    }
    let (status, _, metrics) = admin(
        reqwest::Method::GET,
        "/metrics".into(),
        Some("admin-secret"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(metrics.contains("# TYPE"), "{metrics}");
    let (status, _, pools) = admin(
        reqwest::Method::GET,
        "/upstreams".into(),
        Some("admin-secret"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(pools.contains(&a.addr.to_string()), "{pools}");
    assert_eq!(
        admin(reqwest::Method::POST, drain, Some("admin-secret"))
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_replica_finishes_its_work_and_gets_no_more() {
    let a = Origin::spawn(|_| Reply::ok("a")).await;
    let b = Origin::spawn(|_| Reply::ok("b")).await;
    let lb = TestBalancer::start(&passing(&[&a, &b], "")).await;
    let drain = reqwest::Client::new()
        .post(format!("http://{}/upstreams/{}/drain", lb.admin, a.addr))
        .send()
        .await
        .expect("admin answers");
    assert_eq!(drain.status(), 200);
    for _ in 0..10 {
        assert_eq!(lb.get("/").await.text().await.unwrap_or_default(), "b");
    }
    assert_eq!(a.hits(), 0);
    let listing = reqwest::get(format!("http://{}/upstreams", lb.admin))
        .await
        .expect("admin")
        .text()
        .await
        .unwrap_or_default();
    assert!(
        listing.contains(&format!("{}\t0\ttrue\ttrue", a.addr)),
        "{listing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_set_and_hop_by_hop_ones_dropped() {
    let origin = Origin::spawn(|_| {
        Reply::ok("ok")
            .with("connection", "x-origin-hop")
            .with("x-origin-hop", "1")
    })
    .await;
    let lb = TestBalancer::start(&passing(&[&origin], "")).await;
    let r = lb
        .http
        .get(lb.url("/"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-request-id", "forged")
        .header("connection", "x-client-hop")
        .header("x-client-hop", "secret")
        .send()
        .await
        .expect("answer");
    assert_eq!(header(&r, "x-origin-hop"), "");
    let id = header(&r, "x-request-id").to_owned();
    assert!(id.len() == 16 && id != "forged", "{id}");
    let seen = &origin.seen()[0];
    let h = |n: &str| {
        seen.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(
        h("x-forwarded-for"),
        "127.0.0.1",
        "an untrusted client cannot choose its address"
    );
    assert_eq!(h("x-forwarded-proto"), "http");
    // The Host as received, port and all (RFC 7239 §5.3): the app compares it with the
    // browser's Origin.
    let authority = lb
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(h("x-forwarded-host"), authority);
    assert_eq!(
        h("forwarded"),
        format!("for=127.0.0.1;proto=http;host=\"{authority}\"")
    );
    assert_eq!(h("x-request-id"), id);
    assert_eq!(h("x-client-hop"), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_changes_routes_without_dropping_a_connection() {
    let old = Origin::spawn(|_| Reply::ok("old")).await;
    let new = Origin::spawn(|_| Reply::ok("new")).await;
    let lb = TestBalancer::start(&passing(&[&old], "")).await;
    assert_eq!(lb.get("/").await.text().await.unwrap_or_default(), "old");
    balancer::reload(&lb.shared, super::settings(&passing(&[&new], "")));
    // Same client, same keep-alive connection.
    assert_eq!(lb.get("/").await.text().await.unwrap_or_default(), "new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight_and_refuses_new_ones() {
    let origin = Origin::spawn(|_| Reply::ok("finished").after(Duration::from_millis(500))).await;
    let mut lb = TestBalancer::start(&passing(&[&origin], "")).await;
    let (http, url) = (lb.http.clone(), lb.url("/"));
    let in_flight =
        tokio::spawn(async move { http.get(url).send().await.map(|r| r.status().as_u16()) });
    eventually(
        "the request reached the origin",
        Duration::from_secs(5),
        || async { origin.hits() == 1 },
    )
    .await;
    lb.stop();
    eventually("the listener closed", Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(lb.addr).await.is_err()
    })
    .await;
    assert_eq!(in_flight.await.ok().and_then(Result::ok), Some(200));
    tokio::time::timeout(Duration::from_secs(5), &mut lb.task)
        .await
        .expect("the balancer stopped")
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_slower_than_the_route_timeout_gets_504_that_names_nothing() {
    let origin = Origin::spawn(|_| Reply::ok("late").after(Duration::from_millis(1500))).await;
    let lb = TestBalancer::start(&format!("{}timeout_ms = 200\n", passing(&[&origin], ""))).await;
    let r = lb.get("/slow").await;
    assert_eq!(r.status(), 504);
    assert_eq!(header(&r, "cache-control"), "no-store");
    let body = r.text().await.unwrap_or_default();
    assert!(body.contains("took too long"), "{body}");
    assert!(
        !body.contains("127.0.0.1") && !body.contains(&origin.addr.port().to_string()),
        "{body}"
    );
}
