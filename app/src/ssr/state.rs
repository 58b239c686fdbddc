//! What every request handler shares: the database pool and the settings.

use std::sync::Arc;

use domain::db::Db;

use crate::error::AppError;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The address visitors use, such as `https://ambisonia.org`. Decides whether cookies
    /// are `Secure` and which `Origin` a form post may come from.
    pub public_url: String,
    /// `s-maxage` given to anonymous pages, in seconds.
    pub page_ttl_s: u32,
    /// The media store is S3: the upload form may send files of this many bytes and more
    /// straight to it. `None`: no direct uploads.
    pub direct_upload_from: Option<u64>,
    /// Where the media store's presigned links point (`https://bucket.s3.…`), for the
    /// Content-Security-Policy; `None` for the local folder (served by this site).
    pub media_origin: Option<String>,
    /// Signs the form errors a redirect carries (`__err`), so a page shows only this site's.
    pub form_error_key: domain::Secret,
    /// Where payment forms lead (Stripe Checkout, the Customer Portal), for `form-action`;
    /// `None` when payments are off.
    pub payment_origins: Option<String>,
    /// The address podcast directories write to about the feeds (`itunes:owner`).
    pub feed_email: Option<String>,
    /// Trackers the torrents announce to (none: web seed and peers only).
    pub torrent_trackers: Vec<String>,
    /// The map's tiles and their credit.
    pub map_tiles: domain::model::MapTiles,
}

impl Settings {
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Where the map's tiles come from, for the Content-Security-Policy's `img-src`
    /// (`https://{s}.tile.example/…` is `https://*.tile.example`); `None` without tiles.
    pub fn tile_origin(&self) -> Option<String> {
        tile_origin(&self.map_tiles.url)
    }
}

/// The origin of a tile URL template, as a CSP source.
pub fn tile_origin(template: &str) -> Option<String> {
    let (scheme, rest) = template.split_once("://")?;
    let host = rest.split('/').next()?;
    if host.is_empty() || !matches!(scheme, "http" | "https") {
        return None;
    }
    let host = match host.split_once("{s}.") {
        Some(("", after)) => format!("*.{after}"),
        _ => host.to_owned(),
    };
    (!host.contains(['{', '}', ' ', ';', '\'', '"'])).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_tile_template_names_its_origin() {
        use super::tile_origin;
        assert_eq!(
            tile_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png").as_deref(),
            Some("https://tile.openstreetmap.org")
        );
        assert_eq!(
            tile_origin("https://{s}.tile.example.org:8080/{z}/{x}/{y}.png").as_deref(),
            Some("https://*.tile.example.org:8080")
        );
        for none in [
            "",
            "/tiles/{z}/{x}/{y}.png",
            "ftp://x/{z}",
            "https://{x}evil/{z}",
            "https://a;b/",
        ] {
            assert_eq!(tile_origin(none), None, "{none}");
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Stripe, or payments off.
    pub payments: Arc<domain::payments::Payments>,
    /// This replica's place on the invalidation bus, and its read cache.
    pub bus: Arc<domain::bus::Bus>,
    /// The primary and the read replica, if any.
    pub reads: Arc<domain::replica::Reads>,
    /// How fast one account or address may comment, rate, sign up, make tokens.
    pub limits: Arc<domain::limits::Limits>,
}

impl AppState {
    /// The connection for reads only this visitor sees (their own pages): the read replica
    /// once it has replayed their last write (the `ambisonia_wrote_at` cookie, waiting a
    /// few milliseconds for it), else the primary. Anything a shared cache may keep is read
    /// from the primary (`db`), which the invalidation bus follows.
    pub async fn own_reads(&self) -> Db {
        let after = leptos::prelude::use_context::<http::request::Parts>().and_then(|p| {
            crate::ssr::cookies::request_cookie(&p.headers, crate::ssr::cookies::WROTE_AT_COOKIE)
                .and_then(domain::replica::Lsn::parse)
        });
        let from = self.reads.choose(after).await;
        self.reads.db(from).clone()
    }
}

/// The state provided to every Leptos render and server function.
pub fn state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal
    })
}
