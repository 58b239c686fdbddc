//! Counters for `/metrics` in Prometheus' text format: plain atomics, so counting costs a
//! few nanoseconds on the hot path and needs no metrics crate.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
};

use super::{
    acme::Acme,
    cache::{Cache, CacheStatus},
    clients::Clients,
    pool::Pool,
    request_body::BodyRefused,
};

/// Log lines dropped because the log writer fell behind (the process's one log queue, which
/// the binary's telemetry owns; counted here so /metrics can say it).
pub static LOG_LINES_DROPPED: AtomicU64 = AtomicU64::new(0);

pub struct Metrics {
    /// Responses by status code, 100..=599.
    statuses: Box<[AtomicU64]>,
    cache: [AtomicU64; 5],
    pub retries: AtomicU64,
    pub purged: AtomicU64,
    /// Request bodies refused, by [`BodyRefused`].
    bodies_refused: [AtomicU64; 3],
    /// Connections closed because the client read the response below the minimum rate.
    pub slow_readers_closed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            statuses: (100..600).map(|_| AtomicU64::new(0)).collect(),
            cache: Default::default(),
            retries: AtomicU64::new(0),
            purged: AtomicU64::new(0),
            bodies_refused: Default::default(),
            slow_readers_closed: AtomicU64::new(0),
        }
    }
}

const CACHE_LABELS: [CacheStatus; 5] = [
    CacheStatus::Hit,
    CacheStatus::Miss,
    CacheStatus::Stale,
    CacheStatus::Bypass,
    CacheStatus::Pass,
];

impl Metrics {
    pub fn count_response(&self, status: u16, cache: CacheStatus) {
        if let Some(c) = self.statuses.get(usize::from(status).wrapping_sub(100)) {
            c.fetch_add(1, Relaxed);
        }
        self.cache[cache as usize].fetch_add(1, Relaxed);
    }

    pub fn count_body_refused(&self, why: BodyRefused) {
        self.bodies_refused[why as usize].fetch_add(1, Relaxed);
    }

    pub fn cache_count(&self, status: CacheStatus) -> u64 {
        self.cache[status as usize].load(Relaxed)
    }

