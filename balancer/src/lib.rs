//! The front door as a library (`server --role balancer` runs it). Path router, anonymous page cache and
//! latency-aware load balancer in one process (Apache + Varnish + Pound of the classic site).
//!
//! This module accepts connections and owns their lifetime: limits on the client side
//! (header read timeout, header size and count, idle timeout), TLS when configured,
//! HTTP/1.1 and HTTP/2, graceful shutdown on SIGTERM and reload on SIGHUP. What happens to
//! each request is in `proxy.rs`, in the order it happens.

pub mod acme;
pub mod admin;
pub mod body;
pub mod cache;
pub mod clients;
pub mod clock;
pub mod config;
pub mod forward;
pub mod freshness;
pub mod health;
mod idle;
pub mod metrics;
pub mod pages;
mod plain_http;
pub mod pool;
pub mod proxy;
pub mod request_body;
pub mod router;
mod tls;
pub mod token;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use hyper::service::service_fn;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
};
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};

use clients::ConnectionSlot;
pub use clock::Clock;
pub use config::{BalancerFlags, Settings, TrustedProxies};
use idle::{Activity, IdleIo};
use proxy::{Connection, Shared};

pub struct Balancer {
    shared: Arc<Shared>,
    listener: TcpListener,
    admin: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// With TLS: the plain-HTTP listener (ACME challenges, redirects to HTTPS).
    http: Option<(TcpListener, Arc<plain_http::Redirects>)>,
}

impl Balancer {
    /// Binds both listeners and starts the health checks; serves nothing until `run_until`.
    pub async fn bind(settings: Settings) -> Result<Self, String> {
        Self::bind_with_clock(settings, Clock::system()).await
    }

    /// [`Balancer::bind`] on a clock of the caller's (tests hand in a manual one).
    pub async fn bind_with_clock(settings: Settings, clock: Clock) -> Result<Self, String> {
        Self::bind_with(settings, clock, None).await
    }

