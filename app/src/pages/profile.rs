use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::load_profile,
    components::{CardGrid, ErrorView, FeedLinks},
    pages::{collections::ProfileCollections, following::FollowButton},
};

#[component]
pub fn ProfilePage() -> impl IntoView {
    let params = use_params_map();
    let key = params.with_untracked(|p| p.get("username").unwrap_or_default());
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_profile(key).await {
                    Ok(p) => view! {
                        <Title text=p.username.clone()/>
                        <section class="profile" data-testid="profile">
                            <h1>{p.username.clone()}</h1>
                            <p class="byline">{format!("{} · member since {}", p.role.as_str(), p.joined.format("%B %Y"))}
                                <span data-testid="followers">{match p.followers { 1 => " · 1 follower".to_owned(), n => format!(" · {n} followers") }}</span>
                            </p>
                            <FollowButton kind="user" name=p.username.clone() follows=p.viewer_follows/>
                            {(!p.bio.is_empty()).then(|| view! { <p class="prose">{p.bio.clone()}</p> })}
                            <ProfileCollections list=p.collections.clone()/>
                            <h2>{format!("Recordings ({})", p.recordings.len())}</h2>
                            <FeedLinks atom=format!("/users/{}/feed.atom", p.username) rss=format!("/users/{}/feed.rss", p.username) title=format!("Ambisonia: recordings by {}", p.username)/>
                            {if p.recordings.is_empty() {
                                view! { <p>"No published recordings yet."</p> }.into_any()
                            } else {
                                view! { <CardGrid cards=p.recordings.clone()/> }.into_any()
                            }}

                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
