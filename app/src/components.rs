//! Pieces that several pages share: the header, cards, the pager, form helpers, the error
//! view (which also sets the HTTP status).

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use domain::{
    model::{RecordingCard, Viewer},
    {Convention, format_duration, order_label},
};

/// The logged-in viewer of this request (always `None` in a browser build for now).
pub fn current_viewer() -> Option<Viewer> {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::request::viewer()
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// The hidden form-token field every POST form carries.
#[component]
pub fn CsrfField() -> impl IntoView {
    #[cfg(feature = "ssr")]
    let token = crate::ssr::request::form_token();
    #[cfg(not(feature = "ssr"))]
    let token = String::new();
    view! { <input type="hidden" name="csrf" value=token/> }
}

#[component]
pub fn Header() -> impl IntoView {
    let viewer = current_viewer();
    view! {
        <a class="skip" href="#main">"Skip to content"</a>
        <header class="site-header">
            <a class="brand" href="/" aria-label="Ambisonia home">
                <svg class="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
                    <circle cx="16" cy="16" r="14" fill="none" stroke="currentColor" stroke-width="2"/>
                    <circle cx="16" cy="16" r="8" fill="none" stroke="currentColor" stroke-width="2" opacity="0.6"/>
                    <circle cx="16" cy="16" r="2.5" fill="currentColor"/>
                </svg>
                <span>"Ambisonia"</span>
            </a>
            <form class="site-search" method="get" action="/catalog" role="search">
                <label class="visually-hidden" for="site-q">"Search recordings"</label>
                <input id="site-q" type="search" name="q" placeholder="Search recordings, places, artists…"/>
                <button type="submit">"Search"</button>
            </form>
            <nav class="site-nav" aria-label="Main">
                <a href="/catalog">"Catalog"</a>
                <a href="/map">"Map"</a>
                <a href="/premium">"Premium"</a>
                {match viewer {
                    Some(v) => view! {
                        {v.role.uploads().then(|| view! { <a href="/upload">"Upload"</a> })}
                        {v.role.moderates().then(|| view! { <a href="/moderation">"Moderation"</a> })}
                        <a href="/following" data-testid="following-link">"Following"</a>
                        <a href="/collections" data-testid="collections-link">"Collections"</a>
                        <a href="/account" data-testid="account-link">{v.username.clone()}</a>
                        <form method="post" action="/api/logout" class="inline-form">
                            <CsrfField/>
                            <button type="submit" class="link-button">"Log out"</button>
                        </form>
                    }.into_any(),
                    None => view! {
                        <a href="/login">"Log in"</a>
                        <a class="button" href="/register">"Join"</a>
                    }.into_any(),
                }}
            </nav>
        </header>
    }
}

#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>"Ambisonia — surround recordings in B-format, for listening in the round."</p>
            <p><a href="/catalog">"Browse the catalog"</a></p>
        </footer>
    }
}

/// Convention, order and duration at a glance.
#[component]
pub fn Facts(
    convention: Option<String>,
    order: Option<i32>,
    layout: Option<String>,
    duration_ms: Option<i64>,
) -> impl IntoView {
    let convention = convention.as_deref().and_then(Convention::parse);
    view! {
        <ul class="facts">
            {convention.map(|c| view! { <li class=format!("fact convention-{}", c.as_str())>{c.label()}</li> })}
            {order.map(|o| view! { <li class="fact">{order_label(o)}</li> })}
            {layout.filter(|l| l != "uhj").map(|l| view! { <li class="fact" title="Channel layout">{l}</li> })}
            {duration_ms.map(|d| view! { <li class="fact duration">{format_duration(d)}</li> })}
        </ul>
    }
}

pub fn stars_text(avg: f64) -> String {
    let full = avg.round().clamp(0.0, 5.0) as usize;
    format!("{}{}", "★".repeat(full), "☆".repeat(5 - full))
}

