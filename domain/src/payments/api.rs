//! The calls the site makes to Stripe's API (async-stripe), each answering plain facts the
//! rest of `payments` stores. Nothing here writes to the database.

use std::{
    collections::HashMap,
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use chrono::{DateTime, Utc};
use contract::histogram::Histogram;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_billing::{
    billing_portal_session::CreateBillingPortalSession, subscription::RetrieveSubscription,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionSubscriptionData, ProductData,
    RetrieveCheckoutSession,
};
use stripe_core::{customer::CreateCustomer, payment_intent::RetrievePaymentIntent};
use stripe_product::price::RetrievePrice;
use stripe_shared::{CheckoutSessionMode, Subscription};

use crate::{
    ServiceError,
    billing::{Money, SubscriptionStatus},
};

/// Stripe's own address; `--stripe-api-base` points elsewhere (a stand-in in tests).
pub const STRIPE_API_BASE: &str = "https://api.stripe.com/";

/// The API version async-stripe speaks, which the webhook endpoint must be created with.
pub fn api_version() -> String {
    stripe_shared::version::VERSION.to_string()
}

pub struct Api {
    client: Client,
    calls: Calls,
}

/// A subscription as Stripe says it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionFacts {
    pub id: String,
    pub customer: String,
    pub status: SubscriptionStatus,
    pub price_id: Option<String>,
    pub price: Option<Money>,
    pub interval_months: Option<i32>,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// Ours, set at checkout: the user it was bought for.
    pub user_id: Option<i32>,
}

/// A Checkout Session as Stripe says it is now.
#[derive(Debug, Clone)]
pub struct SessionFacts {
    pub complete: bool,
    /// Ours: the user who started it.
    pub client_reference_id: Option<String>,
    pub subscription: Option<SubscriptionFacts>,
}

/// What a payment cost: its charge, and Stripe's fee from the balance transaction.
#[derive(Debug, Clone)]
pub struct PaymentFacts {
    pub charge_id: String,
    pub amount: Money,
    pub fee: i64,
    /// Whose payment it is (the Stripe customer), when it names one.
    pub customer: Option<String>,
}

/// The calls to Stripe's API: how long they took, and how many failed (an error answer,
/// a timeout, no connection).
#[derive(Default)]
pub struct Calls {
    pub latency: Histogram,
    pub failed: AtomicU64,
}

fn failed(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::internal(&format!("Stripe: {what}"), e)
}

fn time(t: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t, 0)
}