    /// [`Balancer::bind_with_clock`], with the store an `[acme]` `store = "bucket:…"` means
    /// (the binary hands in the media bucket).
    pub async fn bind_with(
        settings: Settings,
        clock: Clock,
        bucket: Option<Arc<dyn acme::Store>>,
    ) -> Result<Self, String> {
        let (tls, acme) = match &settings.tls {
            Some(config::Tls::Files(files)) => (Some(tls::acceptor(files)?), None),
            Some(config::Tls::Acme(a)) => {
                let store: Arc<dyn acme::Store> = match &a.store {
                    acme::StoreLocation::Dir(dir) => Arc::new(acme::DirStore(dir.clone())),
                    acme::StoreLocation::Bucket(prefix) => Arc::new(acme::Prefixed {
                        inner: bucket.ok_or(
                            "[acme] store = \"bucket:…\" needs the media bucket (AMBISONIA_S3_BUCKET)",
                        )?,
                        prefix: prefix.clone(),
                    }),
                };
                let acme = acme::Acme::new(a.clone(), store);
                (
                    Some(tls::acceptor_for(Arc::clone(&acme.current))?),
                    Some(acme),
                )
            }
            None => (None, None),
        };
        let listener = listen(settings.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
        let admin = TcpListener::bind(settings.admin_listen)
            .await
            .map_err(|e| format!("cannot listen on {} (admin): {e}", settings.admin_listen))?;
        let http = match settings.http_listen {
            Some(addr) => {
                let l = listen(addr).map_err(|e| format!("cannot listen on {addr} (http): {e}"))?;
                let hosts = acme
                    .as_ref()
                    .map(|a| a.settings().domains.clone())
                    .unwrap_or_default();
                let https_port = listener.local_addr().map_or(443, |a| a.port());
                Some((
                    l,
                    Arc::new(plain_http::Redirects {
                        acme: acme.clone(),
                        hosts,
                        https_port,
                    }),
                ))
            }
            None => None,
        };
        let shared = Shared::with_clock(settings, clock);
        if let Some(a) = &acme {
            let _ = shared.acme.set(Arc::clone(a));
        }
        start_health_checks(&shared);
        Ok(Self {
            shared,
            listener,
            admin,
            tls,
            http,
        })
    }

    /// Where the plain-HTTP listener listens, when there is one.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The live state, for reloads and for tests that look inside.
    pub fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish
    /// (up to the configured grace) and returns.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) {
        let Self {
            shared,
            listener,
            admin,
            tls,
            http,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        // Every connection task holds a sender; when all are gone, all connections are done.
        let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);

        let admin_task = tokio::spawn(serve_admin(admin, Arc::clone(&shared), stop_rx.clone()));
        let http_task = http
            .map(|(l, redirects)| tokio::spawn(plain_http::serve(l, redirects, stop_rx.clone())));
        // The ACME client (kept in `shared` for /metrics) keeps the certificate current.
        let acme_task = shared.acme.get().cloned().map(|a| tokio::spawn(a.run()));
        let builder = Arc::new(http_builder(&shared.live().settings));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            // Out of file descriptors and the like: wait, do not spin.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    // Clients behind a trusted proxy share its address: not counted.
                    let slot = {
                        let live = shared.live();
                        let limits = &live.settings.limits;
                        if live.settings.trusted_proxies.trusts(peer.ip()) {
                            None
                        } else {
                            match shared.clients.connect(peer.ip(), limits) {
                                Some(s) => Some(s),
                                None => {
                                    let linger = shared.clients.linger(limits);
                                    tokio::spawn(refuse(stream, tls.is_some(), linger));
                                    continue;
                                }
                            }
                        }
                    };
                    let conn = ConnectionTask {
                        shared: Arc::clone(&shared),
                        builder: Arc::clone(&builder),
                        stop: stop_rx.clone(),
                        _alive: alive_tx.clone(),
                        _slot: slot,
                        peer,
                    };
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        match tls {
                            None => conn.serve(stream, false).await,
                            Some(acceptor) => {
                                let handshake = tokio::time::timeout(
                                    conn.shared.live().settings.limits.header_read_timeout,
                                    acceptor.accept(stream),
                                );
                                if let Ok(Ok(stream)) = handshake.await {
                                    conn.serve(stream, true).await;
                                }
                            }
                        }
                    });
                }
            }
        }

        drop(listener);
        let grace = shared.live().settings.shutdown_grace;
        tracing::info!(
            grace_s = grace.as_secs(),
            "balancer stopping: finishing requests in flight"
        );
        let _ = stop_tx.send(true);
        drop(alive_tx);
        if tokio::time::timeout(grace, alive_rx.recv()).await.is_err() {
            tracing::warn!("shutdown grace ran out with connections still open");
        }
        admin_task.abort();
        for task in [http_task, acme_task].into_iter().flatten() {
            task.abort();
        }
    }
}

/// The public listener, with a deep accept queue: a flood of connections waits there for
/// the accept loop (and its per-client caps) instead of being dropped by the kernel. Linux
/// caps the depth at `net.core.somaxconn` (4096 by default).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

fn http_builder(settings: &Settings) -> auto::Builder<TokioExecutor> {
    let limits = settings.limits;
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes)
        .max_headers(limits.max_headers);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    b
}

