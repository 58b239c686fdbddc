//! The invalidation bus and the read cache against real replicas: a warm replica answers
//! anonymous views without a statement to the database; a write through one replica
//! reaches another replica's cache within moments (also with its LISTEN connection cut);
//! a replica whose log was trimmed past its cursor drops its cache; a replica that cannot
//! read the log stops trusting its cache within the lease; with the bus on Redis, an outage
//! of Redis costs the cache (not the answers) until Redis is back.

use std::time::{Duration, Instant};

use domain::{
    Role,
    write::{Changed, Write},
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};

use crate::{
    both_backends,
    helpers::{Backend, Browser, Site, TestApp, TestRedis, sample},
};

async fn published(app: &TestApp) -> String {
    let paul = app.user("paul", Role::Uploader).await;
    let mut new = sample("Harbour at dawn", paul);
    new.tags = vec!["birds".into()];
    app.recording(new).await.1
}

async fn view_all(site: &Site, slug: &str) {
    let anyone = Browser::default();
    for path in [
        "/".to_owned(),
        "/catalog".to_owned(),
        "/catalog?q=harbour".to_owned(),
        format!("/recordings/{slug}"),
        "/tags/birds".to_owned(),
        "/users/paul".to_owned(),
    ] {
        let (status, _) = site.get_text(&path, &anyone).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

async fn a_warm_replica_answers_anonymous_views_without_the_database(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = published(&app).await;
    view_all(&app, &slug).await;
    let warm = app.statement_count();
    for _ in 0..3 {
        view_all(&app, &slug).await;
    }
    assert_eq!(
        app.statement_count() - warm,
        0,
        "anonymous home, catalog, search, recording and tag views from the read cache"
    );
    // A logged-in listener's views are their own: read from the database.
    app.user("lena", Role::Listener).await;
    let lena = app.login("lena").await;
    let before = app.statement_count();
    let (status, _) = app.get_text(&format!("/recordings/{slug}"), &lena).await;
    assert_eq!(status, StatusCode::OK);
    assert!(app.statement_count() > before);
}

/// Waits until `check` holds, for 10 s at most; how long it took.
pub async fn within_seconds(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn a_write_through_one_replica_reaches_another_replicas_cache(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.replica().await;
    let slug = published(&a).await;
    let page = format!("/recordings/{slug}");
    view_all(&b.site, &slug).await;
    let warm = b.statement_count();
    view_all(&b.site, &slug).await;
    assert_eq!(b.statement_count(), warm, "replica B is warm");

    a.user("lena", Role::Listener).await;
    let mut lena = a.login("lena").await;
    let anyone = Browser::default();
    for (i, cut_listen) in [false, true].into_iter().enumerate() {
        if cut_listen && matches!(backend, Backend::Postgres) {
            // The LISTEN connections go; the log is still read every heartbeat.
            a.db.execute_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE 'LISTEN%' AND datname = current_database() \
                   AND pid <> pg_backend_pid()",
            ))
            .await
            .expect("cut LISTEN");
        }
        let text = format!("Heard from replica A, take {i}.");
        comment(&a, &mut lena, &slug, &text).await;
        let took = within_seconds("the comment on replica B", async || {
            b.site.get_text(&page, &anyone).await.1.contains(&text)
        })
        .await;
        eprintln!("comment {i} (LISTEN cut: {cut_listen}) visible on B after {took:?}");
        within_seconds("B LISTENs again", async || b.bus.transport_alive()).await;
    }
    // And B is warm again afterwards.
    view_all(&b.site, &slug).await;
    let warm = b.statement_count();
    view_all(&b.site, &slug).await;
    assert_eq!(b.statement_count(), warm);
}

async fn a_replica_whose_log_was_trimmed_past_its_cursor_drops_its_cache(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = published(&app).await;
    view_all(&app, &slug).await;
    let flushes = app.bus.flushes();
    // Writes logged and trimmed away before this replica could read them: three numbers
    // taken, the log trimmed of everything so far, then one more write.
    let w = Write::begin(&app.db).await.expect("write");
    w.execute_unprepared("UPDATE invalidation_seq SET seq = seq + 3 WHERE id = 1")
        .await
        .expect("lost writes");
    w.execute_unprepared("DELETE FROM invalidations")
        .await
        .expect("trim");
    w.commit(Changed::keys(["recording:1003".to_owned()]))
        .await
        .expect("commit");
    within_seconds("the flush", async || app.bus.flushes() > flushes).await;
    assert_eq!(
        app.bus.cursor(),
        domain::write::log::head(&app.db).await.expect("head")
    );
    // The next views read the database again, then the cache is warm again.
    let before = app.statement_count();
    view_all(&app, &slug).await;
    assert!(app.statement_count() > before, "the cache was dropped");
    let warm = app.statement_count();
    view_all(&app, &slug).await;
    assert_eq!(app.statement_count(), warm);
}

/// PostgreSQL gone: within the lease the cache still answers; after it, nothing is
/// answered from a cache that can no longer be checked.
async fn a_replica_that_cannot_read_the_log_stops_trusting_its_cache(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let slug = published(&app).await;
    view_all(&app, &slug).await;
    assert!(app.bus.current());
    app.lose_database().await;
    tokio::time::sleep(domain::bus::LEASE + Duration::from_secs(1)).await;
    assert!(!app.bus.current(), "the lease lapsed");
    let (status, _) = app
        .get_text(&format!("/recordings/{slug}"), &Browser::default())
        .await;
    assert_ne!(status, StatusCode::OK, "not served from an unchecked cache");
}

/// Posts a comment through `site` as `who`; the page it is on.
pub async fn comment(site: &Site, who: &mut Browser, slug: &str, text: &str) {
    let page = format!("/recordings/{slug}");
    let token = site.form_token(&page, who).await;
    let res = site
        .post_form(
            "/api/comment",
            &page,
            &[
                ("csrf", &token),
                ("slug", slug),
                ("title", ""),
                ("body", text),
            ],
            who,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND, "comment posted");
}

/// The bus on Redis (a stream): writes through A reach B's cache; Redis killed during
/// traffic: B stops trusting its cache within the lease but keeps answering, fresh, from
/// the database (and stays ready); Redis back: B trusts its cache again without a restart,
/// and nothing stale is served.
async fn an_outage_of_redis_costs_the_cache_not_the_answers(backend: Backend) {
    let mut redis = TestRedis::start();
    let a = TestApp::spawn_on_redis(backend, &redis.url()).await;
    let b = a.replica().await;
    let slug = published(&a).await;
    let page = format!("/recordings/{slug}");
    within_seconds("B hears the stream", async || b.bus.current()).await;
    a.user("lena", Role::Listener).await;
    let mut lena = a.login("lena").await;
    let anyone = Browser::default();
    let shows = async |text: &str| b.site.get_text(&page, &anyone).await.1.contains(text);

    view_all(&b.site, &slug).await;
    comment(&a, &mut lena, &slug, "Before the outage.").await;
    let took = within_seconds("the comment on B, by the stream", async || {
        shows("Before the outage.").await
    })
    .await;
    eprintln!("through Redis: visible on B after {took:?}");

    redis.stop();
    let lapsed = within_seconds("B's lease lapses", async || !b.bus.current()).await;
    assert!(
        lapsed <= domain::bus::LEASE + Duration::from_secs(2),
        "within the lease: {lapsed:?}"
    );
    let (status, _) = b.site.get_text("/readyz", &anyone).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "still ready: it answers from the database"
    );
    let before = b.statement_count();
    let res = b.site.get(&page, &anyone).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        crate::helpers::header_of(&res, "cache-control").contains("private"),
        "nobody may keep a page of a replica off the bus"
    );
    assert!(b.statement_count() > before, "read through to the database");
    comment(&a, &mut lena, &slug, "During the outage.").await;
    assert!(shows("During the outage.").await, "at once: read through");

    redis.resume();
    within_seconds("B trusts its cache again", async || b.bus.current()).await;
    comment(&a, &mut lena, &slug, "After the outage.").await;
    within_seconds("the next comment on B", async || {
        shows("After the outage.").await
    })
    .await;
    let (_, body) = b.site.get_text(&page, &anyone).await;
    assert!(
        body.contains("During the outage."),
        "nothing stale afterwards"
    );
    view_all(&b.site, &slug).await;
    let warm = b.statement_count();
    view_all(&b.site, &slug).await;
    assert_eq!(b.statement_count(), warm, "B's cache is used again");
}