    pub fn render<'a>(
        &self,
        cache: &Cache,
        clients: &Clients,
        pools: impl Iterator<Item = &'a Pool>,
        acme: Option<&Acme>,
    ) -> String {
        let (cache_bytes, cache_objects) = cache.usage();
        let cache_capacity = cache.capacity();
        let mut out = String::with_capacity(4096);
        out.push_str("# TYPE balancer_responses_total counter\n");
        for (i, c) in self.statuses.iter().enumerate() {
            let n = c.load(Relaxed);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "balancer_responses_total{{status=\"{}\"}} {n}",
                    i + 100
                );
            }
        }
        out.push_str("# TYPE balancer_cache_requests_total counter\n");
        for s in CACHE_LABELS {
            let _ = writeln!(
                out,
                "balancer_cache_requests_total{{result=\"{}\"}} {}",
                s.as_str(),
                self.cache_count(s)
            );
        }
        let _ = writeln!(
            out,
            "# TYPE balancer_cache_bytes gauge\nbalancer_cache_bytes {cache_bytes}"
        );
        let _ = writeln!(
            out,
            "# TYPE balancer_cache_capacity_bytes gauge\nbalancer_cache_capacity_bytes {cache_capacity}"
        );
        let _ = writeln!(
            out,
            "# TYPE balancer_cache_objects gauge\nbalancer_cache_objects {cache_objects}"
        );
        let _ = writeln!(
            out,
            "# TYPE balancer_cache_evictions_total counter\nbalancer_cache_evictions_total {}",
            cache.evicted.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE balancer_cache_purged_total counter\nbalancer_cache_purged_total {}",
            self.purged.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE balancer_retries_total counter\nbalancer_retries_total {}",
            self.retries.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE balancer_log_lines_dropped_total counter\nbalancer_log_lines_dropped_total {}",
            LOG_LINES_DROPPED.load(Relaxed)
        );

        out.push_str("# TYPE balancer_request_bodies_refused_total counter\n");
        for why in [
            BodyRefused::TooSlow,
            BodyRefused::TooLarge,
            BodyRefused::Broken,
        ] {
            let _ = writeln!(
                out,
                "balancer_request_bodies_refused_total{{reason=\"{}\"}} {}",
                why.as_str(),
                self.bodies_refused[why as usize].load(Relaxed)
            );
        }
        for (name, kind, v) in [
            (
                "balancer_slow_readers_closed_total",
                "counter",
                self.slow_readers_closed.load(Relaxed),
            ),
            (
                "balancer_client_connections_refused_total",
                "counter",
                clients.connections_refused.load(Relaxed),
            ),
            (
                "balancer_client_requests_refused_total",
                "counter",
                clients.requests_refused.load(Relaxed),
            ),
            (
                "balancer_clients_tracked",
                "gauge",
                clients.tracked() as u64,
            ),
            (
                "balancer_refused_connections_lingering",
                "gauge",
                clients.lingering() as u64,
            ),
        ] {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {v}");
        }

        // Prometheus wants every line of one metric together: one buffer per metric.
        let pool_names = [
            ("balancer_pool_panic", "gauge"),
            ("balancer_pool_panic_routed_total", "counter"),
        ];
        let mut per_pool: Vec<String> = pool_names.iter().map(|_| String::new()).collect();
        let pools: Vec<&Pool> = pools.into_iter().collect();
        for pool in &pools {
            let values = [
                u64::from(pool.is_panicking()),
                pool.panic_routed.load(Relaxed),
            ];
            for (((name, _), buf), v) in pool_names.iter().zip(&mut per_pool).zip(values) {
                let _ = writeln!(buf, "{name}{{pool=\"{}\"}} {v}", pool.name);
            }
        }
        for ((name, kind), buf) in pool_names.iter().zip(per_pool) {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            out.push_str(&buf);
        }
        let names = [
            ("balancer_upstream_in_flight", "gauge"),
            ("balancer_upstream_healthy", "gauge"),
            ("balancer_upstream_ready", "gauge"),
            ("balancer_upstream_draining", "gauge"),
            ("balancer_upstream_requests_total", "counter"),
            ("balancer_upstream_failures_total", "counter"),
        ];
        let mut per_metric: Vec<String> = names.iter().map(|_| String::new()).collect();
        let mut latency = String::new();
        for pool in pools {
            for u in &pool.upstreams {
                let labels = format!("pool=\"{}\",upstream=\"{}\"", pool.name, u.authority);
                let values = [
                    u.in_flight() as u64,
                    u64::from(u.is_healthy()),
                    u64::from(u.is_ready()),
                    u64::from(u.is_draining()),
                    u.requests.load(Relaxed),
                    u.failures.load(Relaxed),
                ];
                for (((name, _), buf), v) in names.iter().zip(&mut per_metric).zip(values) {
                    let _ = writeln!(buf, "{name}{{{labels}}} {v}");
                }
                u.latency
                    .render(&mut latency, "balancer_upstream_latency_seconds", &labels);
            }
        }
        for ((name, kind), buf) in names.iter().zip(per_metric) {
            let _ = writeln!(out, "# TYPE {name} {kind}");
            out.push_str(&buf);
        }
        out.push_str("# TYPE balancer_upstream_latency_seconds histogram\n");
        out.push_str(&latency);
        if let Some(acme) = acme {
            for (name, kind, v) in [
                (
                    "balancer_tls_certificate_not_after_seconds",
                    "gauge",
                    acme.not_after().unwrap_or(0),
                ),
                (
                    "balancer_acme_certificates_issued_total",
                    "counter",
                    acme.issued.load(Relaxed),
                ),
                (
                    "balancer_acme_orders_failed_total",
                    "counter",
                    acme.failed.load(Relaxed),
                ),
            ] {
                let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {v}");
            }
        }
        out
    }
}
