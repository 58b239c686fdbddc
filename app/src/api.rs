//! Server functions: the loaders pages read from and the actions their forms post to.
//!
//! Every one has a fixed endpoint under `/api/` (listed in docs/architecture.md). Forms post to
//! them as plain HTML forms; after success the action redirects, after failure Leptos sends
//! the visitor back to the form with the error in `__err`, which `FormError` shows.

use leptos::prelude::*;

use crate::error::AppError;
use domain::{
    catalog_query::CatalogQuery,
    model::{
        AccountPage, CatalogPage, CollectionPage, CollectionRef, FollowingPage, HomePage, MapPage,
        Membership, PendingItem, PremiumPage, ProfilePage, RecordingDetail, TagPage,
    },
};

#[cfg(feature = "ssr")]
use crate::ssr::{
    cache, cookies,
    request::{request_context, viewer},
    state::state,
};
#[cfg(feature = "ssr")]
use domain::{
    accounts, catalog, collections, follows, interactions, key, limits::Act, moderation, sessions,
};

/// For a script (not a browser form), an error should carry its own status code; a browser
/// form gets the redirect back to the form instead, which a status here would override.
#[cfg(feature = "ssr")]
fn finish<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result {
        let wants_html = use_context::<http::request::Parts>()
            .and_then(|p| {
                p.headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.contains("text/html"))
            })
            .unwrap_or(false);
        if !wants_html
            && let (Some(res), Ok(status)) = (
                use_context::<leptos_axum::ResponseOptions>(),
                http::StatusCode::from_u16(e.status()),
            )
        {
            res.set_status(status);
            if let Some(wait) = e.retry_after_s() {
                res.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(wait));
            }
        }
    }
    result
}

/// Counts `act` by `account` from this request's address; `SlowDown` past its allowance.
#[cfg(feature = "ssr")]
fn slow_down(act: Act, account: Option<i32>) -> Result<(), AppError> {
    let address = request_context().map(|c| c.client_ip).unwrap_or_default();
    Ok(state()?.limits.check(act, account, &address)?)
}

#[cfg(feature = "ssr")]
fn require_viewer() -> Result<domain::model::Viewer, AppError> {
    viewer().ok_or(AppError::Unauthorized)
}

/// Only paths on this site: `/account` yes; `//evil.example`, `https://…` and `/\\evil`
/// no — nor anything with a control character or white space, which browsers drop from a
/// URL (`/\t/evil.example` is read as `//evil.example`) and which cannot go in a
/// `Location` header at all (a CR or LF there broke the connection).
pub fn safe_next(next: &str) -> &str {
    let path_only = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if path_only && !next.chars().any(|c| c.is_control() || c.is_whitespace()) {
        next
    } else {
        "/"
    }
}

#[cfg(feature = "ssr")]
fn set_cookie(value: String) {
    if let (Some(res), Ok(v)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&value),
    ) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}

/// The session token in this request's cookie, if any.
#[cfg(feature = "ssr")]
fn session_token() -> Option<String> {
    use_context::<http::request::Parts>().and_then(|p| {
        cookies::request_cookie(&p.headers, cookies::SESSION_COOKIE).map(str::to_string)
    })
}

#[cfg(feature = "ssr")]
async fn start_session(user_id: i32) -> Result<(), AppError> {
    let st = state()?;
    let token = sessions::create(&st.db, user_id).await?;
    set_cookie(cookies::session_cookie(
        &token,
        st.settings.secure_cookies(),
    ));
    Ok(())
}

// ----- loaders -------------------------------------------------------------------------

#[server(endpoint = "home")]
pub async fn load_home() -> Result<HomePage, AppError> {
    let st = state()?;
    let page = cache::shared("home".into(), || async {
        let page = catalog::home(&st.db).await?;
        let mut keys = vec![key::CATALOG.to_owned()];
        let cards = page.latest.iter().chain(&page.popular);
        keys.extend(cards.map(|c| key::card(c.id)));
        Ok((page, keys))
    })
    .await?;
    Ok(page.public())
}

