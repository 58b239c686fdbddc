//! The settings more than one command shares, each a flag with an environment twin and a
//! default shown in `--help`: the database, the media store, the app replica, the log.
//! Each subcommand's own flags are in its file under `cli/`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, ValueEnum};
use domain::{Secret, store::S3Settings};

/// Where media lives when no bucket is configured (the embedded default).
pub const DEFAULT_MEDIA_DIR: &str = "data/media";

/// An S3 bucket (or an S3-compatible store). Credentials come from the usual AWS variables.
#[derive(Debug, Clone, Args)]
pub struct S3Config {
    /// The bucket for media; unset means the local folder.
    #[arg(long, env = "AMBISONIA_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    #[arg(long, env = "AMBISONIA_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// For an S3-compatible store: its URL (https://minio.example.org …).
    #[arg(long, env = "AMBISONIA_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Address objects as https://host/bucket/key (most S3-compatible stores need this).
    #[arg(long, env = "AMBISONIA_S3_PATH_STYLE", default_value_t = false)]
    pub s3_path_style: bool,
    #[arg(
        long = "s3-access-key-id",
        env = "AWS_ACCESS_KEY_ID",
        hide_env_values = true,
        default_value = ""
    )]
    pub access_key_id: String,
    /// Read from the environment only: a secret on the command line shows in `ps`.
    #[arg(skip = Secret::new(std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default()))]
    pub secret_access_key: Secret,
}

impl S3Config {
    pub fn settings(&self) -> Option<S3Settings> {
        let bucket = self.s3_bucket.clone().filter(|b| !b.is_empty())?;
        Some(S3Settings {
            bucket,
            region: self.s3_region.clone(),
            endpoint_url: self.s3_endpoint.clone(),
            path_style: self.s3_path_style,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        })
    }
}

/// The site's data for a command that reads the database and the media store (`demo-data`,
/// `media verify`, `media collect`): the same flags and defaults as the app's.
#[derive(Debug, Clone, Args)]
pub struct SiteData {
    #[command(flatten)]
    pub db: DatabaseConfig,
    /// The media folder (when the media are not in S3).
    #[arg(long, env = "AMBISONIA_MEDIA_DIR", default_value = DEFAULT_MEDIA_DIR)]
    pub media_dir: PathBuf,
    #[command(flatten)]
    pub s3: S3Config,
}

impl SiteData {
    /// The media store: the bucket when one is configured, else the folder.
    pub fn store(&self) -> domain::store::MediaStore {
        self.s3.store(&self.media_dir)
    }
}

/// `Debug` shows the URL without its password (as the log does).
#[derive(Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE` (created on first run) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/ambisonia.db"
    )]
    pub database_url: String,

    /// A PostgreSQL streaming replica of it: each visitor's own pages are read there once
    /// it has replayed their last write (the rest stays on the primary).
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<String>,
}

/// OpenStreetMap's standard tiles (their tile usage policy applies).
pub const DEFAULT_MAP_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
/// What the OpenStreetMap licence (ODbL) and tile policy ask every map to say.
pub const DEFAULT_MAP_ATTRIBUTION: &str =
    "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors";

#[derive(Debug, Clone, Args)]
pub struct AppConfig {
    /// Address to listen on (either role); port 0 picks a free port.
    #[arg(long, env = "AMBISONIA_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub db: DatabaseConfig,

    /// Folder for media files when no S3 bucket is configured.
    #[arg(long, env = "AMBISONIA_MEDIA_DIR", default_value = DEFAULT_MEDIA_DIR)]
    pub media_dir: PathBuf,

    /// The address visitors use. `https://…` makes cookies Secure.
    #[arg(
        long,
        env = "AMBISONIA_PUBLIC_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    pub public_url: String,

    /// How long a shared cache may keep an anonymous page (`s-maxage`), in seconds.
    #[arg(long, env = "AMBISONIA_PAGE_TTL", default_value_t = 60)]
    pub page_ttl_s: u32,

