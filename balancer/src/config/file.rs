//! The balancer's TOML file (`--balancer-config`, reloaded on SIGHUP): the full case —
//! pools, routes by host and prefix, limits, cache. Every field is optional, with the
//! settings' defaults; an error names its line and the field.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use contract::policy::SESSION_COOKIE;
use serde::Deserialize;
use toml::Spanned;

use super::{
    Cidr, TrustedProxies,
    settings::{
        Balance, CacheSettings, DEFAULT_CACHE_MB, DEFAULT_PANIC_BELOW_PERCENT,
        DEFAULT_SHUTDOWN_GRACE_S, EjectSettings, HealthSettings, KIB, Limits, PoolSettings,
        RouteSettings, Settings, Tls, TlsFiles, check_cookie_name, check_upstream, mib, ms,
        token_from_env,
    },
};
use crate::acme::{AcmeSettings, StoreLocation};

impl Settings {
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
            max_lingering_refusals: file.limits.max_lingering_refusals,
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
            tls: match (file.tls, file.acme) {
                (Some(_), Some(_)) => {
                    return Err("give either [tls] (certificate files) or [acme], not both".into());
                }
                (Some(t), None) => Some(Tls::Files(TlsFiles {
                    cert: t.cert,
                    key: t.key,
                })),
                (None, Some(a)) => Some(Tls::Acme(a.settings()?)),
                (None, None) => None,
            },
            http_listen: file.http_listen,
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
    http_listen: Option<SocketAddr>,
    tls: Option<FileTls>,
    acme: Option<FileAcme>,
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
    SESSION_COOKIE.into()
}
fn default_grace_s() -> u64 {
    DEFAULT_SHUTDOWN_GRACE_S
}
fn yes() -> bool {
    true
}

/// `[acme]`: automatic HTTPS.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAcme {
    #[serde(default = "lets_encrypt")]
    directory: String,
    domains: Vec<String>,
    #[serde(default)]
    contact: Vec<String>,
    /// A folder, or `bucket:PREFIX` (the media bucket, for a fleet).
    store: String,
    ca_root: Option<PathBuf>,
}

fn lets_encrypt() -> String {
    crate::acme::LETS_ENCRYPT.into()
}

impl FileAcme {
    fn settings(self) -> Result<AcmeSettings, String> {
        if self.domains.is_empty() {
            return Err("[acme] needs at least one of `domains`".into());
        }
        for d in &self.domains {
            let ok = !d.is_empty()
                && d.len() <= 253
                && d.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !ok {
                return Err(format!("[acme] `{d}` is not a host name"));
            }
        }
        if let Some(c) = self.contact.iter().find(|c| !c.starts_with("mailto:")) {
            return Err(format!("[acme] contact `{c}` is not a mailto: address"));
        }
        let store = match self.store.strip_prefix("bucket:") {
            Some(prefix) => StoreLocation::Bucket(prefix.trim_matches('/').to_owned()),
            None if self.store.is_empty() => return Err("[acme] needs a `store`".into()),
            None => StoreLocation::Dir(PathBuf::from(self.store)),
        };
        Ok(AcmeSettings {
            directory: self.directory,
            domains: self
                .domains
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            contact: self.contact,
            store,
            ca_root: self.ca_root,
        })
    }
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
    max_lingering_refusals: usize,
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
            max_lingering_refusals: l.max_lingering_refusals,
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
        let c = CacheSettings::with_size(mib(DEFAULT_CACHE_MB));
        Self {
            size_mb: DEFAULT_CACHE_MB,
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
    PoolSettings::new(Vec::new(), Balance::DEFAULT)
        .queue_timeout
        .as_millis() as u64
}
fn default_connect_timeout_ms() -> u64 {
    PoolSettings::new(Vec::new(), Balance::DEFAULT)
        .connect_timeout
        .as_millis() as u64
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
            enabled: h.path.is_some(),
            path: h.path.unwrap_or_default(),
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
    fn an_admin_listener_other_machines_reach_needs_a_token() {
        let text = "admin_listen = \"0.0.0.0:9901\"\n[pools.app]\nupstreams = [\"127.0.0.1:3001\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n";
        let e = parse(text).err().unwrap_or_default();
        assert!(e.contains("AMBISONIA_ADMIN_TOKEN"), "{e}");
        assert!(parse(&text.replace("0.0.0.0", "127.0.0.1")).is_ok());
    }

    #[test]
    fn acme_needs_the_http_listener_names_and_a_store() {
        let pool = "\n[pools.app]\nupstreams = [\"127.0.0.1:3001\"]\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n";
        let acme = "[acme]\ndomains = [\"Ambisonia.example.org\"]\ncontact = [\"mailto:ops@example.org\"]\nstore = \"bucket:acme/\"\n";
        let ok = parse(&format!("http_listen = \"0.0.0.0:80\"\n{acme}{pool}"))
            .unwrap_or_else(|e| panic!("{e}"));
        match ok.tls {
            Some(Tls::Acme(a)) => {
                assert_eq!(a.directory, crate::acme::LETS_ENCRYPT);
                assert_eq!(a.domains, ["ambisonia.example.org"]);
                assert_eq!(a.store, StoreLocation::Bucket("acme".into()));
            }
            other => panic!("{other:?}"),
        }
        for (text, says) in [
            (format!("{acme}{pool}"), "http_listen"),
            (
                format!(
                    "http_listen = \"0.0.0.0:80\"\n{}{pool}",
                    acme.replace("Ambisonia.example.org", "bad host")
                ),
                "not a host name",
            ),
            (
                format!(
                    "http_listen = \"0.0.0.0:80\"\n{}{pool}",
                    acme.replace("mailto:", "")
                ),
                "mailto",
            ),
            (
                format!(
                    "http_listen = \"0.0.0.0:80\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n{acme}{pool}"
                ),
                "not both",
            ),
            (
                format!("http_listen = \"0.0.0.0:80\"\n{pool}"),
                "needs [tls] or [acme]",
            ),
        ] {
            let e = parse(&text).err().unwrap_or_default();
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn the_example_file_is_valid() {
        let text = include_str!("../../../deploy/balancer.example.toml");
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
}
