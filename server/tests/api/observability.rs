//! An app replica's `/metrics`: after known traffic, the counts it caused are there, by route
//! and status; the pool, bus, read cache and job queue are read; a token, when set, is asked
//! for.

use domain::Role;
use reqwest::StatusCode;

use crate::{both_backends, helpers::*};

fn value(samples: &std::collections::HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("{name} in /metrics; have: {:?}", samples.keys()))
}

async fn metrics_count_the_traffic_they_saw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let uploader = app.user("mira", Role::Uploader).await;
    let (_, slug) = app.recording(sample("Night Rain", uploader)).await;
    let before = app.metrics().await;
    let page = format!("/recordings/{slug}");
    for _ in 0..3 {
        assert_eq!(app.get(&page, &Browser::default()).await.status(), 200);
    }
    for _ in 0..2 {
        assert_eq!(
            app.get("/no-such-page", &Browser::default()).await.status(),
            404
        );
    }
    assert_eq!(app.get("/healthz", &Browser::default()).await.status(), 200);

    let after = app.metrics().await;
    assert!(after.contains_key("ambisonia_up_seconds"));
    let count = |route: &str, status: u16| {
        let name = format!(
            "ambisonia_http_request_duration_seconds_count{{route=\"{route}\",status=\"{status}\"}}"
        );
        after.get(&name).copied().unwrap_or(0.0) - before.get(&name).copied().unwrap_or(0.0)
    };
    // One route for every recording (the matched path, not the slug).
    assert_eq!(count("/recordings/{slug}", 200), 3.0);
    assert_eq!(count("unmatched", 404), 2.0);
    assert_eq!(count("/healthz", 200), 1.0);
    // The histogram is whole: its +Inf bucket is its count.
    assert_eq!(
        value(
            &after,
            "ambisonia_http_request_duration_seconds_bucket{route=\"/recordings/{slug}\",status=\"200\",le=\"+Inf\"}"
        ),
        value(
            &after,
            "ambisonia_http_request_duration_seconds_count{route=\"/recordings/{slug}\",status=\"200\"}"
        )
    );
    // Rendering the page read the database; the first read of it missed the read cache and
    // a later one hit it.
    assert!(
        value(&after, "ambisonia_db_statement_duration_seconds_count")
            > value(&before, "ambisonia_db_statement_duration_seconds_count")
    );
    assert!(
        value(&after, "ambisonia_read_cache_reads_total{result=\"miss\"}")
            > value(&before, "ambisonia_read_cache_reads_total{result=\"miss\"}")
    );
    assert!(
        value(&after, "ambisonia_read_cache_reads_total{result=\"hit\"}")
            > value(&before, "ambisonia_read_cache_reads_total{result=\"hit\"}")
    );
    assert!(value(&after, "ambisonia_read_cache_entries") >= 1.0);
    assert!(value(&after, "ambisonia_read_cache_bytes") > 0.0);
    // The pool answers at once when idle; the bus is caught up and its lease held.
    assert!(
        value(
            &after,
            "ambisonia_db_pool_connections_max{pool=\"primary\"}"
        ) >= 1.0
    );
    assert!(
        value(
            &after,
            "ambisonia_db_pool_acquire_seconds{pool=\"primary\"}"
        ) < 5.0
    );
    assert_eq!(value(&after, "ambisonia_bus_lease_held"), 1.0);
    assert!(value(&after, "ambisonia_bus_seconds_since_read") < 3.0);
    assert_eq!(value(&after, "ambisonia_bus_behind"), 0.0);
    // The sample recording was stored already processed: nothing waits.
    assert_eq!(value(&after, "ambisonia_jobs{state=\"queued\"}"), 0.0);
    assert_eq!(value(&after, "ambisonia_payments_on"), 0.0);
    assert_eq!(value(&after, "ambisonia_renditions_in_progress"), 0.0);
    assert_eq!(value(&after, "ambisonia_renditions_waiting"), 0.0);
    assert_eq!(value(&after, "ambisonia_renditions_refused_total"), 0.0);
}

async fn metrics_ask_for_the_admin_token_when_one_is_set(backend: Backend) {
    let app = TestApp::spawn_configured(
        backend,
        Setup {
            admin_token: Some("metrics-s3cret".into()),
            ..Default::default()
        },
    )
    .await;
    let client = reqwest::Client::new();
    for wrong in [None, Some("metrics-s3cre"), Some("")] {
        let mut req = client.get(&app.metrics_url);
        if let Some(t) = wrong {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("scrape");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
        assert!(header_of(&res, "www-authenticate").starts_with("Bearer"));
    }
    let samples = app.metrics_with(Some("metrics-s3cret")).await;
    assert!(samples.contains_key("ambisonia_up_seconds"));
    // The public listener has no /metrics (the balancer would forward it to anyone).
    assert_eq!(
        app.get("/metrics", &Browser::default()).await.status(),
        StatusCode::NOT_FOUND
    );
}

both_backends!(
    metrics_count_the_traffic_they_saw,
    metrics_ask_for_the_admin_token_when_one_is_set,
);
