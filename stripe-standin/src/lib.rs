//! A stand-in for the parts of Stripe's API that Ambisonia calls, at the HTTP level, for
//! tests only: customers, Checkout Sessions (with a checkout page a browser can pay on),
//! Customer Portal sessions (with a page to cancel or resume), subscriptions, payment
//! intents with their charge and fee, prices, refunds and disputes. Every change it makes
//! becomes an event, signed as Stripe signs them and posted to the app's webhook — at once,
//! or held for a test to deliver late, twice or out of order.
//!
//! Objects are written in the shape of the API version async-stripe pins (the site's
//! client must read them), with only the fields the site or the client needs.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    Form, Json, Router,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const API_VERSION: &str = "2026-09-30.endive";

/// The prices it knows: id, amount in cents (USD), interval, interval count.
pub const PRICES: [(&str, i64, &str, u64); 3] = [
    ("price_monthly", 500, "month", 1),
    ("price_quarterly", 1495, "month", 3),
    ("price_yearly", 5000, "year", 1),
];

/// Stripe's US card fee: 2.9 % + 30 ¢.
pub fn card_fee(amount: i64) -> i64 {
    30 + (amount * 29 + 500) / 1000
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: String,
    pub email: String,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub subscription_mode: bool,
    pub customer: Option<String>,
    pub client_reference_id: Option<String>,
    pub price: Option<String>,
    pub amount: Option<(i64, String, String)>,
    pub metadata: HashMap<String, String>,
    pub child_metadata: HashMap<String, String>,
    pub success_url: String,
    pub cancel_url: String,
    pub complete: bool,
    pub subscription: Option<String>,
    pub payment_intent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub price: String,
    pub status: String,
    pub created: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub cancel_at_period_end: bool,
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub intent: String,
    pub charge: String,
    pub customer: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub fee: i64,
    pub refunded: i64,
    pub metadata: HashMap<String, String>,
    /// The subscription whose invoice it paid, if any.
    pub subscription: Option<String>,
}

#[derive(Default)]
struct Data {
    next: u64,
    customers: Vec<Customer>,
    sessions: HashMap<String, Session>,
    subscriptions: HashMap<String, Subscription>,
    payments: HashMap<String, Payment>,
    /// Disputes, as last sent.
    disputes: HashMap<String, Value>,
    /// Events not yet delivered (when delivery is held).
    outbox: Vec<String>,
    hold: bool,
    webhook_url: Option<String>,
}

impl Data {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{:014}", self.next)
    }
}

#[derive(Clone)]
struct Shared {
    data: Arc<Mutex<Data>>,
    secret: String,
    url: String,
    http: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running stand-in on 127.0.0.1.
#[derive(Clone)]
pub struct StandIn {
    shared: Shared,
}

impl StandIn {
    /// Starts on `port` (0: any free port); events are signed with `webhook_secret`.
    pub async fn start(port: u16, webhook_secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Shared {
            data: Arc::new(Mutex::new(Data::default())),
            secret: webhook_secret.to_owned(),
            url,
            http: reqwest::Client::new(),
        };
        let app = routes(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared })
    }

    /// Its base URL (the site's `--stripe-api-base`).
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// Where events are posted.
    pub fn set_webhook_url(&self, url: &str) {
        self.shared.lock().webhook_url = Some(url.to_owned());
    }

    /// Holds events instead of posting them, for `take_events`.
    pub fn hold_events(&self, hold: bool) {
        self.shared.lock().hold = hold;
    }