#[server(endpoint = "catalog")]
pub async fn load_catalog(query: CatalogQuery) -> Result<CatalogPage, AppError> {
    let st = state()?;
    let cache_key = format!(
        "catalog?{}",
        serde_json::to_string(&query).unwrap_or_default()
    );
    let page = cache::shared(cache_key, || async {
        let page = catalog::catalog(&st.db, &query).await?;
        let mut keys = vec![key::CATALOG.to_owned()];
        keys.extend(page.items.iter().map(|c| key::card(c.id)));
        Ok((page, keys))
    })
    .await?;
    Ok(page.public())
}

#[server(endpoint = "recording")]
pub async fn load_recording(slug: String) -> Result<RecordingDetail, AppError> {
    let st = state()?;
    let keys = |uploader: i32, detail: &RecordingDetail| {
        vec![key::recording(detail.card.id), key::user(uploader)]
    };
    // Anonymous views are the same for everyone: from the read cache.
    let page = match viewer() {
        Some(v) => {
            let (uploader, detail) =
                catalog::recording(&st.own_reads().await, &slug, Some(&v)).await?;
            let keys = keys(uploader, &detail);
            cache::Shared::uncached(detail, keys)
        }
        None => {
            cache::shared(format!("recording/{slug}"), || async {
                let (uploader, detail) = catalog::recording(&st.db, &slug, None).await?;
                let keys = keys(uploader, &detail);
                Ok((detail, keys))
            })
            .await?
        }
    };
    // While the preview is being made the page will change by itself: keep it briefly.
    let ttl = {
        let d = page.value();
        let changing = d.has_media && !d.has_preview && d.processing != domain::Processing::Failed;
        if changing {
            cache::CHANGING_TTL_S
        } else {
            st.settings.page_ttl_s
        }
    };
    let mut detail = page.public_for(ttl);
    detail.site_url = st.settings.public_url.clone();
    detail.tiles = st.settings.map_tiles.clone();
    if st.payments.is_on() {
        detail.tip_currency = Some(st.payments.tip_currency().to_owned());
    }
    if let Some(t) = &detail.torrent {
        let seed = format!(
            "{}/recordings/{}/download",
            st.settings.public_url, detail.card.slug
        );
        detail.magnet = Some(domain::distribution::magnet(
            t,
            &seed,
            &st.settings.torrent_trackers,
        ));
    }
    Ok(detail)
}

#[server(endpoint = "profile")]
pub async fn load_profile(username: String) -> Result<ProfilePage, AppError> {
    let st = state()?;
    let page = cache::shared(format!("profile/{username}"), || async {
        let (user_id, page) = catalog::profile(&st.db, &username).await?;
        let mut keys = vec![key::user(user_id)];
        keys.extend(page.recordings.iter().map(|c| key::card(c.id)));
        Ok((page, keys))
    })
    .await?;
    let mut page = page.public();
    if let Some(v) = viewer() {
        page.viewer_follows =
            Some(follows::follows(&st.db, v.user_id, follows::Target::User, &username).await?);
    }
    Ok(page)
}

#[server(endpoint = "tag")]
pub async fn load_tag(slug: String) -> Result<TagPage, AppError> {
    let st = state()?;
    let page = cache::shared(format!("tag/{slug}"), || async {
        let page = catalog::tag(&st.db, &slug).await?;
        let mut keys = vec![key::CATALOG.to_owned(), key::tag(&page.tag.slug)];
        keys.extend(page.recordings.iter().map(|c| key::card(c.id)));
        Ok((page, keys))
    })
    .await?;
    let mut page = page.public();
    if let Some(v) = viewer() {
        page.viewer_follows =
            Some(follows::follows(&st.db, v.user_id, follows::Target::Tag, &slug).await?);
    }
    Ok(page)
}

#[server(endpoint = "account")]
pub async fn load_account() -> Result<AccountPage, AppError> {
    let me = require_viewer()?;
    let st = state()?;
    let db = st.own_reads().await;
    let user = accounts::find(&db, me.user_id).await?;
    let new_token = use_context::<http::request::Parts>()
        .and_then(|p| {
            cookies::request_cookie(&p.headers, cookies::NEW_TOKEN_COOKIE).map(str::to_string)
        })
        .filter(|t| t.starts_with("amb_"));
    if new_token.is_some() {
        set_cookie(cookies::clear_new_token_cookie(
            st.settings.secure_cookies(),
        ));
    }
    Ok(AccountPage {
        username: user.username,
        email: user.email,
        role: me.role,
        joined: user.created_at,
        tokens: domain::tokens::list(&db, &me).await?,
        new_token,
        membership: domain::payments::membership(&db, me.user_id).await?,
        payments_on: st.payments.is_on(),
        earnings: domain::payments::earnings(&db, me.user_id).await?,
    })
}

