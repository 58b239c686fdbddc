//! Every setting is a flag with an environment twin and a default shown in `--help`.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "Ambisonia: the catalog of ambisonic recordings, in one binary."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// What this process is: an app replica, or the balancer in front of replicas.
    #[arg(long, env = "AMBISONIA_ROLE", value_enum, default_value_t = Role::App)]
    pub role: Role,

    #[command(flatten)]
    pub app: AppConfig,

    #[command(flatten)]
    pub balancer: crate::balancer::BalancerFlags,

    #[command(flatten)]
    pub log: LogConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// A stateless replica serving pages, server functions and (later) uploads.
    App,
    /// The front door: path router, anonymous page cache, least-busy load balancer.
    Balancer,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the database schema up to date and exit.
    Migrate {
        #[command(flatten)]
        db: DatabaseConfig,
    },
    /// Fill an empty database with a varied sample catalog, three of its recordings with
    /// real (synthesised) B-format sound, ingested like uploads.
    DemoData {
        #[command(flatten)]
        db: DatabaseConfig,
        /// Folder for media files when no S3 bucket is configured.
        #[arg(long, env = "AMBISONIA_MEDIA_DIR", default_value = "data/media")]
        media_dir: PathBuf,
        #[command(flatten)]
        s3: S3Config,
    },
    /// Send a recording to a site, as the desktop Uploader does (streamed, with progress).
    /// The personal API token comes from AMBISONIA_API_TOKEN (make one on your account page).
    Upload {
        file: PathBuf,
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        location: String,
        #[arg(long, default_value = "cc-by-4.0")]
        licence: String,
        /// For a plain multichannel WAV: `ambix` or `fuma`.
        #[arg(long, default_value = "")]
        convention: String,
        /// The site's address.
        #[arg(long, env = "AMBISONIA_URL", default_value = "http://127.0.0.1:3000")]
        url: String,
    },
    /// Audio files: see what the site reads from one before uploading it.
    Media {
        #[command(subcommand)]
        task: MediaTask,
    },
    /// Administrative tasks.
    Admin {
        #[command(flatten)]
        db: DatabaseConfig,
        #[command(subcommand)]
        task: AdminTask,
    },
}

#[derive(Debug, Subcommand)]
pub enum MediaTask {
    /// Print what Ambisonia reads from a recording (container, convention, order, layout,
    /// channels, rate, format, duration, size, SHA-256). A file the site would refuse
    /// exits non-zero with the reason on standard error.
    Inspect {
        file: PathBuf,
        /// One JSON object instead of the readable summary.
        #[arg(long)]
        json: bool,
    },
    /// Make the S3 bucket ready: create it if it is missing and, with --cors-origin, let
    /// browsers on the site send direct uploads to it (PUT, ETag exposed).
    PrepareBucket {
        /// The site's address as browsers see it, such as https://ambisonia.org.
        #[arg(long)]
        cors_origin: Option<String>,
        #[command(flatten)]
        s3: S3Config,
    },
    /// Copy every object of the local media folder to the S3 bucket, verifying each by
    /// its SHA-256. Resumable and idempotent: objects already there and verified are
    /// skipped. Switches nothing: when it reports all verified, point the app at the bucket.
    Migrate {
        /// Where to: only `s3` so far.
        #[arg(long, value_enum)]
        to: MigrateTarget,
        /// The folder to copy from.
        #[arg(long, env = "AMBISONIA_MEDIA_DIR", default_value = "data/media")]
        media_dir: PathBuf,
        #[command(flatten)]
        s3: S3Config,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MigrateTarget {
    S3,
}

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
    #[arg(skip = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default())]
    pub secret_access_key: String,
}

impl S3Config {
    pub fn settings(&self) -> Option<crate::media::store::S3Settings> {
        let bucket = self.s3_bucket.clone().filter(|b| !b.is_empty())?;
        Some(crate::media::store::S3Settings {
            bucket,
            region: self.s3_region.clone(),
            endpoint_url: self.s3_endpoint.clone(),
            path_style: self.s3_path_style,
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminTask {
    /// Create an account. The password is read from AMBISONIA_NEW_PASSWORD or, when that is
    /// unset, from the first line of standard input (never from a flag, which `ps` shows).
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value_t = RoleArg::Listener)]
        role: RoleArg,
    },
    /// Make a personal API token for an account (printed once, for `server upload`).
    CreateToken {
        #[arg(long)]
        username: String,
        /// What the token is for, as shown on the account page.
        #[arg(long, default_value = "made by server admin")]
        name: String,
    },
    /// Give an existing account another role.
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Listener,
    Uploader,
    Editor,
    Admin,
}

impl From<RoleArg> for app::domain::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Listener => Self::Listener,
            RoleArg::Uploader => Self::Uploader,
            RoleArg::Editor => Self::Editor,
            RoleArg::Admin => Self::Admin,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://FILE` (created on first run) or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://data/ambisonia.db"
    )]
    pub database_url: String,
}

#[derive(Debug, Clone, Args)]
pub struct AppConfig {
    /// Address to listen on (either role); port 0 picks a free port.
    #[arg(long, env = "AMBISONIA_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub db: DatabaseConfig,

    /// Folder for media files when no S3 bucket is configured.
    #[arg(long, env = "AMBISONIA_MEDIA_DIR", default_value = "data/media")]
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

    /// Take the client address from the last `X-Forwarded-For` entry (only behind our
    /// own balancer or another proxy that sets it).
    #[arg(long, env = "AMBISONIA_TRUST_FORWARDED_FOR", default_value_t = false)]
    pub trust_forwarded_for: bool,

    /// On SIGTERM, how long in-flight requests may take to finish, in seconds.
    #[arg(long, env = "AMBISONIA_SHUTDOWN_GRACE", default_value_t = 20)]
    pub shutdown_grace_s: u64,

    /// Files from this size (MiB) go straight to S3 in parts from the browser, when media
    /// is in S3 (smaller ones take the ordinary form).
    #[arg(long, env = "AMBISONIA_DIRECT_UPLOAD_FROM_MB", default_value_t = 64)]
    pub direct_upload_from_mb: u64,

    /// The largest recording an upload may be, in MiB.
    #[arg(long, env = "AMBISONIA_MAX_UPLOAD_MB", default_value_t = 4096)]
    pub max_upload_mb: u64,

    /// Media in an S3 bucket instead of the media folder.
    #[command(flatten)]
    pub s3: S3Config,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_need_nothing_installed() {
        let cli = Cli::parse_from(["server"]);
        assert_eq!(cli.role, Role::App);
        assert!(cli.app.db.database_url.starts_with("sqlite://"));
        assert_eq!(cli.app.listen.port(), 3000);
    }
}
