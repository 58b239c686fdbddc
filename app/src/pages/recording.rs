use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::{Link, Title};
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::pages::{
    collections::RecordingCollections,
    map::{MapAssets, SmallMap},
};
use crate::{
    api::{
        DeleteRecording, DescribeRecording, PostComment, Rate, RestoreRecording, RetryProcessing,
        load_recording,
    },
    components::{
        CsrfField, ErrorView, Facts, FormError, SpatialPlayer, current_viewer, stars_text,
    },
};
use domain::{
    Processing, Rendition, Status,
    model::RecordingDetail,
    {format_duration, licence_label, licence_url},
};

#[component]
pub fn RecordingPage() -> impl IntoView {
    let params = use_params_map();
    let key = params.with_untracked(|p| p.get("slug").unwrap_or_default());
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_recording(key).await {
                    Ok(rec) => view! { <Recording rec/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn fact_row(label: &'static str, value: Option<String>) -> impl IntoView {
    value
        .filter(|v| !v.is_empty())
        .map(|v| view! { <dt>{label}</dt><dd>{v}</dd> })
}

#[component]
fn Recording(rec: RecordingDetail) -> impl IntoView {
    let card = rec.card.clone();
    let title = card.title.clone();
    let licence = licence_label(&rec.licence).to_string();
    let licence_link = licence_url(&rec.licence);
    let place = match (rec.latitude, rec.longitude) {
        (Some(lat), Some(lon)) => format!("{} ({lat:.3}, {lon:.3})", card.location),
        _ => card.location.clone(),
    };
    let sample = rec.sample_rate.map(|sr| {
        let depth = match (rec.bit_depth, rec.is_float) {
            (Some(b), true) => format!("{b}-bit float"),
            (Some(b), false) => format!("{b}-bit"),
            (None, _) => String::new(),
        };
        format!("{:.1} kHz {depth}", f64::from(sr) / 1000.0)
            .trim()
            .to_string()
    });
    let size = rec
        .size_bytes
        .map(|b| format!("{:.1} MB", b as f64 / 1_000_000.0));
    view! {
        <Title text=title.clone()/>
        <article class="recording" data-testid="recording">
            <header class="recording-head">
                <h1>{title}</h1>
                <p class="byline">
                    {(!card.artist.is_empty()).then(|| view! { <span>{card.artist.clone()}</span>" · " })}
                    "uploaded by "<a href=format!("/users/{}", card.uploader)>{card.uploader.clone()}</a>
                </p>
                <Facts convention=card.convention.clone() order=card.order layout=card.layout.clone() duration_ms=card.duration_ms/>
            </header>

            {match rec.status {
                Status::Pending => Some(view! {
                    <p class="notice" role="status" data-testid="status">
                        "Waiting for an editor: only you and the editors can see this recording until it is published."
                    </p>
                }.into_any()),
                Status::Rejected => Some(view! {
                    <p class="notice error" role="status" data-testid="status">
                        "An editor did not publish this recording: "{rec.moderation_note.clone()}
                    </p>
                }.into_any()),
                Status::Deleted => Some(view! {
                    <div class="notice error" role="status" data-testid="status">
                        <p>"This recording is deleted: only its uploader and the editors see it, and nobody finds it in the catalog."</p>
                        {match rec.restorable_until {
                            Some(until) => view! {
                                <form method="post" action=RestoreRecording::PATH class="restore">
                                    <CsrfField/>
                                    <input type="hidden" name="slug" value=card.slug.clone()/>
                                    <FormError path=RestoreRecording::PATH/>
                                    <p>"It can be restored, with its comments and ratings, until "{until.format("%-d %B %Y").to_string()}"."</p>
                                    <button type="submit" data-testid="restore">"Restore this recording"</button>
                                </form>
                            }.into_any(),
                            None => view! { <p>"It was deleted too long ago to be restored."</p> }.into_any(),
                        }}
                    </div>
                }.into_any()),
                _ => None,
            }}
            <section class="listen" aria-label="Listen">
                {if rec.has_preview {
                    let base = format!("/recordings/{}", card.slug);
                    view! {
                        <audio controls=true preload="metadata" src=format!("{base}/preview.ogg") data-testid="preview">
                            <a href=format!("{base}/preview.ogg")>"Stereo preview (Ogg Vorbis)"</a>
                        </audio>
                        <p class="hint">"Stereo preview: two virtual cardioid microphones at ±45°, decoded from the B-format."</p>
                        {rec.has_spatial_preview.then(|| view! { <SpatialPlayer base=base.clone() order=rec.spatial_order/> })}
                        <figure class="waveform">
                            <img src=format!("{base}/waveform.svg") alt="Waveform of the recording" data-testid="waveform"/>
                        </figure>
                        {rec.has_direction_picture.then(|| view! {
                            <figure class="direction" data-direction-picture="">
                                <img src=format!("{base}/doa.svg") alt="Where the sound comes from over time: front across the middle, left above, right below" data-testid="direction"/>
                                <figcaption>"Where the sound comes from, over time (azimuth of the intensity vector)."</figcaption>
                            </figure>
                        })}
                        <Downloads base card=card.clone() podcast=rec.has_podcast magnet=rec.magnet.clone()/>
                    }.into_any()
                } else if rec.has_media {
                    let slug = card.slug.clone();
                    view! {
                        {match rec.processing {
                            Processing::Failed if !rec.can_manage => view! {
                                <p data-testid="processing">"The preview is not available yet."</p>
                            }.into_any(),
                            Processing::Failed => view! {
                                <p class="notice error" data-testid="processing">"Making the preview failed: "{rec.processing_error.clone()}</p>
                                <form method="post" action=RetryProcessing::PATH>
                                    <CsrfField/>
                                    <input type="hidden" name="slug" value=slug.clone()/>
                                    <button type="submit">"Try again"</button>
                                </form>
                            }.into_any(),
                            _ => view! { <p data-testid="processing">"The stereo preview and pictures are being made; reload in a moment."</p> }.into_any(),
                        }}
                        <Downloads base=format!("/recordings/{slug}") card=card.clone() podcast=rec.has_podcast magnet=rec.magnet.clone()/>
                    }.into_any()
                } else {
                    view! {
                        <p class="no-media" data-testid="no-media">
                            "No audio file has been uploaded for this recording yet, so there is nothing to play or download."
                        </p>
                    }.into_any()
                }}
            </section>
            {(rec.status == Status::Published).then(|| rec.tip_currency.clone()).flatten().map(|currency| view! {
                <Tip slug=card.slug.clone() uploader=card.uploader.clone() currency/>
            })}
            {match (rec.latitude, rec.longitude) {
                (Some(latitude), Some(longitude)) => Some(view! { <SmallMap latitude longitude tiles=rec.tiles.clone()/> }.into_any()),
                _ => None,
            }}
            // The small map and the describe form's place picker share one copy of Leaflet.
            {(rec.latitude.is_some() || rec.can_describe).then(|| view! { <MapAssets/> }.into_any())}
            {(rec.status == Status::Published).then(|| view! {
                <RecordingCollections rec=rec.clone()/>
                <Share rec=rec.clone()/>
            }.into_any())}

            <div class="recording-body">
                <section class="description">
                    <h2>"About this recording"</h2>
                    <p class="prose">{rec.description.clone()}</p>
                    {(!rec.processing_notes.is_empty()).then(|| view! {
                        <h3>"Processing"</h3>
                        <p class="prose">{rec.processing_notes.clone()}</p>
                    })}
                    <ul class="tags">
                        {card.tags.iter().map(|t| view! {
                            <li><a href=format!("/tags/{}", t.slug)>{t.name.clone()}</a></li>
                        }).collect_view()}
                    </ul>
                </section>
                <aside class="tech">
                    <h2>"Facts"</h2>
                    <dl>
                        {fact_row("Composer / work", Some(rec.composer.clone()))}
                        {fact_row("Location", Some(place))}
                        {fact_row("Recorded", card.recorded_on.map(|d| d.format("%-d %B %Y").to_string()))}
                        {fact_row("Microphone", Some(rec.microphone.clone()))}
                        {fact_row("Recorder", Some(rec.recorder.clone()))}
                        {fact_row("Channels", card.channels.map(|c| c.to_string()))}
                        {fact_row("Sample format", sample)}
                        {fact_row("Duration", card.duration_ms.map(format_duration))}
                        {fact_row("Size", size)}
                        {fact_row("SHA-256", rec.sha256.clone())}
                        {fact_row("Downloads", Some(card.downloads.to_string()))}
                        {fact_row("Plays", Some(rec.plays.to_string()))}
                        <dt>"Licence"</dt>
                        <dd>{match licence_link {
                            Some(url) => view! { <a href=url rel="license">{licence.clone()}</a> }.into_any(),
                            None => view! { <span>{licence.clone()}</span> }.into_any(),
                        }}</dd>
                    </dl>
                </aside>
            </div>

            {rec.can_describe.then(|| view! { <Describe rec=rec.clone()/> })}
            <Rating rec=rec.clone()/>
            <Comments rec/>
        </article>
    }
}

/// The page's address and the `<iframe>` of its player, to paste elsewhere; and, for
/// programs that embed links (oEmbed consumers), the discovery link to the same code.
#[component]
fn Share(rec: RecordingDetail) -> impl IntoView {
    let card = &rec.card;
    let page = format!("{}/recordings/{}", rec.site_url, card.slug);
    let oembed = format!(
        "{}/oembed?url={}&format=json",
        rec.site_url,
        domain::catalog_query::encode_component(&page)
    );
    let code = crate::embed::iframe_code(
        &rec.site_url,
        &card.slug,
        &card.title,
        crate::embed::WIDTH,
        crate::embed::HEIGHT,
    );
    view! {
        <Link rel="alternate" type_="application/json+oembed" href=oembed title=card.title.clone()/>
        <details class="share" id="share" data-testid="share">
            <summary>"Share / Embed"</summary>
            <div class="field">
                <label for="share-link">"Link"</label>
                <input id="share-link" type="text" readonly=true value=page/>
            </div>
            <div class="field">
                <label for="share-embed">"Embed the player on your page"</label>
                <textarea id="share-embed" readonly=true rows="3" data-testid="embed-code">{code}</textarea>
                <p class="hint">"The player, its facing control and the stereo preview, in a frame of "{crate::embed::WIDTH}" × "{crate::embed::HEIGHT}" pixels. "
                {card.is_premium.then_some("A premium recording embeds its preview only.")}</p>
            </div>
        </details>
    }
}

#[component]
fn Rating(rec: RecordingDetail) -> impl IntoView {
    let card = &rec.card;
    let summary = if card.rating_count == 0 {
        "Not rated yet.".to_string()
    } else {
        format!(
            "{:.1} of 5 from {} rating{}",
            card.rating_avg,
            card.rating_count,
            if card.rating_count == 1 { "" } else { "s" }
        )
    };
    let stars = stars_text(card.rating_avg);
    let viewer = current_viewer();
    let slug = card.slug.clone();
    let form = match viewer {
        Some(v) if v.username == card.uploader => None,
        Some(_) => {
            let action = ServerAction::<Rate>::new();
            let mine = rec.my_rating;
            Some(view! {
                <ActionForm action>
                    <CsrfField/>
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <fieldset class="star-input">
                        <legend>{if mine.is_some() { "Change your rating" } else { "Rate this recording" }}</legend>
                        {(1u8..=5).map(|n| view! {
                            <label>
                                <input type="radio" name="stars" value=n.to_string() checked=mine == Some(n) required=true/>
                                <span>{format!("{n} ★")}</span>
                            </label>
                        }).collect_view()}
                    </fieldset>
                    <button type="submit">"Save rating"</button>
                    <FormError path=Rate::PATH/>
                </ActionForm>
            }.into_any())
        }
        None => Some(view! {
            <p><a href=format!("/login?next=/recordings/{slug}")>"Log in"</a>" to rate this recording."</p>
        }.into_any()),
    };
    view! {
        <section class="rating-block" id="rating">
            <h2>"Rating"</h2>
            <p data-testid="rating-summary"><span aria-hidden="true" class="rating">{stars}</span>" "{summary}</p>
            {form}
        </section>
    }
}

#[component]
fn Comments(rec: RecordingDetail) -> impl IntoView {
    let slug = rec.card.slug.clone();
    let count = rec.comments.len();
    let form = match current_viewer() {
        Some(_) => {
            let action = ServerAction::<PostComment>::new();
            view! {
                <ActionForm action>
                    <CsrfField/>
                    <input type="hidden" name="slug" value=slug.clone()/>
                    <div class="field">
                        <label for="c-title">"Title (optional)"</label>
                        <input id="c-title" name="title" maxlength="120"/>
                    </div>
                    <div class="field">
                        <label for="c-body">"Your comment"</label>
                        <textarea id="c-body" name="body" rows="4" maxlength="5000" required=true></textarea>
                    </div>
                    <button type="submit">"Post comment"</button>
                    <FormError path=PostComment::PATH/>
                </ActionForm>
            }.into_any()
        }
        None => view! {
            <p><a href=format!("/login?next=/recordings/{slug}")>"Log in"</a>" to comment."</p>
        }
        .into_any(),
    };
    view! {
        <section class="comments" id="comments">
            <h2>{format!("Comments ({count})")}</h2>
            <ol class="comment-list">
                {rec.comments.into_iter().map(|c| view! {
                    <li class="comment" data-testid="comment">
                        {(!c.title.is_empty()).then(|| view! { <h3>{c.title.clone()}</h3> })}
                        <p class="prose">{c.body}</p>
                        <p class="comment-meta">
                            <a href=format!("/users/{}", c.author)>{c.author.clone()}</a>
                            " · "<time datetime=c.created_at.to_rfc3339()>{c.created_at.format("%-d %b %Y").to_string()}</time>
                        </p>
                    </li>
                }).collect_view()}
            </ol>
            {form}
        </section>
    }
}

/// The original, every form the recording can be made into on the way out
/// (`Rendition::offered`, the same rule the download obeys), the binaural MP3 podcast apps
/// get, and — for a free recording — the original as a torrent and a magnet link.
#[component]
fn Downloads(
    base: String,
    card: domain::model::RecordingCard,
    podcast: bool,
    magnet: Option<String>,
) -> impl IntoView {
    let convention = card
        .convention
        .as_deref()
        .and_then(domain::Convention::parse);
    let channels = card
        .channels
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(0);
    let offered = Rendition::offered(convention, channels);
    // A premium download may be refused with a page that says why: no `download`
    // attribute, so the browser shows that page (a file still arrives as an attachment).
    let premium = card.is_premium;
    let download = (!premium).then_some("");
    view! {
        <div class="downloads">
            {premium.then(|| view! {
                <p class="premium-note" data-testid="premium-note">
                    <span class="premium">"Premium"</span>
                    " The original and its other formats are for "<a href="/premium">"premium members"</a>
                    {format!(
                        "; without premium, the previews play their first {} seconds.",
                        domain::billing::PREMIUM_EXCERPT_S
                    )}
                </p>
            })}
            <p>
                <a class="button" href=format!("{base}/download") data-testid="download" download=download>"Download the original"</a>
            </p>
            {(!offered.is_empty()).then(|| view! {
                <p class="renditions">"Or as: "
                    {offered.into_iter().enumerate().map(|(i, r)| view! {
                        {(i > 0).then_some(" · ")}
                        <a href=format!("{base}/download?format={}", r.as_str()) data-testid=format!("download-{}", r.as_str()) download=download>{r.label()}</a>
                    }).collect_view()}
                </p>
            })}
            {podcast.then(|| view! {
                <p class="podcast">
                    <a href=format!("{base}/binaural.mp3") data-testid="binaural-mp3">"Binaural MP3, for headphones"</a>
                    " — what podcast apps get from the "<a href="/feed.rss">"feed"</a>"."
                </p>
            })}
            {magnet.map(|m| view! {
                <p class="torrent">
                    "By BitTorrent (this site seeds it): "
                    <a href=format!("{base}/download.torrent") data-testid="torrent">".torrent"</a>
                    " · "
                    <a href=m data-testid="magnet">"magnet link"</a>
                </p>
            })}
        </div>
    }
}

/// Tipping the recordist through Stripe Checkout (70 % of it after Stripe's fee is theirs).
#[component]
fn Tip(slug: String, uploader: String, currency: String) -> impl IntoView {
    let tipped = use_query_map().with_untracked(|q| q.get_str("tipped") == Some("1"));
    let viewer = current_viewer();
    let own = viewer.as_ref().is_some_and(|v| v.username == uploader);
    view! {
        <section class="tip" id="tip" data-testid="tip">
            <h2>"Tip the recordist"</h2>
            {tipped.then(|| view! {
                <p class="notice" role="status" data-testid="tip-thanks">
                    "Thank you: your tip is on its way to "{uploader.clone()}"."
                </p>
            })}
            {match (viewer.is_some(), own) {
                (_, true) => view! { <p class="hint">"Listeners can tip you here; what you earn is on your account page."</p> }.into_any(),
                (false, _) => view! {
                    <p><a href=format!("/login?next=/recordings/{slug}%23tip")>"Log in"</a>" to tip "{uploader.clone()}"."</p>
                }.into_any(),
                (true, _) => view! {
                    <form method="post" action=crate::api::Tip::PATH class="tip-form">
                        <CsrfField/>
                        <input type="hidden" name="slug" value=slug.clone()/>
                        <div class="field">
                            <label for="tip-amount">{format!("Amount ({})", currency.to_uppercase())}</label>
                            <input id="tip-amount" name="amount" type="text" inputmode="decimal" value="5" pattern="[0-9]+([.][0-9]{1,2})?" required=true/>
                        </div>
                        <p class="hint">{format!("{}% of your tip, after the card fee, goes to {uploader}.", domain::billing::UPLOADER_SHARE_PERCENT)}</p>
                        <FormError path=crate::api::Tip::PATH/>
                        <button type="submit" data-testid="tip-button">"Tip with card"</button>
                    </form>
                }.into_any(),
            }}
        </section>
    }
}

/// The uploader's (or an editor's) form for what the file cannot say.
#[component]
fn Describe(rec: RecordingDetail) -> impl IntoView {
    let card = rec.card.clone();
    let tag_list = card
        .tags
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <section class="describe" id="describe" data-testid="describe">
            <h2>"Describe this recording"</h2>
            <form method="post" action=DescribeRecording::PATH>
                <CsrfField/>
                <input type="hidden" name="slug" value=card.slug.clone()/>
                <div class="field">
                    <label for="d-title">"Title"</label>
                    <input id="d-title" name="title" type="text" maxlength="200" required=true value=card.title.clone()/>
                </div>
                <div class="field">
                    <label for="d-location">"Location"</label>
                    <input id="d-location" name="location" type="text" maxlength="200" value=card.location.clone()/>
                </div>
                <div class="field">
                    <label for="d-description">"Description"</label>
                    <textarea id="d-description" name="description" rows="5">{rec.description.clone()}</textarea>
                </div>
                <div class="field">
                    <label for="d-licence">"Licence"</label>
                    <select id="d-licence" name="licence">
                        {domain::LICENCES.iter().map(|(key, label, _)| {
                            let selected = *key == rec.licence;
                            view! { <option value=*key selected=selected>{*label}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="d-microphone">"Microphone"</label>
                    <input id="d-microphone" name="microphone" type="text" maxlength="100" value=rec.microphone.clone()/>
                </div>
                <div class="field">
                    <label for="d-tags">"Tags (separated by commas)"</label>
                    <input id="d-tags" name="tags" type="text" value=tag_list/>
                </div>
                <fieldset class="field place" data-place-picker="">
                    <legend>"Where it was recorded"</legend>
                    <input type="hidden" name="place" value="1"/>
                    <label for="d-lat">"Latitude"</label>
                    <input id="d-lat" name="latitude" type="text" inputmode="decimal" placeholder="52.70" value=rec.latitude.map(|v| v.to_string()).unwrap_or_default() data-lat-input=""/>
                    <label for="d-lon">"Longitude"</label>
                    <input id="d-lon" name="longitude" type="text" inputmode="decimal" placeholder="23.85" value=rec.longitude.map(|v| v.to_string()).unwrap_or_default() data-lon-input=""/>
                    <label class="check"><input type="checkbox" name="blur"/>" Blur it to about 1 km (for a garden, a home)"</label>
                    <p class="hint">"Decimal degrees; leave both empty for no place. With JavaScript, a click on the map below sets them."</p>
                    <div class="pick-map" data-pick-map="" data-tiles=rec.tiles.url.clone() data-attribution=rec.tiles.attribution.clone()></div>
                </fieldset>
                <FormError path=DescribeRecording::PATH/>
                <button type="submit">{if rec.status == Status::Rejected { "Save and send to the editors again" } else { "Save" }}</button>
            </form>
            <DeleteRecordingStep slug=card.slug.clone() title=card.title.clone()/>
        </section>
    }
}

/// Deleting asks first: the button leads to the same page asking "are you sure?" (a plain
/// link, `?delete=confirm`), whose form deletes.
#[component]
fn DeleteRecordingStep(slug: String, title: String) -> impl IntoView {
    let asked = use_query_map().with_untracked(|q| q.get_str("delete") == Some("confirm"));
    let page = format!("/recordings/{slug}");
    if asked {
        view! {
            <form method="post" action=DeleteRecording::PATH class="delete confirm" id="delete" data-testid="delete-confirm">
                <CsrfField/>
                <input type="hidden" name="slug" value=slug.clone()/>
                <FormError path=DeleteRecording::PATH/>
                <p>"Delete “"{title}"”? It disappears from the catalog, its feeds and searches at once. You (or an editor) can restore it, with its comments and ratings, for "{Status::RESTORE_DAYS}" days; then it and its files are gone for good."</p>
                <button type="submit" class="danger" data-testid="delete">"Yes, delete it"</button>
                " "<a href=page>"No, keep it"</a>
            </form>
        }
        .into_any()
    } else {
        view! {
            <p class="delete">
                <a class="button danger" href=format!("{page}?delete=confirm#delete") data-testid="ask-delete">"Delete this recording…"</a>
            </p>
        }
        .into_any()
    }
}
