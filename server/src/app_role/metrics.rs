//! An app replica's `/metrics`, in Prometheus' text format, on its own listener
//! (`--metrics-listen`; loopback, or any address once `AMBISONIA_ADMIN_TOKEN` is set, which
//! it then asks for as `Authorization: Bearer …`, as the balancer's admin listener does).
//!
//! Counted on the way (plain atomics, a few nanoseconds each): every request's latency by
//! route (axum's matched path, so a million recordings are one route) and status
//! (`request_log` observes it, beside its log line), every statement's latency. Read when
//! scraped: the database pools (in use, idle, and how long taking a connection takes now),
//! the read cache and the invalidation bus, the job queue (one statement), password work,
//! Stripe calls, renditions in the making. `deploy/observability/` holds the scrape
//! configuration, alert rules and dashboard that read these names.

use std::{
    collections::HashMap,
    fmt::Write as _,
    net::SocketAddr,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use balancer::token::BearerToken;
use contract::histogram::Histogram;
use domain::{
    bus::{Bus, Read},
    db::Db,
    payments::Payments,
    renditions::Renditions,
};
use tokio::net::TcpListener;

/// The route label of a request no route matched (the not-found page).
pub const UNMATCHED: &str = "unmatched";

/// What requests and statements count as they happen.
#[derive(Default)]
pub struct Counters {
    /// Route → status → latency (its count is the number of requests).
    requests: RwLock<HashMap<String, HashMap<u16, Histogram>>>,
    /// Statements sent by this replica (requests and background alike).
    statements: Histogram,
    statements_failed: AtomicU64,
}

impl Counters {
    /// Counts a request: under the read lock once its route and status have been seen (the
    /// histogram's atomics need no more), under the write lock the first time.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        {
            let requests = self.requests.read().unwrap_or_else(|p| p.into_inner());
            if let Some(h) = requests.get(route).and_then(|s| s.get(&status)) {
                h.observe(took);
                return;
            }
        }
        let mut requests = self.requests.write().unwrap_or_else(|p| p.into_inner());
        requests
            .entry(route.to_owned())
            .or_default()
            .entry(status)
            .or_default()
            .observe(took);
    }

    pub fn statement(&self, took: Duration, failed: bool) {
        self.statements.observe(took);
        if failed {
            self.statements_failed.fetch_add(1, Relaxed);
        }
    }
}

/// Everything `/metrics` reads.
#[derive(Clone)]
pub struct Sources {
    pub counters: Arc<Counters>,
    pub primary: Db,
    pub replica: Option<Db>,
    /// The handle the bus follower and the job worker use.
    pub background: Db,
    pub bus: Arc<Bus>,
    pub payments: Arc<domain::payments::Payments>,
    pub renditions: Arc<Renditions>,
    pub job_runs: Arc<JobRuns>,
    pub started: Instant,
}

/// How this replica's runs of jobs ended.
#[derive(Default)]
pub struct JobRuns([AtomicU64; 4]);

/// How one run of a job ended.
#[derive(Debug, Clone, Copy)]
pub enum JobRun {
    Done,
    /// Failed; to be tried again.
    Retried,
    /// Failed for good (its attempts spent).
    Failed,
    /// Its claim was lost (it ran past its lease; another replica has it now).
    Lost,
}

impl JobRun {
    const ALL: [JobRun; 4] = [JobRun::Done, JobRun::Retried, JobRun::Failed, JobRun::Lost];

    fn as_str(self) -> &'static str {
        match self {
            JobRun::Done => "done",
            JobRun::Retried => "retried",
            JobRun::Failed => "failed",
            JobRun::Lost => "lost",
        }
    }

    /// The outcome of a run whose end wrote `state` (`None`: the claim was no longer its).
    pub fn of(state: Option<domain::JobState>) -> Self {
        match state {
            Some(domain::JobState::Done) => JobRun::Done,
            Some(domain::JobState::Queued | domain::JobState::Running) => JobRun::Retried,
            Some(domain::JobState::Failed) => JobRun::Failed,
            None => JobRun::Lost,
        }
    }
}

impl JobRuns {
    pub fn count(&self, run: JobRun) {
        self.0[run as usize].fetch_add(1, Relaxed);
    }
}