/// The plans (with Stripe's prices) and, for a logged-in visitor, where they stand.
#[server(endpoint = "premium")]
pub async fn load_premium() -> Result<PremiumPage, AppError> {
    let st = state()?;
    let membership = match viewer() {
        Some(me) => Some(domain::payments::membership(&st.own_reads().await, me.user_id).await?),
        None => None,
    };
    let page = PremiumPage {
        payments_on: st.payments.is_on(),
        plans: st.payments.offers().await,
        membership,
    };
    // The same for every anonymous visitor (prices change rarely; no surrogate key).
    Ok(cache::Shared::uncached(page, Vec::new()).public())
}

/// Stripe Checkout's way back: the session is read from Stripe, so premium works at once
/// even when the webhook is late.
#[server(endpoint = "premium-welcome")]
pub async fn load_premium_welcome(session_id: String) -> Result<Membership, AppError> {
    let me = require_viewer()?;
    let st = state()?;
    Ok(st
        .payments
        .confirm_checkout(&st.db, me.user_id, &session_id)
        .await?)
}

/// The upload form's token, for an account that may upload, and whether large files may go
/// straight to the S3 bucket.
#[server(endpoint = "upload-form")]
pub async fn load_upload_form() -> Result<(String, Option<u64>), AppError> {
    let me = require_viewer()?;
    domain::uploads::Uploader::check(me.user_id, me.role, false)?;
    Ok((me.csrf, state()?.settings.direct_upload_from))
}

#[server(endpoint = "moderation")]
pub async fn load_moderation() -> Result<Vec<PendingItem>, AppError> {
    let me = require_viewer()?;
    if !me.role.moderates() {
        return Err(AppError::Forbidden(
            "Only editors see the moderation queue.".into(),
        ));
    }
    Ok(moderation::pending(&state()?.own_reads().await).await?)
}

// ----- actions -------------------------------------------------------------------------

// One argument per field of the plain HTML form it receives.
#[allow(clippy::too_many_arguments)]
#[server(endpoint = "describe")]
pub async fn describe_recording(
    slug: String,
    title: String,
    description: String,
    location: String,
    licence: String,
    microphone: Option<String>,
    tags: Option<String>,
    // The place: `place` says the form has its fields (an empty field may arrive as none),
    // both empty take it away; `blur` is a checkbox.
    place: Option<String>,
    latitude: Option<String>,
    longitude: Option<String>,
    blur: Option<String>,
) -> Result<(), AppError> {
    use domain::recordings::{Description, describe};
    finish(
        async {
            let me = require_viewer()?;
            describe(
                &state()?.db,
                &me,
                &slug,
                Description {
                    title,
                    description,
                    location,
                    licence,
                    microphone,
                    tags,
                    coordinates: place.is_some().then(|| {
                        (
                            latitude.unwrap_or_default(),
                            longitude.unwrap_or_default(),
                            ticked(&blur),
                        )
                    }),
                },
            )
            .await?;
            leptos_axum::redirect(&format!("/recordings/{slug}"));
            Ok(())
        }
        .await,
    )
}

