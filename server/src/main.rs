//! The `server` binary: parses the command line and hands each role or command to its owner.

use std::process::ExitCode;

use clap::Parser;
use server::{
    app_role, balancer_role,
    cli::{Cli, Role},
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log.log_format);
    let result = match cli.command {
        Some(command) => command.run().await,
        None => match cli.role {
            Role::App => app_role::run(cli.app).await,
            Role::Balancer => {
                balancer_role::run(
                    cli.app.listen,
                    cli.balancer,
                    cli.app.proxies,
                    cli.app.bus,
                    cli.app.s3,
                )
                .await
            }
        },
    };
    telemetry::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("server: {message}");
            ExitCode::FAILURE
        }
    }
}
