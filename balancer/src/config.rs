//! What the balancer is told: flags for the simple case (one pool, every path to it) or a
//! TOML file for the full one (pools, routes by host and prefix, limits, cache). Both end
//! as one validated [`Settings`]; a file error names its line and the field.

use std::{
    collections::BTreeMap,
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    time::Duration,
};

use serde::Deserialize;

use crate::token::BearerToken;
use toml::Spanned;

/// The flags of `server --role balancer`.
#[derive(Debug, Clone, clap::Args)]
pub struct BalancerFlags {
    /// Balancer: an app replica to send requests to (repeat the flag for more).
    #[arg(long = "upstream", env = "AMBISONIA_UPSTREAMS", value_delimiter = ',')]
    pub upstreams: Vec<String>,

    /// Balancer: a TOML file with pools, routes, limits and cache settings
    /// (see deploy/balancer.example.toml). Reloaded on SIGHUP.
    #[arg(long, env = "AMBISONIA_BALANCER_CONFIG")]
    pub balancer_config: Option<PathBuf>,

    /// Balancer: where /metrics and the drain endpoints listen.
    #[arg(long, env = "AMBISONIA_ADMIN_LISTEN", default_value = "127.0.0.1:9901")]
    pub admin_listen: SocketAddr,

    /// Balancer: memory for cached pages, in MiB.
    #[arg(long, env = "AMBISONIA_CACHE_MB", default_value_t = 256)]
    pub cache_mb: u64,

    /// Balancer: how to choose among healthy upstreams.
    #[arg(long, env = "AMBISONIA_BALANCE", value_enum, default_value_t = Balance::DEFAULT)]
    pub balance: Balance,

    /// Balancer: requests carrying this cookie are never answered from the cache.
    #[arg(
        long,
        env = "AMBISONIA_SESSION_COOKIE",
        default_value = "ambisonia_session"
    )]
    pub session_cookie: String,

    /// Balancer: terminate TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "AMBISONIA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Balancer: the PEM private key for --tls-cert.
    #[arg(long, env = "AMBISONIA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

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
    pub tls: Option<TlsFiles>,
    pub session_cookie: String,
    /// From `AMBISONIA_PURGE_TOKEN` only: a secret does not belong in a file or on `ps`.
    pub purge_token: Option<BearerToken>,
    /// From `AMBISONIA_ADMIN_TOKEN` only: what drain and undrain on the admin listener ask
    /// for. Without it they are open — allowed only while the admin listener is loopback.
    pub admin_token: Option<BearerToken>,
    pub trusted_proxies: TrustedProxies,
    pub limits: Limits,
    pub cache: CacheSettings,
    pub pools: BTreeMap<String, PoolSettings>,
    pub routes: Vec<RouteSettings>,
    pub shutdown_grace: Duration,
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
    pub timeout: Duration,
    pub cache: bool,
}

/// The proxies whose word on the client's address (`X-Forwarded-For`, and for the balancer
/// also `X-Forwarded-Proto/-Host` and `Forwarded`) is believed — by the balancer, and by app
/// replicas working out whom to throttle. One list for both roles, loopback by default (as
/// Rails' `RemoteIp` does): a replica behind a balancer on the same machine sees real
/// client addresses without setting anything.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustedProxies {
    /// Proxies (IP or CIDR, repeat or comma-separate) whose X-Forwarded-* headers are
    /// believed, by either role.
    #[arg(
        long = "trusted-proxy",
        env = "AMBISONIA_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = TrustedProxies::DEFAULT,
        value_parser = Cidr::parse
    )]
    pub list: Vec<Cidr>,
}

impl Default for TrustedProxies {
    fn default() -> Self {
        Self {
            list: Self::DEFAULT
                .split(',')
                .filter_map(|c| Cidr::parse(c).ok())
                .collect(),
        }
    }
}

