//! `server demo-data`: a sample catalog for a fresh install, four recordings of it with
//! synthesised sound ingested exactly as uploads are.

use crate::config::SiteData;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    site: SiteData,
    /// Then add generated published recordings until the catalog holds this many (for
    /// benchmarks: a million takes minutes, not hours). The sample catalog comes first.
    #[arg(long)]
    recordings: Option<u64>,
}

pub async fn run(args: Args) -> Result<(), String> {
    let db = args.site.db.connect().await?;
    let made = match domain::demo::fill(&db).await {
        Ok(made) => made,
        // Running it twice is harmless: the catalog that is there stays as it is.
        Err(domain::ServiceError::Conflict(why)) => {
            println!("{why} Nothing was changed.");
            return top_up(&db, args.recordings).await;
        }
        Err(e) => return Err(e.cause().unwrap_or(&e.to_string()).to_owned()),
    };
    let store = args.site.store();
    let with_sound = domain::demo::sounds(&db, &store, &args.site.media_dir.join(".incoming"))
        .await
        .map_err(|e| e.cause().unwrap_or(&e.to_string()).to_owned())?;
    println!(
        "Made {made} sample recordings, {with_sound} of them with sound (their previews are made \
         when the site runs). Demo accounts: admin, editor, paul_h, marta, soundwalker, aurelie, \
         listener, jonas; each with the password \"{}\".",
        domain::demo::DEMO_PASSWORD
    );
    top_up(&db, args.recordings).await
}

/// `--recordings N`: generated recordings until N are published.
async fn top_up(db: &domain::db::Db, target: Option<u64>) -> Result<(), String> {
    let Some(target) = target else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let password = domain::Password::parse(domain::demo::DEMO_PASSWORD)
        .and_then(|p| domain::passwords::hash_now(&p))
        .map_err(|e| e.for_operator())?;
    let made = domain::bulk::fill_to(db, target, &password)
        .await
        .map_err(|e| e.for_operator())?;
    println!(
        "Generated {made} more published recordings in {:.1} s; the catalog holds {target} or more.",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