/// Deletes a recording (after the page asked "are you sure?"): it is hidden at once, and
/// its page — which only its uploader and editors still see — offers to restore it.
#[server(endpoint = "delete-recording")]
pub async fn delete_recording(slug: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            domain::recordings::delete(&state()?.db, &me, &slug).await?;
            leptos_axum::redirect(&format!("/recordings/{slug}"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "restore-recording")]
pub async fn restore_recording(slug: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            domain::recordings::restore(&state()?.db, &me, &slug).await?;
            leptos_axum::redirect(&format!("/recordings/{slug}"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "create-token")]
pub async fn create_token(
    name: String,
    password: String,
    // Checkboxes: present ("on") when ticked.
    scope_read: Option<String>,
    scope_upload: Option<String>,
    scope_download: Option<String>,
) -> Result<(), AppError> {
    finish(
        async {
            use domain::tokens::Scope;
            let me = require_viewer()?;
            let st = state()?;
            slow_down(Act::CreateToken, Some(me.user_id))?;
            // A token acts as this account: whoever makes one must know its password.
            accounts::confirmed(&st.db, me.user_id, &password).await?;
            let scopes: Vec<Scope> = [
                (Scope::Read, scope_read),
                (Scope::Upload, scope_upload),
                (Scope::Download, scope_download),
            ]
            .into_iter()
            .filter_map(|(scope, ticked)| ticked.map(|_| scope))
            .collect();
            let token = domain::tokens::create(&st.db, me.user_id, &name, &scopes).await?;
            // Shown once on the account page; the database keeps only its hash.
            set_cookie(cookies::new_token_cookie(
                &token,
                st.settings.secure_cookies(),
            ));
            leptos_axum::redirect("/account#tokens");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "revoke-token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let id = id.parse::<i32>().map_err(|_| AppError::NotFound)?;
            domain::tokens::revoke(&state()?.db, &me, id).await?;
            leptos_axum::redirect("/account#tokens");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "retry-processing")]
pub async fn retry_processing(slug: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            domain::jobs::retry(&state()?.db, &me, &slug).await?;
            leptos_axum::redirect(&format!("/recordings/{slug}"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "subscribe")]
pub async fn subscribe(plan: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let plan = domain::billing::Plan::parse(&plan)
                .ok_or_else(|| AppError::Invalid("Choose one of the plans.".into()))?;
            let st = state()?;
            let url = st
                .payments
                .subscribe(&st.db, me.user_id, plan, &st.settings.public_url)
                .await?;
            leptos_axum::redirect(&url);
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "manage-billing")]
pub async fn manage_billing() -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let st = state()?;
            let back = format!("{}/account", st.settings.public_url);
            let url = st.payments.portal(&st.db, me.user_id, &back).await?;
            leptos_axum::redirect(&url);
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "tip")]
pub async fn tip(slug: String, amount: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let st = state()?;
            let url = st
                .payments
                .tip(&st.db, &me, &slug, &amount, &st.settings.public_url)
                .await?;
            leptos_axum::redirect(&url);
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "moderate")]
pub async fn moderate(slug: String, decision: String, note: String) -> Result<(), AppError> {
    use moderation::Decision;
    finish(
        async {
            let me = require_viewer()?;
            let decision = match decision.as_str() {
                "publish" => Decision::Publish,
                "reject" => Decision::Reject,
                _ => return Err(AppError::Invalid("Choose publish or reject.".into())),
            };
            moderation::decide(&state()?.db, &me, &slug, decision, &note).await?;
            leptos_axum::redirect("/moderation");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "register")]
pub async fn register(
    username: String,
    email: String,
    password: String,
    next: String,
) -> Result<(), AppError> {
    use domain::{Email, Password, Role, Username};
    finish(
        async {
            let username = Username::parse(&username)?;
            let email = Email::parse(&email)?;
            let password = Password::parse(&password)?;
            let st = state()?;
            let address = request_context().map(|c| c.client_ip).unwrap_or_default();
            st.limits.check(Act::SignUp, None, &address)?;
            let made =
                accounts::create_user(&st.db, &username, &email, &password, Role::Listener).await;
            if matches!(made, Err(domain::ServiceError::Busy)) {
                // Nothing was made: trying again in a moment costs no allowance.
                st.limits.refund(Act::SignUp, None, &address);
            }
            let user = made?;
            tracing::info!(user_id = user.id, "registered");
            start_session(user.id).await?;
            leptos_axum::redirect(safe_next(&next));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "login")]
pub async fn login(username: String, password: String, next: String) -> Result<(), AppError> {
    finish(
        async {
            let ip = request_context().map(|c| c.client_ip).unwrap_or_default();
            let user = accounts::authenticate(&state()?.db, &username, &password, &ip).await?;
            tracing::info!(user_id = user.id, "logged in");
            start_session(user.id).await?;
            leptos_axum::redirect(safe_next(&next));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    finish(
        async {
            let st = state()?;
            let token = session_token();
            if let Some(token) = token {
                sessions::delete(&st.db, &token).await?;
            }
            set_cookie(cookies::clear_session_cookie(st.settings.secure_cookies()));
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "change-password")]
pub async fn change_password(current: String, new_password: String) -> Result<(), AppError> {
    use domain::Password;
    finish(
        async {
            let me = require_viewer()?;
            let new_password = Password::parse(&new_password)?;
            let st = state()?;
            // Every other login of this account ends; this one stays.
            let keep = session_token();
            accounts::change_password(&st.db, me.user_id, &current, &new_password, keep.as_deref())
                .await?;
            leptos_axum::redirect("/account?saved=password");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "change-email")]
pub async fn change_email(email: String, password: String) -> Result<(), AppError> {
    use domain::Email;
    finish(
        async {
            let me = require_viewer()?;
            let email = Email::parse(&email)?;
            accounts::change_email(&state()?.db, me.user_id, &password, &email).await?;
            leptos_axum::redirect("/account?saved=email");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "comment")]
pub async fn post_comment(slug: String, title: String, body: String) -> Result<(), AppError> {
    use domain::CommentText;
    finish(
        async {
            let me = require_viewer()?;
            let text = CommentText::parse(&title, &body)?;
            slow_down(Act::Comment, Some(me.user_id))?;
            interactions::post_comment(&state()?.db, &me, &slug, text).await?;
            leptos_axum::redirect(&format!("/recordings/{slug}#comments"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "rate")]
pub async fn rate(slug: String, stars: String) -> Result<(), AppError> {
    use domain::Stars;
    finish(
        async {
            let me = require_viewer()?;
            let stars = Stars::parse(&stars)?;
            slow_down(Act::Rate, Some(me.user_id))?;
            interactions::rate(&state()?.db, &me, &slug, stars).await?;
            leptos_axum::redirect(&format!("/recordings/{slug}#rating"));
            Ok(())
        }
        .await,
    )
}

// ----- collections -----------------------------------------------------------------------

#[server(endpoint = "collection")]
pub async fn load_collection(slug: String) -> Result<CollectionPage, AppError> {
    let st = state()?;
    match viewer() {
        // Its owner sees a private one too, and its forms: never shared.
        Some(v) => {
            let (page, keys) = collections::page(&st.own_reads().await, &slug, Some(&v)).await?;
            Ok(cache::Shared::uncached(page, keys).public())
        }
        None => {
            let page = cache::shared(format!("collection/{slug}"), || async {
                collections::page(&st.db, &slug, None).await
            })
            .await?;
            Ok(page.public())
        }
    }
}

#[server(endpoint = "my-collections")]
pub async fn load_my_collections() -> Result<Vec<CollectionRef>, AppError> {
    let me = require_viewer()?;
    let st = state()?;
    Ok(collections::mine(&st.own_reads().await, &me).await?)
}

#[server(endpoint = "save")]
pub async fn toggle_save(slug: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            collections::toggle_saved(&state()?.db, &me, &slug).await?;
            leptos_axum::redirect(&format!("/recordings/{slug}#collections"));
            Ok(())
        }
        .await,
    )
}

/// Save from a recording's card (any list a logged-in listener sees): added to their Saved
/// collection, then back to the list they were on.
#[server(endpoint = "save-card")]
pub async fn save_card(slug: String, next: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            collections::save(&state()?.db, &me, &slug).await?;
            leptos_axum::redirect(safe_next(&next));
            Ok(())
        }
        .await,
    )
}

/// Checkbox: present when ticked.
#[cfg(feature = "ssr")]
fn ticked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty() && v != "false")
}

#[server(endpoint = "create-collection")]
pub async fn create_collection(
    title: String,
    note: String,
    public: Option<String>,
    // A recording to put in it at once (from a recording page).
    add: Option<String>,
) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let st = state()?;
            let slug = collections::create(&st.db, &me, &title, &note, ticked(&public)).await?;
            match add.filter(|a| !a.is_empty()) {
                Some(recording) => {
                    collections::add(&st.db, &me, &slug, &recording).await?;
                    leptos_axum::redirect(&format!("/recordings/{recording}#collections"));
                }
                None => leptos_axum::redirect(&format!("/collections/{slug}")),
            }
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "edit-collection")]
pub async fn edit_collection(
    slug: String,
    title: String,
    note: String,
    public: Option<String>,
) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            collections::edit(&state()?.db, &me, &slug, &title, &note, ticked(&public)).await?;
            leptos_axum::redirect(&format!("/collections/{slug}"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "delete-collection")]
pub async fn delete_collection(slug: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            collections::delete(&state()?.db, &me, &slug).await?;
            leptos_axum::redirect("/collections");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "add-to-collection")]
pub async fn add_to_collection(collection: String, recording: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            collections::add(&state()?.db, &me, &collection, &recording).await?;
            leptos_axum::redirect(&format!("/recordings/{recording}#collections"));
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "collection-item")]
pub async fn change_collection_item(
    collection: String,
    recording: String,
    // `up`, `down` or `remove`.
    change: String,
) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let db = &state()?.db;
            match change.as_str() {
                "up" | "down" => {
                    collections::shift(db, &me, &collection, &recording, change == "up").await?;
                }
                "remove" => collections::remove(db, &me, &collection, &recording).await?,
                _ => return Err(AppError::Invalid("Unknown change.".into())),
            }
            leptos_axum::redirect(&format!("/collections/{collection}#items"));
            Ok(())
        }
        .await,
    )
}

