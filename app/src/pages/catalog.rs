use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::load_catalog,
    components::{CardGrid, ErrorView, FeedLinks, Pager},
};
use domain::{
    catalog_query::CatalogQuery,
    model::{CatalogPage as Page, Facet, thousands},
};

#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let request = query.with_untracked(|q| {
        CatalogQuery::from_pairs(q.latest_values().map(|(k, v)| (k.as_ref(), v)))
    });
    view! {
        <Title text="Catalog"/>
        <Suspense fallback=|| ()>
            {Suspend::new(async move {
                match load_catalog(request).await {
                    Ok(page) => view! { <Results page/> }.into_any(),
                    Err(e) => view! { <ErrorView error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Results(page: Page) -> impl IntoView {
    let q = page.query.clone();
    let heading = if q.q.is_empty() {
        "The catalog".to_string()
    } else {
        format!("Results for “{}”", q.q)
    };
    let summary = page.total.summary();
    let feed_title = format!("Ambisonia: {}", heading.to_lowercase());
    let pager_query = q.clone();
    let by_number = (q.after.is_none() && q.before.is_none()).then_some(q.page);
    view! {
        <div class="catalog">
            <header class="catalog-head">
                <h1>{heading}</h1>
                <p class="summary" data-testid="result-count">{summary}</p>
            </header>
            <Filters page=page.clone()/>
            <nav class="sorts" aria-label="Sort by">
                {q.sorts().map(|s| {
                    let current = s == q.sort;
                    view! {
                        <a href=q.with_sort(s).href() aria-current=current.then_some("true")>{s.label()}</a>
                    }
                }).collect_view()}
            </nav>
            <CardGrid cards=page.items/>
            <FeedLinks atom=q.feed_href("atom") rss=q.feed_href("rss") title=feed_title/>
            <Pager
                page=by_number
                numbered=page.numbered_pages
                prev=page.prev.clone()
                next=page.next.clone()
                href=move |p| pager_query.with_page(p).href()
            />
        </div>
    }
}

/// "TetraMic (1,204)": a menu choice with how many published recordings have it.
fn counted(f: &Facet) -> String {
    format!("{} ({})", f.label, thousands(f.count))
}

/// A plain GET form: every choice becomes part of the URL.
#[component]
fn Filters(page: Page) -> impl IntoView {
    let q = page.query;
    let selected = |current: Option<&str>, value: &str| current == Some(value);
    view! {
        <form class="filters" method="get" action="/catalog" data-testid="filters">
            <div class="field wide">
                <label for="f-q">"Search"</label>
                <input id="f-q" type="search" name="q" value=q.q.clone() placeholder="Title, artist, place, tag…"/>
            </div>
            <div class="field">
                <label for="f-convention">"Convention"</label>
                <select id="f-convention" name="convention">
                    <option value="">"Any"</option>
                    {page.facets.conventions.iter().map(|f| view! {
                        <option value=f.value.clone() selected=selected(q.convention.map(|x| x.as_str()), &f.value)>{counted(f)}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-order">"Order"</label>
                <select id="f-order" name="order">
                    <option value="">"Any"</option>
                    {page.facets.orders.iter().map(|f| view! {
                        <option value=f.value.clone() selected=q.order.map(|o| o.to_string()) == Some(f.value.clone())>{counted(f)}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-mic">"Microphone"</label>
                <select id="f-mic" name="mic">
                    <option value="">"Any"</option>
                    {page.facets.microphones.iter().map(|f| {
                        let sel = selected(q.microphone.as_deref(), &f.value);
                        view! { <option value=f.value.clone() selected=sel>{counted(f)}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-licence">"Licence"</label>
                <select id="f-licence" name="licence">
                    <option value="">"Any"</option>
                    {page.facets.licences.iter().map(|f| {
                        let sel = selected(q.licence.as_deref(), &f.value);
                        view! { <option value=f.value.clone() selected=sel>{counted(f)}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-tag">"Tag"</label>
                <select id="f-tag" name="tag">
                    <option value="">"Any"</option>
                    {page.facets.tags.iter().map(|f| {
                        let sel = selected(q.tag.as_deref(), &f.value);
                        view! { <option value=f.value.clone() selected=sel>{counted(f)}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field range">
                <span class="label">"Duration (minutes)"</span>
                <label class="visually-hidden" for="f-min">"Shortest, in minutes"</label>
                <input id="f-min" type="number" name="min" min="0" inputmode="numeric" placeholder="from" value=q.min_minutes.map(|m| m.to_string())/>
                <span aria-hidden="true">"–"</span>
                <label class="visually-hidden" for="f-max">"Longest, in minutes"</label>
                <input id="f-max" type="number" name="max" min="0" inputmode="numeric" placeholder="to" value=q.max_minutes.map(|m| m.to_string())/>
            </div>
            {(q.sort != q.default_sort()).then(|| view! { <input type="hidden" name="sort" value=q.sort.as_str()/> })}
            <div class="actions">
                <button type="submit">"Apply"</button>
                {q.is_filtered().then(|| view! { <a href="/catalog">"Clear all"</a> })}
            </div>
        </form>
    }
}