/// How long a scrape waits to take a connection from a pool before saying it could not.
const ACQUIRE_PROBE_LIMIT: Duration = Duration::from_secs(5);

/// Serves `/metrics` on `listener` until the process ends.
pub async fn serve(listener: TcpListener, sources: Sources, token: Option<BearerToken>) {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .with_state((sources, token.map(Arc::new)));
    if let Err(e) = axum::serve(listener, router).await {
        tracing::error!(error = %e, "the metrics listener stopped");
    }
}

/// Binds the metrics listener; one reachable from other machines needs a token.
pub async fn bind(addr: SocketAddr, token: Option<&BearerToken>) -> Result<TcpListener, String> {
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(format!(
            "--metrics-listen {addr} is reachable from other machines: set AMBISONIA_ADMIN_TOKEN"
        ));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} (metrics): {e}"))
}

async fn metrics(
    State((sources, token)): State<(Sources, Option<Arc<BearerToken>>)>,
    headers: HeaderMap,
) -> Response {
    if token.is_some_and(|t| !t.admits(&headers)) {
        return (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ambisonia-admin\""),
            )],
            "a bearer token is needed\n",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        sources.render().await,
    )
        .into_response()
}

/// Writes `# TYPE` and one unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
}

/// Writes `# TYPE` and one unlabelled histogram.
fn histogram(out: &mut String, name: &str, h: &Histogram) {
    let _ = writeln!(out, "# TYPE {name} histogram");
    h.render(out, name, "");
}

impl Sources {
    pub async fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        single(
            &mut out,
            "ambisonia_up_seconds",
            "gauge",
            self.started.elapsed().as_secs(),
        );
        let _ = writeln!(
            out,
            "# TYPE ambisonia_build_info gauge\nambisonia_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        self.render_requests(&mut out);
        self.render_database(&mut out).await;
        self.render_bus(&mut out);
        self.render_jobs(&mut out).await;
        self.render_work(&mut out);
        out
    }

    fn render_requests(&self, out: &mut String) {
        let name = "ambisonia_http_request_duration_seconds";
        let _ = writeln!(out, "# TYPE {name} histogram");
        let requests = self
            .counters
            .requests
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let mut routes: Vec<_> = requests.iter().collect();
        routes.sort_by(|a, b| a.0.cmp(b.0));
        for (route, by_status) in routes {
            let mut statuses: Vec<_> = by_status.iter().collect();
            statuses.sort_by_key(|(s, _)| **s);
            for (status, histogram) in statuses {
                let labels = format!("route=\"{}\",status=\"{status}\"", escape(route));
                histogram.render(out, name, &labels);
            }
        }
    }

    async fn render_database(&self, out: &mut String) {
        let c = &self.counters;
        histogram(
            out,
            "ambisonia_db_statement_duration_seconds",
            &c.statements,
        );
        single(
            out,
            "ambisonia_db_statements_failed_total",
            "counter",
            c.statements_failed.load(Relaxed),
        );
        // The background handle shares the primary's pool.
        let mut pools = vec![("primary", &self.primary)];
        if let Some(replica) = &self.replica {
            pools.push(("replica", replica));
        }
        let mut gauges: [(&str, String); 4] = [
            ("ambisonia_db_pool_connections_in_use", String::new()),
            ("ambisonia_db_pool_connections_idle", String::new()),
            ("ambisonia_db_pool_connections_max", String::new()),
            ("ambisonia_db_pool_acquire_seconds", String::new()),
        ];
        for (name, db) in pools {
            let Some(pool) = domain::db::pool_state(db, ACQUIRE_PROBE_LIMIT).await else {
                continue;
            };
            let values = [
                f64::from(pool.size.saturating_sub(pool.idle)),
                f64::from(pool.idle),
                f64::from(pool.max),
                // Not within the probe's limit: the limit, so that an alert on it fires.
                pool.acquire.unwrap_or(ACQUIRE_PROBE_LIMIT).as_secs_f64(),
            ];
            for ((metric, buf), v) in gauges.iter_mut().zip(values) {
                let _ = writeln!(buf, "{metric}{{pool=\"{name}\"}} {v}");
            }
        }
        for (metric, buf) in gauges {
            let _ = writeln!(out, "# TYPE {metric} gauge");
            out.push_str(&buf);
        }
    }