// ----- following ---------------------------------------------------------------------------

#[server(endpoint = "following")]
pub async fn load_following() -> Result<FollowingPage, AppError> {
    let me = require_viewer()?;
    let st = state()?;
    let mut page = follows::page(&st.own_reads().await, &me).await?;
    // A feed secret made a moment ago (by `new_following_feed`), shown this once.
    page.new_feed_token = use_context::<http::request::Parts>()
        .and_then(|p| {
            cookies::request_cookie(&p.headers, cookies::NEW_TOKEN_COOKIE).map(str::to_string)
        })
        .filter(|t| t.starts_with("fol_"));
    if page.new_feed_token.is_some() {
        set_cookie(cookies::clear_new_token_cookie(
            st.settings.secure_cookies(),
        ));
    }
    Ok(page)
}

#[server(endpoint = "follow")]
pub async fn toggle_follow(kind: String, name: String) -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let target = follows::Target::parse(&kind)?;
            follows::toggle(&state()?.db, &me, target, &name).await?;
            let back = match target {
                follows::Target::User => format!("/users/{name}"),
                follows::Target::Tag => format!("/tags/{name}"),
            };
            leptos_axum::redirect(&back);
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "following-feed")]
pub async fn new_following_feed() -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            let st = state()?;
            let token = follows::new_feed_token(&st.db, &me).await?;
            set_cookie(cookies::new_token_cookie(
                &token,
                st.settings.secure_cookies(),
            ));
            leptos_axum::redirect("/following#feed");
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "revoke-following-feed")]
pub async fn revoke_following_feed() -> Result<(), AppError> {
    finish(
        async {
            let me = require_viewer()?;
            follows::revoke_feed_token(&state()?.db, &me).await?;
            leptos_axum::redirect("/following#feed");
            Ok(())
        }
        .await,
    )
}

