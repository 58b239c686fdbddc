//! Everything the balancer runs with, validated, and every default of it, written once:
//! the flags and the file's shape take theirs from here.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, time::Duration};

use serde::Deserialize;

use super::{BalancerFlags, TrustedProxies};
use crate::token::BearerToken;

/// Where the admin listener (`/metrics`, drain) listens unless told.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9901";
/// Memory for cached pages unless told, in MiB.
pub const DEFAULT_CACHE_MB: u64 = 256;
/// How long requests in flight may take to finish after SIGTERM.
pub const DEFAULT_SHUTDOWN_GRACE_S: u64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// Fewest requests in flight; ties broken at random.
    LeastBusy,
    /// Requests in flight weighted by each upstream's recent response time per request in
    /// flight (peak EWMA, as Finagle and tower balance): a replica that is slow, not only
    /// busy, gets less. The default: with one replica 50 ms slower it keeps p99 at 0.1× of
    /// round-robin's where least-busy's equals it (`scripts/bench-balancer`).
    PeakEwma,
    /// Each upstream in turn (kept to compare against).
    RoundRobin,
}

impl Balance {
    pub const DEFAULT: Self = Self::PeakEwma;
}

/// Everything the balancer runs with, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub tls: Option<Tls>,
    /// With TLS: the plain-HTTP listener (port 80), which answers ACME challenges and sends
    /// everything else to HTTPS.
    pub http_listen: Option<SocketAddr>,
    pub session_cookie: String,
    /// From `AMBISONIA_PURGE_TOKEN` only: a secret does not belong in a file or on `ps`.
    pub purge_token: Option<BearerToken>,
    /// From `AMBISONIA_ADMIN_TOKEN` only: what every path of the admin listener asks for.
    /// Without it the listener is open — allowed only while it is loopback.
    pub admin_token: Option<BearerToken>,
    pub trusted_proxies: TrustedProxies,
    pub limits: Limits,
    pub cache: CacheSettings,
    pub pools: BTreeMap<String, PoolSettings>,
    pub routes: Vec<RouteSettings>,
    pub shutdown_grace: Duration,
}

/// Where the TLS listener's certificate comes from.
#[derive(Debug, Clone)]
pub enum Tls {
    /// PEM files (`[tls]`, `--tls-cert`/`--tls-key`), read at start.
    Files(TlsFiles),
    /// Obtained and renewed automatically (`[acme]`).
    Acme(crate::acme::AcmeSettings),
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What one client may cost the balancer and the replicas behind it (the defaults are in
/// `Limits::default`; 0 turns a cap or a rate off).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Open connections from one client address (trusted proxies are not counted: every
    /// client behind them shares their address).
    pub max_connections_per_client: usize,
    /// Connections refused over that cap that are closed in stages at once (each is read
    /// from for up to a second after its 429); past it, a refused connection is closed at
    /// once, so that a flood cannot hold a socket per connection it opens.
    pub max_lingering_refusals: usize,
    /// Requests from one client address that hold an upstream at once (passes, personal
    /// pages, cache misses); more wait up to `client_queue_timeout`, then get 429.
    pub max_upstream_per_client: usize,
    pub client_queue_timeout: Duration,
    /// Request bodies up to this size are read whole before an upstream is chosen
    /// (nginx's `proxy_request_buffering`); larger ones stream.
    pub request_buffer_bytes: usize,
    /// A request body must arrive at least this fast, a response be read at least this
    /// fast, measured over `rate_window`; slower clients are cut off (408 / closed).
    pub min_request_bytes_per_s: u64,
    pub min_response_bytes_per_s: u64,
    pub rate_window: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct CacheSettings {
    pub size_bytes: usize,
    pub max_object_bytes: usize,
    /// Freshness for cacheable statuses that carry no freshness header; `None` = store nothing.
    pub default_ttl: Option<Duration>,
    /// Serve stale while one request revalidates when the origin said nothing about it.
    /// 0 by default: RFC 9111 §4.2.4 lets a cache serve stale only when the origin allows
    /// it (`stale-while-revalidate`) or the cache cannot reach the origin.
    pub grace: Duration,
    /// Serve stale while the origin cannot be reached (refused, reset, timed out), unless it
    /// said `must-revalidate`/`proxy-revalidate`; an answering origin's 5xx gets stale only
    /// within its own `stale-if-error`.
    pub stale_if_error: Duration,
    /// After a response that could not be stored, requests for that URL stop waiting on one
    /// another for this long (Varnish's hit-for-miss).
    pub hit_for_miss: Duration,
}

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub upstreams: Vec<String>,
    pub balance: Balance,
    pub max_connections: usize,
    pub queue: usize,
    pub queue_timeout: Duration,
    pub connect_timeout: Duration,
    pub health: HealthSettings,
    pub eject: EjectSettings,
    /// Below this share of healthy upstreams (not counting draining ones) the pool routes
    /// to all of them anyway, as Envoy's panic threshold does: checks that all fail at once
    /// more likely say something about the checks than about every replica. 0 turns it off.
    pub panic_below_percent: u8,
}

/// The panic threshold's default, for flags and files alike.
pub const DEFAULT_PANIC_BELOW_PERCENT: u8 = 50;

#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// `None` turns active checks off (upstreams count as healthy).
    pub path: Option<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
}

