//! `/map`: where the recordings were made. The catalog's filters and search apply
//! (`/map?tag=birds`). The page lists them by place (what a visitor without JavaScript
//! reads); `public/map.js` draws them on Leaflet (`public/vendor/`), clustered, from
//! `/map/recordings.geojson` with the same query, over the configured tiles.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::{Link, Title};
use leptos_router::hooks::use_query_map;

use crate::{api::load_map, components::ErrorView};
use domain::{
    catalog_query::CatalogQuery,
    model::{MapPage, MapTiles, RecordingCard},
};

/// Leaflet's styles and scripts, and the site's map script (all served by this site).
#[component]
pub fn MapAssets() -> impl IntoView {
    view! {
        <Link rel="stylesheet" href="/vendor/leaflet.css"/>
        <Link rel="stylesheet" href="/vendor/MarkerCluster.css"/>
        <Link rel="stylesheet" href="/vendor/MarkerCluster.Default.css"/>
        <script src="/vendor/leaflet.js" defer=true></script>
        <script src="/vendor/leaflet.markercluster.js" defer=true></script>
        <script src="/map.js" defer=true></script>
    }
}

#[component]
pub fn MapView() -> impl IntoView {
    let query = use_query_map();
    let request = query.with_untracked(|q| {
        CatalogQuery::from_pairs(q.latest_values().map(|(k, v)| (k.as_ref(), v)))
    });
    view! {
        <Title text="Map"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_map(request).await {
                    Ok(page) => view! { <Map page/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Map(page: MapPage) -> impl IntoView {
    let catalog = page.query.with_page(1).href();
    let query = catalog
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let geojson = if query.is_empty() {
        "/map/recordings.geojson".to_owned()
    } else {
        format!("/map/recordings.geojson?{query}")
    };
    let count = page.points.len();
    // By place: the text the uploader wrote, then the titles.
    let mut by_place: BTreeMap<String, Vec<RecordingCard>> = BTreeMap::new();
    for p in &page.points {
        by_place
            .entry(if p.card.location.is_empty() {
                "Somewhere".to_owned()
            } else {
                p.card.location.clone()
            })
            .or_default()
            .push(p.card.clone());
    }
    view! {
        <section class="map-page" data-testid="map-page">
            <h1>"Where the recordings were made"</h1>
            <p>
                {match count { 0 => "No recording with a place matches.".to_owned(), 1 => "1 recording.".to_owned(), n => format!("{n} recordings.") }}
                {page.capped.then_some(" (The newest of more; narrow the search to see the rest.)")}
                " "<a href=catalog>"The same in the catalog →"</a>
            </p>
            <MapBox geojson tiles=page.tiles.clone()/>
            <MapAssets/>
            <h2>"By place"</h2>
            <dl class="by-place" data-testid="by-place">
                {by_place.into_iter().map(|(place, cards)| view! {
                    <dt>{place}</dt>
                    <dd><ul>{cards.into_iter().map(|c| view! {
                        <li><a href=format!("/recordings/{}", c.slug)>{c.title.clone()}</a>" "<span class="muted">{c.uploader.clone()}</span></li>
                    }).collect_view()}</ul></dd>
                }).collect_view()}
            </dl>
        </section>
    }
}

#[component]
fn MapBox(geojson: String, tiles: MapTiles) -> impl IntoView {
    view! {
        <div class="map" id="map" data-map="" data-testid="map" data-geojson=geojson
            data-tiles=tiles.url data-attribution=tiles.attribution
            role="region" aria-label="Map of the recordings"></div>
    }
}

/// A recording's place on a small map (the page includes [`MapAssets`] once).
#[component]
pub fn SmallMap(latitude: f64, longitude: f64, tiles: MapTiles) -> impl IntoView {
    view! {
        <div class="small-map" data-small-map="" data-testid="small-map" data-lat=latitude.to_string() data-lon=longitude.to_string()
            data-tiles=tiles.url data-attribution=tiles.attribution role="region" aria-label="Where it was recorded"></div>
    }
}