    /// The address podcast directories write to about the feeds (`itunes:owner`): they
    /// send their ownership check there. None: the feeds name no address.
    #[arg(long, env = "AMBISONIA_FEED_EMAIL")]
    pub feed_email: Option<String>,

    /// BitTorrent trackers the torrents announce to (comma-separated URLs). None by
    /// default: the site's own download is each torrent's web seed.
    #[arg(long, env = "AMBISONIA_TORRENT_TRACKERS", value_delimiter = ',')]
    pub torrent_trackers: Vec<String>,

    /// Whose `X-Forwarded-For` tells the client's address (shared with the balancer role).
    #[command(flatten)]
    pub proxies: balancer::TrustedProxies,

    /// On SIGTERM, how long to keep serving while `/readyz` fails (so that balancers stop
    /// sending new requests first), in seconds: their health interval × fall + a margin.
    #[arg(long, env = "AMBISONIA_DRAIN_S", default_value_t = 7)]
    pub drain_s: u64,

    /// On SIGTERM, after the drain, how long in-flight requests may take to finish, in seconds.
    #[arg(long, env = "AMBISONIA_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_s: u64,

    /// How long a claimed background job (processing, finishing a direct upload, collecting
    /// media) is held without renewal, in seconds: the worker renews it every third of this
    /// while the job runs, and another replica takes over the job of one that died after
    /// this long.
    #[arg(long, env = "AMBISONIA_JOB_LEASE_S", default_value_t = domain::jobs::DEFAULT_LEASE.as_secs())]
    pub job_lease_s: u64,

    /// Whether this replica runs the background job worker (`--jobs false` keeps a replica
    /// to answering requests; at least one replica of the fleet must run it).
    #[arg(long, env = "AMBISONIA_JOBS", default_value_t = true, action = clap::ArgAction::Set)]
    pub jobs: bool,

    /// Files from this size (MiB) go straight to S3 in parts from the browser, when media
    /// is in S3 (smaller ones take the ordinary form).
    #[arg(long, env = "AMBISONIA_DIRECT_UPLOAD_FROM_MB", default_value_t = 64)]
    pub direct_upload_from_mb: u64,

    /// The invalidation bus: Redis as its transport; for a balancer, the log to follow.
    #[command(flatten)]
    pub bus: BusConfig,

    /// Memory for this replica's read cache (hot reads kept between writes), in MiB.
    #[arg(long, env = "AMBISONIA_READ_CACHE_MB", default_value_t = 64)]
    pub read_cache_mb: u64,

    /// The map's tiles: a URL template (`{z}`, `{x}`, `{y}`, optionally `{s}`); empty for
    /// none (markers over a plain background). OpenStreetMap's standard tiles by default:
    /// their usage policy asks for the credit below and forbids heavy use — a busy site runs
    /// or rents its own tile server.
    #[arg(long, env = "AMBISONIA_MAP_TILES", default_value = DEFAULT_MAP_TILES)]
    pub map_tiles: String,

    /// The credit the tiles' licence asks for, shown on every map (HTML).
    #[arg(long, env = "AMBISONIA_MAP_ATTRIBUTION", default_value = DEFAULT_MAP_ATTRIBUTION)]
    pub map_attribution: String,

    /// API requests one personal token may make a minute (across all replicas when the
    /// bus runs on Redis, per replica otherwise).
    #[arg(long, env = "AMBISONIA_API_TOKEN_PER_MINUTE", default_value_t = 600)]
    pub api_token_per_minute: u32,

    /// API requests one address without a token may make a minute (those the balancer
    /// answers from its cache are not counted).
    #[arg(long, env = "AMBISONIA_API_ADDRESS_PER_MINUTE", default_value_t = 300)]
    pub api_address_per_minute: u32,

    /// The largest recording an upload may be, in MiB.
    #[arg(long, env = "AMBISONIA_MAX_UPLOAD_MB", default_value_t = contract::uploads::MAX_UPLOAD_MB)]
    pub max_upload_mb: u64,

