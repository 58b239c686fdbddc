//! Subcommands: migrations, demo data, media tools and administrative tasks.

use std::io::BufRead;

use app::{
    domain::{Email, Password, Username},
    ssr::{accounts, db, demo, entities::users},
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

use crate::{
    config::{AdminTask, DatabaseConfig, MediaTask, MigrateTarget},
    media::inspect::{Inspection, inspect},
};

async fn connect(config: &DatabaseConfig) -> Result<sea_orm::DatabaseConnection, String> {
    db::connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))
}

pub async fn migrate(config: &DatabaseConfig) -> Result<(), String> {
    connect(config).await?;
    println!("The database schema is up to date.");
    Ok(())
}

pub async fn demo_data(
    config: &DatabaseConfig,
    media_dir: &std::path::Path,
    s3: &crate::config::S3Config,
) -> Result<(), String> {
    let db = connect(config).await?;
    let made = match demo::fill(&db).await {
        Ok(made) => made,
        // Running it twice is harmless: the catalog that is there stays as it is.
        Err(app::error::AppError::Conflict(why)) => {
            println!("{why} Nothing was changed.");
            return Ok(());
        }
        Err(e) => return Err(e.to_string()),
    };
    let with_sound = demo_audio(&db, media_dir, s3).await?;
    println!(
        "Made {made} sample recordings, {with_sound} of them with sound (their previews are made \
         when the site runs). Demo accounts: admin, editor, paul_h, marta, soundwalker, aurelie, \
         listener, jonas; each with the password \"{}\".",
        demo::DEMO_PASSWORD
    );
    Ok(())
}

/// The synthesised recordings, ingested exactly as uploads are, by the demo sound recordist.
async fn demo_audio(
    db: &sea_orm::DatabaseConnection,
    media_dir: &std::path::Path,
    s3: &crate::config::S3Config,
) -> Result<usize, String> {
    use crate::media::{ingest::ingest, store::MediaStore, synth};
    let store = match s3.settings() {
        Some(settings) => MediaStore::s3(&settings),
        None => MediaStore::local(media_dir),
    };
    let uploader = users::Entity::find()
        .filter(users::Column::Username.eq("soundwalker"))
        .one(db)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the demo uploader is missing")?;
    let scratch = media_dir.join(".incoming");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let mut made = 0;
    for sample in synth::all() {
        let path = scratch.join(format!("demo-{:08x}.amb", rand::random::<u32>()));
        std::fs::write(&path, &sample.file).map_err(|e| e.to_string())?;
        let meta = app::ssr::recordings::NewRecording {
            title: sample.title.into(),
            location: sample.location.into(),
            description: sample.description.into(),
            licence: "cc-by-4.0".into(),
            microphone: "Synthesised (first-order encoder)".into(),
            tags: sample.tags.iter().map(|t| (*t).to_string()).collect(),
            uploader_id: uploader.id,
            ..Default::default()
        };
        let result = ingest(db, &store, &path, "", meta, app::domain::Status::Published).await;
        let _ = std::fs::remove_file(&path);
        result.map_err(|e| format!("{}: {e:?}", sample.title))?;
        made += 1;
    }
    Ok(made)
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
    Password::parse(&raw).map_err(|e| e.to_string())
}

