use leptos::prelude::*;
use leptos_meta::Title;

use crate::{
    api::load_home,
    components::{CardGrid, ErrorView, FeedLinks},
};

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_home().await {
                    Ok(home) => view! {
                        <section class="hero">
                            <h1>"Sound from every direction."</h1>
                            <p class="lede">
                                {format!("{} ambisonic recordings — concerts, churches, forests, cities — \
                                    shared in B-format by the people who made them. Listen in stereo, \
                                    download the full sound field.", home.recording_count)}
                            </p>
                            <p><a class="button" href="/catalog">"Browse the catalog"</a></p>
                        </section>
                        <section class="shelf">
                            <h2>"Latest recordings"</h2>
                            <CardGrid cards=home.latest/>
                            <p><a href="/catalog">"All recordings, newest first →"</a></p>
                            <FeedLinks atom="/feed.atom".to_string() rss="/feed.rss".to_string() title="Ambisonia: the latest recordings".to_string()/>
                        </section>
                        <section class="shelf">
                            <h2>"Most downloaded"</h2>
                            <CardGrid cards=home.popular/>
                            <p><a href="/catalog?sort=downloads">"All recordings by downloads →"</a></p>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