#[derive(Debug, Clone, Copy)]
pub struct EjectSettings {
    pub after_failures: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

#[derive(Debug, Clone)]
pub struct RouteSettings {
    pub host: Option<String>,
    pub prefix: String,
    pub pool: String,
    pub strip_prefix: bool,
    pub max_body_bytes: u64,
    /// How long the upstream's answer may take once the request body has all gone to it
    /// (while the body streams, the client's rate rule and the upstream taking it decide).
    pub timeout: Duration,
    pub cache: bool,
}

pub(super) const KIB: usize = 1024;
pub(super) const MIB: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * KIB,
            max_headers: 100,
            // Generous: a carrier-grade NAT puts many people behind one address.
            max_connections_per_client: 128,
            max_lingering_refusals: 1024,
            max_upstream_per_client: 32,
            client_queue_timeout: Duration::from_secs(2),
            request_buffer_bytes: MIB,
            min_request_bytes_per_s: 1024,
            min_response_bytes_per_s: 1024,
            rate_window: Duration::from_secs(10),
        }
    }
}

impl Default for HealthSettings {
    fn default() -> Self {
        Self {
            path: Some("/readyz".into()),
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            rise: 2,
            fall: 3,
        }
    }
}

impl Default for EjectSettings {
    fn default() -> Self {
        Self {
            after_failures: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl CacheSettings {
    pub(super) fn with_size(size_bytes: usize) -> Self {
        Self {
            size_bytes,
            max_object_bytes: 8 * MIB,
            default_ttl: None,
            grace: Duration::ZERO,
            stale_if_error: Duration::from_secs(300),
            hit_for_miss: Duration::from_secs(10),
        }
    }
}

impl PoolSettings {
    pub fn new(upstreams: Vec<String>, balance: Balance) -> Self {
        Self {
            upstreams,
            balance,
            max_connections: 256,
            queue: 1024,
            queue_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            health: HealthSettings::default(),
            eject: EjectSettings::default(),
            panic_below_percent: DEFAULT_PANIC_BELOW_PERCENT,
        }
    }
}

impl RouteSettings {
    /// The routes of the simple case: every path to `pool`, uploads with room for their
    /// size and for the work their answer waits on (`contract::uploads`).
    pub fn app_routes(pool: &str) -> Vec<Self> {
        let mut routes: Vec<Self> = contract::uploads::PATHS
            .iter()
            .map(|prefix| Self::uploads_to(pool, prefix))
            .collect();
        routes.push(Self::everything_to(pool));
        routes
    }

    /// An upload path: a body as large as a replica takes, the answer due
    /// `contract::uploads::ANSWER_TIMEOUT` after it.
    pub fn uploads_to(pool: &str, prefix: &str) -> Self {
        Self {
            prefix: prefix.into(),
            max_body_bytes: contract::uploads::MAX_BODY_BYTES,
            timeout: contract::uploads::ANSWER_TIMEOUT,
            ..Self::everything_to(pool)
        }
    }

    pub fn everything_to(pool: &str) -> Self {
        Self {
            host: None,
            prefix: "/".into(),
            pool: pool.into(),
            strip_prefix: false,
            max_body_bytes: 64 * MIB as u64,
            timeout: Duration::from_secs(30),
            cache: true,
        }
    }
}

impl Settings {
    /// Settings from flags alone: every path goes to one pool of `--upstream`s.
    pub fn from_flags(
        listen: SocketAddr,
        flags: &BalancerFlags,
        proxies: &TrustedProxies,
    ) -> Result<Self, String> {
        if flags.upstreams.is_empty() {
            return Err(
                "the balancer needs --upstream HOST:PORT (or --balancer-config FILE)".into(),
            );
        }
        for u in &flags.upstreams {
            check_upstream(u)?;
        }
        let trusted_proxies = proxies.clone();
        let mut pools = BTreeMap::new();
        pools.insert(
            "app".to_string(),
            PoolSettings::new(flags.upstreams.clone(), flags.balance),
        );
        check_cookie_name(&flags.session_cookie)?;
        Self {
            listen,
            admin_listen: flags.admin_listen,
            tls: flags
                .tls_cert
                .clone()
                .zip(flags.tls_key.clone())
                .map(|(cert, key)| Tls::Files(TlsFiles { cert, key })),
            http_listen: None,
            session_cookie: flags.session_cookie.clone(),
            purge_token: token_from_env("AMBISONIA_PURGE_TOKEN"),
            admin_token: token_from_env("AMBISONIA_ADMIN_TOKEN"),
            trusted_proxies,
            limits: Limits::default(),
            cache: CacheSettings::with_size(mib(flags.cache_mb)),
            pools,
            routes: RouteSettings::app_routes("app"),
            shutdown_grace: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_S),
        }
        .checked()
    }

    /// Refuses an admin listener other machines can reach while drain needs no token.
    pub(super) fn checked(self) -> Result<Self, String> {
        if matches!(self.tls, Some(Tls::Acme(_))) && self.http_listen.is_none() {
            return Err(
                "[acme] needs http_listen (port 80): the CA checks the HTTP-01 challenge there"
                    .into(),
            );
        }
        if self.http_listen.is_some() && self.tls.is_none() {
            return Err("http_listen is for redirecting to HTTPS: it needs [tls] or [acme]".into());
        }
        if !self.admin_listen.ip().is_loopback() && self.admin_token.is_none() {
            return Err(format!(
                "the admin listener {} is reachable from other machines: set AMBISONIA_ADMIN_TOKEN \
                 (drain and undrain then ask for it), or keep it on loopback",
                self.admin_listen
            ));
        }
        Ok(self)
    }

    /// Settings from the flags, or from the file they name. Used at start and on SIGHUP.
    pub fn load(
        listen: SocketAddr,
        flags: &BalancerFlags,
        proxies: &TrustedProxies,
    ) -> Result<Self, String> {
        match &flags.balancer_config {
            None => Self::from_flags(listen, flags, proxies),
            Some(path) => {
                if !flags.upstreams.is_empty() {
                    return Err("give either --upstream or --balancer-config, not both".into());
                }
                Self::from_file(path, listen, flags.admin_listen)
            }
        }
    }
}

pub(super) fn token_from_env(var: &str) -> Option<BearerToken> {
    std::env::var(var).ok().and_then(BearerToken::new)
}

pub(super) fn check_upstream(s: &str) -> Result<(), String> {
    match s.parse::<http::uri::Authority>() {
        Ok(a) if a.port_u16().is_some() && !s.contains('@') => Ok(()),
        _ => Err(format!("`{s}` is not HOST:PORT")),
    }
}

pub(super) fn check_cookie_name(s: &str) -> Result<(), String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "session cookie name `{s}` is not a plain cookie name"
        ))
    }
}

pub(super) fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

pub(super) fn mib(v: u64) -> usize {
    usize::try_from(v.saturating_mul(MIB as u64)).unwrap_or(usize::MAX)
}
