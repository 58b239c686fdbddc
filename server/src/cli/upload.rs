//! `server upload FILE`: the terminal Uploader. Streams the file to the site's API with a
//! progress line on standard error, and prints where the recording is.

use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    file: PathBuf,
    #[arg(long)]
    title: String,
    #[arg(long, default_value = "")]
    description: String,
    #[arg(long, default_value = "")]
    location: String,
    #[arg(long, default_value = domain::Licence::DEFAULT)]
    licence: String,
    /// For a plain multichannel WAV: `ambix` or `fuma`.
    #[arg(long, default_value = "")]
    convention: String,
    /// The site's address.
    #[arg(long, env = "AMBISONIA_URL", default_value = "http://127.0.0.1:3000")]
    url: String,
}

pub async fn run(args: Args) -> Result<(), String> {
    let fields = [
        ("title", args.title),
        ("description", args.description),
        ("location", args.location),
        ("licence", args.licence),
        ("convention", args.convention),
    ];
    send(&args.file, &args.url, &fields).await
}

async fn send(file: &std::path::Path, site: &str, fields: &[(&str, String)]) -> Result<(), String> {
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
