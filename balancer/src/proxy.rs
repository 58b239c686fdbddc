//! One request's life in the balancer, in the order it lives (docs/architecture.md, "The balancer's request life"):
//! limits → route → cache lookup (hit / stale / miss, misses for one URL coalesced) →
//! pick upstream and forward (forward.rs) → store if cacheable → respond → log and count.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::{Arc, RwLock},
    time::Instant,
};

use bytes::{Bytes, BytesMut};
use contract::{
    header::{PURGE_KEYS, SURROGATE_CONTROL, SURROGATE_KEY, X_CACHE, X_REQUEST_ID},
    policy::is_personal,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rand::Rng;

use super::{
    body::Body,
    cache::{Cache, CacheStatus, Fill, FillLeader, FillOutcome, Object, url_key},
    clients::{self, Clients, UpstreamSlot},
    clock::Clock,
    config::{RouteSettings, Settings},
    forward::{self, Answer, ForwardError, HttpClient, Outgoing, Peer, X_FORWARDED_FOR},
    freshness,
    metrics::Metrics,
    pages,
    pool::Pool,
    request_body::{BodyRefused, RequestBody},
    router::{Router, upstream_path},
};

/// One generation of configuration; replaced whole on reload.
pub struct Live {
    pub settings: Arc<Settings>,
    pub router: Router,
    pub pools: HashMap<String, Arc<Pool>>,
    pub clients: HashMap<String, HttpClient>,
}

impl Live {
    fn new(settings: Settings, previous: Option<&Live>) -> Self {
        let mut pools = HashMap::new();
        let mut clients = HashMap::new();
        for (name, p) in &settings.pools {
            let before = previous.and_then(|l| l.pools.get(name)).map(Arc::as_ref);
            // Keep the pool's keep-alive connections when its connection settings stay.
            let client = previous
                .filter(|_| {
                    before.is_some_and(|b| {
                        b.settings.connect_timeout == p.connect_timeout
                            && b.settings.max_connections == p.max_connections
                    })
                })
                .and_then(|l| l.clients.get(name).cloned())
                .unwrap_or_else(|| forward::client(p));
            clients.insert(name.clone(), client);
            pools.insert(
                name.clone(),
                Arc::new(Pool::new(name.clone(), p.clone(), before)),
            );
        }
        Self {
            router: Router::new(settings.routes.clone()),
            settings: Arc::new(settings),
            pools,
            clients,
        }
    }
}

/// What every connection shares: the current configuration, the cache and the counters.
pub struct Shared {
    live: RwLock<Arc<Live>>,
    pub cache: Arc<Cache>,
    pub metrics: Metrics,
    /// What each client address holds now (kept across reloads).
    pub clients: Arc<Clients>,
    /// The ACME client, when the certificate is obtained automatically (for `/metrics`).
    pub acme: std::sync::OnceLock<Arc<crate::acme::Acme>>,
}

impl Shared {
    pub fn new(settings: Settings) -> Arc<Self> {
        Self::with_clock(settings, Clock::system())
    }

    /// [`Shared::new`] on a clock of the caller's (tests hand in a manual one).
    pub fn with_clock(settings: Settings, clock: Clock) -> Arc<Self> {
        let cache = Arc::new(Cache::new(
            settings.cache.size_bytes,
            settings.cache.max_object_bytes,
            clock,
        ));
        let live = Live::new(settings, None);
        Arc::new(Self {
            live: RwLock::new(Arc::new(live)),
            cache,
            metrics: Metrics::default(),
            clients: Arc::default(),
            acme: std::sync::OnceLock::new(),
        })
    }

    pub fn live(&self) -> Arc<Live> {
        match self.live.read() {
            Ok(l) => Arc::clone(&l),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in new settings. Requests in flight finish on the generation they started on;
    /// upstreams that stay keep their counters, health and queues; the cache stays.
    pub fn apply(&self, settings: Settings) -> Arc<Live> {
        let previous = self.live();
        self.cache
            .resize(settings.cache.size_bytes, settings.cache.max_object_bytes);
        let next = Arc::new(Live::new(settings, Some(&previous)));
        match self.live.write() {
            Ok(mut l) => *l = Arc::clone(&next),
            Err(poisoned) => *poisoned.into_inner() = Arc::clone(&next),
        }
        next
    }
}

/// The connection a request came on.
pub struct Connection {
    pub peer: SocketAddr,
    pub tls: bool,
}

/// The per-request context the stages fill in, read by the log line at the end.
struct Ctx {
    request_id: HeaderValue,
    cache: CacheStatus,
    /// Why a response that went through the cache stage was not kept.
    not_stored: Option<freshness::NotStored>,
    upstream: Option<String>,
    /// Close the client connection after this response (HTTP/1 only: HTTP/2 has no
    /// `Connection` header and closes streams, not connections).
    close: bool,
    http1: bool,
    peer: Peer,
    /// The client's address: the peer, or behind a trusted proxy the address it reports.
    client: IpAddr,
    /// The host the client asked for, without port: what routes and cache keys use.
    host: String,
    /// The `Host` as the client sent it (with its port): what `X-Forwarded-Host` carries, so
    /// the app can tell its own origin (`http://127.0.0.1:8080`) from another site's.
    authority: String,
}

pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<Connection>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let live = shared.live();
    let settings = &live.settings;
    let peer_ip = conn.peer.ip();
    let trusted = settings.trusted_proxies.trusts(peer_ip);
    let client = settings.trusted_proxies.client_address(
        peer_ip,
        req.headers()
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let request_id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| trusted && v.len() <= 128)
        .cloned()
        .unwrap_or_else(new_request_id);
    let mut ctx = Ctx {
        request_id,
        cache: CacheStatus::Pass,
        not_stored: None,
        upstream: None,
        close: false,
        http1: req.version() < http::Version::HTTP_2,
        peer: Peer {
            ip: peer_ip,
            trusted,
            tls: conn.tls,
        },
        client,
        host: request_host(&req),
        authority: request_authority(&req),
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();

    let mut resp = life(&shared, &live, &mut ctx, req).await;

    let h = resp.headers_mut();
    h.remove(&SURROGATE_KEY);
    h.remove(&SURROGATE_CONTROL);
    h.remove(&PURGE_KEYS);
    h.insert(&X_CACHE, HeaderValue::from_static(ctx.cache.as_str()));
    if !h.contains_key(header::AGE) {
        h.insert(header::AGE, HeaderValue::from_static("0"));
    }
    h.insert(&X_REQUEST_ID, ctx.request_id.clone());
    if ctx.close && ctx.http1 {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let status = resp.status().as_u16();
    shared.metrics.count_response(status, ctx.cache);
    tracing::info!(
        target: "balancer::access",
        method = %method,
        host = %ctx.host,
        path = %path,
        status,
        cache = ctx.cache.as_str(),
        not_stored = ctx.not_stored.map_or("-", freshness::NotStored::as_str),
        upstream = ctx.upstream.as_deref().unwrap_or("-"),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = %ctx.request_id.to_str().unwrap_or("-"),
        client = %ctx.client,
    );
    Ok(resp)
}

async fn life(
    shared: &Arc<Shared>,
    live: &Arc<Live>,
    ctx: &mut Ctx,
    req: Request<Incoming>,
) -> Response<Body> {
    // limits
    if req.method().as_str() == "PURGE" {
        return purge(shared, live, ctx, &req);
    }
    // The host names the cache key and the upstream's Host: it must be a host name (or
    // address) and an optional port, and agree with an absolute URI's authority.
    if !valid_authority(&ctx.authority) || !host_agrees(&req) {
        ctx.close = true;
        return pages::error(StatusCode::BAD_REQUEST, None);
    }
    // RFC 9112 §6.1: a request framed by Transfer-Encoding may have carried a conflicting
    // Content-Length (hyper keeps only the chunked framing); never reuse such a connection.
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        ctx.close = true;
    }

    // route
    let Some(route) = live.router.route(&ctx.host, req.uri().path()) else {
        return pages::error(StatusCode::NOT_FOUND, None);
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > route.max_body_bytes) {
        ctx.close = true;
        return pages::error(StatusCode::PAYLOAD_TOO_LARGE, None);
    }
    let (Some(pool), Some(client)) = (live.pools.get(&route.pool), live.clients.get(&route.pool))
    else {
        return pages::error(StatusCode::BAD_GATEWAY, None);
    };
    let target = Target {
        shared,
        live,
        route,
        pool,
        client,
    };

    // cache lookup
    let has_body = !http_body::Body::is_end_stream(req.body());
    let lookup = route.cache && matches!(*req.method(), Method::GET | Method::HEAD) && !has_body;
    if !lookup {
        ctx.cache = CacheStatus::Pass;
        return target.pass(ctx, req).await;
    }
    if is_personal(req.headers(), &live.settings.session_cookie) {
        ctx.cache = CacheStatus::Bypass;
        return target.pass(ctx, req).await;
    }
    target.through_cache(ctx, req).await
}

/// Where a routed request goes.
struct Target<'a> {
    shared: &'a Arc<Shared>,
    live: &'a Arc<Live>,
    route: &'a RouteSettings,
    pool: &'a Arc<Pool>,
    client: &'a HttpClient,
}

impl Target<'_> {
    fn outgoing(
        &self,
        ctx: &Ctx,
        method: Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        body: RequestBody,
        client_slot: Option<UpstreamSlot>,
    ) -> Outgoing {
        let path = upstream_path(self.route, uri.path());
        let path_and_query = match uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.into_owned(),
        };
        let mut h = headers.clone();
        forward::strip_hop_by_hop(&mut h);
        // The upstream sees the host the cache key used (an absolute URI's authority wins
        // over a Host header, RFC 9112 §3.2.2).
        if let Ok(a) = HeaderValue::from_str(&ctx.authority)
            && !ctx.authority.is_empty()
        {
            h.insert(header::HOST, a);
        }
        forward::set_forwarded(&mut h, &ctx.peer, &ctx.authority);
        h.insert(&X_REQUEST_ID, ctx.request_id.clone());
        Outgoing {
            method,
            path_and_query,
            headers: h,
            body,
            timeout: self.route.timeout,
            client_slot,
        }
    }

    async fn send(&self, out: Outgoing) -> Result<Answer, ForwardError> {
        forward::send(self.pool, self.client, out, &self.shared.metrics.retries).await
    }

    /// One of the client's upstream slots (clients.rs), or the 429 that says it has too
    /// many requests in flight already.
    async fn client_slot(&self, ctx: &Ctx) -> Result<UpstreamSlot, Response<Body>> {
        let limits = &self.live.settings.limits;
        match self.shared.clients.go_upstream(ctx.client, limits).await {
            Some(slot) => Ok(slot),
            None => Err(pages::error(
                StatusCode::TOO_MANY_REQUESTS,
                Some(clients::RETRY_AFTER.as_secs() as u32),
            )),
        }
    }

    /// Not cacheable or personal: the body read first (up to the buffer size, at the
    /// minimum rate) so no upstream waits on a slow client, then straight through.
    async fn pass(&self, ctx: &mut Ctx, req: Request<Incoming>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let unsafe_method = !matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        let limits = &self.live.settings.limits;
        let body = match RequestBody::read(body, limits, self.route.max_body_bytes).await {
            Ok(b) => b,
            Err(refused) => return body_refused(&self.shared.metrics, ctx, refused),
        };
        let slot = match self.client_slot(ctx).await {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        let out = self.outgoing(
            ctx,
            parts.method,
            &parts.uri,
            &parts.headers,
            body,
            Some(slot),
        );
        match self.send(out).await {
            Ok(answer) => {
                let status = answer.response.status();
                if unsafe_method && (status.is_success() || status.is_redirection()) {
                    self.invalidate_after_write(ctx, &parts.uri, answer.response.headers());
                }
                stream(ctx, answer, None)
            }
            Err(e) => forward_error(&self.shared.metrics, ctx, e),
        }
    }

    /// A successful POST/PUT/DELETE changed what its own URL shows (RFC 9111 §4.4), and
    /// whatever the app names in `X-Purge-Keys`. Nothing else: the `Location` and
    /// `Content-Location` a write answers with (which §4.4 allows a cache to drop) are left
    /// alone, so an anonymous `POST /api/logout` answered with `Location: /` cannot empty
    /// the home page; what a write really changed only the app knows.
    fn invalidate_after_write(&self, ctx: &Ctx, uri: &http::Uri, response: &HeaderMap) {
        let cache = &self.shared.cache;
        let mut purged = cache.purge_url(&url_key(&ctx.host, uri.path(), uri.query()));
        let named = response
            .get_all(&PURGE_KEYS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(str::split_ascii_whitespace);
        purged += cache.purge_keys(named);
        self.shared
            .metrics
            .purged
            .fetch_add(purged as u64, std::sync::atomic::Ordering::Relaxed);
    }

    async fn through_cache(&self, ctx: &mut Ctx, req: Request<Incoming>) -> Response<Body> {
        let cache = &self.shared.cache;
        let head = req.method() == Method::HEAD;
        let url = url_key(&ctx.host, req.uri().path(), req.uri().query());
        let now = cache.clock().now();
        let found = cache.lookup(&url, req.headers(), now);
        if let Some(o) = &found {
            if o.is_fresh(now) {
                ctx.cache = CacheStatus::Hit;
                return serve(o, req.headers(), head, now);
            }
            if o.may_serve_while_revalidating(now) {
                ctx.cache = CacheStatus::Stale;
                if o.start_revalidation() {
                    self.spawn_revalidation(ctx, &req, url, Arc::clone(o));
                }
                return serve(o, req.headers(), head, now);
            }
        }

        ctx.cache = CacheStatus::Miss;
        // Misses for one URL make one upstream request; the others wait for it. A waiter
        // whose leader vanished (its client hung up) tries to lead itself.
        for _ in 0..3 {
            if cache.is_hit_for_miss(&url) {
                break;
            }
            match cache.join_fill(&url) {
                Fill::Leader(leader) => {
                    return self.fetch(ctx, &req, &url, Some(leader), found).await;
                }
                Fill::Waiter(mut rx) => {
                    let waited =
                        tokio::time::timeout(self.route.timeout, rx.wait_for(Option::is_some))
                            .await;
                    let outcome = match waited {
                        Ok(Ok(o)) => *o,
                        Ok(Err(_)) => continue,
                        Err(_) => Some(FillOutcome::Failed(StatusCode::GATEWAY_TIMEOUT)),
                    };
                    match outcome {
                        Some(FillOutcome::Stored) => {
                            let now = cache.clock().now();
                            if let Some(o) = cache
                                .lookup(&url, req.headers(), now)
                                .filter(|o| o.is_fresh(now))
                            {
                                ctx.cache = CacheStatus::Hit;
                                return serve(&o, req.headers(), head, now);
                            }
                            // Another variant was stored: fetch ours (coalesced again).
                        }
                        Some(FillOutcome::NotShared) | None => {}
                        Some(FillOutcome::Failed(status)) => {
                            let now = cache.clock().now();
                            if let Some(o) = found.as_ref().filter(|o| o.may_serve_on_error(now)) {
                                ctx.cache = CacheStatus::Stale;
                                return serve(o, req.headers(), head, now);
                            }
                            return pages::error(status, retry_after(status));
                        }
                    }
                }
            }
        }
        self.fetch(ctx, &req, &url, None, found).await
    }

    /// The miss: a GET upstream (also for a HEAD, so the answer can be stored), stored when
    /// the origin allows, the waiting requests told how it went.
    async fn fetch(
        &self,
        ctx: &mut Ctx,
        req: &Request<Incoming>,
        url: &str,
        leader: Option<FillLeader>,
        stale: Option<Arc<Object>>,
    ) -> Response<Body> {
        let cache = &self.shared.cache;
        let settings = &self.live.settings.cache;
        let head = req.method() == Method::HEAD;
        let finish = |leader: Option<FillLeader>, outcome| {
            if let Some(l) = leader {
                l.finish(outcome);
            }
        };
        // Stale for an origin that answered 5xx (only what it allowed), or one that could not
        // be reached (also the configured grace, unless it said must-revalidate).
        let stale_on_error = |ctx: &mut Ctx, unreachable: bool| {
            let now = cache.clock().now();
            stale
                .as_ref()
                .filter(|o| {
                    if unreachable {
                        o.may_serve_when_unreachable(now)
                    } else {
                        o.may_serve_on_error(now)
                    }
                })
                .map(|o| {
                    ctx.cache = CacheStatus::Stale;
                    serve(o, req.headers(), head, now)
                })
        };

        let headers = lookup_headers(req.headers());
        // A stale copy with validators is revalidated rather than fetched again (RFC 9111
        // §4.3.1): the origin answers 304 when it still holds — what a copy that said
        // `must-revalidate` needs before it is used again.
        let mut asked = headers.clone();
        if let Some(o) = &stale {
            conditional(&mut asked, o);
        }
        let slot = match self.client_slot(ctx).await {
            Ok(s) => s,
            Err(resp) => {
                // The waiters are not this client: let one of them lead.
                drop(leader);
                return resp;
            }
        };
        let out = self.outgoing(
            ctx,
            Method::GET,
            req.uri(),
            &asked,
            RequestBody::Empty,
            Some(slot),
        );
        let answer = match self.send(out).await {
            Ok(a) => a,
            Err(e) => {
                let status = forward_status(&e);
                finish(leader, FillOutcome::Failed(status));
                return stale_on_error(ctx, true)
                    .unwrap_or_else(|| forward_error(&self.shared.metrics, ctx, e));
            }
        };
        ctx.upstream = Some(answer.claim.upstream.authority.clone());
        let status = answer.response.status();
        if status.is_server_error()
            && let Some(resp) = stale_on_error(ctx, false)
        {
            finish(leader, FillOutcome::Failed(status));
            return resp;
        }
        if status == StatusCode::NOT_MODIFIED
            && let Some(o) = &stale
        {
            let mut h = answer.response.headers().clone();
            forward::strip_hop_by_hop(&mut h);
            drop(answer);
            let now = cache.clock().now();
            return match refreshed(o, &h, settings, cache) {
                Some(fresh) => match cache.insert(url, &headers, fresh) {
                    Some(stored) => {
                        ctx.cache = CacheStatus::Hit;
                        finish(leader, FillOutcome::Stored);
                        serve(&stored, req.headers(), head, now)
                    }
                    None => {
                        finish(leader, FillOutcome::NotShared);
                        serve(o, req.headers(), head, now)
                    }
                },
                // Still good, but no longer to be kept: answered once more, then dropped.
                None => {
                    cache.purge_url(url);
                    finish(leader, FillOutcome::NotShared);
                    serve(o, req.headers(), head, now)
                }
            };
        }

        let mut response_headers = answer.response.headers().clone();
        forward::strip_hop_by_hop(&mut response_headers);
        let lifetime =
            freshness::lifetime(status, &response_headers, settings, cache.clock().wall());
        let declared = content_length(&response_headers);
        let lifetime = match lifetime {
            Ok(l) => l,
            Err(why) => {
                ctx.not_stored = Some(why);
                cache.mark_hit_for_miss(url, settings.hit_for_miss);
                finish(leader, FillOutcome::NotShared);
                return stream(ctx, answer, Some(head));
            }
        };
        if declared.is_some_and(|n| n > cache.max_object() as u64) {
            ctx.not_stored = Some(freshness::NotStored::TooLarge);
            cache.mark_hit_for_miss(url, settings.hit_for_miss);
            finish(leader, FillOutcome::NotShared);
            return stream(ctx, answer, Some(head));
        }

        let Answer { response, claim } = answer;
        let (parts, body) = response.into_parts();
        match collect(body, cache.max_object()).await {
            Collected::All(bytes) => {
                drop(claim);
                let initial_age = freshness::initial_age(&response_headers);
                // A reference-counted handle, not a copy: kept to answer if the cache refuses.
                let body = bytes.clone();
                let object = Object::new(
                    status,
                    response_headers,
                    bytes,
                    initial_age,
                    lifetime,
                    cache.clock().now(),
                );
                match cache.insert(url, &headers, object) {
                    Some(o) => {
                        cache.clear_hit_for_miss(url);
                        finish(leader, FillOutcome::Stored);
                        serve(&o, req.headers(), head, cache.clock().now())
                    }
                    None => {
                        // Too big for this cache's budget; answer from what we hold.
                        ctx.not_stored = Some(freshness::NotStored::TooLarge);
                        cache.mark_hit_for_miss(url, settings.hit_for_miss);
                        finish(leader, FillOutcome::NotShared);
                        let mut resp = Response::from_parts(
                            parts,
                            if head {
                                Body::empty()
                            } else {
                                Body::bytes(body)
                            },
                        );
                        forward::strip_hop_by_hop(resp.headers_mut());
                        resp
                    }
                }
            }
            Collected::Partial(prefix, rest) => {
                ctx.not_stored = Some(freshness::NotStored::TooLarge);
                cache.mark_hit_for_miss(url, settings.hit_for_miss);
                finish(leader, FillOutcome::NotShared);
                let mut resp = Response::from_parts(
                    parts,
                    if head {
                        Body::empty()
                    } else {
                        Body::Upstream {
                            prefix: Some(prefix),
                            inner: rest,
                            claim: Some(claim),
                        }
                    },
                );
                forward::strip_hop_by_hop(resp.headers_mut());
                resp
            }
            Collected::Failed => {
                finish(leader, FillOutcome::Failed(StatusCode::BAD_GATEWAY));
                stale_on_error(ctx, true)
                    .unwrap_or_else(|| pages::error(StatusCode::BAD_GATEWAY, None))
            }
        }
    }

    /// Grace: the stale object was served; one background request asks the origin whether
    /// it is still good (conditionally, when it has validators) and stores the answer.
    fn spawn_revalidation(
        &self,
        ctx: &Ctx,
        req: &Request<Incoming>,
        url: String,
        stale: Arc<Object>,
    ) {
        let headers = lookup_headers(req.headers());
        let mut asked = headers.clone();
        conditional(&mut asked, &stale);
        let out = self.outgoing(
            ctx,
            Method::GET,
            req.uri(),
            &asked,
            RequestBody::Empty,
            None,
        );
        let (shared, live) = (Arc::clone(self.shared), Arc::clone(self.live));
        let pool_name = self.route.pool.clone();
        tokio::spawn(async move {
            let (Some(pool), Some(client)) =
                (live.pools.get(&pool_name), live.clients.get(&pool_name))
            else {
                return;
            };
            let cache = &shared.cache;
            let settings = &live.settings.cache;
            if let Ok(Answer { response, claim }) =
                forward::send(pool, client, out, &shared.metrics.retries).await
            {
                let status = response.status();
                let (parts, body) = response.into_parts();
                let mut h = parts.headers;
                forward::strip_hop_by_hop(&mut h);
                if status == StatusCode::NOT_MODIFIED {
                    drop(claim);
                    match refreshed(&stale, &h, settings, cache) {
                        Some(o) => {
                            cache.insert(&url, &headers, o);
                        }
                        None => {
                            cache.purge_url(&url);
                        }
                    }
                } else if status.is_server_error() {
                    // Keep serving the stale copy within its windows.
                } else if let Ok(lifetime) =
                    freshness::lifetime(status, &h, settings, cache.clock().wall())
                {
                    if let Collected::All(bytes) = collect(body, cache.max_object()).await {
                        drop(claim);
                        let age = freshness::initial_age(&h);
                        cache.insert(
                            &url,
                            &headers,
                            Object::new(status, h, bytes, age, lifetime, cache.clock().now()),
                        );
                    }
                } else {
                    cache.purge_url(&url);
                }
            }
            stale.end_revalidation();
        });
    }
}

/// Asks the origin whether `stale` still holds: its validators as conditions.
fn conditional(asked: &mut HeaderMap, stale: &Object) {
    let (etag, modified) = stale.validators();
    if let Some(e) = etag {
        asked.insert(header::IF_NONE_MATCH, e.clone());
    }
    if let Some(m) = modified {
        asked.insert(header::IF_MODIFIED_SINCE, m.clone());
    }
}

/// `stale` updated by a 304's headers (RFC 9111 §4.3.4), with the lifetime they give it;
/// `None` when it may no longer be kept.
fn refreshed(
    stale: &Object,
    not_modified: &HeaderMap,
    settings: &crate::config::CacheSettings,
    cache: &Cache,
) -> Option<Object> {
    stale.refreshed(
        not_modified,
        |merged| freshness::lifetime(stale.status, merged, settings, cache.clock().wall()).ok(),
        freshness::initial_age(not_modified),
        cache.clock().now(),
    )
}

/// The request headers for a cache fill: the client's own conditions and ranges removed (the
/// cache wants the whole object), `Accept-Encoding` normalised like the cache key.
fn lookup_headers(request: &HeaderMap) -> HeaderMap {
    let mut h = request.clone();
    for n in [
        header::IF_NONE_MATCH,
        header::IF_MODIFIED_SINCE,
        header::IF_MATCH,
        header::IF_UNMODIFIED_SINCE,
        header::IF_RANGE,
        header::RANGE,
    ] {
        h.remove(n);
    }
    match super::cache::normalise_accept_encoding(request.get(header::ACCEPT_ENCODING)) {
        Some(v) => h.insert(header::ACCEPT_ENCODING, v),
        None => h.remove(header::ACCEPT_ENCODING),
    };
    h
}

/// Answers from a stored object (304 when the client's validators match).
fn serve(o: &Object, request: &HeaderMap, head: bool, now: Instant) -> Response<Body> {
    let age = HeaderValue::from(o.age(now).as_secs());
    if o.satisfies_conditional(request) {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        let h = resp.headers_mut();
        for n in [
            header::ETAG,
            header::CACHE_CONTROL,
            header::EXPIRES,
            header::VARY,
            header::DATE,
            header::LAST_MODIFIED,
        ] {
            if let Some(v) = o.headers.get(&n) {
                h.insert(n, v.clone());
            }
        }
        h.insert(header::AGE, age);
        return resp;
    }
    let body = if head {
        Body::empty()
    } else {
        Body::Bytes(Some(o.body.clone()))
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = o.status;
    *resp.headers_mut() = o.headers.clone();
    resp.headers_mut().insert(header::AGE, age);
    resp
}

/// An upstream's response streamed to the client; `head_only` drops the body of a GET that
/// answers a HEAD.
fn stream(ctx: &mut Ctx, answer: Answer, head_only: Option<bool>) -> Response<Body> {
    ctx.upstream = Some(answer.claim.upstream.authority.clone());
    let (mut parts, body) = answer.response.into_parts();
    forward::strip_hop_by_hop(&mut parts.headers);
    let body = if head_only == Some(true) {
        Body::empty()
    } else {
        Body::upstream(body, answer.claim)
    };
    Response::from_parts(parts, body)
}

enum Collected {
    All(Bytes),
    /// Over the limit: what was read so far and the rest, to stream on.
    Partial(Bytes, Incoming),
    Failed,
}

async fn collect(mut body: Incoming, limit: usize) -> Collected {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Collected::Failed;
        };
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() > limit {
                return Collected::Partial(buf.freeze(), body);
            }
        }
    }
    Collected::All(buf.freeze())
}

