//! Premium accounts and tips, with Stripe: checkout, the Customer Portal, signed webhooks,
//! and the entitlements and tips ledger they write. Our database is the truth the site
//! reads (`membership`, `download_gate`); Stripe is asked only when someone pays, manages
//! billing or an event arrives.
//!
//! Without a Stripe key, payments are off: the site runs as before, and premium is given by
//! hand (`accounts::grant_premium`: `server admin grant-premium`).

mod api;
mod disputes;
pub mod signature;
mod tips;
mod webhook;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QuerySelect, Set,
};
use tokio::sync::RwLock;

pub use api::{Calls, STRIPE_API_BASE, SubscriptionFacts, api_version};
pub use tips::{PayoutLine, earnings, payouts};
pub use webhook::{WebhookError, WebhookOutcome};

use crate::{
    Secret, ServiceError,
    billing::Plan,
    entities::{entitlements, recordings, users},
    model::{Membership, PlanOffer, SubscriptionView, Viewer},
    write::{Changed, Write},
};

/// How Stripe is reached, from the environment and flags.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: Secret,
    pub webhook_secret: Secret,
    /// `STRIPE_API_BASE` unless pointed elsewhere.
    pub api_base: String,
    /// The Stripe price of each plan on offer.
    pub prices: Vec<(Plan, String)>,
}

/// Payments on (with a Stripe client) or off.
pub struct Payments {
    stripe: Option<Stripe>,
    tip_currency: String,
    /// The offers as last asked, until when they are kept.
    offers: RwLock<Option<(Instant, Vec<PlanOffer>)>>,
}

struct Stripe {
    api: api::Api,
    webhook_secret: Secret,
    prices: Vec<(Plan, String)>,
}

/// Prices change rarely; the premium page asks Stripe at most this often per replica.
const OFFERS_TTL: Duration = Duration::from_secs(600);
/// When Stripe could not say, the page shows plans without prices for this long before
/// asking again (so that a Stripe outage does not hold up every view of the page).
const OFFERS_RETRY: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("on", &self.is_on())
            .field("tip_currency", &self.tip_currency)
            .finish()
    }
}

impl Payments {
    pub fn off(tip_currency: &str) -> Self {
        Self {
            stripe: None,
            tip_currency: tip_currency.to_ascii_lowercase(),
            offers: RwLock::new(None),
        }
    }

    /// Payments through Stripe. A key without a webhook secret is refused: without
    /// webhooks, renewals, cancellations and refunds would never reach the site.
    pub fn stripe(settings: StripeSettings, tip_currency: &str) -> Result<Self, String> {
        if settings.webhook_secret.is_empty() {
            return Err(
                "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: set both, or neither"
                    .into(),
            );
        }
        let api = api::Api::new(settings.secret_key.expose(), &settings.api_base)?;
        Ok(Self {
            stripe: Some(Stripe {
                api,
                webhook_secret: settings.webhook_secret,
                prices: settings.prices,
            }),
            ..Self::off(tip_currency)
        })
    }

    /// How the calls to Stripe have gone (`None` with payments off).
    pub fn calls(&self) -> Option<&Calls> {
        self.stripe.as_ref().map(|s| s.api.calls())
    }

    pub fn is_on(&self) -> bool {
        self.stripe.is_some()
    }

    pub fn tip_currency(&self) -> &str {
        &self.tip_currency
    }

    fn on(&self) -> Result<&Stripe, ServiceError> {
        self.stripe
            .as_ref()
            .ok_or_else(|| ServiceError::conflict("Payments are switched off on this site."))
    }

    /// The plans on offer with Stripe's prices (asked at most every ten minutes).
    pub async fn offers(&self) -> Vec<PlanOffer> {
        let Some(stripe) = &self.stripe else {
            return Vec::new();
        };
        if let Some((until, offers)) = &*self.offers.read().await
            && Instant::now() < *until
        {
            return offers.clone();
        }
        let mut offers = Vec::new();
        let mut complete = true;
        for (plan, price_id) in &stripe.prices {
            let price = match stripe.api.price(price_id).await {
                Ok((money, _)) => Some(money),
                Err(e) => {
                    complete = false;
                    tracing::warn!(plan = plan.as_str(), error = ?e, "a plan's price could not be read");
                    None
                }
            };
            offers.push(PlanOffer { plan: *plan, price });
        }
        let keep = if complete { OFFERS_TTL } else { OFFERS_RETRY };
        *self.offers.write().await = Some((Instant::now() + keep, offers.clone()));
        offers
    }