/// Sessions in the read cache: a warm replica resolves a login without the database, and
/// a log-out or a password change through replica A ends the sessions on replica B too.
async fn a_log_out_or_new_password_through_one_replica_ends_sessions_on_another(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let b = a.replica().await;
    published(&a).await;
    a.user("lena", Role::Listener).await;
    let mut first = a.login("lena").await;
    let mut second = a.login("lena").await;
    let third = a.login("lena").await;
    for who in [&first, &second, &third] {
        assert_eq!(b.site.get("/account", who).await.status(), StatusCode::OK);
    }
    b.site.get_text("/catalog", &second).await;
    let warm = b.statement_count();
    let (status, _) = b.site.get_text("/catalog", &second).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        b.statement_count(),
        warm,
        "a warm replica resolves the login and the catalog without the database"
    );

    let copy = first.clone();
    let token = a.form_token("/account", &mut first).await;
    a.post_form("/api/logout", "/account", &[("csrf", &token)], &mut first)
        .await;
    within_seconds("the logged-out session refused on B", async || {
        b.site.get("/account", &copy).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        b.site.get("/account", &second).await.status(),
        StatusCode::OK
    );

    a.change_password(
        &mut second,
        crate::helpers::PASSWORD,
        "an even longer password",
    )
    .await;
    within_seconds("the other sessions refused on B", async || {
        b.site.get("/account", &third).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(
        b.site.get("/account", &second).await.status(),
        StatusCode::OK
    );
}

/// Replica A behind balancer 1, replica B behind balancer 2 (on the bus): `n` comments
/// posted through balancer 1, each waited for on the recording page through balancer 2
/// and on replica B; how long each took to show on both.
async fn writes_seen_through_the_other_balancer(
    backend: Backend,
    n: usize,
    redis: Option<&TestRedis>,
) -> Vec<Duration> {
    let a = match redis {
        Some(r) => TestApp::spawn_on_redis(backend, &r.url()).await,
        None => TestApp::spawn(backend).await,
    };
    let b = a.replica().await;
    let (front1, _, _) = crate::front_door::balancer_for(&a.base, "").await;
    let (front2, _, shared2) = crate::front_door::balancer_for(&b.site.base, "").await;
    let bus_db = domain::db::connect(&a.database_url())
        .await
        .expect("bus database");
    domain::bus::Bus::start(
        bus_db,
        server::balancer_role::PageCache(std::sync::Arc::clone(&shared2.cache)),
        domain::bus::Transport::from_redis_url(redis.map(TestRedis::url).as_deref())
            .expect("a transport"),
    )
    .await
    .expect("balancer 2 on the bus");
    let slug = published(&a).await;
    let page = format!("/recordings/{slug}");
    let through1 = Site::new(front1, reqwest::Client::builder());
    let through2 = Site::new(front2, reqwest::Client::builder());
    let anyone = Browser::default();
    through2.get_text(&page, &anyone).await;
    let res = through2.get(&page, &anyone).await;
    assert_eq!(
        crate::helpers::header_of(&res, "x-cache"),
        "HIT",
        "balancer 2 keeps the page"
    );

    a.user("lena", Role::Listener).await;
    let mut lena = through1.login("lena").await;
    let token = through1.form_token(&page, &mut lena).await;
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let text = format!("Comment number {i} through balancer 1.");
        let res = through1
            .post_form(
                "/api/comment",
                &page,
                &[
                    ("csrf", &token),
                    ("slug", &slug),
                    ("title", ""),
                    ("body", &text),
                ],
                &mut lena,
            )
            .await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let written = Instant::now();
        within_seconds(&format!("comment {i} through balancer 2"), async || {
            through2.get_text(&page, &anyone).await.1.contains(&text)
        })
        .await;
        within_seconds("the comment on replica B", async || {
            b.site.get_text(&page, &anyone).await.1.contains(&text)
        })
        .await;
        took.push(written.elapsed());
    }
    took
}

async fn a_write_through_balancer_1_purges_balancer_2(backend: Backend) {
    let took = writes_seen_through_the_other_balancer(backend, 3, None).await;
    assert_eq!(took.len(), 3);
}

async fn a_write_through_balancer_1_purges_balancer_2_over_redis(backend: Backend) {
    let redis = TestRedis::start();
    let took = writes_seen_through_the_other_balancer(backend, 3, Some(&redis)).await;
    assert_eq!(took.len(), 3);
}

/// `scripts/bench-cluster`: 1,000 writes, the time until each shows through the other
/// balancer and replica, as percentiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: scripts/bench-cluster runs it"]
async fn bench_write_visibility() {
    let n: usize = std::env::var("BENCH_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // BENCH_TRANSPORT=redis: the bus on a Redis stream instead of LISTEN/NOTIFY.
    let redis = (std::env::var("BENCH_TRANSPORT").as_deref() == Ok("redis")).then(TestRedis::start);
    let transport = if redis.is_some() {
        "Redis"
    } else {
        "LISTEN/NOTIFY"
    };
    let mut took =
        writes_seen_through_the_other_balancer(Backend::Postgres, n, redis.as_ref()).await;
    took.sort();
    let at = |p: f64| took[((took.len() as f64 * p) as usize).min(took.len() - 1)];
    println!(
        "bench-cluster: {n} writes through replica A / balancer 1, bus on {transport}, visible through balancer 2 and on replica B after: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        at(0.5).as_secs_f64() * 1e3,
        at(0.9).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        took.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

both_backends!(
    a_write_through_balancer_1_purges_balancer_2_over_redis,
    a_log_out_or_new_password_through_one_replica_ends_sessions_on_another,
    an_outage_of_redis_costs_the_cache_not_the_answers,
    a_write_through_balancer_1_purges_balancer_2,
    a_warm_replica_answers_anonymous_views_without_the_database,
    a_write_through_one_replica_reaches_another_replicas_cache,
    a_replica_whose_log_was_trimmed_past_its_cursor_drops_its_cache,
);

/// What a follower was told.
#[derive(Default, Clone)]
struct Told(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl domain::bus::Sink for Told {
    fn invalidate(&self, keys: &[&str], _: u64) {
        let mut told = self.0.lock().unwrap_or_else(|p| p.into_inner());
        told.extend(keys.iter().map(|k| (*k).to_owned()));
    }
    fn flush(&self, _: u64) {}
}

/// A balancer follows the bus with a role that may read the log and nothing else
/// (`server admin bus-reader`): it hears every write, and can neither read the site's data
/// nor write anything — not even trim the log, which the replicas do.
async fn a_balancers_bus_reader_reads_the_log_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let role = format!("bus_reader_{}", &crate::helpers::random_suffix()[..10]);
    let password = domain::Secret::new("a long reader password");
    domain::write::log::create_reader(&app.db, &role, &password)
        .await
        .expect("reader made");
    // Again (a new password, or a second replica running it): no error.
    domain::write::log::create_reader(&app.db, &role, &password)
        .await
        .expect("made again");
    for bad in ["Robert'); DROP TABLE users;--", "1st", ""] {
        assert!(
            domain::write::log::create_reader(&app.db, bad, &password)
                .await
                .is_err(),
            "{bad}"
        );
    }

    let url = app.database_url_as(&role, "a long reader password");
    let reader = domain::db::open(&url).await.expect("the reader connects");
    let told = Told::default();
    let bus = domain::bus::Bus::start_reading(
        reader.clone(),
        told.clone(),
        domain::bus::Transport::Database,
    )
    .await
    .expect("the reader follows the log");
    let w = Write::begin(&app.db).await.expect("begin");
    w.commit(Changed::keys(["recording:77".to_owned()]))
        .await
        .expect("commit");
    let until = Instant::now() + Duration::from_secs(5);
    while !told
        .0
        .lock()
        .expect("told")
        .iter()
        .any(|k| k == "recording:77")
    {
        assert!(Instant::now() < until, "the reader never heard the write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(bus.current(), "its LISTEN connection is up");

    for sql in [
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM sessions",
        "DELETE FROM invalidations",
        "UPDATE invalidation_seq SET seq = seq + 1",
        "INSERT INTO invalidations (seq, keys, created_at) VALUES (999999, 'x', now())",
        "CREATE TABLE mine (id int)",
    ] {
        let e = reader.execute_unprepared(sql).await.expect_err("refused");
        assert!(e.to_string().contains("permission denied"), "{sql}: {e}");
    }
    drop(bus);
    reader.close().await.ok();
    app.db
        .execute_unprepared(&format!(
            "REVOKE ALL ON invalidations, invalidation_seq FROM {role}; DROP ROLE {role}"
        ))
        .await
        .ok();
}

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_balancers_bus_reader_reads_the_log_and_nothing_else() {
        super::a_balancers_bus_reader_reads_the_log_and_nothing_else(
            crate::helpers::Backend::Postgres,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_replica_that_cannot_read_the_log_stops_trusting_its_cache() {
        super::a_replica_that_cannot_read_the_log_stops_trusting_its_cache(
            crate::helpers::Backend::Postgres,
        )
        .await
    }
}