fn forward_status(e: &ForwardError) -> StatusCode {
    match e {
        ForwardError::NoneReady | ForwardError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ForwardError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        ForwardError::Unreachable => StatusCode::BAD_GATEWAY,
        ForwardError::ClientBody(r) => refused_status(*r),
    }
}

fn refused_status(r: BodyRefused) -> StatusCode {
    match r {
        BodyRefused::TooSlow => StatusCode::REQUEST_TIMEOUT,
        BodyRefused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        BodyRefused::Broken => StatusCode::BAD_REQUEST,
    }
}

/// The client's body was refused: say why and close (what else it sent is unread).
fn body_refused(metrics: &Metrics, ctx: &mut Ctx, r: BodyRefused) -> Response<Body> {
    metrics.count_body_refused(r);
    ctx.close = true;
    pages::error(refused_status(r), None)
}

fn retry_after(status: StatusCode) -> Option<u32> {
    (status == StatusCode::SERVICE_UNAVAILABLE).then_some(1)
}

fn forward_error(metrics: &Metrics, ctx: &mut Ctx, e: ForwardError) -> Response<Body> {
    let status = forward_status(&e);
    match e {
        ForwardError::NoneReady => pages::error(status, Some(5)),
        ForwardError::Overloaded => pages::error(status, Some(1)),
        ForwardError::ClientBody(r) => body_refused(metrics, ctx, r),
        ForwardError::Timeout | ForwardError::Unreachable => pages::error(status, None),
    }
}

