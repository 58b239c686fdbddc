//! `server migrate`: bring the database schema up to date (the app also does at start).

use crate::config::DatabaseConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseConfig,
}

pub async fn run(args: Args) -> Result<(), String> {
    args.db.connect().await?;
    println!("The database schema is up to date.");
    Ok(())
}
