//! Sending a request to an upstream: pick the ready replica that will answer soonest, wait for a
//! connection slot, rewrite the headers (hop-by-hop out, X-Forwarded-* and Forwarded in),
//! send over a pooled keep-alive connection, and retry once on another replica when an
//! idempotent request without a body failed before any response byte.

use std::{
    net::IpAddr,
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri, header};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};

use super::{
    body::UpstreamBody,
    clients::UpstreamSlot,
    config::PoolSettings,
    pool::{InFlight, Pool, Refused},
    request_body::{BodyRefused, Progress, RequestBody},
};

pub type HttpClient = Client<HttpConnector, UpstreamBody>;

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub static FORWARDED: HeaderName = HeaderName::from_static("forwarded");

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
];

pub fn client(settings: &PoolSettings) -> HttpClient {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(settings.connect_timeout));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(settings.max_connections)
        .build(http)
}

/// Removes hop-by-hop headers, including those a `Connection` header names.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in HOP_BY_HOP {
        headers.remove(n);
    }
    headers.remove(header::PROXY_AUTHENTICATE);
}

/// Who asked, as the upstream should see it.
pub struct Peer {
    pub ip: IpAddr,
    /// The peer is a proxy we trust: keep what it says about the client before it.
    pub trusted: bool,
    pub tls: bool,
}

/// Sets `X-Forwarded-For/-Proto/-Host` and `Forwarded` for a request whose headers came
/// from `peer` for `host` (`host[:port]`, as the client sent it). From an untrusted peer,
/// incoming values are replaced, never extended.
pub fn set_forwarded(headers: &mut HeaderMap, peer: &Peer, host: &str) {
    let ip = peer.ip.to_string();
    let proto = if peer.tls { "https" } else { "http" };
    let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) if peer.trusted => format!("{prev}, {ip}"),
        _ => ip.clone(),
    };
    let node = if peer.ip.is_ipv6() {
        format!("\"[{ip}]\"")
    } else {
        ip
    };
    let host_q = if host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-:".contains(&b))
        && !host.contains(':')
    {
        host.to_owned()
    } else {
        format!("\"{}\"", host.replace(['"', '\\'], ""))
    };
    let element = format!("for={node};proto={proto};host={host_q}");
    let forwarded = match headers.get(&FORWARDED).and_then(|v| v.to_str().ok()) {
        Some(prev) if peer.trusted => format!("{prev}, {element}"),
        _ => element,
    };
    if !(peer.trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(&X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    }
    if !(peer.trusted && headers.contains_key(&X_FORWARDED_HOST)) {
        match HeaderValue::from_str(host) {
            Ok(v) => headers.insert(&X_FORWARDED_HOST, v),
            Err(_) => headers.remove(&X_FORWARDED_HOST),
        };
    }
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert(&X_FORWARDED_FOR, v);
    }
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert(&FORWARDED, v);
    }
}

/// Why no upstream answered.
#[derive(Debug)]
pub enum ForwardError {
    NoneReady,
    Overloaded,
    Timeout,
    Unreachable,
    /// The client's own body failed (too slow, too large, broken off): not the upstream's
    /// fault, and not counted against it.
    ClientBody(BodyRefused),
}

/// A request ready to go upstream, minus the upstream.
pub struct Outgoing {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: RequestBody,
    pub timeout: Duration,
    /// The client's upstream slot, handed to the claim of the attempt that answers.
    pub client_slot: Option<UpstreamSlot>,
}

impl Outgoing {
    fn retryable(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        ) && self.body.repeatable()
    }
}

pub struct Answer {
    pub response: Response<Incoming>,
    /// Holds the upstream (and the client's slot) until the answer's last byte is sent.
    pub claim: InFlight,
}

