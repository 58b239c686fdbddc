//! The command line: a role to run (`--role app|balancer`) or a subcommand, each in its
//! own file with its own arguments and `run`.

pub mod admin;
pub mod demo_data;
pub mod media;
pub mod migrate;
pub mod upload;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{AppConfig, LogConfig};

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
    pub balancer: balancer::BalancerFlags,

    #[command(flatten)]
    pub log: LogConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// A stateless replica serving pages, server functions, uploads and downloads.
    App,
    /// The front door: path router, anonymous page cache, latency-aware load balancer.
    Balancer,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Bring the database schema up to date and exit.
    Migrate(migrate::Args),
    /// Fill an empty database with a varied sample catalog, three of its recordings with
    /// real (synthesised) B-format sound, ingested like uploads.
    DemoData(demo_data::Args),
    /// Send a recording to a site, as the desktop Uploader does (streamed, with progress).
    /// The personal API token comes from AMBISONIA_API_TOKEN (make one on your account page).
    Upload(upload::Args),
    /// Audio files and the media store.
    Media {
        #[command(subcommand)]
        task: media::Task,
    },
    /// Administrative tasks.
    Admin(admin::Args),
}

impl Command {
    pub async fn run(self) -> Result<(), String> {
        match self {
            Command::Migrate(args) => migrate::run(args).await,
            Command::DemoData(args) => demo_data::run(args).await,
            Command::Upload(args) => upload::run(args).await,
            Command::Media { task } => media::run(task).await,
            Command::Admin(args) => admin::run(args).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

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
