//! The embeddable player (`/embed/{slug}`): a recording's picture, title and maker, its
//! stereo preview and the binaural player — the same component as on its page — and a link
//! back. A whole small document of its own (no site header, no forms, no cookies), which
//! other sites frame; the `server` crate serves it. The `<iframe>` code that frames it is
//! written here once, for the recording page's Share box and for oEmbed.

use leptos::prelude::*;

use crate::components::SpatialPlayer;
use domain::{licence_label, model::RecordingDetail};

/// The player's size in an `<iframe>`, in CSS pixels.
pub const WIDTH: u32 = 480;
pub const HEIGHT: u32 = 420;

/// The `<iframe>` that shows the player of `slug` on another page (`site` is the public
/// URL), `width` × `height` CSS pixels (the player's own size is [`WIDTH`] × [`HEIGHT`]).
pub fn iframe_code(site: &str, slug: &str, title: &str, width: u32, height: u32) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('"', "&quot;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    format!(
        "<iframe src=\"{}/embed/{}\" width=\"{width}\" height=\"{height}\" style=\"border:0\" \
         allow=\"autoplay; accelerometer; gyroscope\" loading=\"lazy\" title=\"{} — Ambisonia\"></iframe>",
        esc(site),
        esc(slug),
        esc(title)
    )
}

/// The embed document of a published recording, seen by anyone (`site` is the public URL).
#[cfg(feature = "ssr")]
pub fn document(rec: &RecordingDetail, site: &str) -> String {
    let card = &rec.card;
    let page = format!("{site}/recordings/{}", card.slug);
    let base = format!("/recordings/{}", card.slug);
    let title = card.title.clone();
    let licence = licence_label(&rec.licence).to_owned();
    let body = Owner::new().with(|| {
        view! {
            <main class="embed" data-testid="embed">
                <img class="embed-picture" src=format!("/artwork/recordings/{}.png", card.slug) alt="" width="64" height="64"/>
                <div class="embed-head">
                    <h1><a href=page.clone() target="_blank" rel="noopener" data-testid="embed-title">{title.clone()}</a></h1>
                    <p class="byline">
                        "by "<a href=format!("{site}/users/{}", card.uploader) target="_blank" rel="noopener">{card.uploader.clone()}</a>
                        " · "{licence}
                        {card.is_premium.then(|| view! { " · "<span class="premium">"Premium"</span>" preview" })}
                    </p>
                </div>
                {rec.has_preview.then(|| view! {
                    <audio controls=true preload="none" src=format!("{base}/preview.ogg") data-testid="preview"></audio>
                })}
                {rec.has_spatial_preview.then(|| view! { <SpatialPlayer base=base.clone() order=rec.spatial_order/> })}
                {(!rec.has_preview).then(|| view! { <p data-testid="processing">"The preview is not ready yet."</p> })}
                <p class="embed-more"><a href=page.clone() target="_blank" rel="noopener" data-testid="embed-link">"Listen and download on Ambisonia"</a></p>
            </main>
        }
        .to_html()
    });
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
         <meta name=\"color-scheme\" content=\"light dark\"/>\
         <title>{} · Ambisonia</title>\
         <link rel=\"stylesheet\" href=\"/style/main.css?v={}\"/>\
         <link rel=\"canonical\" href=\"{}\"/></head><body class=\"embedded\">{body}</body></html>",
        esc(&title),
        crate::STYLE_VERSION,
        esc(&page),
    )
}