    /// The events held since the last call, oldest first (signed bodies not yet sent).
    pub fn take_events(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().outbox)
    }

    pub fn customers(&self) -> Vec<Customer> {
        self.shared.lock().customers.clone()
    }

    pub fn subscription(&self, id: &str) -> Option<Subscription> {
        self.shared.lock().subscriptions.get(id).cloned()
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.shared.lock().subscriptions.values().cloned().collect()
    }

    pub fn payments(&self) -> Vec<Payment> {
        self.shared.lock().payments.values().cloned().collect()
    }

    /// What paying on the checkout page does; where the browser is sent next.
    pub async fn pay(&self, session: &str) -> Option<String> {
        pay(&self.shared, session).await
    }

    /// Changes a subscription as Stripe would (renewal, failed card, cancellation …) and
    /// sends `customer.subscription.updated` (or `.deleted` when it became `canceled`).
    pub async fn change_subscription(&self, id: &str, change: impl FnOnce(&mut Subscription)) {
        let event = {
            let mut d = self.shared.lock();
            let Some(sub) = d.subscriptions.get_mut(id) else {
                return;
            };
            change(sub);
            let sub = sub.clone();
            let kind = if sub.status == "canceled" {
                "customer.subscription.deleted"
            } else {
                "customer.subscription.updated"
            };
            event(&mut d, kind, subscription_json(&sub))
        };
        self.shared.send(event).await;
    }

    /// Sends an invoice event for a subscription (`invoice.paid`, `invoice.payment_failed` …).
    pub async fn invoice_event(&self, kind: &str, subscription: &str) {
        let event = {
            let mut d = self.shared.lock();
            let Some(sub) = d.subscriptions.get(subscription).cloned() else {
                return;
            };
            let invoice = invoice_json(&mut d, &sub);
            event(&mut d, kind, invoice)
        };
        self.shared.send(event).await;
    }

    /// Refunds `amount` more of a payment; sends `charge.refunded`.
    pub async fn refund(&self, intent: &str, amount: i64) {
        let event = {
            let mut d = self.shared.lock();
            let Some(p) = d.payments.get_mut(intent) else {
                return;
            };
            p.refunded = (p.refunded + amount).min(p.amount);
            let charge = charge_json(p, false);
            event(&mut d, "charge.refunded", charge)
        };
        self.shared.send(event).await;
    }

    /// Opens a dispute of `amount` of a payment; sends `charge.dispute.created`. Its id.
    pub async fn dispute(&self, intent: &str, amount: i64) -> Option<String> {
        let (id, event) = {
            let mut d = self.shared.lock();
            let p = d.payments.get(intent).cloned()?;
            let id = d.id("dp");
            let dispute = json!({
                "id": id, "object": "dispute", "amount": amount, "currency": p.currency,
                "charge": p.charge, "payment_intent": p.intent, "created": now(),
                "livemode": false, "metadata": {}, "reason": "fraudulent",
                "status": "needs_response", "is_charge_refundable": false,
                "balance_transactions": [],
            });
            d.disputes.insert(id.clone(), dispute.clone());
            (id, event(&mut d, "charge.dispute.created", dispute))
        };
        self.shared.send(event).await;
        Some(id)
    }

    /// Decides a dispute as the bank would (`won`, `lost`, `warning_closed`); sends
    /// `charge.dispute.closed`.
    pub async fn close_dispute(&self, id: &str, status: &str) {
        let event = {
            let mut d = self.shared.lock();
            let Some(dispute) = d.disputes.get_mut(id) else {
                return;
            };
            dispute["status"] = json!(status);
            let dispute = dispute.clone();
            event(&mut d, "charge.dispute.closed", dispute)
        };
        self.shared.send(event).await;
    }

    /// The payment intents that paid `subscription`'s invoices, oldest first.
    pub fn payments_of_subscription(&self, subscription: &str) -> Vec<String> {
        let d = self.shared.lock();
        let mut found: Vec<&Payment> = d
            .payments
            .values()
            .filter(|p| p.subscription.as_deref() == Some(subscription))
            .collect();
        found.sort_by(|a, b| a.intent.cmp(&b.intent));
        found.into_iter().map(|p| p.intent.clone()).collect()
    }

    /// An event of `kind` about `object`, as Stripe would post it (not signed, not sent).
    pub fn event(&self, kind: &str, object: Value) -> String {
        event(&mut self.shared.lock(), kind, object)
    }

    /// The `Stripe-Signature` header for `body` at `timestamp` (now when `None`).
    pub fn sign(&self, body: &str, timestamp: Option<i64>) -> String {
        sign(&self.shared.secret, body, timestamp.unwrap_or_else(now))
    }

    /// Posts `body` to the webhook with `signature` as its header (none when `None`);
    /// the app's answer.
    pub async fn post_event(&self, body: &str, signature: Option<&str>) -> (u16, String) {
        let Some(url) = self.shared.lock().webhook_url.clone() else {
            return (0, "no webhook URL".into());
        };
        let mut req = self
            .shared
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        if let Some(sig) = signature {
            req = req.header("stripe-signature", sig);
        }
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// Posts `body` signed now; the app's status.
    pub async fn deliver(&self, body: &str) -> u16 {
        self.post_event(body, Some(&self.sign(body, None))).await.0
    }

    pub fn subscription_json(&self, id: &str) -> Option<Value> {
        self.subscription(id).map(|s| subscription_json(&s))
    }
}