/// Sends `out` to a replica in `pool`; on a failure before any response byte, once more to
/// another replica when the request may be repeated.
pub async fn send(
    pool: &Pool,
    client: &HttpClient,
    mut out: Outgoing,
    retries: &std::sync::atomic::AtomicU64,
) -> Result<Answer, ForwardError> {
    let may_retry = out.retryable();
    let mut failed: Option<Arc<super::pool::Upstream>> = None;
    for attempt in 0..2 {
        let mut claim = match pool.pick(failed.as_deref()) {
            Ok(c) => c,
            Err(Refused::NoneReady) if attempt == 1 => return Err(ForwardError::Unreachable),
            Err(Refused::NoneReady) => return Err(ForwardError::NoneReady),
            Err(Refused::Overloaded) => return Err(ForwardError::Overloaded),
        };
        pool.admit(&mut claim)
            .await
            .map_err(|_| ForwardError::Overloaded)?;
        let upstream = Arc::clone(&claim.upstream);
        upstream.requests.fetch_add(1, Relaxed);
        // How many requests this one shares the upstream with, itself included.
        let sharing = upstream.in_flight();

        let progress = Progress::new();
        let body = out.body.for_attempt(&progress);
        let uri: Uri = format!("http://{}{}", upstream.authority, out.path_and_query)
            .parse()
            .map_err(|_| ForwardError::Unreachable)?;
        let mut req = Request::new(body);
        *req.method_mut() = out.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = out.headers.clone();

        let started = Instant::now();
        match answer_in_time(client.request(req), &progress, out.timeout).await {
            Ok(Ok(response)) => {
                upstream.latency.observe(started.elapsed());
                // A request sent while few shared the upstream may have waited behind many
                // that came after it: count the busier of the two moments.
                upstream.observe_rtt(started.elapsed(), sharing.max(upstream.in_flight()));
                upstream.record_success();
                claim.client = out.client_slot.take();
                return Ok(Answer { response, claim });
            }
            Ok(Err(e)) => {
                if let Some(refused) = BodyRefused::in_chain(&e) {
                    return Err(ForwardError::ClientBody(refused));
                }
                // A failure is as bad as waiting the whole timeout, for peak-EWMA's purposes.
                upstream.observe_rtt(out.timeout, 1);
                if let Some(backoff) = upstream.record_failure(&pool.settings) {
                    tracing::warn!(pool = %pool.name, upstream = %upstream.authority, backoff_ms = backoff.as_millis() as u64, "upstream ejected after repeated failures");
                }
                tracing::debug!(upstream = %upstream.authority, error = %e, "upstream request failed");
                if !may_retry || attempt == 1 {
                    return Err(ForwardError::Unreachable);
                }
                retries.fetch_add(1, Relaxed);
                failed = Some(upstream);
            }
            Err(_) => {
                upstream.latency.observe(started.elapsed());
                upstream.observe_rtt(started.elapsed(), sharing);
                return Err(ForwardError::Timeout);
            }
        }
    }
    Err(ForwardError::Unreachable)
}

/// The upstream's answer, due `timeout` after the request body has all gone upstream (an
/// upload that streams for an hour is not late); while the body is on its way, the upstream
/// must keep taking it — a body the upstream has not taken for `timeout` (and not because
/// the client is slow) is a timeout too.
async fn answer_in_time<F: std::future::Future>(
    request: F,
    progress: &Progress,
    timeout: Duration,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::pin!(request);
    while !progress.ended() {
        let stall = async {
            match progress.stalled_at(timeout) {
                Some(at) => tokio::time::sleep_until(at).await,
                // Waiting on the client: look again shortly.
                None => tokio::time::sleep(timeout.min(Duration::from_secs(1))).await,
            }
        };
        tokio::select! {
            answer = &mut request => return Ok(answer),
            () = progress.wait_end() => break,
            () = stall => {
                if progress
                    .stalled_at(timeout)
                    .is_some_and(|at| at <= tokio::time::Instant::now())
                {
                    // Nothing taken for the whole timeout: as late as an answer can be.
                    return tokio::time::timeout(Duration::ZERO, std::future::pending::<F::Output>()).await;
                }
            }
        }
    }
    tokio::time::timeout(timeout, request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_including_those_connection_names() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::ACCEPT));
    }

    #[test]
    fn an_untrusted_peer_cannot_forge_its_address() {
        let mut h = HeaderMap::new();
        h.insert(&X_FORWARDED_FOR, HeaderValue::from_static("1.2.3.4"));
        h.insert(&FORWARDED, HeaderValue::from_static("for=1.2.3.4"));
        h.insert(&X_FORWARDED_PROTO, HeaderValue::from_static("https"));
        let peer = Peer {
            ip: IpAddr::from([192, 0, 2, 7]),
            trusted: false,
            tls: false,
        };
        set_forwarded(&mut h, &peer, "example.org");
        assert_eq!(
            h.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()),
            Some("192.0.2.7")
        );
        assert_eq!(
            h.get(&X_FORWARDED_PROTO).and_then(|v| v.to_str().ok()),
            Some("http")
        );
        assert_eq!(
            h.get(&FORWARDED).and_then(|v| v.to_str().ok()),
            Some("for=192.0.2.7;proto=http;host=example.org")
        );

        let peer = Peer {
            ip: IpAddr::from([10, 0, 0, 1]),
            trusted: true,
            tls: true,
        };
        let mut h2 = HeaderMap::new();
        h2.insert(&X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.1"));
        set_forwarded(&mut h2, &peer, "example.org");
        assert_eq!(
            h2.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()),
            Some("198.51.100.1, 10.0.0.1")
        );
    }
}
