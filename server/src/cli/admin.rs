//! `server admin …`: accounts from the server side (create one, change its role, make a
//! personal API token, give or take premium by hand) and the tips owed to uploaders. Passwords come from the environment or standard input, never a
//! flag (which `ps` shows).

use std::io::BufRead;

use clap::{Subcommand, ValueEnum};
use domain::{Email, Password, Username, accounts, billing::Money, payments};

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
        /// What it may do: any of read, upload, download (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "read,upload")]
        scopes: Vec<String>,
    },
    /// Give an existing account another role.
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Make an account premium by hand, through the end of DATE (UTC), beside any
    /// subscription (works with payments off).
    GrantPremium {
        #[arg(long)]
        username: String,
        /// The last day of premium, as YYYY-MM-DD.
        #[arg(long)]
        until: chrono::NaiveDate,
    },
    /// End a premium given by hand (a subscription is cancelled in Stripe).
    RevokePremium {
        #[arg(long)]
        username: String,
    },
    /// Make (or update) the PostgreSQL login a balancer follows the invalidation bus with:
    /// it may read the invalidation log and nothing else. The password is read from
    /// AMBISONIA_BUS_READER_PASSWORD (16 characters or more). Run as the app's database user;
    /// run again to change the password.
    BusReader {
        #[arg(long, default_value = "ambisonia_bus_reader")]
        role: String,
    },
    /// What the site owes each uploader for tips, per currency.
    Payouts {
        /// As CSV (amounts in minor units and in major units), for a spreadsheet or a bank.
        #[arg(long)]
        csv: bool,
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
        AdminTask::CreateToken {
            username,
            name,
            scopes,
        } => {
            let scopes = scopes
                .iter()
                .map(|s| {
                    domain::tokens::Scope::parse(s.trim())
                        .ok_or_else(|| format!("unknown scope {s:?}: use read, upload or download"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let user = accounts::by_username(&db, &username)
                .await
                .map_err(|e| e.for_operator())?;
            let token = domain::tokens::create(&db, user.id, &name, &scopes)
                .await
                .map_err(|e| e.for_operator())?;
            // The token alone on standard output, for scripts; it is not shown again.
            println!("{token}");
        }
        AdminTask::GrantPremium { username, until } => {
            let user = accounts::by_username(&db, &username)
                .await
                .map_err(|e| e.for_operator())?;
            let end = until
                .succ_opt()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
                .ok_or("that date is out of range")?;
            accounts::grant_premium(&db, user.id, end)
                .await
                .map_err(|e| e.for_operator())?;
            println!("{} is premium through {until} (UTC).", user.username);
        }
        AdminTask::RevokePremium { username } => {
            let user = accounts::by_username(&db, &username)
                .await
                .map_err(|e| e.for_operator())?;
            accounts::revoke_premium(&db, user.id)
                .await
                .map_err(|e| e.for_operator())?;
            println!("{} no longer has premium given by hand.", user.username);
        }
        AdminTask::BusReader { role } => {
            let password = domain::Secret::new(
                std::env::var("AMBISONIA_BUS_READER_PASSWORD")
                    .map_err(|_| "set AMBISONIA_BUS_READER_PASSWORD to the reader's password")?,
            );
            domain::write::log::create_reader(&db, &role, &password)
                .await
                .map_err(|e| format!("cannot make the bus reader: {e}"))?;
            println!("{role} may read the invalidation log (and nothing else).");
        }
        AdminTask::Payouts { csv } => {
            let lines = payments::payouts(&db).await.map_err(|e| e.for_operator())?;
            print!("{}", payouts_text(&lines, csv));
        }
    }
    Ok(())
}

/// The payouts as CSV or as a table for a person.
pub fn payouts_text(lines: &[payments::PayoutLine], csv: bool) -> String {
    let mut out = String::new();
    if csv {
        out.push_str("username,email,currency,tips,gross_minor,fees_minor,owed_minor,owed\n");
        for l in lines {
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{}\n",
                csv_field(&l.username),
                csv_field(&l.email),
                l.currency,
                l.tips,
                l.gross,
                l.fees,
                l.share,
                Money::new(l.share, &l.currency).plain()
            ));
        }
    } else if lines.is_empty() {
        out.push_str("No tips yet.\n");
    } else {
        for l in lines {
            out.push_str(&format!(
                "{:<24} {:>4} tips  owed {}\n",
                l.username,
                l.tips,
                Money::new(l.share, &l.currency)
            ));
        }
    }
    out
}

/// A CSV field, quoted when it needs to be; a leading `=`, `+`, `-` or `@` is defused so
/// that a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payouts_csv_is_integer_minor_units_and_safe_for_spreadsheets() {
        let lines = vec![payments::PayoutLine {
            username: "ana".into(),
            email: "=cmd@x.org".into(),
            currency: "usd".into(),
            tips: 2,
            gross: 1000,
            fees: 90,
            share: 478,
        }];
        assert_eq!(
            payouts_text(&lines, true),
            "username,email,currency,tips,gross_minor,fees_minor,owed_minor,owed\n\
             ana,'=cmd@x.org,usd,2,1000,90,478,4.78\n"
        );
        assert!(payouts_text(&lines, false).contains("owed $4.78"));
    }
}