impl Shared {
    /// Posts an event now, or holds it.
    async fn send(&self, body: String) {
        let url = {
            let mut d = self.lock();
            if d.hold || d.webhook_url.is_none() {
                d.outbox.push(body);
                return;
            }
            d.webhook_url.clone()
        };
        if let Some(url) = url {
            let sig = sign(&self.secret, &body, now());
            let sent = self
                .http
                .post(url)
                .header(header::CONTENT_TYPE, "application/json")
                .header("stripe-signature", sig)
                .body(body)
                .send()
                .await;
            if let Err(e) = sent {
                eprintln!("stripe-standin: webhook not delivered: {e}");
            }
        }
    }
}

fn sign(secret: &str, body: &str, timestamp: i64) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn event(d: &mut Data, kind: &str, object: Value) -> String {
    let id = d.id("evt");
    json!({
        "id": id, "object": "event", "api_version": API_VERSION, "created": now(),
        "data": { "object": object }, "livemode": false, "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null }, "type": kind,
    })
    .to_string()
}

// ----- objects, in the pinned API version's shape --------------------------------------

fn price_json(id: &str) -> Option<Value> {
    let (id, amount, interval, count) = PRICES.into_iter().find(|p| p.0 == id)?;
    Some(json!({
        "id": id, "object": "price", "active": true, "billing_scheme": "per_unit",
        "created": 1_700_000_000, "currency": "usd", "livemode": false, "metadata": {},
        "product": "prod_premium", "type": "recurring", "unit_amount": amount,
        "recurring": { "interval": interval, "interval_count": count, "usage_type": "licensed" },
    }))
}

fn plan_json(id: &str) -> Option<Value> {
    let (id, amount, interval, count) = PRICES.into_iter().find(|p| p.0 == id)?;
    Some(json!({
        "id": id, "object": "plan", "active": true, "amount": amount,
        "billing_scheme": "per_unit", "created": 1_700_000_000, "currency": "usd",
        "interval": interval, "interval_count": count, "livemode": false,
        "usage_type": "licensed", "product": "prod_premium",
    }))
}

fn subscription_json(s: &Subscription) -> Value {
    let item = json!({
        "id": format!("si_{}", &s.id[4..]), "object": "subscription_item",
        "created": s.created, "current_period_start": s.period_start,
        "current_period_end": s.period_end, "discounts": [], "metadata": {},
        "plan": plan_json(&s.price), "price": price_json(&s.price), "quantity": 1,
        "subscription": s.id,
    });
    json!({
        "id": s.id, "object": "subscription", "automatic_tax": { "enabled": false },
        "billing_cycle_anchor": s.period_start, "billing_mode": { "type": "classic" },
        "billing_schedules": [], "cancel_at_period_end": s.cancel_at_period_end,
        "collection_method": "charge_automatically", "created": s.created, "currency": "usd",
        "customer": s.customer, "discounts": [],
        "invoice_settings": { "issuer": { "type": "self" } },
        "items": { "object": "list", "data": [item], "has_more": false,
                   "url": format!("/v1/subscription_items?subscription={}", s.id) },
        "livemode": false, "metadata": s.metadata, "start_date": s.created,
        "status": s.status,
    })
}

fn invoice_json(d: &mut Data, s: &Subscription) -> Value {
    let id = d.id("in");
    json!({
        "id": id, "object": "invoice", "customer": s.customer, "currency": "usd",
        "status": "paid", "created": now(), "livemode": false,
        "parent": { "type": "subscription_details",
                    "subscription_details": { "subscription": s.id, "metadata": s.metadata } },
    })
}

