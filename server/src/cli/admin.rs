//! `server admin …`: accounts from the server side (create one, change its role, make a
//! personal API token). Passwords come from the environment or standard input, never a
//! flag (which `ps` shows).

use std::io::BufRead;

use clap::{Subcommand, ValueEnum};
use domain::{Email, Password, Username, accounts};

use crate::config::DatabaseConfig;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseConfig,
    #[command(subcommand)]
    task: AdminTask,
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

impl From<RoleArg> for domain::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Listener => Self::Listener,
            RoleArg::Uploader => Self::Uploader,
            RoleArg::Editor => Self::Editor,
            RoleArg::Admin => Self::Admin,
        }
    }
}

fn read_new_password() -> Result<Password, String> {
    let raw = match std::env::var("AMBISONIA_NEW_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprintln!("Password (one line on standard input):");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the password: {e}"))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    Password::parse(&raw).map_err(|e| e.for_operator())
}

pub async fn run(args: Args) -> Result<(), String> {
    let db = args.db.connect().await?;
    match args.task {
        AdminTask::CreateUser {
            username,
            email,
            role,
        } => {
            let username = Username::parse(&username).map_err(|e| e.for_operator())?;
            let email = Email::parse(&email).map_err(|e| e.for_operator())?;
            let password = read_new_password()?;
            let user = accounts::create_user(&db, &username, &email, &password, role.into())
                .await
                .map_err(|e| e.for_operator())?;
            println!("Created {} ({}).", user.username, user.role.as_str());
        }
        AdminTask::SetRole { username, role } => {
            let role: domain::Role = role.into();
            let user = accounts::by_username(&db, &username)
                .await
                .map_err(|e| e.for_operator())?;
            accounts::set_role(&db, user.id, role)
                .await
                .map_err(|e| e.for_operator())?;
            println!("{} is now {}.", user.username, role.as_str());
        }
        AdminTask::CreateToken { username, name } => {
            let user = accounts::by_username(&db, &username)
                .await
                .map_err(|e| e.for_operator())?;
            let token = domain::tokens::create(&db, user.id, &name)
                .await
                .map_err(|e| e.for_operator())?;
            // The token alone on standard output, for scripts; it is not shown again.
            println!("{token}");
        }
    }
    Ok(())
}