#[component]
pub fn Card(card: RecordingCard) -> impl IntoView {
    let href = format!("/recordings/{}", card.slug);
    let byline = [card.artist.as_str(), card.location.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
    let rating = (card.rating_count > 0).then(|| {
        view! {
            <span class="rating" title=format!("{:.1} of 5 from {} ratings", card.rating_avg, card.rating_count)>
                <span aria-hidden="true">{stars_text(card.rating_avg)}</span>
                <span class="visually-hidden">{format!("rated {:.1} of 5", card.rating_avg)}</span>
            </span>
        }
    });
    view! {
        <article class="card" data-testid="recording-card">
            <h3 class="card-title"><a href=href>{card.title.clone()}</a></h3>
            <p class="byline">{byline}</p>
            <Facts convention=card.convention order=card.order layout=card.layout duration_ms=card.duration_ms/>
            <p class="card-meta">
                {rating}
                <span class="downloads">{format!("{} downloads", card.downloads)}</span>
                {card.is_premium.then(|| view! { <span class="premium">"Premium"</span> })}
            </p>
            <ul class="tags">
                {card.tags.into_iter().map(|t| view! {
                    <li><a href=format!("/tags/{}", t.slug)>{t.name}</a></li>
                }).collect_view()}
            </ul>
            // Saving is one click from any card a logged-in listener sees (such pages are
            // never shared, so the form token is theirs).
            {current_viewer().map(|_| {
                let here = leptos_router::hooks::use_location();
                let next = format!("{}{}", here.pathname.get_untracked(), {
                    let q = here.search.get_untracked();
                    if q.is_empty() { String::new() } else { format!("?{q}") }
                });
                view! {
                    <form method="post" action=crate::api::SaveCard::PATH class="card-save">
                        <CsrfField/>
                        <input type="hidden" name="slug" value=card.slug.clone()/>
                        <input type="hidden" name="next" value=next/>
                        <button type="submit" class="link-button" data-testid="card-save">"☆ Save"</button>
                    </form>
                }
            })}
        </article>
    }
}

#[component]
pub fn CardGrid(cards: Vec<RecordingCard>) -> impl IntoView {
    view! {
        <div class="card-grid">
            {cards.into_iter().map(|c| view! { <Card card=c/> }).collect_view()}
        </div>
    }
}

/// Shows the error a server function sent back with the visitor (in `__err`), if it came
/// from the form posting to `path`.
#[component]
pub fn FormError(path: &'static str) -> impl IntoView {
    let query = use_query_map();
    let message = query.with_untracked(|q| {
        let err = q
            .get_str("__err")
            .filter(|_| q.get_str("__path") == Some(path))?;
        signed_by_this_site(path, err, q.get_str("__sig")?).then(|| decode_error(err))
    });
    message.map(|m| view! { <p class="form-error" role="alert" data-testid="form-error">{m}</p> })
}

/// Whether the server signed this error (`server`'s form-error middleware): a link anyone
/// can write (`?__err=…`) must not put words in the site's mouth.
fn signed_by_this_site(path: &str, err: &str, signature: &str) -> bool {
    #[cfg(feature = "ssr")]
    {
        crate::ssr::state::state().is_ok_and(|s| {
            domain::signing::verify(
                &s.settings.form_error_key,
                &domain::signing::form_error_message(path, err),
                signature,
            )
        })
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = (path, err, signature);
        false
    }
}

fn decode_error(encoded: &str) -> String {
    use leptos::server_fn::error::ServerFnUrlError;
    ServerFnUrlError::<AppError>::decode_err(encoded).to_string()
}

/// A whole-page error: the message, and (on the server) the matching HTTP status.
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(error.status()),
    ) {
        res.set_status(status);
    }
    let (heading, text) = match &error {
        AppError::NotFound => ("Not found", error.to_string()),
        AppError::Unauthorized => ("Log in needed", error.to_string()),
        AppError::Internal => ("Something went wrong", error.to_string()),
        other => ("That did not work", other.to_string()),
    };
    let login = matches!(error, AppError::Unauthorized);
    view! {
        <section class="error-page" data-testid="error-page">
            <h1>{heading}</h1>
            <p>{text}</p>
            {login.then(|| view! { <p><a class="button" href="/login">"Log in"</a></p> })}
            <p><a href="/">"Back to the home page"</a>" · "<a href="/catalog">"Browse the catalog"</a></p>
        </section>
    }
}