/// A connection over its client's cap: told so (in plain HTTP/1.1 when it is not TLS),
/// then closed in stages (RFC 9112 §9.6): the write side first, then what the client is
/// still sending — the request it sent before the answer came, an upload's body — is read
/// and dropped for up to [`LINGER`], at most [`LINGER_BYTES`]. Closed at once with that
/// unread, the kernel would answer it with a reset, which can reach the client before it
/// has read the 429 (and a client still writing sees only the reset). Without leave to
/// linger (`max_lingering_refusals` are lingering already: a flood), the answer is written
/// only if the socket takes it at once, and the connection is closed at once.
async fn refuse(mut stream: tokio::net::TcpStream, tls: bool, linger: Option<clients::Lingering>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let answer = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n\
        Content-Type: text/plain\r\nContent-Length: 41\r\nConnection: close\r\n\r\n\
        Too many connections from your address.\r\n";
    let Some(_linger) = linger else {
        if !tls {
            let _ = stream.try_write(answer);
        }
        return;
    };
    if !tls {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer)).await;
    }
    let _ = stream.shutdown().await;
    let drain = async {
        let (mut sink, mut read) = ([0u8; 4096], 0);
        while read < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// How long a refused connection is read from after its answer, and how much of it.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 256 * 1024;

struct ConnectionTask {
    shared: Arc<Shared>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
    /// Counts against its address's connections until the task ends.
    _slot: Option<ConnectionSlot>,
    peer: SocketAddr,
}

impl ConnectionTask {
    async fn serve<IO>(mut self, io: IO, tls: bool)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + idle::Reset + Unpin + Send + 'static,
    {
        let limits = self.shared.live().settings.limits;
        let idle_timeout = limits.idle_timeout;
        let activity = Activity::new();
        let io = TokioIo::new(IdleIo::new(io, Arc::clone(&activity)));
        let info = Arc::new(Connection {
            peer: self.peer,
            tls,
        });
        let shared = Arc::clone(&self.shared);
        let svc = service_fn(move |req| proxy::handle(Arc::clone(&shared), Arc::clone(&info), req));
        let conn = self.builder.serve_connection(io, svc);
        tokio::pin!(conn);
        let mut closing = *self.stop.borrow();
        if closing {
            conn.as_mut().graceful_shutdown();
        }
        // The slow-reader watch: a sample a second.
        let watch_reads = limits.min_response_bytes_per_s > 0;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reads = idle::ReadWatch::new(limits.rate_window, limits.min_response_bytes_per_s);
        loop {
            let idle_for = activity.idle_for();
            tokio::select! {
                _ = conn.as_mut() => break,
                changed = self.stop.changed(), if !closing => {
                    if changed.is_err() || *self.stop.borrow() {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
                () = tokio::time::sleep(idle_timeout.saturating_sub(idle_for)), if !closing => {
                    if activity.idle_for() >= idle_timeout {
                        // Graceful: a request still being answered finishes first.
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
                _ = tick.tick(), if watch_reads => {
                    if reads.too_slow(activity.sample()) {
                        // Dropping the connection drops the answer and its upstream slot; a
                        // reset drops what the kernel still holds for it.
                        activity.reset_on_close();
                        self.shared
                            .metrics
                            .slow_readers_closed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(client = %self.peer.ip(), "closed a client reading below the minimum rate");
                        break;
                    }
                }
            }
        }
    }
}

async fn serve_admin(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let svc = service_fn(move |req| admin::handle(Arc::clone(&shared), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn start_health_checks(shared: &Shared) {
    for pool in shared.live().pools.values() {
        for u in &pool.upstreams {
            if u.claim_checker() {
                health::spawn(u);
            }
        }
    }
}

/// Swaps in new settings without dropping a connection; new upstreams get health checks.
pub fn reload(shared: &Shared, settings: Settings) {
    shared.apply(settings);
    start_health_checks(shared);
}

/// `server --role balancer`: runs until `shutdown` resolves (the binary passes SIGTERM or
/// Ctrl-C); SIGHUP reloads the settings. `started` is handed the live state once bound
/// (the binary puts the cache on the invalidation bus).
pub async fn run(
    listen: SocketAddr,
    flags: BalancerFlags,
    proxies: TrustedProxies,
    shutdown: impl Future<Output = ()>,
    started: impl FnOnce(Arc<Shared>),
    acme_bucket: Option<Arc<dyn acme::Store>>,
) -> Result<(), String> {
    let settings = Settings::load(listen, &flags, &proxies)?;
    let balancer = Balancer::bind_with(settings, Clock::system(), acme_bucket).await?;
    started(balancer.shared());
    tracing::info!(
        listen = %balancer.local_addr(),
        admin = %balancer.admin_addr(),
        http = ?balancer.http_addr(),
        "balancer listening"
    );
    let shared = balancer.shared();
    tokio::spawn(reload_on_sighup(shared, listen, flags, proxies));
    balancer.run_until(shutdown).await;
    Ok(())
}

#[cfg(unix)]
async fn reload_on_sighup(
    shared: Arc<Shared>,
    listen: SocketAddr,
    flags: BalancerFlags,
    proxies: TrustedProxies,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        match Settings::load(listen, &flags, &proxies) {
            Ok(settings) => {
                let before = shared.live();
                if settings.listen != before.settings.listen
                    || settings.admin_listen != before.settings.admin_listen
                {
                    tracing::warn!("listen addresses change only on restart");
                }
                reload(&shared, settings);
                tracing::info!("balancer settings reloaded");
            }
            // A broken file leaves the running settings in place.
            Err(e) => tracing::error!(error = %e, "reload refused; keeping the running settings"),
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_: Arc<Shared>, _: SocketAddr, _: BalancerFlags, _: TrustedProxies) {}
