use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::{
    api::load_tag,
    components::{CardGrid, ErrorView, FeedLinks},
    pages::following::FollowButton,
};
use domain::catalog_query::encode_component;

#[component]
pub fn TagPage() -> impl IntoView {
    let params = use_params_map();
    let key = params.with_untracked(|p| p.get("slug").unwrap_or_default());
    view! {
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_tag(key).await {
                    Ok(t) => view! {
                        <Title text=format!("Tag: {}", t.tag.name)/>
                        <section class="tag-page">
                            <h1>{format!("Tagged “{}”", t.tag.name)}</h1>
                            <FollowButton kind="tag" name=t.tag.slug.clone() follows=t.viewer_follows/>
                            <p><a href=format!("/catalog?tag={}", encode_component(&t.tag.slug))>"Search and filter within this tag →"</a></p>
                            <FeedLinks atom=format!("/tags/{}/feed.atom", t.tag.slug) rss=format!("/tags/{}/feed.rss", t.tag.slug) title=format!("Ambisonia: recordings tagged {}", t.tag.name)/>
                            <CardGrid cards=t.recordings/>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