/// The authority the client asked for (`host[:port]`), lower case: an absolute URI's, else
/// the `Host` header's.
fn request_authority(req: &Request<Incoming>) -> String {
    req.uri()
        .authority()
        .map(|a| a.as_str().rsplit('@').next().unwrap_or_default())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// `host[:port]` where host is a DNS name, an IPv4 address or a bracketed IPv6 address
/// (empty: an HTTP/1.0 request without Host, which routes by path alone).
fn valid_authority(authority: &str) -> bool {
    if authority.is_empty() {
        return true;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("v6", Some(port)),
                None => return false,
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    port_ok && host_ok
}

/// An absolute-form request's authority and its Host header name the same host.
fn host_agrees(req: &Request<Incoming>) -> bool {
    let (Some(uri), Some(host)) = (req.uri().authority(), req.headers().get(header::HOST)) else {
        return true;
    };
    host.to_str()
        .is_ok_and(|h| h.eq_ignore_ascii_case(uri.as_str().rsplit('@').next().unwrap_or_default()))
}

/// The host the client asked for, lower case, without port.
fn request_host(req: &Request<Incoming>) -> String {
    let raw = request_authority(req);
    let raw = raw.as_str();
    let without_port = match raw.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
        _ => raw,
    };
    without_port.to_ascii_lowercase()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn new_request_id() -> HeaderValue {
    let n: u64 = rand::thread_rng().r#gen();
    HeaderValue::from_str(&format!("{n:016x}")).unwrap_or(HeaderValue::from_static("0"))
}

/// `PURGE /url` with `Authorization: Bearer <AMBISONIA_PURGE_TOKEN>` drops every variant of
/// that URL; with a `Surrogate-Key: k1 k2` header it drops every object tagged with a key.
fn purge(shared: &Shared, live: &Live, ctx: &mut Ctx, req: &Request<Incoming>) -> Response<Body> {
    if !live
        .settings
        .purge_token
        .as_ref()
        .is_some_and(|t| t.admits(req.headers()))
    {
        return pages::error(StatusCode::FORBIDDEN, None);
    }
    let purged = match req
        .headers()
        .get(&SURROGATE_KEY)
        .and_then(|v| v.to_str().ok())
    {
        Some(keys) => shared.cache.purge_keys(contract::key::split(keys)),
        None => shared
            .cache
            .purge_url(&url_key(&ctx.host, req.uri().path(), req.uri().query())),
    };
    shared
        .metrics
        .purged
        .fetch_add(purged as u64, std::sync::atomic::Ordering::Relaxed);
    ctx.cache = CacheStatus::Pass;
    pages::text(
        StatusCode::OK,
        "application/json",
        format!("{{\"purged\":{purged}}}\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_a_name_or_address_and_an_optional_port() {
        for ok in [
            "site.example",
            "site.example:8080",
            "127.0.0.1:3000",
            "[::1]:443",
            "[::1]",
            "localhost",
            "",
        ] {
            assert!(valid_authority(ok), "{ok}");
        }
        for bad in [
            "site.example/users",
            "site.example:80/x",
            "a..b",
            "site.example:",
            "site.example:123456",
            "evil.example?x",
            "[::1",
            "[zz]:80",
            "[::1]x",
            "user@site.example",
            "site example",
        ] {
            assert!(!valid_authority(bad), "{bad}");
        }
    }
}
