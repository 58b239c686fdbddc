//! Following: the Follow button of a profile or a tag (a plain form), and `/following` —
//! the newest recordings from what the viewer follows, with its private feed.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;

use crate::{
    api::{NewFollowingFeed, RevokeFollowingFeed, ToggleFollow, load_following},
    components::{CardGrid, CsrfField, ErrorView},
};

/// Follow (or stop following) `name`, a user or a tag; for anonymous visitors, where to log
/// in to. `follows` is `None` for them.
#[component]
pub fn FollowButton(kind: &'static str, name: String, follows: Option<bool>) -> impl IntoView {
    let back = if kind == "user" {
        format!("/users/{name}")
    } else {
        format!("/tags/{name}")
    };
    match follows {
        None => view! {
            <p class="follow"><a href=format!("/login?next={back}")>"Log in"</a>" to follow."</p>
        }
        .into_any(),
        Some(on) => view! {
            <form method="post" action=ToggleFollow::PATH class="inline-form follow">
                <CsrfField/>
                <input type="hidden" name="kind" value=kind/>
                <input type="hidden" name="name" value=name/>
                <button type="submit" data-testid="follow" aria-pressed=if on { "true" } else { "false" }>
                    {if on { "Following (stop)" } else { "Follow" }}
                </button>
            </form>
        }
        .into_any(),
    }
}

#[component]
pub fn FollowingPage() -> impl IntoView {
    view! {
        <Title text="Following"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_following().await {
                    Ok(f) => view! {
                        <section class="following" data-testid="following">
                            <h1>"Following"</h1>
                            {if f.people.is_empty() && f.tags.is_empty() {
                                view! { <p>"You follow nobody yet: follow recordists on their profiles and tags on their pages, and their new recordings appear here."</p> }.into_any()
                            } else {
                                view! {
                                    <p>"You follow "
                                        {f.people.iter().map(|p| view! { <a href=format!("/users/{p}")>{p.clone()}</a>" " }).collect_view()}
                                        {f.tags.iter().map(|t| view! { <a class="tag" href=format!("/tags/{}", t.slug)>{t.name.clone()}</a>" " }).collect_view()}
                                    </p>
                                }.into_any()
                            }}
                            {if f.recordings.is_empty() {
                                view! { <p>"Nothing published from them yet."</p> }.into_any()
                            } else {
                                view! { <CardGrid cards=f.recordings.clone()/> }.into_any()
                            }}
                            <FeedBox has_feed=f.has_feed token=f.new_feed_token.clone()/>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The private feed: its address, shown once when made (it is a secret: anyone with it
/// reads this list), and the forms that make a new one or turn it off.
#[component]
fn FeedBox(has_feed: bool, token: Option<String>) -> impl IntoView {
    view! {
        <section class="following-feed" id="feed">
            <h2>"A private feed of this list"</h2>
            <p>"For a feed reader or podcast app: its address holds a secret, so keep it to yourself. Make a new one if it got out; the old one stops working."</p>
            {token.map(|t| view! {
                <p class="notice" role="status">"Your feed (copy it now: it is not shown again): "
                    <code data-testid="following-feed-url">{format!("/following/{t}.rss")}</code>
                    " (or "<code>{format!("/following/{t}.atom")}</code>")"
                </p>
            })}
            <form method="post" action=NewFollowingFeed::PATH class="inline-form">
                <CsrfField/>
                <button type="submit" data-testid="new-following-feed">{if has_feed { "Make a new feed address" } else { "Make a feed address" }}</button>
            </form>
            {has_feed.then(|| view! {
                <form method="post" action=RevokeFollowingFeed::PATH class="inline-form">
                    <CsrfField/>
                    <button type="submit" class="link-button" data-testid="revoke-following-feed">"Turn the feed off"</button>
                </form>
            })}
        </section>
    }
}