    /// Media in an S3 bucket instead of the media folder.
    #[command(flatten)]
    pub s3: S3Config,

    /// Premium subscriptions and tips through Stripe (off without STRIPE_SECRET_KEY).
    #[command(flatten)]
    pub stripe: StripeConfig,

    /// Where this replica's `/metrics` (Prometheus text) listens; off when unset. An
    /// address other machines reach needs AMBISONIA_ADMIN_TOKEN, which it then asks for.
    #[arg(long, env = "AMBISONIA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Asked of `/metrics` as `Authorization: Bearer …` (the balancer's admin token too).
    /// From the environment only: a secret on the command line shows in `ps`.
    #[arg(skip = std::env::var("AMBISONIA_ADMIN_TOKEN").ok().and_then(balancer::token::BearerToken::new))]
    pub admin_token: Option<balancer::token::BearerToken>,
}

/// Stripe. The two secrets come from the environment only (a flag shows in `ps`); with no
/// secret key, payments are off and premium is granted by `server admin grant-premium`.
#[derive(Debug, Clone, Args)]
pub struct StripeConfig {
    #[arg(skip = Secret::new(std::env::var("STRIPE_SECRET_KEY").unwrap_or_default()))]
    pub secret_key: Secret,
    #[arg(skip = Secret::new(std::env::var("STRIPE_WEBHOOK_SECRET").unwrap_or_default()))]
    pub webhook_secret: Secret,
    /// Where Stripe's API is (another base URL for a test stand-in).
    #[arg(long, env = "AMBISONIA_STRIPE_API_BASE", default_value = domain::payments::STRIPE_API_BASE)]
    pub stripe_api_base: String,
    /// The Stripe price (price_…) of the monthly plan; a plan without a price is not offered.
    #[arg(long, env = "STRIPE_PRICE_MONTHLY")]
    pub stripe_price_monthly: Option<String>,
    /// The Stripe price of the three-month plan.
    #[arg(long, env = "STRIPE_PRICE_QUARTERLY")]
    pub stripe_price_quarterly: Option<String>,
    /// The Stripe price of the yearly plan.
    #[arg(long, env = "STRIPE_PRICE_YEARLY")]
    pub stripe_price_yearly: Option<String>,
    /// The currency tips are paid in (ISO 4217).
    #[arg(long, env = "AMBISONIA_TIP_CURRENCY", default_value = "usd")]
    pub tip_currency: String,
}

/// Where Stripe sends browsers when its API is Stripe's own.
const STRIPE_PAGES: &str = "https://checkout.stripe.com https://billing.stripe.com";

impl StripeConfig {
    /// Payments as configured: on with a secret key, else off.
    pub fn payments(&self) -> Result<domain::payments::Payments, String> {
        use domain::{billing::Plan, payments};
        if self.secret_key.is_empty() {
            return Ok(payments::Payments::off(&self.tip_currency));
        }
        let prices = [
            (Plan::Monthly, &self.stripe_price_monthly),
            (Plan::Quarterly, &self.stripe_price_quarterly),
            (Plan::Yearly, &self.stripe_price_yearly),
        ]
        .into_iter()
        .filter_map(|(plan, price)| Some((plan, price.clone().filter(|p| !p.is_empty())?)))
        .collect();
        payments::Payments::stripe(
            payments::StripeSettings {
                secret_key: self.secret_key.clone(),
                webhook_secret: self.webhook_secret.clone(),
                api_base: self.stripe_api_base.clone(),
                prices,
            },
            &self.tip_currency,
        )
    }

    /// Where payment forms lead, for the pages' `form-action`: Stripe's pages, or the
    /// origin of a stand-in that serves its own.
    pub fn payment_origins(&self) -> Option<String> {
        if self.secret_key.is_empty() {
            return None;
        }
        let base = self.stripe_api_base.trim_end_matches('/');
        if base == domain::payments::STRIPE_API_BASE.trim_end_matches('/') {
            return Some(STRIPE_PAGES.to_owned());
        }
        let (scheme, rest) = base.split_once("://")?;
        let authority = rest.split('/').next()?;
        Some(format!("{scheme}://{authority}"))
    }
}