fn session_json(d: &Data, s: &Session, expand_subscription: bool) -> Value {
    let subscription =
        s.subscription
            .as_ref()
            .map(|id| match (expand_subscription, d.subscriptions.get(id)) {
                (true, Some(sub)) => subscription_json(sub),
                _ => json!(id),
            });
    let status = if s.complete { "complete" } else { "open" };
    let paid = if s.complete { "paid" } else { "unpaid" };
    json!({
        "id": s.id, "object": "checkout.session", "automatic_tax": { "enabled": false },
        "client_reference_id": s.client_reference_id, "created": now(),
        "custom_fields": [], "custom_text": {}, "customer": s.customer,
        "expires_at": now() + 86_400, "livemode": false,
        "metadata": s.metadata, "mode": if s.subscription_mode { "subscription" } else { "payment" },
        "payment_intent": s.payment_intent, "payment_method_types": ["card"],
        "payment_status": paid, "shipping_options": [], "status": status,
        "subscription": subscription, "success_url": s.success_url,
        "cancel_url": s.cancel_url, "url": if s.complete { Value::Null } else { json!(checkout_url(d, s)) },
        "amount_total": s.amount.as_ref().map(|a| a.0),
        "currency": s.amount.as_ref().map(|a| a.1.clone()).unwrap_or_else(|| "usd".into()),
    })
}

fn checkout_url(_d: &Data, s: &Session) -> String {
    format!("/checkout/{}", s.id)
}

fn charge_json(p: &Payment, expand_balance: bool) -> Value {
    let balance = if expand_balance {
        json!({
            "id": format!("txn_{}", &p.charge[3..]), "object": "balance_transaction",
            "amount": p.amount, "available_on": now(), "balance_type": "payments",
            "created": now(), "currency": p.currency, "fee": p.fee, "fee_details": [],
            "net": p.amount - p.fee, "reporting_category": "charge", "status": "available",
            "type": "charge",
        })
    } else {
        json!(format!("txn_{}", &p.charge[3..]))
    };
    json!({
        "id": p.charge, "object": "charge", "amount": p.amount, "amount_captured": p.amount,
        "amount_refunded": p.refunded, "balance_transaction": balance,
        "billing_details": {}, "captured": true, "created": now(), "currency": p.currency,
        "customer": p.customer, "disputed": false, "livemode": false, "metadata": {},
        "paid": true, "payment_intent": p.intent, "refunded": p.refunded >= p.amount,
        "status": "succeeded",
    })
}

fn payment_intent_json(p: &Payment, expand: bool) -> Value {
    json!({
        "id": p.intent, "object": "payment_intent", "amount": p.amount,
        "amount_capturable": 0, "amount_received": p.amount, "capture_method": "automatic",
        "confirmation_method": "automatic", "created": now(), "currency": p.currency,
        "customer": p.customer, "latest_charge": if expand { charge_json(p, true) } else { json!(p.charge) },
        "livemode": false, "metadata": p.metadata, "payment_method_types": ["card"],
        "status": "succeeded",
    })
}

// ----- the HTTP API ----------------------------------------------------------------------

fn routes(shared: Shared) -> Router {
    Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/checkout/sessions", post(create_session))
        .route("/v1/checkout/sessions/{id}", get(read_session))
        .route("/v1/billing_portal/sessions", post(create_portal))
        .route("/v1/subscriptions/{id}", get(read_subscription))
        .route("/v1/payment_intents/{id}", get(read_payment_intent))
        .route("/v1/prices/{id}", get(read_price))
        .route("/checkout/{id}", get(checkout_page))
        .route("/checkout/{id}/pay", post(checkout_pay))
        .route("/portal/{customer}", get(portal_page))
        .route("/portal/{customer}/{action}", post(portal_action))
        .fallback(|| async { stripe_error(StatusCode::NOT_FOUND, "Unrecognized request URL.") })
        .with_state(shared)
}

fn stripe_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": { "type": "invalid_request_error", "message": message } })),
    )
        .into_response()
}

/// Stripe answers 401 without a secret key: that answer, or `None` with one.
fn unauthorised(headers: &HeaderMap) -> Option<Response> {
    let ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer sk_"));
    (!ok).then(|| {
        stripe_error(
            StatusCode::UNAUTHORIZED,
            "You did not provide a valid API key.",
        )
    })
}

type Params = Vec<(String, String)>;

