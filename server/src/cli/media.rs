//! `server media …`: what the site reads from a file (`inspect`), the S3 bucket
//! (`prepare-bucket`, `migrate --to s3`), checking that every object a row names is there
//! (`verify`), and removing what nothing needs any more (`collect`).

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use domain::store::{MediaStore, S3Settings};
use media::inspect::{Inspection, inspect};

use crate::config::{DEFAULT_MEDIA_DIR, S3Config, SiteData};

#[derive(Debug, Subcommand)]
pub enum Task {
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
        #[arg(long, env = "AMBISONIA_MEDIA_DIR", default_value = DEFAULT_MEDIA_DIR)]
        media_dir: PathBuf,
        #[command(flatten)]
        s3: S3Config,
    },
    /// Check that every object a recording row names is in the media store, and that every
    /// original has the SHA-256 recorded at upload (reading each original once). Prints
    /// each object missing or changed; exits non-zero when there is one. The restore drill
    /// (deploy/restore-drill) runs it against a restored database.
    Verify {
        #[command(flatten)]
        site: SiteData,
    },
    /// Purge recordings deleted more than 30 days ago, sweep direct uploads left unfinished,
    /// and remove every object of the media store that no row names and that is older than
    /// the grace period; print each object removed and the bytes freed. Every replica also
    /// runs this hourly (one at a time). Never removes an object a row names.
    Collect {
        /// Say what would go; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Objects no row names go only once this old, in hours.
        #[arg(long, default_value_t = domain::collector::DEFAULT_GRACE.as_secs() / 3600)]
        grace_h: u64,
        /// The same, in seconds (overrides --grace-h; for tests and emergencies).
        #[arg(long, hide = true)]
        grace_s: Option<u64>,
        #[command(flatten)]
        site: SiteData,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MigrateTarget {
    S3,
}

pub async fn run(task: Task) -> Result<(), String> {
    match task {
        Task::PrepareBucket { cors_origin, s3 } => {
            let settings = s3
                .settings()
                .ok_or("set AMBISONIA_S3_BUCKET (or --s3-bucket)")?;
            let MediaStore::S3(store) = MediaStore::s3(&settings) else {
                return Err("not an S3 store".into());
            };
            store.ensure_bucket().await.map_err(|e| e.to_string())?;
            if let Some(origin) = cors_origin {
                store
                    .allow_browser_uploads(&origin)
                    .await
                    .map_err(|e| e.to_string())?;
                println!(
                    "Bucket {} is ready; browsers on {origin} may send direct uploads to it.",
                    settings.bucket
                );
            } else {
                println!("Bucket {} is ready.", settings.bucket);
            }
            Ok(())
        }
        Task::Migrate {
            to: MigrateTarget::S3,
            media_dir,
            s3,
        } => {
            let settings = s3
                .settings()
                .ok_or("set AMBISONIA_S3_BUCKET (or --s3-bucket) to the bucket to copy to")?;
            migrate_to_s3(&media_dir, &settings).await
        }
        Task::Collect {
            dry_run,
            grace_h,
            grace_s,
            site,
        } => {
            let grace = std::time::Duration::from_secs(grace_s.unwrap_or(grace_h * 3600));
            let db = site.db.connect().await?;
            let store = site.store();
            let opts = domain::collector::Options { dry_run, grace };
            let report = domain::collector::collect(&db, &store, opts)
                .await
                .map_err(|e| e.for_operator())?;
            print!("{}", collected(&report, dry_run, &store.describe()));
            Ok(())
        }
        Task::Verify { site } => verify(&site.db.connect().await?, &site.store()).await,
        Task::Inspect { file, json } => {
            let name = file.display().to_string();
            let f = std::fs::File::open(&file).map_err(|e| format!("{name}: {e}"))?;
            let found = inspect(std::io::BufReader::with_capacity(256 * 1024, f))
                .map_err(|e| format!("{name}: {e}"))?;
            if json {
                let text = serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?;
                println!("{text}");
            } else {
                print!("{}", summary(&name, &found));
            }
            Ok(())
        }
    }
}

/// What a collection did, for the operator: each object removed, then the totals.
fn collected(r: &domain::collector::Report, dry_run: bool, store: &str) -> String {
    use std::fmt::Write as _;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut out = String::new();
    for slug in &r.purged {
        let _ = writeln!(
            out,
            "{} deleted recording {slug}",
            if dry_run { "would purge" } else { "purged" }
        );
    }
    for o in &r.removed {
        let _ = writeln!(out, "{verb} {} ({} bytes)", o.key, o.size);
    }
    let _ = writeln!(
        out,
        "{store}: {verb} {} objects, {} bytes; kept {} that rows name and {} younger than the grace period; {} recordings purged, {} direct uploads swept.",
        r.removed.len(),
        r.removed_bytes(),
        r.named,
        r.young,
        if dry_run { 0 } else { r.purged.len() },
        r.swept
    );
    out
}

/// The readable form of an inspection, for a person at a terminal.
fn summary(name: &str, i: &Inspection) -> String {
    let container = match i.container {
        "rf64" => "RF64 (WAVE over 4 GiB)",
        "w64" => "Sony Wave64",
        _ => "RIFF/WAVE",
    };
    let convention = match (i.convention, i.order, i.layout.as_deref()) {
        ("fuma", Some(o), Some(l)) => format!("FuMa B-format, order {o}, layout {l}"),
        ("uhj", ..) => "UHJ (stereo-compatible, from first-order B-format)".to_owned(),
        ("gformat", _, Some(l)) => format!("G-format: speaker feeds, {l}"),
        ("stereo", ..) => "ordinary stereo".to_owned(),
        ("mono", ..) => "mono".to_owned(),
        ("unknown", Some(o), _) => format!(
            "{} channels: AmbiX of order {o}, or FuMa without its B-format marker — say which when you upload",
            i.channels
        ),
        _ => format!(
            "{} channels with no speaker layout — say what they are when you upload",
            i.channels
        ),
    };
    let format = if i.float {
        format!("{}-bit float", i.bits)
    } else {
        format!("{}-bit PCM", i.bits)
    };
    let secs = i.duration_s;
    format!(
        "{name}\n  container   {container}\n  convention  {convention}\n  samples     {} channels, {format}, {} Hz\n  duration    {}:{:06.3} ({} frames)\n  size        {} bytes\n  sha256      {}\n",
        i.channels,
        i.sample_rate,
        (secs / 60.0).floor(),
        secs % 60.0,
        i.frames,
        i.size_bytes,
        i.sha256,
    )
}

/// Copies the folder's objects to the bucket, each verified by reading it back and
/// comparing SHA-256. Objects already in the bucket with the same checksum are skipped, so
/// an interrupted run continues where it stopped.
async fn migrate_to_s3(media_dir: &std::path::Path, settings: &S3Settings) -> Result<(), String> {
    use MediaStore;
    let local = MediaStore::local(media_dir);
    let bucket = MediaStore::s3(settings);
    let objects = local.list().await.map_err(|e| e.to_string())?;
    let there: std::collections::HashMap<String, u64> = bucket
        .list()
        .await
        .map_err(|e| format!("cannot list bucket {}: {e}", settings.bucket))?
        .into_iter()
        .collect();
    let total_bytes: u64 = objects.iter().map(|(_, s)| s).sum();
    eprintln!(
        "{} objects, {} bytes, from {} to {}",
        objects.len(),
        total_bytes,
        local.describe(),
        bucket.describe()
    );
    let (mut copied, mut skipped, mut done_bytes) = (0usize, 0usize, 0u64);
    for (n, (key, size)) in objects.iter().enumerate() {
        let want = sha256_of(&local, key).await?;
        let present = there.get(key) == Some(size)
            && sha256_of(&bucket, key).await.ok().as_deref() == Some(&want);
        if present {
            skipped += 1;
        } else {
            bucket
                .put_file(key, &media_dir.join(key))
                .await
                .map_err(|e| format!("{key}: {e}"))?;
            let got = sha256_of(&bucket, key).await?;
            if got != want {
                return Err(format!(
                    "{key}: the copy in the bucket does not match (sha256 {got}, expected {want}); nothing is switched"
                ));
            }
            copied += 1;
        }
        done_bytes += size;
        eprintln!(
            "[{}/{}] {:>5.1}%  {key} ({size} bytes) {}",
            n + 1,
            objects.len(),
            if total_bytes == 0 {
                100.0
            } else {
                done_bytes as f64 * 100.0 / total_bytes as f64
            },
            if present {
                "already there, verified"
            } else {
                "copied, verified"
            }
        );
    }
    println!(
        "All {} objects are in bucket {} and verified ({copied} copied, {skipped} already there). \
         Nothing was switched: set AMBISONIA_S3_BUCKET={} for the app to serve from the bucket; the folder is unchanged.",
        objects.len(),
        settings.bucket,
        settings.bucket
    );
    Ok(())
}

/// Every object the rows name, in `store`; originals by their SHA-256. Names each one
/// missing or changed, and fails when there is one.
async fn verify(db: &domain::db::Db, store: &MediaStore) -> Result<(), String> {
    let mut named = Vec::new();
    domain::collector::each_named(db, |n| named.push(n))
        .await
        .map_err(|e| e.for_operator())?;
    let (mut present, mut hashed, mut bad) = (0usize, 0usize, Vec::new());
    for n in &named {
        if let Some(o) = &n.original {
            match (sha256_of(store, &o.key).await, &o.sha256) {
                (Ok(got), Some(want)) if &got == want => {
                    present += 1;
                    hashed += 1;
                }
                (Ok(got), Some(want)) => bad.push(format!(
                    "CHANGED  {} {} (sha256 {got}, recorded {want})",
                    n.slug, o.key
                )),
                (Ok(_), None) => present += 1,
                (Err(e), _) => bad.push(format!("MISSING  {} {} ({e})", n.slug, o.key)),
            }
        }
        for key in &n.derived {
            match store.size(key).await {
                Ok(Some(_)) => present += 1,
                Ok(None) => bad.push(format!("MISSING  {} {key}", n.slug)),
                Err(e) => bad.push(format!("MISSING  {} {key} ({e})", n.slug)),
            }
        }
    }
    for line in &bad {
        println!("{line}");
    }
    println!(
        "media: {} recordings name {} objects in {}: {present} present ({hashed} originals match their SHA-256), {} missing or changed",
        named.len(),
        present + bad.len(),
        store.describe(),
        bad.len()
    );
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("{} objects missing or changed", bad.len()))
    }
}

async fn sha256_of(store: &MediaStore, key: &str) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    use tokio::io::AsyncReadExt;
    let mut o = store
        .get(key, None)
        .await
        .map_err(|e| format!("{key}: {e}"))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = o
            .body
            .read(&mut buf)
            .await
            .map_err(|e| format!("{key}: {e}"))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex::encode(hash.finalize()))
}