// ----- the map --------------------------------------------------------------------------

#[server(endpoint = "map")]
pub async fn load_map(query: CatalogQuery) -> Result<MapPage, AppError> {
    let st = state()?;
    let cache_key = format!("map?{}", serde_json::to_string(&query).unwrap_or_default());
    let page = cache::shared(cache_key, || async {
        let (points, capped) = catalog::located(&st.db, &query).await?;
        let page = MapPage {
            query: query.clone(),
            points,
            capped,
            tiles: Default::default(),
        };
        // Every list of recordings is purged by `catalog`; a map shows no counts.
        Ok((page, vec![key::CATALOG.to_owned()]))
    })
    .await?;
    let mut page = page.public();
    page.tiles = st.settings.map_tiles.clone();
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/account"), "/account");
        assert_eq!(safe_next("//evil.example/x"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
        assert_eq!(safe_next(""), "/");
        assert_eq!(safe_next("/\t/evil.example"), "/");
        assert_eq!(safe_next("/\n/evil.example"), "/");
        assert_eq!(safe_next("/x\r\nSet-Cookie: a=b"), "/");
        assert_eq!(safe_next("/ /evil.example"), "/");
        assert_eq!(
            safe_next("/recordings/dawn-chorus?x=1"),
            "/recordings/dawn-chorus?x=1"
        );
    }
}