fn param<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `prefix[key]=value` pairs as a map (Stripe's form encoding of a hash).
fn hash(p: &Params, prefix: &str) -> HashMap<String, String> {
    p.iter()
        .filter_map(|(k, v)| {
            let key = k
                .strip_prefix(prefix)?
                .strip_prefix('[')?
                .strip_suffix(']')?;
            (!key.contains('[')).then(|| (key.to_owned(), v.clone()))
        })
        .collect()
}

async fn create_customer(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(p): Form<Params>,
) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let mut d = s.lock();
    // Stripe answers a repeated idempotency key with the first answer.
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let meta = hash(&p, "metadata");
    if let Some(key) = &key
        && let Some(c) = d
            .customers
            .iter()
            .find(|c| c.metadata.get("__idempotency_key") == Some(key))
    {
        return Json(customer_json(c)).into_response();
    }
    let mut metadata = meta;
    if let Some(key) = key {
        metadata.insert("__idempotency_key".into(), key);
    }
    let c = Customer {
        id: d.id("cus"),
        email: param(&p, "email").unwrap_or_default().to_owned(),
        metadata,
    };
    d.customers.push(c.clone());
    Json(customer_json(&c)).into_response()
}

fn customer_json(c: &Customer) -> Value {
    let metadata: HashMap<&String, &String> = c
        .metadata
        .iter()
        .filter(|(k, _)| !k.starts_with("__"))
        .collect();
    json!({ "id": c.id, "object": "customer", "created": now(), "email": c.email,
            "livemode": false, "metadata": metadata })
}

async fn create_session(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(p): Form<Params>,
) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let subscription_mode = match param(&p, "mode") {
        Some("subscription") => true,
        Some("payment") => false,
        _ => return stripe_error(StatusCode::BAD_REQUEST, "Missing required param: mode."),
    };
    let (Some(success_url), Some(cancel_url)) = (param(&p, "success_url"), param(&p, "cancel_url"))
    else {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "Missing success_url or cancel_url.",
        );
    };
    let price = param(&p, "line_items[0][price]").map(str::to_owned);
    if subscription_mode && price.as_deref().and_then(price_json).is_none() {
        return stripe_error(StatusCode::BAD_REQUEST, "No such price.");
    }
    let amount = param(&p, "line_items[0][price_data][unit_amount]")
        .and_then(|a| a.parse::<i64>().ok())
        .map(|a| {
            (
                a,
                param(&p, "line_items[0][price_data][currency]")
                    .unwrap_or("usd")
                    .to_owned(),
                param(&p, "line_items[0][price_data][product_data][name]")
                    .unwrap_or_default()
                    .to_owned(),
            )
        });
    if !subscription_mode && amount.is_none() {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "Missing line_items[0][price_data].",
        );
    }
    let child = if subscription_mode {
        "subscription_data[metadata]"
    } else {
        "payment_intent_data[metadata]"
    };
    let mut d = s.lock();
    let session = Session {
        id: d.id("cs_test"),
        subscription_mode,
        customer: param(&p, "customer").map(str::to_owned),
        client_reference_id: param(&p, "client_reference_id").map(str::to_owned),
        price,
        amount,
        metadata: hash(&p, "metadata"),
        child_metadata: hash(&p, child),
        success_url: success_url.to_owned(),
        cancel_url: cancel_url.to_owned(),
        complete: false,
        subscription: None,
        payment_intent: None,
    };
    d.sessions.insert(session.id.clone(), session.clone());
    let mut body = session_json(&d, &session, false);
    body["url"] = json!(format!("{}/checkout/{}", s.url, session.id));
    Json(body).into_response()
}

async fn read_session(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let d = s.lock();
    match d.sessions.get(&id) {
        Some(session) => {
            let expand = q.is_some_and(|q| q.contains("subscription"));
            let mut body = session_json(&d, session, expand);
            if !session.complete {
                body["url"] = json!(format!("{}/checkout/{}", s.url, session.id));
            }
            Json(body).into_response()
        }
        None => stripe_error(StatusCode::NOT_FOUND, "No such checkout.session."),
    }
}

