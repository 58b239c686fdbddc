//! The skin, the icon, the upload progress script, the spatial player and its binaural
//! filters, built into (or computed by) the binary so that the site runs from any folder.

use axum::{
    extract::Path,
    http::{
        StatusCode,
        header::{CACHE_CONTROL, CONTENT_TYPE},
    },
    response::{IntoResponse, Response},
};

const STYLESHEET: &str = include_str!("../../../style/main.css");
const FAVICON: &str = include_str!("../../../public/favicon.svg");
const UPLOAD_JS: &str = include_str!("../../../public/upload.js");
const SPATIAL_JS: &str = include_str!("../../../public/spatial.js");
const MAP_JS: &str = include_str!("../../../public/map.js");
/// The map's libraries (`public/vendor/`, fetched from npm by `scripts/vendor-leaflet`).
const VENDOR: [(&str, &str, &[u8]); 10] = [
    (
        "leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../public/vendor/leaflet.js"),
    ),
    (
        "leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../public/vendor/leaflet.css"),
    ),
    (
        "leaflet.markercluster.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../public/vendor/leaflet.markercluster.js"),
    ),
    (
        "MarkerCluster.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../public/vendor/MarkerCluster.css"),
    ),
    (
        "MarkerCluster.Default.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../public/vendor/MarkerCluster.Default.css"),
    ),
    (
        "images/marker-icon.png",
        "image/png",
        include_bytes!("../../../public/vendor/images/marker-icon.png"),
    ),
    (
        "images/marker-icon-2x.png",
        "image/png",
        include_bytes!("../../../public/vendor/images/marker-icon-2x.png"),
    ),
    (
        "images/marker-shadow.png",
        "image/png",
        include_bytes!("../../../public/vendor/images/marker-shadow.png"),
    ),
    (
        "images/layers.png",
        "image/png",
        include_bytes!("../../../public/vendor/images/layers.png"),
    ),
    (
        "images/layers-2x.png",
        "image/png",
        include_bytes!("../../../public/vendor/images/layers-2x.png"),
    ),
];
/// Sample rates the binaural filters are made for (a browser's audio runs at one of these).
/// The sample rates browsers run audio contexts at: the filters are designed once per rate
/// and order and kept, so the set is fixed, not any number a request names.
const FILTER_RATES: [u32; 11] = [
    8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 88_200, 96_000, 176_400, 192_000,
];

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        STYLESHEET,
    )
}

pub async fn favicon() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

pub async fn upload_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        UPLOAD_JS,
    )
}

pub async fn spatial_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        SPATIAL_JS,
    )
}

pub async fn map_js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        MAP_JS,
    )
}

/// `GET /vendor/{file}`: one of the map's libraries (a fixed list; their versions change
/// only with the program, so a day in any cache).
pub async fn vendor(Path(file): Path<String>) -> Response {
    match VENDOR.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (CONTENT_TYPE, *content_type),
                (CACHE_CONTROL, "public, max-age=86400"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /spatial-probe.ogg`: eight tones in eight channels, by which the player learns how
/// the browser orders the channels of an eight-channel stream (`media::render::channel_probe`).
pub async fn channel_probe() -> Response {
    match tokio::task::spawn_blocking(media::render::channel_probe).await {
        Ok(Ok(ogg)) => (
            [
                (CONTENT_TYPE, "audio/ogg"),
                (CACHE_CONTROL, "public, max-age=86400, s-maxage=86400"),
            ],
            ogg,
        )
            .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /binaural/{rate}.json` (first order, what the player's 4-channel preview needs) and
/// `/binaural/{rate}-{order}.json` (orders 1–3): the binaural filters for the browser's
/// sample rate (a ConvolverNode takes only filters at its context's rate). The same for
/// everyone and never changing for a build, so shared caches may keep them.
pub async fn binaural_filters(Path(file): Path<String>) -> Response {
    let asked = file.strip_suffix(".json").and_then(|name| {
        let (rate, order) = match name.split_once('-') {
            Some((rate, order)) => (rate, order.parse::<usize>().ok()?),
            None => (name, 1),
        };
        let rate = rate
            .parse::<u32>()
            .ok()
            .filter(|r| FILTER_RATES.contains(r))?;
        (1..=media::sh::MAX_ORDER)
            .contains(&order)
            .then_some((rate, order))
    });
    let Some((rate, order)) = asked else {
        return (
            StatusCode::NOT_FOUND,
            "No binaural filters for that sample rate and order.",
        )
            .into_response();
    };
    let json =
        tokio::task::spawn_blocking(move || media::hrtf::Binaural::shared(rate, order).to_json())
            .await
            .unwrap_or_default();
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=86400, s-maxage=86400"),
        ],
        json,
    )
        .into_response()
}
