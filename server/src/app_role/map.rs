//! `GET /map/recordings.geojson?…`: the recordings with a place that match the catalog's
//! filters and search (`catalog::located`), as a GeoJSON FeatureCollection (RFC 7946:
//! longitude first) for `public/map.js`. The same for every visitor: through the read cache
//! and shared by the balancer under the catalog's key, which every write to a list purges.

use app::ssr::{cache::set_sharing, state::AppState};
use axum::{
    extract::{Query, State},
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use domain::{catalog, catalog_query::CatalogQuery, key};
use serde_json::json;

use super::refusal::Refusal;

pub async fn geojson(
    State(s): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let query =
        CatalogQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).with_page(1);
    let cache_key = format!(
        "geojson?{}",
        serde_json::to_string(&query).unwrap_or_default()
    );
    let site = s.settings.public_url.clone();
    let loaded = s
        .bus
        .cached(cache_key, || async {
            let (points, _) = catalog::located(&s.db, &query).await?;
            let features: Vec<serde_json::Value> = points
                .iter()
                .map(|p| {
                    json!({
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [p.longitude, p.latitude]},
                        "properties": {
                            "slug": p.card.slug,
                            "title": p.card.title,
                            "uploader": p.card.uploader,
                            "place": p.card.location,
                            "url": format!("{site}/recordings/{}", p.card.slug),
                            "picture": format!("{site}/artwork/recordings/{}.png", p.card.slug),
                        },
                    })
                })
                .collect();
            let body = json!({"type": "FeatureCollection", "features": features}).to_string();
            Ok((body, vec![key::CATALOG.to_owned()]))
        })
        .await;
    let (body, keys) = match loaded {
        Ok(found) => found,
        Err(e) => return Refusal::from(e).json(),
    };
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    set_sharing(h, &s, &keys, s.settings.page_ttl_s, true);
    res
}
