//! The balancer's flags (`server --role balancer …`), each with its environment twin; the
//! simple case: one pool of `--upstream`s, every path to it. Their defaults are the
//! settings' own (`settings`).

use std::{net::SocketAddr, path::PathBuf};

use contract::policy::SESSION_COOKIE;

use super::settings::{Balance, DEFAULT_ADMIN_LISTEN, DEFAULT_CACHE_MB};

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
    #[arg(long, env = "AMBISONIA_ADMIN_LISTEN", default_value = DEFAULT_ADMIN_LISTEN)]
    pub admin_listen: SocketAddr,

    /// Balancer: memory for cached pages, in MiB.
    #[arg(long, env = "AMBISONIA_CACHE_MB", default_value_t = DEFAULT_CACHE_MB)]
    pub cache_mb: u64,

    /// Balancer: how to choose among healthy upstreams.
    #[arg(long, env = "AMBISONIA_BALANCE", value_enum, default_value_t = Balance::DEFAULT)]
    pub balance: Balance,

    /// Balancer: requests carrying this cookie are never answered from the cache.
    #[arg(long, env = "AMBISONIA_SESSION_COOKIE", default_value = SESSION_COOKIE)]
    pub session_cookie: String,

    /// Balancer: terminate TLS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "AMBISONIA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Balancer: the PEM private key for --tls-cert.
    #[arg(long, env = "AMBISONIA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}