pub async fn admin(config: &DatabaseConfig, task: AdminTask) -> Result<(), String> {
    let db = connect(config).await?;
    match task {
        AdminTask::CreateUser {
            username,
            email,
            role,
        } => {
            let username = Username::parse(&username).map_err(|e| e.to_string())?;
            let email = Email::parse(&email).map_err(|e| e.to_string())?;
            let password = read_new_password()?;
            let user = accounts::create_user(&db, &username, &email, &password, role.into())
                .await
                .map_err(|e| e.to_string())?;
            println!("Created {} ({}).", user.username, user.role);
        }
        AdminTask::SetRole { username, role } => {
            let role: app::domain::Role = role.into();
            let user = users::Entity::find()
                .filter(users::Column::Username.eq(username.to_lowercase()))
                .one(&db)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account named {username}"))?;
            let mut active = user.into_active_model();
            active.role = Set(role.as_str().to_string());
            active.update(&db).await.map_err(|e| e.to_string())?;
            println!("{username} is now {}.", role.as_str());
        }
        AdminTask::CreateToken { username, name } => {
            let user = users::Entity::find()
                .filter(users::Column::Username.eq(username.to_lowercase()))
                .one(&db)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no account named {username}"))?;
            let viewer = app::model::Viewer {
                user_id: user.id,
                username: user.username.clone(),
                role: app::domain::Role::parse(&user.role).map_err(|e| e.to_string())?,
                csrf: String::new(),
            };
            let token = app::ssr::tokens::create(&db, &viewer, &name)
                .await
                .map_err(|e| e.to_string())?;
            // The token alone on standard output, for scripts; it is not shown again.
            println!("{token}");
        }
    }
    Ok(())
}

pub async fn media(task: MediaTask) -> Result<(), String> {
    match task {
        MediaTask::PrepareBucket { cors_origin, s3 } => {
            let settings = s3
                .settings()
                .ok_or("set AMBISONIA_S3_BUCKET (or --s3-bucket)")?;
            let crate::media::store::MediaStore::S3(store) =
                crate::media::store::MediaStore::s3(&settings)
            else {
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
        MediaTask::Migrate {
            to: MigrateTarget::S3,
            media_dir,
            s3,
        } => {
            let settings = s3
                .settings()
                .ok_or("set AMBISONIA_S3_BUCKET (or --s3-bucket) to the bucket to copy to")?;
            migrate_to_s3(&media_dir, &settings).await
        }
        MediaTask::Inspect { file, json } => {
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
async fn migrate_to_s3(
    media_dir: &std::path::Path,
    settings: &crate::media::store::S3Settings,
) -> Result<(), String> {
    use crate::media::store::MediaStore;
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

async fn sha256_of(store: &crate::media::store::MediaStore, key: &str) -> Result<String, String> {
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

/// `server upload`: streams the file to the site's API with a progress line on standard
/// error, and prints where the recording is.
pub async fn upload(
    file: &std::path::Path,
    site: &str,
    fields: &[(&str, String)],
) -> Result<(), String> {
    use futures::StreamExt;
    let token = std::env::var("AMBISONIA_API_TOKEN").map_err(
        |_| "set AMBISONIA_API_TOKEN to a personal API token (made on your account page)",
    )?;
    let name = file.display().to_string();
    let f = tokio::fs::File::open(file)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    let total = f
        .metadata()
        .await
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    let started = std::time::Instant::now();
    let mut sent: u64 = 0;
    let mut shown = u64::MAX;
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).inspect(move |chunk| {
        if let Ok(c) = chunk {
            sent += c.len() as u64;
            let pct = (sent * 100).checked_div(total).unwrap_or(100);
            if pct != shown {
                shown = pct;
                let secs = started.elapsed().as_secs_f64().max(0.001);
                eprint!(
                    "\r{pct:>3} %  {:.1} of {:.1} MB  {:.1} MB/s ",
                    sent as f64 / 1e6,
                    total as f64 / 1e6,
                    sent as f64 / 1e6 / secs
                );
            }
        }
    });
    let query: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let endpoint = format!("{}/api/v1/recordings", site.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&endpoint)
        .query(&query)
        .bearer_auth(token.trim())
        .header(reqwest::header::CONTENT_LENGTH, total)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .map_err(|e| format!("cannot reach {site}: {e}"))?;
    eprintln!();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() {
        let state = if body["status"] == "published" {
            "published"
        } else {
            "waiting for an editor"
        };
        println!(
            "{}{} ({state})",
            site.trim_end_matches('/'),
            body["url"].as_str().unwrap_or("")
        );
        Ok(())
    } else {
        Err(format!(
            "{name}: {}",
            body["error"].as_str().unwrap_or(status.as_str())
        ))
    }
}
