//! The editors' queue: each pending recording with its facts, a way to listen to the
//! original, and a publish or reject (with a reason) form.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;

use crate::{
    api::{Moderate, load_moderation},
    components::{CsrfField, ErrorView, Facts, FormError},
};
use domain::model::PendingItem;

#[component]
pub fn ModerationPage() -> impl IntoView {
    view! {
        <Title text="Moderation"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_moderation().await {
                    Ok(items) => view! { <Queue items/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Queue(items: Vec<PendingItem>) -> impl IntoView {
    let count = items.len();
    view! {
        <section class="moderation" data-testid="moderation">
            <h1>"Moderation"</h1>
            <p data-testid="pending-count">{match count {
                0 => "Nothing is waiting.".to_string(),
                1 => "1 recording is waiting.".to_string(),
                n => format!("{n} recordings are waiting."),
            }}</p>
            <FormError path=Moderate::PATH/>
            <ol class="queue">
                {items.into_iter().map(|item| view! { <Pending item/> }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn Pending(item: PendingItem) -> impl IntoView {
    let card = item.card;
    let slug = card.slug.clone();
    let sample = item.sample_rate.map(|sr| {
        format!(
            "{:.1} kHz, {}{}",
            f64::from(sr) / 1000.0,
            item.bit_depth
                .map(|b| format!("{b}-bit"))
                .unwrap_or_default(),
            if item.is_float { " float" } else { "" }
        )
    });
    view! {
        <li class="pending" data-testid="pending">
            <h2><a href=format!("/recordings/{slug}")>{card.title.clone()}</a></h2>
            <p class="byline">"uploaded by "{card.uploader.clone()}" on "{item.uploaded_at.format("%-d %B %Y %H:%M").to_string()}</p>
            <Facts convention=card.convention.clone() order=card.order layout=card.layout.clone() duration_ms=card.duration_ms/>
            <p>
                {sample}
                {item.size_bytes.map(|b| format!(" · {:.1} MB", b as f64 / 1_000_000.0))}
                " · "<a href=format!("/recordings/{slug}/download")>"original file"</a>
            </p>
            {if item.has_preview {
                view! { <audio controls=true preload="none" src=format!("/recordings/{slug}/preview.ogg") data-testid="queue-preview"></audio> }.into_any()
            } else {
                view! { <p class="hint">"The preview is still being made."</p> }.into_any()
            }}
            <p class="prose">{item.description.clone()}</p>
            <div class="decide">
                <form method="post" action=Moderate::PATH>
                    <CsrfField/>
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <input type="hidden" name="decision" value="publish"/>
                    <input type="hidden" name="note" value=""/>
                    <button type="submit">"Publish"</button>
                </form>
                <form method="post" action=Moderate::PATH class="reject">
                    <CsrfField/>
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <input type="hidden" name="decision" value="reject"/>
                    <label for=format!("note-{slug}")>"Reason"</label>
                    <input id=format!("note-{slug}") name="note" type="text" maxlength="500"/>
                    <button type="submit" class="secondary">"Reject"</button>
                </form>
            </div>
        </li>
    }
}
