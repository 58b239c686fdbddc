//! The `server` binary: parses the command line and hands each role or command to its module.

use std::process::ExitCode;

use clap::Parser;
use server::{
    commands,
    config::{Cli, Command, Role},
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log.log_format);
    let result = match cli.command {
        Some(Command::Migrate { db }) => commands::migrate(&db).await,
        Some(Command::DemoData { db, media_dir, s3 }) => {
            commands::demo_data(&db, &media_dir, &s3).await
        }
        Some(Command::Admin { db, task }) => commands::admin(&db, task).await,
        Some(Command::Media { task }) => commands::media(task).await,
        Some(Command::Upload {
            file,
            title,
            description,
            location,
            licence,
            convention,
            url,
        }) => {
            commands::upload(
                &file,
                &url,
                &[
                    ("title", title),
                    ("description", description),
                    ("location", location),
                    ("licence", licence),
                    ("convention", convention),
                ],
            )
            .await
        }
        None => match cli.role {
            Role::App => server::app_role::run(cli.app).await,
            Role::Balancer => server::balancer::run(cli.app.listen, cli.balancer).await,
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("server: {message}");
            ExitCode::FAILURE
        }
    }
}