impl TrustedProxies {
    pub const DEFAULT: &str = "127.0.0.0/8,::1";

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.list.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the peer itself, unless it is a trusted proxy; then the
    /// right-most address of `X-Forwarded-For` (all its values, in order) that is not a
    /// trusted proxy. Entries left of one that does not parse are not believed; when every
    /// entry is trusted, the left-most is the client.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev().map(|e| e.trim()) {
            let parsed = entry
                .parse::<IpAddr>()
                .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()));
            let Ok(ip) = parsed else {
                return client;
            };
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// An address block for the trusted-proxy list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{s}` has a prefix length outside 0..={max}"))?,
        };
        Ok(Self { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * KIB,
            max_headers: 100,
            // Generous: a carrier-grade NAT puts many people behind one address.
            max_connections_per_client: 128,
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
    fn with_size(size_bytes: usize) -> Self {
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
                .map(|(cert, key)| TlsFiles { cert, key }),
            session_cookie: flags.session_cookie.clone(),
            purge_token: token_from_env("AMBISONIA_PURGE_TOKEN"),
            admin_token: token_from_env("AMBISONIA_ADMIN_TOKEN"),
            trusted_proxies,
            limits: Limits::default(),
            cache: CacheSettings::with_size(mib(flags.cache_mb)),
            pools,
            routes: vec![RouteSettings::everything_to("app")],
            shutdown_grace: Duration::from_secs(20),
        }
        .checked()
    }

    /// Refuses an admin listener other machines can reach while drain needs no token.
    fn checked(self) -> Result<Self, String> {
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

    pub fn from_file(
        path: &Path,
        listen: SocketAddr,
        admin_listen: SocketAddr,
    ) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::from_toml(&text, listen, admin_listen).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks a configuration file's text; `listen` and `admin_listen` are used
    /// when the file does not set them.
    pub fn from_toml(
        text: &str,
        listen: SocketAddr,
        admin_listen: SocketAddr,
    ) -> Result<Self, String> {
        let file: FileConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let at = |span: std::ops::Range<usize>, msg: String| -> String {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        };

        let mut pools = BTreeMap::new();
        for (name, p) in file.pools {
            let mut upstreams = Vec::new();
            for u in p.upstreams {
                check_upstream(u.get_ref())
                    .map_err(|m| at(u.span(), format!("pools.{name}.upstreams: {m}")))?;
                upstreams.push(u.into_inner());
            }
            if upstreams.is_empty() {
                return Err(format!(
                    "pools.{name}.upstreams: a pool needs at least one upstream"
                ));
            }
            let defaults = PoolSettings::new(Vec::new(), Balance::DEFAULT);
            let h = p.health;
            let health = HealthSettings {
                path: if h.enabled { Some(h.path) } else { None },
                interval: ms(h.interval_ms),
                timeout: ms(h.timeout_ms),
                rise: h.rise.max(1),
                fall: h.fall.max(1),
            };
            pools.insert(
                name,
                PoolSettings {
                    upstreams,
                    balance: p.balance,
                    max_connections: p.max_connections.unwrap_or(defaults.max_connections).max(1),
                    queue: p.queue.unwrap_or(defaults.queue),
                    queue_timeout: ms(p.queue_timeout_ms),
                    connect_timeout: ms(p.connect_timeout_ms),
                    health,
                    eject: EjectSettings {
                        after_failures: p.eject.after_failures.max(1),
                        backoff: ms(p.eject.backoff_ms),
                        max_backoff: ms(p.eject.max_backoff_ms),
                    },
                    panic_below_percent: p
                        .panic_below_percent
                        .unwrap_or(DEFAULT_PANIC_BELOW_PERCENT)
                        .min(100),
                },
            );
        }

        let mut routes = Vec::new();
        for r in file.routes {
            let prefix = r.prefix.get_ref();
            if !prefix.starts_with('/') {
                return Err(at(
                    r.prefix.span(),
                    format!("routes.prefix: `{prefix}` must start with /"),
                ));
            }
            if !pools.contains_key(r.pool.get_ref()) {
                return Err(at(
                    r.pool.span(),
                    format!(
                        "routes.pool: no pool named `{}` (add [pools.{}])",
                        r.pool.get_ref(),
                        r.pool.get_ref()
                    ),
                ));
            }
            let base = RouteSettings::everything_to("");
            routes.push(RouteSettings {
                host: r.host.map(|h| h.to_ascii_lowercase()),
                prefix: if prefix.len() > 1 {
                    prefix.trim_end_matches('/').to_string()
                } else {
                    prefix.clone()
                },
                pool: r.pool.into_inner(),
                strip_prefix: r.strip_prefix,
                max_body_bytes: r
                    .max_body_kb
                    .map_or(base.max_body_bytes, |k| k.saturating_mul(1024)),
                timeout: r.timeout_ms.map_or(base.timeout, ms),
                cache: r.cache,
            });
        }
        if routes.is_empty() {
            return Err(
                "routes: add at least one [[routes]] (prefix = \"/\" sends everything to a pool)"
                    .into(),
            );
        }

        let trusted_proxies = file
            .trusted_proxies
            .iter()
            .map(|s| {
                Cidr::parse(s.get_ref()).map_err(|m| at(s.span(), format!("trusted_proxies: {m}")))
            })
            .collect::<Result<_, _>>()
            .map(|list| TrustedProxies { list })?;
        check_cookie_name(&file.session_cookie)?;

        let limits = Limits {
            header_read_timeout: ms(file.limits.header_read_timeout_ms),
            idle_timeout: ms(file.limits.idle_timeout_ms),
            max_header_bytes: file.limits.max_header_kb.saturating_mul(1024).max(8 * KIB),
            max_headers: file.limits.max_headers.max(8),
            max_connections_per_client: file.limits.max_connections_per_client,
            max_upstream_per_client: file.limits.max_upstream_per_client,
            client_queue_timeout: ms(file.limits.client_queue_timeout_ms),
            request_buffer_bytes: file.limits.request_buffer_kb.saturating_mul(KIB),
            min_request_bytes_per_s: file.limits.min_request_bytes_per_s,
            min_response_bytes_per_s: file.limits.min_response_bytes_per_s,
            rate_window: ms(file.limits.rate_window_ms.max(1000)),
        };
        let c = file.cache;
        let cache = CacheSettings {
            size_bytes: mib(c.size_mb),
            max_object_bytes: usize::try_from(c.max_object_kb.saturating_mul(1024))
                .unwrap_or(usize::MAX),
            default_ttl: (c.default_ttl_s > 0).then(|| Duration::from_secs(c.default_ttl_s)),
            grace: Duration::from_secs(c.grace_s),
            stale_if_error: Duration::from_secs(c.stale_if_error_s),
            hit_for_miss: Duration::from_secs(c.hit_for_miss_s),
        };

        Self {
            listen: file.listen.unwrap_or(listen),
            admin_listen: file.admin_listen.unwrap_or(admin_listen),
            tls: file.tls.map(|t| TlsFiles {
                cert: t.cert,
                key: t.key,
            }),
            session_cookie: file.session_cookie,
            purge_token: token_from_env("AMBISONIA_PURGE_TOKEN"),
            admin_token: token_from_env("AMBISONIA_ADMIN_TOKEN"),
            trusted_proxies,
            limits,
            cache,
            pools,
            routes,
            shutdown_grace: Duration::from_secs(file.shutdown_grace_s),
        }
        .checked()
    }
}

fn token_from_env(var: &str) -> Option<BearerToken> {
    std::env::var(var).ok().and_then(BearerToken::new)
}

fn check_upstream(s: &str) -> Result<(), String> {
    match s.parse::<http::uri::Authority>() {
        Ok(a) if a.port_u16().is_some() && !s.contains('@') => Ok(()),
        _ => Err(format!("`{s}` is not HOST:PORT")),
    }
}

fn check_cookie_name(s: &str) -> Result<(), String> {
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

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn mib(v: u64) -> usize {
    usize::try_from(v.saturating_mul(MIB as u64)).unwrap_or(usize::MAX)
}

// ---- the file's shape; every field optional with the defaults above ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    #[serde(default = "default_cookie")]
    session_cookie: String,
    #[serde(default)]
    trusted_proxies: Vec<Spanned<String>>,
    #[serde(default = "default_grace_s")]
    shutdown_grace_s: u64,
    tls: Option<FileTls>,
    #[serde(default)]
    limits: FileLimits,
    #[serde(default)]
    cache: FileCache,
    #[serde(default)]
    pools: BTreeMap<String, FilePool>,
    #[serde(default)]
    routes: Vec<FileRoute>,
}

fn default_cookie() -> String {
    "ambisonia_session".into()
}
fn default_grace_s() -> u64 {
    20
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileLimits {
    header_read_timeout_ms: u64,
    idle_timeout_ms: u64,
    max_header_kb: usize,
    max_headers: usize,
    max_connections_per_client: usize,
    max_upstream_per_client: usize,
    client_queue_timeout_ms: u64,
    request_buffer_kb: usize,
    min_request_bytes_per_s: u64,
    min_response_bytes_per_s: u64,
    rate_window_ms: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        let l = Limits::default();
        Self {
            header_read_timeout_ms: l.header_read_timeout.as_millis() as u64,
            idle_timeout_ms: l.idle_timeout.as_millis() as u64,
            max_header_kb: l.max_header_bytes / KIB,
            max_headers: l.max_headers,
            max_connections_per_client: l.max_connections_per_client,
            max_upstream_per_client: l.max_upstream_per_client,
            client_queue_timeout_ms: l.client_queue_timeout.as_millis() as u64,
            request_buffer_kb: l.request_buffer_bytes / KIB,
            min_request_bytes_per_s: l.min_request_bytes_per_s,
            min_response_bytes_per_s: l.min_response_bytes_per_s,
            rate_window_ms: l.rate_window.as_millis() as u64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileCache {
    size_mb: u64,
    max_object_kb: u64,
    default_ttl_s: u64,
    grace_s: u64,
    stale_if_error_s: u64,
    hit_for_miss_s: u64,
}

impl Default for FileCache {
    fn default() -> Self {
        let c = CacheSettings::with_size(256 * MIB);
        Self {
            size_mb: 256,
            max_object_kb: (c.max_object_bytes / KIB) as u64,
            default_ttl_s: 0,
            grace_s: c.grace.as_secs(),
            stale_if_error_s: c.stale_if_error.as_secs(),
            hit_for_miss_s: c.hit_for_miss.as_secs(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePool {
    upstreams: Vec<Spanned<String>>,
    #[serde(default = "default_balance")]
    balance: Balance,
    max_connections: Option<usize>,
    queue: Option<usize>,
    #[serde(default = "default_queue_timeout_ms")]
    queue_timeout_ms: u64,
    #[serde(default = "default_connect_timeout_ms")]
    connect_timeout_ms: u64,
    #[serde(default)]
    health: FileHealth,
    #[serde(default)]
    eject: FileEject,
    panic_below_percent: Option<u8>,
}

fn default_balance() -> Balance {
    Balance::DEFAULT
}
fn default_queue_timeout_ms() -> u64 {
    5000
}
fn default_connect_timeout_ms() -> u64 {
    1000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileHealth {
    enabled: bool,
    path: String,
    interval_ms: u64,
    timeout_ms: u64,
    rise: u32,
    fall: u32,
}

impl Default for FileHealth {
    fn default() -> Self {
        let h = HealthSettings::default();
        Self {
            enabled: true,
            path: "/readyz".into(),
            interval_ms: h.interval.as_millis() as u64,
            timeout_ms: h.timeout.as_millis() as u64,
            rise: h.rise,
            fall: h.fall,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct FileEject {
    after_failures: u32,
    backoff_ms: u64,
    max_backoff_ms: u64,
}

impl Default for FileEject {
    fn default() -> Self {
        let e = EjectSettings::default();
        Self {
            after_failures: e.after_failures,
            backoff_ms: e.backoff.as_millis() as u64,
            max_backoff_ms: e.max_backoff.as_millis() as u64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    host: Option<String>,
    prefix: Spanned<String>,
    pool: Spanned<String>,
    #[serde(default)]
    strip_prefix: bool,
    max_body_kb: Option<u64>,
    timeout_ms: Option<u64>,
    #[serde(default = "yes")]
    cache: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        let any: SocketAddr = "127.0.0.1:0".parse().map_err(|_| "addr".to_string())?;
        Settings::from_toml(text, any, any)
    }

    #[test]
    fn the_client_is_the_right_most_address_no_trusted_proxy_vouches_for() {
        let p = TrustedProxies::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let from = |peer: &str, xff: &[&str]| p.client_address(ip(peer), xff.iter().copied());
        // Straight from the internet: the header is the client's own word, ignored.
        assert_eq!(from("203.0.113.9", &["10.0.0.1"]), ip("203.0.113.9"));
        // Behind a balancer on this machine: its last entry is who connected to it.
        assert_eq!(from("127.0.0.1", &["198.51.100.7"]), ip("198.51.100.7"));
        // A client that forged an entry before ours: the forged one is left of the truth.
        assert_eq!(
            from("127.0.0.1", &["1.1.1.1, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            from("127.0.0.1", &["1.1.1.1", "198.51.100.7:5555"]),
            ip("198.51.100.7")
        );
        // Every hop trusted (clients on loopback): the left-most.
        assert_eq!(
            from("127.0.0.1", &["127.0.0.2, 127.0.0.1"]),
            ip("127.0.0.2")
        );
        assert_eq!(from("::1", &["::ffff:127.0.0.3"]), ip("127.0.0.3"));
        // Garbage stops the walk: nothing left of it is believed.
        assert_eq!(
            from("127.0.0.1", &["8.8.8.8, nonsense, 127.0.0.5"]),
            ip("127.0.0.5")
        );
        assert_eq!(from("127.0.0.1", &[]), ip("127.0.0.1"));
        let none = TrustedProxies { list: vec![] };
        assert_eq!(
            none.client_address(ip("127.0.0.1"), ["9.9.9.9"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_admin_listener_other_machines_reach_needs_a_token() {
        let text = "admin_listen = \"0.0.0.0:9901\"\n[pools.app]\nupstreams = [\"127.0.0.1:3001\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(e.contains("AMBISONIA_ADMIN_TOKEN"), "{e}");
        assert!(parse(&text.replace("0.0.0.0", "127.0.0.1")).is_ok());
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../deploy/balancer.example.toml");
        let s = parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.pools.contains_key("app"));
        assert!(
            s.routes
                .iter()
                .any(|r| r.prefix == "/wiki" && r.strip_prefix)
        );
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let text = "[pools.app]\nupstreams = [\"127.0.0.1:3001\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"ap\"\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(
            e.contains("line 6") && e.contains("routes.pool") && e.contains("`ap`"),
            "{e}"
        );

        let text = "[pools.app]\nupstreams = [\"127.0.0.1:3001\", \"nowhere\"]\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(
            e.contains("line 2") && e.contains("pools.app.upstreams"),
            "{e}"
        );

        let text = "[cache]\nsize_mb = \"lots\"\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(e.contains("line 2") && e.contains("size_mb"), "{e}");

        let text = "[limits]\nmax_header = 3\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(
            e.contains("line 2") && e.contains("unknown field `max_header`"),
            "{e}"
        );
    }

    #[test]
    fn cidr_blocks_match_what_they_cover() {
        let c = Cidr::parse("10.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.contains("10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(!c.contains("11.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        let one = Cidr::parse("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            one.contains(
                "::ffff:127.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::from([0, 0, 0, 0]))
            )
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("example.org").is_err());
    }
}