impl Api {
    pub fn new(secret_key: &str, base: &str) -> Result<Self, String> {
        let base = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        let client = ClientBuilder::new(secret_key)
            .url(base)
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| format!("cannot make the Stripe client: {e}"))?;
        Ok(Self {
            client,
            calls: Calls::default(),
        })
    }

    /// How the calls to Stripe have gone so far.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Waits for one call to Stripe (`sent`), timing it; a failure says `what` was tried.
    async fn call<T, E: std::fmt::Display>(
        &self,
        what: &str,
        sent: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, ServiceError> {
        let started = std::time::Instant::now();
        let answer = sent.await;
        self.calls.latency.observe(started.elapsed());
        answer.map_err(|e| {
            self.calls.failed.fetch_add(1, Relaxed);
            failed(what, e)
        })
    }

    /// A new customer for user `user_id`. The idempotency key makes two racing calls for
    /// the same user one customer.
    pub async fn create_customer(
        &self,
        user_id: i32,
        username: &str,
        email: &str,
    ) -> Result<String, ServiceError> {
        let key = IdempotencyKey::new(format!("ambisonia-customer-{user_id}"))
            .map_err(|e| failed("idempotency key", e))?;
        let customer = self
            .call(
                "creating a customer",
                CreateCustomer::new()
                    .email(email)
                    .name(username)
                    .metadata(HashMap::from([("user_id".to_owned(), user_id.to_string())]))
                    .customize()
                    .request_strategy(RequestStrategy::Idempotent(key))
                    .send(&self.client),
            )
            .await?;
        Ok(customer.id.to_string())
    }

    /// A Checkout Session for a subscription to `price_id`; its URL.
    pub async fn subscription_checkout(
        &self,
        customer: &str,
        user_id: i32,
        price_id: &str,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String, ServiceError> {
        let metadata = HashMap::from([("user_id".to_owned(), user_id.to_string())]);
        let line = CreateCheckoutSessionLineItems {
            price: Some(price_id.to_owned()),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        };
        let subscription_data = CreateCheckoutSessionSubscriptionData {
            metadata: Some(metadata.clone()),
            ..CreateCheckoutSessionSubscriptionData::new()
        };
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .subscription_data(subscription_data);
        self.open_checkout(
            session,
            customer,
            user_id,
            line,
            metadata,
            success_url,
            cancel_url,
        )
        .await
    }

    /// A Checkout Session for a one-off payment of `amount` (a tip); its URL.
    #[allow(clippy::too_many_arguments)]
    pub async fn payment_checkout(
        &self,
        customer: &str,
        user_id: i32,
        amount: &Money,
        product_name: &str,
        metadata: HashMap<String, String>,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String, ServiceError> {
        let currency = stripe_types::Currency::from_str(&amount.currency)
            .map_err(|e| failed("currency", format!("{e:?}")))?;
        let line = CreateCheckoutSessionLineItems {
            price_data: Some(CreateCheckoutSessionLineItemsPriceData {
                product_data: Some(ProductData::new(product_name)),
                unit_amount: Some(amount.minor),
                ..CreateCheckoutSessionLineItemsPriceData::new(currency)
            }),
            quantity: Some(1),
            ..CreateCheckoutSessionLineItems::new()
        };
        let payment_intent_data = CreateCheckoutSessionPaymentIntentData {
            metadata: Some(metadata.clone()),
            ..CreateCheckoutSessionPaymentIntentData::new()
        };
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .payment_intent_data(payment_intent_data);
        self.open_checkout(
            session,
            customer,
            user_id,
            line,
            metadata,
            success_url,
            cancel_url,
        )
        .await
    }

    /// What every Checkout Session of ours has: our customer and user, one line, our
    /// metadata, the ways back; its URL.
    #[allow(clippy::too_many_arguments)]
    async fn open_checkout(
        &self,
        session: CreateCheckoutSession,
        customer: &str,
        user_id: i32,
        line: CreateCheckoutSessionLineItems,
        metadata: HashMap<String, String>,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String, ServiceError> {
        let session = self
            .call(
                "creating a checkout session",
                session
                    .customer(customer)
                    .client_reference_id(user_id.to_string())
                    .line_items(vec![line])
                    .metadata(metadata)
                    .success_url(success_url)
                    .cancel_url(cancel_url)
                    .send(&self.client),
            )
            .await?;
        session
            .url
            .ok_or_else(|| failed("creating a checkout session", "no URL in the answer"))
    }

    pub async fn checkout_session(&self, id: &str) -> Result<SessionFacts, ServiceError> {
        let s = self
            .call(
                "reading a checkout session",
                RetrieveCheckoutSession::new(id)
                    .expand(vec!["subscription".to_owned()])
                    .send(&self.client),
            )
            .await?;
        let subscription = match &s.subscription {
            Some(sub) => match sub.as_object() {
                Some(sub) => Some(subscription_facts(sub)),
                None => Some(self.subscription(sub.id().as_str()).await?),
            },
            None => None,
        };
        Ok(SessionFacts {
            complete: s
                .status
                .as_ref()
                .is_some_and(|st| st.as_str() == "complete"),
            client_reference_id: s.client_reference_id.clone(),
            subscription,
        })
    }

    pub async fn subscription(&self, id: &str) -> Result<SubscriptionFacts, ServiceError> {
        let sub = self
            .call(
                "reading a subscription",
                RetrieveSubscription::new(id).send(&self.client),
            )
            .await?;
        Ok(subscription_facts(&sub))
    }

    /// A Customer Portal session for `customer`; its URL.
    pub async fn portal(&self, customer: &str, return_url: &str) -> Result<String, ServiceError> {
        let session = self
            .call(
                "opening the customer portal",
                CreateBillingPortalSession::new()
                    .customer(customer)
                    .return_url(return_url)
                    .send(&self.client),
            )
            .await?;
        Ok(session.url)
    }

    /// The charge behind payment intent `id`, Stripe's fee for it, and the intent's
    /// metadata (which says whether it is a tip).
    pub async fn payment(
        &self,
        id: &str,
    ) -> Result<(PaymentFacts, HashMap<String, String>), ServiceError> {
        let intent = self
            .call(
                "reading a payment",
                RetrievePaymentIntent::new(id)
                    .expand(vec!["latest_charge.balance_transaction".to_owned()])
                    .send(&self.client),
            )
            .await?;
        let charge = intent
            .latest_charge
            .as_ref()
            .and_then(|c| c.as_object())
            .ok_or_else(|| failed("reading a payment", "it has no charge"))?;
        let fee = charge
            .balance_transaction
            .as_ref()
            .and_then(|b| b.as_object())
            .map(|b| b.fee)
            .ok_or_else(|| failed("reading a payment", "its charge has no balance transaction"))?;
        let facts = PaymentFacts {
            charge_id: charge.id.to_string(),
            amount: Money::new(charge.amount, &charge.currency.to_string()),
            fee,
            customer: intent.customer.as_ref().map(|c| c.id().to_string()),
        };
        Ok((facts, intent.metadata.clone()))
    }

    /// A price: its amount, and how many months it covers (for recurring prices).
    pub async fn price(&self, id: &str) -> Result<(Money, Option<i32>), ServiceError> {
        let price = self
            .call("reading a price", RetrievePrice::new(id).send(&self.client))
            .await?;
        let amount = price
            .unit_amount
            .ok_or_else(|| failed("reading a price", "it has no unit amount"))?;
        let months = price
            .recurring
            .as_ref()
            .and_then(|r| months(r.interval.as_str(), r.interval_count));
        Ok((Money::new(amount, &price.currency.to_string()), months))
    }
}

fn months(interval: &str, count: u64) -> Option<i32> {
    let count = i32::try_from(count).ok()?;
    match interval {
        "month" => Some(count),
        "year" => count.checked_mul(12),
        _ => None,
    }
}

fn subscription_facts(sub: &Subscription) -> SubscriptionFacts {
    // Since API version 2025-03-31 the period is the item's, not the subscription's.
    let item = sub.items.data.first();
    let price = item.map(|i| &i.price);
    SubscriptionFacts {
        id: sub.id.to_string(),
        customer: sub.customer.id().to_string(),
        // An unknown word from a newer API is not premium.
        status: SubscriptionStatus::parse(sub.status.as_str())
            .unwrap_or(SubscriptionStatus::Incomplete),
        price_id: price.map(|p| p.id.to_string()),
        price: price.and_then(|p| {
            p.unit_amount
                .map(|a| Money::new(a, &p.currency.to_string()))
        }),
        interval_months: price
            .and_then(|p| p.recurring.as_ref())
            .and_then(|r| months(r.interval.as_str(), r.interval_count)),
        current_period_end: item.and_then(|i| time(i.current_period_end)),
        cancel_at_period_end: sub.cancel_at_period_end,
        user_id: sub.metadata.get("user_id").and_then(|u| u.parse().ok()),
    }
}