#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    #[arg(long, env = "AMBISONIA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("database_url", &self.redacted())
            .field(
                "database_read_url",
                &self.database_read_url.as_deref().map(redacted_url),
            )
            .finish()
    }
}

/// A database URL as logs and `Debug` show it: the user and password replaced by `…`.
pub fn redacted_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The invalidation bus. `Debug` hides passwords.
#[derive(Clone, Default, Args)]
pub struct BusConfig {
    /// Balancer: follow the invalidation log of this database (the app replicas'), so that
    /// a write through any replica purges this balancer's pages too.
    #[arg(long, env = "AMBISONIA_BUS_DATABASE_URL", hide_env_values = true)]
    pub bus_database_url: Option<String>,

    /// Carry the bus on this Redis (a stream) instead of PostgreSQL's LISTEN/NOTIFY; give
    /// every replica and balancer the same one.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
}

impl BusConfig {
    /// The transport these settings name: Redis when a URL is given, else the database.
    pub fn transport(&self) -> Result<domain::bus::Transport, String> {
        domain::bus::Transport::from_redis_url(self.redis_url.as_deref())
    }
}

impl std::fmt::Debug for BusConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusConfig")
            .field(
                "bus_database_url",
                &self.bus_database_url.as_deref().map(redacted_url),
            )
            .field("redis_url", &self.redis_url.as_deref().map(redacted_url))
            .finish()
    }
}

impl DatabaseConfig {
    /// The URL as logs and `Debug` show it: the user and password replaced by `…`.
    pub fn redacted(&self) -> String {
        redacted_url(&self.database_url)
    }

    /// Opens (and migrates) the database, or says why not.
    pub async fn connect(&self) -> Result<domain::db::Db, String> {
        domain::db::connect(&self.database_url)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))
    }

    /// Opens the read replica, when one is configured (not migrated: it follows the primary).
    pub async fn connect_replica(&self) -> Result<Option<domain::db::Db>, String> {
        match self.database_read_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => domain::db::open(url)
                .await
                .map(Some)
                .map_err(|e| format!("cannot open the read replica: {e}")),
            None => Ok(None),
        }
    }
}

impl S3Config {
    /// The media store these settings name: the bucket, or else the folder.
    pub fn store(&self, media_dir: &std::path::Path) -> domain::store::MediaStore {
        match self.settings() {
            Some(settings) => domain::store::MediaStore::s3(&settings),
            None => domain::store::MediaStore::local(media_dir),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DatabaseConfig;

    #[test]
    fn database_passwords_stay_out_of_logs_and_debug() {
        let db = |url: &str| DatabaseConfig {
            database_url: url.into(),
            database_read_url: Some("postgres://u:secret@replica:5432/x".into()),
        };
        let pg = db("postgres://u:secret@db:5432/x");
        assert_eq!(pg.redacted(), "postgres://…@db:5432/x");
        assert!(!format!("{pg:?}").contains("secret"));
        assert_eq!(db("sqlite://data/a.db").redacted(), "sqlite://data/a.db");
    }

    #[test]
    fn stripe_secrets_stay_out_of_debug() {
        let stripe = super::StripeConfig {
            secret_key: domain::Secret::new("sk_live_verysecret"),
            webhook_secret: domain::Secret::new("whsec_verysecret"),
            stripe_api_base: domain::payments::STRIPE_API_BASE.into(),
            stripe_price_monthly: Some("price_1".into()),
            stripe_price_quarterly: None,
            stripe_price_yearly: None,
            tip_currency: "usd".into(),
        };
        let shown = format!("{stripe:?} {:?}", stripe.payments());
        assert!(!shown.contains("verysecret"), "{shown}");
        assert_eq!(
            stripe.payment_origins().as_deref(),
            Some("https://checkout.stripe.com https://billing.stripe.com")
        );
    }
}