async fn create_portal(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(p): Form<Params>,
) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let Some(customer) = param(&p, "customer") else {
        return stripe_error(StatusCode::BAD_REQUEST, "Missing required param: customer.");
    };
    let mut d = s.lock();
    if !d.customers.iter().any(|c| c.id == customer) {
        return stripe_error(StatusCode::BAD_REQUEST, "No such customer.");
    }
    let id = d.id("bps");
    let back = param(&p, "return_url").unwrap_or_default();
    Json(json!({
        "id": id, "object": "billing_portal.session", "configuration": "bpc_default",
        "created": now(), "customer": customer, "livemode": false, "return_url": back,
        "url": format!("{}/portal/{customer}?return_url={}", s.url, encode(back)),
    }))
    .into_response()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn read_subscription(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    match s.lock().subscriptions.get(&id) {
        Some(sub) => Json(subscription_json(sub)).into_response(),
        None => stripe_error(StatusCode::NOT_FOUND, "No such subscription."),
    }
}

async fn read_payment_intent(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    let expand = q.is_some_and(|q| q.contains("latest_charge"));
    match s.lock().payments.get(&id) {
        Some(p) => Json(payment_intent_json(p, expand)).into_response(),
        None => stripe_error(StatusCode::NOT_FOUND, "No such payment_intent."),
    }
}

async fn read_price(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = unauthorised(&headers) {
        return r;
    }
    match price_json(&id) {
        Some(p) => Json(p).into_response(),
        None => stripe_error(StatusCode::NOT_FOUND, "No such price."),
    }
}

// ----- the pages a browser sees ----------------------------------------------------------

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font:16px system-ui;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         .test{{background:#fde68a;padding:.3rem .6rem;border-radius:4px}}\
         button{{font:inherit;padding:.5rem 1.2rem}}</style></head><body>\
         <p class=\"test\">Stripe stand-in (test mode): no money moves.</p>{body}</body></html>"
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn checkout_page(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    let d = s.lock();
    let Some(session) = d.sessions.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>No such checkout</h1>"),
        )
            .into_response();
    };
    let what = match (&session.price, &session.amount) {
        (Some(price), _) => PRICES
            .iter()
            .find(|p| p.0 == price)
            .map(|(_, amount, interval, count)| {
                format!(
                    "Ambisonia premium: ${}.{:02} every {count} {interval}(s)",
                    amount / 100,
                    amount % 100
                )
            })
            .unwrap_or_default(),
        (None, Some((amount, currency, name))) => format!(
            "{}: {}.{:02} {}",
            escape(name),
            amount / 100,
            amount % 100,
            currency.to_uppercase()
        ),
        _ => String::new(),
    };
    page(
        "Checkout",
        &format!(
            "<h1>Checkout</h1><p data-testid=\"checkout-item\">{what}</p>\
             <form method=\"post\" action=\"/checkout/{id}/pay\"><p><label>Card number \
             <input name=\"card\" value=\"4242 4242 4242 4242\"></label></p>\
             <button type=\"submit\" data-testid=\"pay\">Pay</button></form>\
             <p><a href=\"{}\" data-testid=\"cancel\">Cancel and go back</a></p>",
            escape(&session.cancel_url)
        ),
    )
    .into_response()
}

async fn checkout_pay(State(s): State<Shared>, Path(id): Path<String>) -> Response {
    match pay(&s, &id).await {
        Some(next) => Redirect::to(&next).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>No such checkout</h1>"),
        )
            .into_response(),
    }
}

