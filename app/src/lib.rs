//! Ambisonia's web application: pages, components and server functions (Leptos 0.8).
//!
//! Pages are rendered on the server (`SsrMode::Async`, so a page is whole before it is
//! sent and works with JavaScript off). Server-only code sits behind the `ssr` feature in
//! `ssr/`, so that hydration can be switched on later without moving code.

// Leptos views are deeply nested types; a page of several optional parts needs more than
// the default 128 levels to lay out in release builds.
#![recursion_limit = "256"]

pub mod api;
mod components;
pub mod embed;
pub mod error;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    SsrMode,
    components::{Route, Router, Routes},
    path,
};

use crate::pages::{
    account::AccountPage,
    auth::{LoginPage, RegisterPage},
    catalog::CatalogPage,
    collections::{CollectionView, CollectionsPage},
    errors::NotFound,
    following::FollowingPage,
    home::HomePage,
    map::MapView,
    moderation::ModerationPage,
    premium::{PremiumPage, PremiumWelcomePage},
    profile::ProfilePage,
    recording::RecordingPage,
    tag::TagPage,
    upload::UploadPage,
};

/// Bumped when `style/main.css` changes, so browsers and caches fetch the new skin.
pub const STYLE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The document around every page.
pub fn shell() -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="stylesheet" href=format!("/style/main.css?v={STYLE_VERSION}")/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// This render's Content-Security-Policy, naming the nonce Leptos gave its inline scripts.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use leptos_axum::ResponseOptions;
    let (Some(res), Some(nonce)) = (use_context::<ResponseOptions>(), leptos::nonce::use_nonce())
    else {
        return;
    };
    let settings = ssr::state::state().ok().map(|s| s.settings);
    let tiles = settings.as_ref().and_then(|s| s.tile_origin());
    let policy = ssr::headers::content_security_policy(
        Some(&nonce),
        settings.as_ref().and_then(|s| s.media_origin.as_deref()),
        settings.as_ref().and_then(|s| s.payment_origins.as_deref()),
        tiles.as_deref(),
    );
    if let Ok(v) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|title: String| {
            if title.is_empty() { "Ambisonia".to_string() } else { format!("{title} · Ambisonia") }
        }/>
        <Router>
            <components::Header/>
            <main id="main">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/catalog") view=CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/recordings/:slug") view=RecordingPage ssr=SsrMode::Async/>
                    <Route path=path!("/users/:username") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/tags/:slug") view=TagPage ssr=SsrMode::Async/>
                    <Route path=path!("/collections") view=CollectionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/following") view=FollowingPage ssr=SsrMode::Async/>
                    <Route path=path!("/map") view=MapView ssr=SsrMode::Async/>
                    <Route path=path!("/collections/:slug") view=CollectionView ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/upload") view=UploadPage ssr=SsrMode::Async/>
                    <Route path=path!("/moderation") view=ModerationPage ssr=SsrMode::Async/>
                    <Route path=path!("/premium") view=PremiumPage ssr=SsrMode::Async/>
                    <Route path=path!("/premium/welcome") view=PremiumWelcomePage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <components::Footer/>
        </Router>
    }
}
