use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::{
    api::load_catalog,
    components::{CardGrid, ErrorView, Pager},
};
use domain::{
    catalog_query::{CatalogQuery, Sort},
    model::CatalogPage as Page,
    {Convention, licence_label},
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
    let summary = match page.total {
        0 => "No recordings match.".to_string(),
        1 => "1 recording".to_string(),
        n => format!("{n} recordings"),
    };
    let pager_query = q.clone();
    view! {
        <div class="catalog">
            <header class="catalog-head">
                <h1>{heading}</h1>
                <p class="summary" data-testid="result-count">{summary}</p>
            </header>
            <Filters page=page.clone()/>
            <nav class="sorts" aria-label="Sort by">
                {Sort::ALL.into_iter().map(|s| {
                    let current = s == q.sort;
                    view! {
                        <a href=q.with_sort(s).href() aria-current=current.then_some("true")>{s.label()}</a>
                    }
                }).collect_view()}
            </nav>
            <CardGrid cards=page.items/>
            <Pager page=q.page pages=page.pages href=move |p| pager_query.with_page(p).href()/>
        </div>
    }
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
                    {Convention::ALL.into_iter().map(|c| view! {
                        <option value=c.as_str() selected=selected(q.convention.map(|x| x.as_str()), c.as_str())>{c.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-order">"Order"</label>
                <select id="f-order" name="order">
                    <option value="">"Any"</option>
                    {(1u8..=3).map(|o| view! {
                        <option value=o.to_string() selected=q.order == Some(o)>{domain::order_label(i32::from(o))}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-mic">"Microphone"</label>
                <select id="f-mic" name="mic">
                    <option value="">"Any"</option>
                    {page.facets.microphones.into_iter().map(|m| {
                        let sel = selected(q.microphone.as_deref(), &m);
                        view! { <option value=m.clone() selected=sel>{m.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-licence">"Licence"</label>
                <select id="f-licence" name="licence">
                    <option value="">"Any"</option>
                    {page.facets.licences.into_iter().map(|l| {
                        let sel = selected(q.licence.as_deref(), &l);
                        let label = licence_label(&l).to_string();
                        view! { <option value=l selected=sel>{label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="f-tag">"Tag"</label>
                <select id="f-tag" name="tag">
                    <option value="">"Any"</option>
                    {page.facets.tags.into_iter().map(|t| {
                        let sel = selected(q.tag.as_deref(), &t.slug);
                        view! { <option value=t.slug selected=sel>{t.name}</option> }
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
            {(q.sort != Sort::default()).then(|| view! { <input type="hidden" name="sort" value=q.sort.as_str()/> })}
            <div class="actions">
                <button type="submit">"Apply"</button>
                {q.is_filtered().then(|| view! { <a href="/catalog">"Clear all"</a> })}
            </div>
        </form>
    }
}
