//! The balancer in-process on port 0 in front of in-process origins on port 0. Origins are
//! small hyper servers whose answers each test scripts; they count what reaches them and
//! can die (every connection dropped) mid-test.

#![expect(
    clippy::expect_used,
    reason = "a test that cannot set itself up should stop at once, saying where"
)]

mod acme;
mod balancing;
mod caching;
mod hostile;
mod protocols;
mod uploads;

use std::{
    collections::HashMap,
    future::Future,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant},
};

use balancer::{Balancer, Clock, Settings, proxy::Shared};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::oneshot, task::JoinSet};

/// What an origin saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
}

/// What an origin does with one request.
pub enum Reply {
    Answer {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
        delay: Duration,
    },
    /// Read the request, then close the connection without a byte of answer.
    HangUp,
}

impl Reply {
    pub fn ok(body: impl Into<String>) -> Self {
        Self::Answer {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        if let Self::Answer { headers, .. } = &mut self {
            headers.push((name, value.into()));
        }
        self
    }
    pub fn after(mut self, d: Duration) -> Self {
        if let Self::Answer { delay, .. } = &mut self {
            *delay = d;
        }
        self
    }
    pub fn status(mut self, s: u16) -> Self {
        if let Self::Answer { status, .. } = &mut self {
            *status = s;
        }
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

pub struct Origin {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    /// Health checks (`/readyz`) are answered 200 and not counted.
    pub async fn spawn(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("origin binds");
        let addr = listener.local_addr().expect("origin address");
        let hits = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let (h, s) = (Arc::clone(&hits), Arc::clone(&seen));
        let task = tokio::spawn(async move {
            // Owned here: aborting the origin drops every connection with it.
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (handler, hits, seen) = (Arc::clone(&handler), Arc::clone(&h), Arc::clone(&s));
                connections.spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (handler, hits, seen) =
                            (Arc::clone(&handler), Arc::clone(&hits), Arc::clone(&seen));
                        async move { answer(req, handler, hits, seen).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            hits,
            seen,
            task,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The replica dies: the listener and every open connection close at once.
    pub fn kill(&self) {
        self.task.abort();
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    handler: Handler,
    hits: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let s = Seen {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        headers: req.headers().clone(),
    };
    let _ = req.into_body().collect().await;
    if s.path == "/readyz" {
        return Ok(Response::new(Full::new(Bytes::from_static(b"ready"))));
    }
    hits.fetch_add(1, SeqCst);
    if let Ok(mut all) = seen.lock() {
        all.push(s.clone());
    }
    match handler(&s) {
        Reply::HangUp => Err(std::io::Error::other("hang up")),
        Reply::Answer {
            status,
            headers,
            body,
            delay,
        } => {
            tokio::time::sleep(delay).await;
            let mut resp = Response::new(Full::new(Bytes::from(body)));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            for (n, v) in headers {
                resp.headers_mut()
                    .append(n, v.parse().expect("test header value"));
            }
            Ok(resp)
        }
    }
}

pub struct TestBalancer {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub shared: Arc<Shared>,
    /// The balancer's time: it stands still until a test advances it.
    pub clock: Clock,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl TestBalancer {
    /// A balancer configured by `toml` (a balancer.toml as an operator writes it).
    pub async fn start(toml: &str) -> Self {
        let settings = settings(toml);
        Self::with(settings).await
    }

    pub async fn with(settings: Settings) -> Self {
        let clock = Clock::manual();
        let balancer = Balancer::bind_with_clock(settings, clock.clone())
            .await
            .expect("balancer binds");
        let (addr, admin, shared) = (
            balancer.local_addr(),
            balancer.admin_addr(),
            balancer.shared(),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(balancer.run_until(async move {
            let _ = rx.await;
        }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self {
            addr,
            admin,
            shared,
            clock,
            http,
            stop: Some(tx),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("balancer answers")
    }

    /// SIGTERM, as far as the balancer can tell.
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.admin))
            .await
            .expect("admin answers")
            .text()
            .await
            .unwrap_or_default()
    }
}

impl Drop for TestBalancer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn settings(toml: &str) -> Settings {
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    Settings::from_toml(toml, any, any).unwrap_or_else(|e| panic!("test config: {e}"))
}

/// A pool `app` of these origins, every path routed to it; `extra` is appended to the pool
/// table (health, limits …) and may add sections.
pub fn one_pool(origins: &[&Origin], extra: &str) -> String {
    let list: Vec<String> = origins.iter().map(|o| format!("\"{}\"", o.addr)).collect();
    format!(
        "[pools.app]\nupstreams = [{}]\n{extra}\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n",
        list.join(", ")
    )
}

pub fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Waits for a condition with a deadline, never a fixed sleep.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Counts of the values of one response header over many responses.
pub fn tally(values: impl Iterator<Item = String>) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for v in values {
        *m.entry(v).or_insert(0) += 1;
    }
    m
}