/// Completes a Checkout Session: makes the subscription or the payment, sends the events
/// Stripe would, and answers the success URL.
async fn pay(s: &Shared, id: &str) -> Option<String> {
    let events = {
        let mut d = s.lock();
        let mut session = d.sessions.get(id)?.clone();
        if session.complete {
            return Some(session.success_url.replace("{CHECKOUT_SESSION_ID}", id));
        }
        let customer = match &session.customer {
            Some(c) => c.clone(),
            None => {
                let c = Customer {
                    id: d.id("cus"),
                    email: String::new(),
                    metadata: HashMap::new(),
                };
                d.customers.push(c.clone());
                c.id
            }
        };
        session.customer = Some(customer.clone());
        session.complete = true;
        let mut events = Vec::new();
        if session.subscription_mode {
            let price = session.price.clone().unwrap_or_default();
            let (_, _, interval, count) = PRICES.into_iter().find(|p| p.0 == price)?;
            let start = now();
            let days = if interval == "year" { 365 } else { 30 } * count as i64;
            let sub = Subscription {
                id: d.id("sub"),
                customer: customer.clone(),
                price,
                status: "active".into(),
                created: start,
                period_start: start,
                period_end: start + days * 86_400,
                cancel_at_period_end: false,
                metadata: session.child_metadata.clone(),
            };
            session.subscription = Some(sub.id.clone());
            d.subscriptions.insert(sub.id.clone(), sub.clone());
            // The first invoice's payment, which a subscriber may dispute.
            let amount = PRICES
                .into_iter()
                .find(|p| p.0 == sub.price)
                .map_or(0, |p| p.1);
            let payment = Payment {
                intent: d.id("pi"),
                charge: d.id("ch"),
                customer: Some(customer.clone()),
                amount,
                currency: "usd".into(),
                fee: card_fee(amount),
                refunded: 0,
                metadata: HashMap::new(),
                subscription: Some(sub.id.clone()),
            };
            d.payments.insert(payment.intent.clone(), payment);
            d.sessions.insert(session.id.clone(), session.clone());
            let completed = session_json(&d, &session, false);
            events.push(event(&mut d, "checkout.session.completed", completed));
            events.push(event(
                &mut d,
                "customer.subscription.created",
                subscription_json(&sub),
            ));
            let invoice = invoice_json(&mut d, &sub);
            events.push(event(&mut d, "invoice.paid", invoice));
        } else {
            let (amount, currency, _) = session.amount.clone()?;
            let payment = Payment {
                intent: d.id("pi"),
                charge: d.id("ch"),
                customer: Some(customer),
                amount,
                currency,
                fee: card_fee(amount),
                refunded: 0,
                metadata: session.child_metadata.clone(),
                subscription: None,
            };
            session.payment_intent = Some(payment.intent.clone());
            d.payments.insert(payment.intent.clone(), payment);
            d.sessions.insert(session.id.clone(), session.clone());
            let completed = session_json(&d, &session, false);
            events.push(event(&mut d, "checkout.session.completed", completed));
        }
        events
    };
    let next = s
        .lock()
        .sessions
        .get(id)?
        .success_url
        .replace("{CHECKOUT_SESSION_ID}", id);
    for e in events {
        s.send(e).await;
    }
    Some(next)
}

async fn portal_page(
    State(s): State<Shared>,
    Path(customer): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let back = q.get("return_url").cloned().unwrap_or_default();
    let d = s.lock();
    let subs: Vec<&Subscription> = d
        .subscriptions
        .values()
        .filter(|sub| sub.customer == customer)
        .collect();
    let rows: String = subs
        .iter()
        .map(|sub| {
            let (action, label) = if sub.cancel_at_period_end {
                ("resume", "Resume subscription")
            } else {
                ("cancel", "Cancel at the end of the period")
            };
            format!(
                "<li data-testid=\"portal-subscription\">{} — {}{} \
                 <form method=\"post\" action=\"/portal/{customer}/{action}?sub={}&amp;return_url={}\">\
                 <button type=\"submit\" data-testid=\"portal-{action}\">{label}</button></form></li>",
                escape(&sub.price),
                escape(&sub.status),
                if sub.cancel_at_period_end { " (cancels at period end)" } else { "" },
                sub.id,
                encode(&back)
            )
        })
        .collect();
    page(
        "Billing",
        &format!(
            "<h1>Billing</h1><ul>{rows}</ul><p><a href=\"{}\" data-testid=\"portal-return\">Return to the site</a></p>",
            escape(&back)
        ),
    )
    .into_response()
}

async fn portal_action(
    State(s): State<Shared>,
    Path((customer, action)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let Some(sub) = q.get("sub") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let cancel = match action.as_str() {
        "cancel" => true,
        "resume" => false,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let owned = s
        .lock()
        .subscriptions
        .get(sub)
        .is_some_and(|x| x.customer == customer);
    if owned {
        StandIn { shared: s.clone() }
            .change_subscription(sub, |x| x.cancel_at_period_end = cancel)
            .await;
    }
    let back = q.get("return_url").cloned().unwrap_or_default();
    Redirect::to(&format!("/portal/{customer}?return_url={}", encode(&back))).into_response()
}