    /// Starts a subscription checkout for `user_id`; the Stripe Checkout URL to send them to.
    pub async fn subscribe(
        &self,
        db: &DatabaseConnection,
        user_id: i32,
        plan: Plan,
        public_url: &str,
    ) -> Result<String, ServiceError> {
        let stripe = self.on()?;
        let price = stripe
            .prices
            .iter()
            .find(|(p, _)| *p == plan)
            .map(|(_, id)| id.clone())
            .ok_or_else(|| ServiceError::invalid("That plan is not on offer."))?;
        let membership = membership(db, user_id).await?;
        if membership
            .subscription
            .as_ref()
            .is_some_and(|s| s.status.grants_premium())
        {
            return Err(ServiceError::conflict(
                "You already have a subscription: change or cancel it with “Manage billing” on your account page.",
            ));
        }
        let customer = self.customer_for(db, user_id).await?;
        stripe
            .api
            .subscription_checkout(
                &customer,
                user_id,
                &price,
                &format!("{public_url}/premium/welcome?session_id={{CHECKOUT_SESSION_ID}}"),
                &format!("{public_url}/premium?cancelled=1"),
            )
            .await
    }

    /// The success page's check: reads the Checkout Session from Stripe and, when it made
    /// a subscription for this user, stores it at once (the webhook may come later).
    pub async fn confirm_checkout(
        &self,
        db: &DatabaseConnection,
        user_id: i32,
        session_id: &str,
    ) -> Result<Membership, ServiceError> {
        let stripe = self.on()?;
        if !session_id.starts_with("cs_") || session_id.len() > 255 {
            return Err(ServiceError::NotFound);
        }
        let session = stripe.api.checkout_session(session_id).await?;
        if session.client_reference_id.as_deref() != Some(user_id.to_string().as_str()) {
            return Err(ServiceError::NotFound);
        }
        if let (true, Some(sub)) = (session.complete, &session.subscription) {
            self.refresh_subscription(db, user_id, &sub.id).await?;
        }
        membership(db, user_id).await
    }

    /// A Customer Portal session (change card, cancel, resume, invoices); its URL.
    pub async fn portal(
        &self,
        db: &DatabaseConnection,
        user_id: i32,
        return_url: &str,
    ) -> Result<String, ServiceError> {
        let stripe = self.on()?;
        let customer = self.customer_for(db, user_id).await?;
        stripe.api.portal(&customer, return_url).await
    }

    /// The user's Stripe customer, made the first time and kept: every checkout passes it,
    /// so paying twice or with another email never makes a second customer.
    async fn customer_for(
        &self,
        db: &DatabaseConnection,
        user_id: i32,
    ) -> Result<String, ServiceError> {
        let stripe = self.on()?;
        if let Some(id) = entitlements::Entity::find_by_id(user_id)
            .one(db)
            .await?
            .and_then(|e| e.stripe_customer_id)
        {
            return Ok(id);
        }
        let user = users::Entity::find_by_id(user_id)
            .one(db)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        // Idempotent per user: a racing second call gets the same customer back.
        let id = stripe
            .api
            .create_customer(user_id, &user.username, &user.email)
            .await?;
        let w = Write::begin(db).await?;
        lock_user(&w, user_id).await?;
        let kept = match entitlements::Entity::find_by_id(user_id).one(&w).await? {
            Some(e) if e.stripe_customer_id.is_some() => e.stripe_customer_id,
            Some(e) => {
                entitlements::ActiveModel {
                    user_id: Set(e.user_id),
                    stripe_customer_id: Set(Some(id.clone())),
                    ..Default::default()
                }
                .update(&w)
                .await?;
                None
            }
            None => {
                entitlements::ActiveModel {
                    stripe_customer_id: Set(Some(id.clone())),
                    ..empty_entitlement(user_id)
                }
                .insert(&w)
                .await?;
                None
            }
        };
        // Billing bookkeeping: nothing a cache keeps.
        w.commit(Changed::nothing_shown()).await?;
        Ok(kept.unwrap_or(id))
    }

    /// Reads subscription `sub_id` from Stripe under a lock on the user and stores what it
    /// says now — so events may come in any order, twice, or late: the last writer always
    /// wrote the latest state.
    async fn refresh_subscription(
        &self,
        db: &DatabaseConnection,
        user_id: i32,
        sub_id: &str,
    ) -> Result<(), ServiceError> {
        let w = Write::begin(db).await?;
        self.refresh_subscription_in(&w, user_id, sub_id).await?;
        // Premium is read where a download is answered, never from a cache.
        w.commit(Changed::nothing_shown()).await?;
        Ok(())
    }

    async fn refresh_subscription_in(
        &self,
        w: &Write,
        user_id: i32,
        sub_id: &str,
    ) -> Result<(), ServiceError> {
        let stripe = self.on()?;
        lock_user(w, user_id).await?;
        let facts = stripe.api.subscription(sub_id).await?;
        store_subscription(w, user_id, &facts).await
    }
}

fn empty_entitlement(user_id: i32) -> entitlements::ActiveModel {
    entitlements::ActiveModel {
        user_id: Set(user_id),
        stripe_customer_id: Set(None),
        subscription_id: Set(None),
        status: Set(None),
        price_id: Set(None),
        amount: Set(None),
        currency: Set(None),
        interval_months: Set(None),
        current_period_end: Set(None),
        cancel_at_period_end: Set(false),
        updated_at: Set(Utc::now()),
    }
}

