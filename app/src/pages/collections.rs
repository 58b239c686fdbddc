//! Collections: the listener's own (`/collections`, with the form that makes one), one
//! collection's page (`/collections/{slug}`: public for everyone, private for its owner, who
//! gets its forms), and what a recording's page offers (save, add to a collection, the
//! packs it belongs to).

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::{
        AddToCollection, ChangeCollectionItem, CreateCollection, DeleteCollection, EditCollection,
        ToggleSave, load_collection, load_my_collections,
    },
    components::{CardGrid, CsrfField, ErrorView, FeedLinks, FormError, current_viewer},
};
use domain::model::{CollectionPage, CollectionRef, RecordingDetail};

/// `12 recordings · public pack`.
fn describe(c: &CollectionRef) -> String {
    let n = if c.count == 1 {
        "1 recording".to_owned()
    } else {
        format!("{} recordings", c.count)
    };
    let kind = match (c.is_saved, c.is_pack, c.is_public) {
        (true, _, _) => "private: your saved recordings",
        (_, true, _) => "public pack",
        (_, _, true) => "public",
        _ => "private",
    };
    format!("{n} · {kind}")
}

#[component]
pub fn CollectionsPage() -> impl IntoView {
    view! {
        <Title text="Your collections"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_my_collections().await {
                    Ok(list) => view! {
                        <section class="collections" data-testid="my-collections">
                            <h1>"Your collections"</h1>
                            <p>"Keep recordings together, in your order: private ones for yourself, public ones to share (a public collection of your own recordings is a pack). "
                               "Your saved recordings are here too."</p>
                            {if list.is_empty() {
                                view! { <p>"No collections yet: save a recording, or make a collection below."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="collection-list">
                                        {list.into_iter().map(|c| view! {
                                            <li data-testid="collection">
                                                <a href=format!("/collections/{}", c.slug)>{c.title.clone()}</a>
                                                " "<span class="muted">{describe(&c)}</span>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                            <NewCollection add=None/>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NewCollection(add: Option<String>) -> impl IntoView {
    view! {
        <form method="post" action=CreateCollection::PATH class="new-collection" data-testid="new-collection">
            <CsrfField/>
            {add.map(|a| view! { <input type="hidden" name="add" value=a/> })}
            <input type="hidden" name="note" value=""/>
            <div class="field">
                <label for="nc-title">"New collection"</label>
                <input id="nc-title" name="title" type="text" maxlength="200" required=true placeholder="Forests at dawn"/>
            </div>
            <label class="check"><input type="checkbox" name="public"/>" Public (anyone can see it, follow its feed and download it)"</label>
            <FormError path=CreateCollection::PATH/>
            <button type="submit">"Make the collection"</button>
        </form>
    }
}

#[component]
pub fn CollectionView() -> impl IntoView {
    let params = use_params_map();
    let key = params.with_untracked(|p| p.get("slug").unwrap_or_default());
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_collection(key).await {
                    Ok(c) => view! { <Collection c/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Collection(c: CollectionPage) -> impl IntoView {
    let kind = match (c.is_saved, c.is_pack, c.is_public) {
        (true, _, _) => "Your saved recordings (private)",
        (_, true, _) => "A pack",
        (_, _, true) => "A public collection",
        _ => "A private collection",
    };
    let count = c.items.len();
    let slug = c.slug.clone();
    view! {
        <Title text=c.title.clone()/>
        <section class="collection" data-testid="collection-page">
            <p class="kicker" data-testid="collection-kind">{kind}</p>
            <h1>{c.title.clone()}</h1>
            <p class="byline">
                "by "<a href=format!("/users/{}", c.owner)>{c.owner.clone()}</a>
                {format!(" · {count} recording{} · changed {}", if count == 1 { "" } else { "s" }, c.updated_at.format("%-d %B %Y"))}
            </p>
            {(!c.note.is_empty()).then(|| view! { <p class="prose">{c.note.clone()}</p> }.into_any())}
            {c.is_public.then(|| view! {
                <FeedLinks atom=format!("/collections/{}/feed.atom", c.slug) rss=format!("/collections/{}/feed.rss", c.slug) title=format!("Ambisonia: {}", c.title)/>
            }.into_any())}
            {(!c.items.is_empty()).then(|| view! {
                <p class="download-all">
                    <a class="button" href=format!("/collections/{}/download.zip", c.slug) data-testid="download-all">"Download all (ZIP)"</a>
                    " "<span class="hint">"The originals, with a README and manifest of their licences; premium recordings only for premium members."</span>
                </p>
            }.into_any())}
            {if c.items.is_empty() {
                view! { <p>"Nothing in it yet."</p> }.into_any()
            } else if c.mine {
                view! { <OwnItems slug=slug.clone() items=c.items.clone()/> }.into_any()
            } else {
                view! { <CardGrid cards=c.items.clone()/> }.into_any()
            }}
            {c.mine.then(|| view! { <EditCollectionForm c=c.clone()/> }.into_any())}
        </section>
    }
}

/// The owner's list: each recording with its place and the buttons that move or remove it.
#[component]
fn OwnItems(slug: String, items: Vec<domain::model::RecordingCard>) -> impl IntoView {
    let last = items.len().saturating_sub(1);
    view! {
        <ol class="collection-items" id="items" data-testid="collection-items">
            {items.into_iter().enumerate().map(|(i, card)| {
                let button = |change: &'static str, label: &'static str, enabled: bool| view! {
                    <form method="post" action=ChangeCollectionItem::PATH class="inline-form">
                        <CsrfField/>
                        <input type="hidden" name="collection" value=slug.clone()/>
                        <input type="hidden" name="recording" value=card.slug.clone()/>
                        <input type="hidden" name="change" value=change/>
                        <button type="submit" class="link-button" disabled=!enabled data-testid=format!("item-{change}")>{label}</button>
                    </form>
                };
                view! {
                    <li data-testid="collection-item">
                        <a href=format!("/recordings/{}", card.slug)>{card.title.clone()}</a>
                        " "<span class="muted">{card.uploader.clone()}</span>
                        {button("up", "↑ up", i > 0)}
                        {button("down", "↓ down", i < last)}
                        {button("remove", "remove", true)}
                    </li>
                }
            }).collect_view()}
        </ol>
    }
}

#[component]
fn EditCollectionForm(c: CollectionPage) -> impl IntoView {
    let saved = c.is_saved;
    view! {
        <details class="edit-collection">
            <summary>"Change the title, note or who sees it"</summary>
            <form method="post" action=EditCollection::PATH data-testid="edit-collection">
                <CsrfField/>
                <input type="hidden" name="slug" value=c.slug.clone()/>
                {(!saved).then(|| view! {
                    <div class="field">
                        <label for="e-title">"Title"</label>
                        <input id="e-title" name="title" type="text" maxlength="200" required=true value=c.title.clone()/>
                    </div>
                })}
                {saved.then(|| view! { <input type="hidden" name="title" value=c.title.clone()/> })}
                <div class="field">
                    <label for="e-note">"Note"</label>
                    <textarea id="e-note" name="note" rows="4" maxlength="4000">{c.note.clone()}</textarea>
                </div>
                {(!saved).then(|| view! {
                    <label class="check"><input type="checkbox" name="public" checked=c.is_public/>" Public"</label>
                })}
                <FormError path=EditCollection::PATH/>
                <button type="submit">"Save changes"</button>
            </form>
            {(!saved).then(|| view! {
                <form method="post" action=DeleteCollection::PATH class="confirm">
                    <CsrfField/>
                    <input type="hidden" name="slug" value=c.slug.clone()/>
                    <button type="submit" class="danger">"Delete this collection"</button>
                </form>
            })}
        </details>
    }
}

/// On a recording's page: how many public collections hold it and its packs; for a
/// logged-in listener, Save and Add to a collection (plain forms).
#[component]
pub fn RecordingCollections(rec: RecordingDetail) -> impl IntoView {
    let c = rec.collections.clone();
    let slug = rec.card.slug.clone();
    let viewer = current_viewer();
    let count = match c.public_count {
        0 => None,
        1 => Some("In 1 public collection.".to_owned()),
        n => Some(format!("In {n} public collections.")),
    };
    view! {
        <section class="recording-collections" id="collections" data-testid="recording-collections">
            {c.packs.iter().map(|p| view! {
                <p class="pack" data-testid="pack">"Part of the pack "<a href=format!("/collections/{}", p.slug)>{p.title.clone()}</a>" by "{p.owner.clone()}</p>
            }).collect_view()}
            {count.map(|t| view! { <p data-testid="public-collections">{t}</p> })}
            {match viewer {
                None => view! {
                    <p><a href=format!("/login?next=/recordings/{slug}")>"Log in"</a>" to save it or add it to a collection."</p>
                }.into_any(),
                Some(_) => {
                    let addable: Vec<_> = c.mine.iter().filter(|(_, holds)| !holds).map(|(r, _)| r.clone()).collect();
                    let holding: Vec<_> = c.mine.iter().filter(|(_, holds)| *holds).map(|(r, _)| r.clone()).collect();
                    view! {
                        <form method="post" action=ToggleSave::PATH class="inline-form save">
                            <CsrfField/>
                            <input type="hidden" name="slug" value=slug.clone()/>
                            <button type="submit" data-testid="save" aria-pressed=if c.saved { "true" } else { "false" }>
                                {if c.saved { "★ Saved (remove)" } else { "☆ Save" }}
                            </button>
                        </form>
                        " "<a href="/collections">"Your collections"</a>
                        {(!holding.is_empty()).then(|| view! {
                            <p>"In your collections: "
                                {holding.iter().map(|r| view! { <a href=format!("/collections/{}", r.slug)>{r.title.clone()}</a>" " }).collect_view()}
                            </p>
                        })}
                        {(!addable.is_empty()).then(|| view! {
                            <form method="post" action=AddToCollection::PATH class="add-to-collection">
                                <CsrfField/>
                                <input type="hidden" name="recording" value=slug.clone()/>
                                <label for="add-to">"Add to"</label>
                                <select id="add-to" name="collection" data-testid="add-to">
                                    {addable.iter().map(|r| view! { <option value=r.slug.clone()>{r.title.clone()}</option> }).collect_view()}
                                </select>
                                <button type="submit" data-testid="add-to-collection">"Add"</button>
                                <FormError path=AddToCollection::PATH/>
                            </form>
                        })}
                        <details>
                            <summary>"Add to a new collection"</summary>
                            <NewCollection add=Some(slug.clone())/>
                        </details>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// A profile's public collections, packs first.
#[component]
pub fn ProfileCollections(list: Vec<CollectionRef>) -> impl IntoView {
    (!list.is_empty()).then(|| {
        view! {
            <h2>"Collections and packs"</h2>
            <ul class="collection-list" data-testid="profile-collections">
                {list.into_iter().map(|c| view! {
                    <li data-testid=if c.is_pack { "profile-pack" } else { "profile-collection" }>
                        <a href=format!("/collections/{}", c.slug)>{c.title.clone()}</a>
                        " "<span class="muted">{describe(&c)}</span>
                    </li>
                }).collect_view()}
            </ul>
        }
    })
}