    fn render_bus(&self, out: &mut String) {
        let s = self.bus.standing();
        single(out, "ambisonia_bus_cursor", "gauge", s.cursor);
        single(out, "ambisonia_bus_head", "gauge", s.head);
        single(
            out,
            "ambisonia_bus_behind",
            "gauge",
            s.head.saturating_sub(s.cursor),
        );
        single(
            out,
            "ambisonia_bus_seconds_since_read",
            "gauge",
            // Never read: Prometheus' spelling of infinity (Rust's is `inf`).
            s.since_read
                .map_or_else(|| "+Inf".to_owned(), |d| d.as_secs_f64().to_string()),
        );
        let _ = writeln!(
            out,
            "# TYPE ambisonia_bus_transport_up gauge\nambisonia_bus_transport_up{{transport=\"{}\"}} {}",
            s.transport,
            u8::from(s.transport_alive)
        );
        single(
            out,
            "ambisonia_bus_lease_held",
            "gauge",
            u8::from(s.current),
        );
        single(out, "ambisonia_bus_flushes_total", "counter", s.flushes);
        let _ = writeln!(out, "# TYPE ambisonia_read_cache_reads_total counter");
        for how in Read::ALL {
            let _ = writeln!(
                out,
                "ambisonia_read_cache_reads_total{{result=\"{}\"}} {}",
                how.as_str(),
                self.bus.reads(how)
            );
        }
        let cache = self.bus.cache();
        single(out, "ambisonia_read_cache_entries", "gauge", cache.len());
        single(out, "ambisonia_read_cache_bytes", "gauge", cache.bytes());
    }

    async fn render_jobs(&self, out: &mut String) {
        match domain::jobs::standing(&self.background).await {
            Ok(q) => {
                let _ = writeln!(out, "# TYPE ambisonia_jobs gauge");
                for (state, n) in [
                    ("queued", q.queued),
                    ("running", q.running),
                    ("failed", q.failed),
                ] {
                    let _ = writeln!(out, "ambisonia_jobs{{state=\"{state}\"}} {n}");
                }
                let age = q.oldest_queued.map_or(0.0, |at| {
                    (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                });
                single(out, "ambisonia_jobs_oldest_queued_seconds", "gauge", age);
            }
            Err(e) => {
                tracing::warn!(error = %e.for_operator(), "/metrics: cannot read the job queue")
            }
        }
        let _ = writeln!(out, "# TYPE ambisonia_job_runs_total counter");
        for run in JobRun::ALL {
            let _ = writeln!(
                out,
                "ambisonia_job_runs_total{{outcome=\"{}\"}} {}",
                run.as_str(),
                self.job_runs.0[run as usize].load(Relaxed)
            );
        }
    }

    fn render_work(&self, out: &mut String) {
        let (pending, refused) = domain::passwords::standing();
        single(out, "ambisonia_password_work_pending", "gauge", pending);
        single(
            out,
            "ambisonia_password_work_refused_total",
            "counter",
            refused,
        );
        single(
            out,
            "ambisonia_renditions_in_progress",
            "gauge",
            self.renditions.in_progress(),
        );
        single(
            out,
            "ambisonia_renditions_made_total",
            "counter",
            self.renditions.made(),
        );
        single(
            out,
            "ambisonia_renditions_waiting",
            "gauge",
            self.renditions.waiting(),
        );
        single(
            out,
            "ambisonia_renditions_refused_total",
            "counter",
            self.renditions.refused(),
        );
        render_stripe(out, &self.payments);
    }
}

fn render_stripe(out: &mut String, payments: &Payments) {
    single(
        out,
        "ambisonia_payments_on",
        "gauge",
        u8::from(payments.is_on()),
    );
    if let Some(calls) = payments.calls() {
        histogram(
            out,
            "ambisonia_stripe_call_duration_seconds",
            &calls.latency,
        );
        single(
            out,
            "ambisonia_stripe_calls_failed_total",
            "counter",
            calls.failed.load(Relaxed),
        );
    }
}

/// A label value as Prometheus' text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