/// Serialises everything that writes one user's entitlement (a row lock on PostgreSQL;
/// SQLite's write transaction already holds the only write lock).
async fn lock_user(w: &Write, user_id: i32) -> Result<(), ServiceError> {
    users::Entity::find_by_id(user_id)
        .lock_exclusive()
        .one(w)
        .await?
        .map(|_| ())
        .ok_or(ServiceError::NotFound)
}

/// Whether a stored subscription makes its user premium at `now`.
fn subscription_grants(e: &entitlements::Model, now: DateTime<Utc>) -> bool {
    let ended = e.cancel_at_period_end && e.current_period_end.is_some_and(|end| end <= now);
    e.status.is_some_and(|s| s.grants_premium()) && !ended
}

/// Writes `facts` as the user's subscription — unless the user has another subscription
/// that still grants premium and this one does not, or ends sooner (someone who paid
/// twice keeps the better of the two).
async fn store_subscription(
    w: &Write,
    user_id: i32,
    facts: &SubscriptionFacts,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    let stored = entitlements::Entity::find_by_id(user_id).one(w).await?;
    let has_customer = stored
        .as_ref()
        .is_some_and(|e| e.stripe_customer_id.is_some());
    let mut row = match stored {
        Some(e) => {
            let other = e
                .subscription_id
                .as_deref()
                .is_some_and(|id| id != facts.id);
            if other && subscription_grants(&e, now) {
                let grants = facts.status.grants_premium();
                let later = facts.current_period_end > e.current_period_end;
                if !(grants && later) {
                    tracing::info!(user = user_id, kept = ?e.subscription_id, ignored = %facts.id, "a second subscription is not the better one");
                    return Ok(());
                }
            }
            let row: entitlements::ActiveModel = e.into();
            row
        }
        None => empty_entitlement(user_id),
    };
    if !has_customer {
        row.stripe_customer_id = Set(Some(facts.customer.clone()));
    }
    row.subscription_id = Set(Some(facts.id.clone()));
    row.status = Set(Some(facts.status));
    row.price_id = Set(facts.price_id.clone());
    row.amount = Set(facts.price.as_ref().map(|p| p.minor));
    row.currency = Set(facts.price.as_ref().map(|p| p.currency.clone()));
    row.interval_months = Set(facts.interval_months);
    row.current_period_end = Set(facts.current_period_end);
    row.cancel_at_period_end = Set(facts.cancel_at_period_end);
    row.updated_at = Set(now);
    row.save(w).await?;
    tracing::info!(user = user_id, subscription = %facts.id, status = facts.status.as_str(), "subscription stored");
    Ok(())
}

/// Whether a user is premium, and why: a subscription that grants it, or a grant by hand.
pub async fn membership(
    db: &impl ConnectionTrait,
    user_id: i32,
) -> Result<Membership, ServiceError> {
    let now = Utc::now();
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(ServiceError::Unauthorized)?;
    let granted_until = user.premium_until.filter(|until| *until > now);
    let stored = entitlements::Entity::find_by_id(user_id).one(db).await?;
    let subscribed = stored.as_ref().is_some_and(|e| subscription_grants(e, now));
    let suspended_by_dispute = subscribed && disputes::suspends(db, user_id, now).await?;
    let by_subscription = subscribed && !suspended_by_dispute;
    let subscription = stored.and_then(|e| {
        Some(SubscriptionView {
            status: e.status?,
            plan: e.interval_months.and_then(|m| {
                Plan::ALL
                    .into_iter()
                    .find(|p| i32::try_from(p.months()).ok() == Some(m))
            }),
            price: e
                .amount
                .zip(e.currency.as_deref())
                .map(|(a, c)| crate::billing::Money::new(a, c)),
            interval_months: e.interval_months,
            current_period_end: e.current_period_end,
            cancel_at_period_end: e.cancel_at_period_end,
        })
    });
    Ok(Membership {
        premium: by_subscription || granted_until.is_some(),
        subscription,
        granted_until,
        suspended_by_dispute,
    })
}

/// Whether a download of `row` may be answered for `viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadGate {
    Open,
    /// A premium recording and nobody logged in.
    NeedsLogin,
    /// A premium recording and a viewer who is not premium.
    NeedsPremium,
}

/// Premium recordings' originals and renditions are for premium members, their uploader,
/// editors and admins; everything else is free.
pub async fn download_gate(
    db: &DatabaseConnection,
    row: &recordings::Model,
    viewer: Option<&Viewer>,
) -> Result<DownloadGate, ServiceError> {
    if !row.is_premium || crate::recordings::manages(row, viewer) {
        return Ok(DownloadGate::Open);
    }
    let Some(viewer) = viewer else {
        return Ok(DownloadGate::NeedsLogin);
    };
    Ok(if membership(db, viewer.user_id).await?.premium {
        DownloadGate::Open
    } else {
        DownloadGate::NeedsPremium
    })
}