/// Links to the pages of a result list; every page is a plain URL.
/// Page links: the numbered first pages (`numbered` of them, the current one `page`, or
/// none when the page was reached by key) and the previous and next pages' links.
#[component]
pub fn Pager(
    page: Option<u64>,
    numbered: u64,
    prev: Option<String>,
    next: Option<String>,
    href: impl Fn(u64) -> String + 'static,
) -> impl IntoView {
    if prev.is_none() && next.is_none() {
        return None;
    }
    let mut items = Vec::new();
    if let Some(page) = page {
        let window: Vec<u64> = (1..=numbered)
            .filter(|p| *p == 1 || *p == numbered || p.abs_diff(page) <= 2)
            .collect();
        let mut last = 0;
        for p in window {
            if p > last + 1 {
                items.push(view! { <li class="gap" aria-hidden="true">"…"</li> }.into_any());
            }
            items.push(if p == page {
                view! { <li><span aria-current="page">{p}</span></li> }.into_any()
            } else {
                view! { <li><a href=href(p)>{p}</a></li> }.into_any()
            });
            last = p;
        }
    }
    Some(view! {
        <nav class="pager" aria-label="Pages">
            {prev.map(|h| view! { <a rel="prev" href=h>"← Previous"</a> })}
            <ol>{items}</ol>
            {next.map(|h| view! { <a rel="next" href=h>"Next →"</a> })}
        </nav>
    })
}

/// A page's feeds, announced in the document head (`<link rel="alternate">`, which feed
/// readers and podcast apps look for) and offered on the page.
#[component]
pub fn FeedLinks(atom: String, rss: String, title: String) -> impl IntoView {
    use leptos_meta::Link;
    view! {
        <Link rel="alternate" type_="application/atom+xml" href=atom.clone() title=title.clone()/>
        <Link rel="alternate" type_="application/rss+xml" href=rss.clone() title=format!("{title} (RSS)")/>
        <p class="feeds">"Follow: "<a href=atom data-testid="feed-atom">"Atom feed"</a>" · "<a href=rss data-testid="feed-rss">"RSS (podcast)"</a></p>
    }
}

/// The binaural player: hidden until `public/spatial.js` finds Web Audio and Ogg Vorbis and
/// wires it up; without them the stereo preview above is the page's player, as before. A
/// recording of order 2 or 3 streams its higher-order preview: the first eight channels in
/// the page's `<audio>` (its first four are the first-order field, so the player falls back
/// to first order on them alone) and the rest in a second stream the script keeps in sync.
#[component]
pub fn SpatialPlayer(base: String, order: u8) -> impl IntoView {
    let (src, rest) = if order >= 2 {
        (
            format!("{base}/spatial-hoa-1.ogg"),
            Some(format!("{base}/spatial-hoa-2.ogg")),
        )
    } else {
        (format!("{base}/spatial.ogg"), None)
    };
    view! {
        <section class="spatial" data-spatial-player="" hidden=true aria-labelledby="spatial-title" data-testid="spatial-player"
            data-spatial-order=order.to_string() data-hoa-rest=rest>
            <h3 id="spatial-title">"Listen in the round "<small>"(headphones)"</small></h3>
            <p class="hint">"The whole sound field, decoded for headphones in your browser. Turn to face any direction: drag the facing line on the picture below, use the slider or the arrow keys, or let your phone follow your head."</p>
            <audio controls=true preload="none" src=src data-spatial-audio="" data-testid="spatial-audio"></audio>
            <div class="facing">
                <label for="spatial-yaw">"Facing"</label>
                <input id="spatial-yaw" type="range" min="-180" max="180" step="1" value="0" data-yaw="" aria-valuetext="front"/>
                <output for="spatial-yaw" data-yaw-label="">"front"</output>
                <button type="button" data-reset="">"Face front"</button>
                <button type="button" data-orientation="" hidden=true>"Follow my phone"</button>
            </div>
            <p class="hint" data-spatial-status="" role="status"></p>
        </section>
        <script src="/spatial.js" defer=true></script>
    }
}
