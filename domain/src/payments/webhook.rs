//! `POST /stripe/webhook`: a signed event from Stripe. The signature is checked over the raw
//! body before anything is read; then the event is read only for the ids it names, and the
//! current state is asked of Stripe (subscriptions) or is fixed once made (a payment's
//! charge and fee) — so an event whose object has another API version's shape, or that
//! arrives late, twice or out of order, still writes the right state. Each handled event's
//! id is stored in the same transaction as its effect: a retry or a replay changes nothing.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use super::{Payments, disputes, signature, tips};
use crate::{
    ServiceError,
    billing::{DisputeState, LedgerEntry},
    entities::{entitlements, stripe_events},
    error::is_unique_violation,
    write::{Changed, Write},
};

/// What became of an event that was accepted (answered 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Handled,
    /// Its id was handled before: nothing changed.
    Duplicate,
    /// A type the site does not act on, or about something that is not ours.
    Ignored,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not a genuine event of ours (400; nothing changed, Stripe will not retry it forever).
    #[error("webhook refused: {0}")]
    Refused(String),
    /// A genuine event we could not handle now (5xx: Stripe retries for three days).
    #[error("webhook failed: {0}")]
    Failed(#[from] ServiceError),
}

impl From<sea_orm::DbErr> for WebhookError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Failed(e.into())
    }
}

/// The events the site acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    CheckoutCompleted,
    AsyncPaymentSucceeded,
    AsyncPaymentFailed,
    SubscriptionChanged,
    InvoiceChanged,
    ChargeRefunded,
    /// A dispute opened, changed or decided.
    Dispute,
}

impl Kind {
    fn parse(event_type: &str) -> Option<Self> {
        Some(match event_type {
            "checkout.session.completed" => Self::CheckoutCompleted,
            "checkout.session.async_payment_succeeded" => Self::AsyncPaymentSucceeded,
            "checkout.session.async_payment_failed" => Self::AsyncPaymentFailed,
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted" => Self::SubscriptionChanged,
            "invoice.paid" | "invoice.payment_failed" | "invoice.payment_action_required" => {
                Self::InvoiceChanged
            }
            "charge.refunded" => Self::ChargeRefunded,
            "charge.dispute.created"
            | "charge.dispute.updated"
            | "charge.dispute.closed"
            | "charge.dispute.funds_withdrawn"
            | "charge.dispute.funds_reinstated" => Self::Dispute,
            _ => return None,
        })
    }
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for key in path {
        v = v.get(key)?;
    }
    match v {
        Value::String(s) => Some(s),
        // An expanded object: its id.
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn metadata(v: &Value) -> std::collections::HashMap<String, String> {
    v.get("metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

impl Payments {
    pub async fn webhook(
        &self,
        db: &DatabaseConnection,
        body: &[u8],
        signature_header: Option<&str>,
    ) -> Result<WebhookOutcome, WebhookError> {
        let stripe = self
            .stripe
            .as_ref()
            .ok_or_else(|| WebhookError::Refused("payments are off on this site".into()))?;
        signature::verify(
            body,
            signature_header,
            stripe.webhook_secret.expose(),
            Utc::now().timestamp(),
        )
        .map_err(|e| WebhookError::Refused(e.to_string()))?;
        let event: Value = serde_json::from_slice(body)
            .map_err(|e| WebhookError::Refused(format!("the body is not JSON: {e}")))?;
        let (Some(id), Some(event_type), Some(object)) = (
            text(&event, &["id"]),
            text(&event, &["type"]),
            event.get("data").and_then(|d| d.get("object")),
        ) else {
            return Err(WebhookError::Refused("not a Stripe event".into()));
        };
        let Some(kind) = Kind::parse(event_type) else {
            tracing::debug!(event = id, event_type, "webhook event ignored");
            return Ok(WebhookOutcome::Ignored);
        };
        if stripe_events::Entity::find_by_id(id)
            .one(db)
            .await?
            .is_some()
        {
            return Ok(WebhookOutcome::Duplicate);
        }
        let outcome = self.dispatch(db, id, event_type, kind, object).await;
        match &outcome {
            Ok(o) => tracing::info!(event = id, event_type, outcome = ?o, "webhook event"),
            Err(e) => {
                tracing::warn!(event = id, event_type, error = %e, "webhook event failed; Stripe will retry")
            }
        }
        outcome
    }

    async fn dispatch(
        &self,
        db: &DatabaseConnection,
        id: &str,
        event_type: &str,
        kind: Kind,
        object: &Value,
    ) -> Result<WebhookOutcome, WebhookError> {
        match kind {
            Kind::CheckoutCompleted | Kind::AsyncPaymentSucceeded => {
                match text(object, &["mode"]) {
                    Some("subscription") => {
                        let user =
                            text(object, &["client_reference_id"]).and_then(|u| u.parse().ok());
                        let sub = text(object, &["subscription"]);
                        self.subscription_event(db, id, event_type, user, object, sub)
                            .await
                    }
                    Some("payment") => {
                        let paid = text(object, &["payment_status"]) == Some("paid");
                        match text(object, &["payment_intent"]) {
                            Some(pi) if paid => {
                                // What a payment cost never changes: asked before the
                                // transaction.
                                let payment = self.on()?.api.payment(pi).await?;
                                self.tip_event(db, id, event_type, pi, payment, None).await
                            }
                            // An async payment (a bank debit) completes later.
                            _ => Ok(WebhookOutcome::Ignored),
                        }
                    }
                    _ => Ok(WebhookOutcome::Ignored),
                }
            }
            Kind::AsyncPaymentFailed => Ok(WebhookOutcome::Ignored),
            Kind::SubscriptionChanged => {
                let sub = text(object, &["id"]);
                self.subscription_event(db, id, event_type, None, object, sub)
                    .await
            }
            Kind::InvoiceChanged => {
                // `subscription` before API version 2025-03-31, `parent…` since.
                let sub = text(object, &["subscription"])
                    .or_else(|| text(object, &["parent", "subscription_details", "subscription"]));
                self.subscription_event(db, id, event_type, None, object, sub)
                    .await
            }
            Kind::ChargeRefunded => {
                let (Some(pi), Some(charge)) =
                    (text(object, &["payment_intent"]), text(object, &["id"]))
                else {
                    return Ok(WebhookOutcome::Ignored);
                };
                let refunded = object
                    .get("amount_refunded")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let reversal = (
                    LedgerEntry::Refund,
                    format!("{charge}:{refunded}"),
                    refunded,
                );
                let payment = self.on()?.api.payment(pi).await?;
                self.tip_event(db, id, event_type, pi, payment, Some(reversal))
                    .await
            }
            Kind::Dispute => {
                let (Some(pi), Some(dispute)) =
                    (text(object, &["payment_intent"]), text(object, &["id"]))
                else {
                    return Ok(WebhookOutcome::Ignored);
                };
                let stripe = self.on()?;
                // What a payment was never changes: asked before any transaction.
                let payment = stripe.api.payment(pi).await?;
                if tips::TipMeta::from_metadata(&payment.1).is_some() {
                    // A tip's dispute reverses its ledger line once, when it opens.
                    if event_type != "charge.dispute.created" {
                        return Ok(WebhookOutcome::Ignored);
                    }
                    let amount = object.get("amount").and_then(Value::as_i64).unwrap_or(0);
                    let reversal = (LedgerEntry::Dispute, dispute.to_owned(), amount);
                    return self
                        .tip_event(db, id, event_type, pi, payment, Some(reversal))
                        .await;
                }
                let state = DisputeState::from_stripe(text(object, &["status"]).unwrap_or(""));
                self.subscription_dispute(db, id, event_type, &payment.0, dispute, state)
                    .await
            }
        }
    }

    /// A payment of a subscriber's was disputed, or the dispute changed: premium is
    /// suspended while it is open (`payments::disputes`).
    async fn subscription_dispute(
        &self,
        db: &DatabaseConnection,
        id: &str,
        event_type: &str,
        payment: &super::api::PaymentFacts,
        dispute: &str,
        state: DisputeState,
    ) -> Result<WebhookOutcome, WebhookError> {
        let Some(customer) = payment.customer.as_deref() else {
            return Ok(WebhookOutcome::Ignored);
        };
        let Some(entitlement) = entitlements::Entity::find()
            .filter(entitlements::Column::StripeCustomerId.eq(customer))
            .one(db)
            .await?
        else {
            tracing::warn!(
                event = id,
                dispute,
                "a dispute of a payment that is not ours"
            );
            return Ok(WebhookOutcome::Ignored);
        };
        let w = Write::begin(db).await?;
        // Every event about one dispute in turn, so a decision is never overwritten.
        w.lock(&format!("dispute:{dispute}")).await?;
        if !remember(&w, id, event_type).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        let user = entitlement.user_id;
        disputes::record(&w, dispute, user, state, entitlement.current_period_end).await?;
        commit(w).await
    }

    /// A subscription changed: whose it is (our user id from checkout, the customer we
    /// made for them, or the user id we put in its metadata), then its current state,
    /// read from Stripe under a lock on the user.
    async fn subscription_event(
        &self,
        db: &DatabaseConnection,
        id: &str,
        event_type: &str,
        user: Option<i32>,
        object: &Value,
        sub: Option<&str>,
    ) -> Result<WebhookOutcome, WebhookError> {
        let Some(sub) = sub else {
            return Ok(WebhookOutcome::Ignored);
        };
        let user = match user {
            Some(u) => Some(u),
            None => match text(object, &["customer"]) {
                Some(customer) => entitlements::Entity::find()
                    .filter(entitlements::Column::StripeCustomerId.eq(customer))
                    .one(db)
                    .await?
                    .map(|e| e.user_id),
                None => None,
            },
        }
        .or_else(|| metadata(object).get("user_id").and_then(|u| u.parse().ok()));
        let Some(user) = user else {
            tracing::warn!(
                event = id,
                subscription = sub,
                "a subscription of a customer this site did not make"
            );
            return Ok(WebhookOutcome::Ignored);
        };
        let w = Write::begin(db).await?;
        if !remember(&w, id, event_type).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        match self.refresh_subscription_in(&w, user, sub).await {
            // The user was deleted: nothing to keep.
            Err(ServiceError::NotFound) => return Ok(WebhookOutcome::Ignored),
            r => r?,
        }
        commit(w).await
    }

    /// A payment made, refunded or disputed: when it is a tip, its ledger line (written
    /// first if this is the first event to tell of it), then the reversal if any.
    async fn tip_event(
        &self,
        db: &DatabaseConnection,
        id: &str,
        event_type: &str,
        payment_intent: &str,
        (payment, meta): (
            super::api::PaymentFacts,
            std::collections::HashMap<String, String>,
        ),
        reversal: Option<(LedgerEntry, String, i64)>,
    ) -> Result<WebhookOutcome, WebhookError> {
        let Some(meta) = tips::TipMeta::from_metadata(&meta) else {
            return Ok(WebhookOutcome::Ignored);
        };
        let w = Write::begin(db).await?;
        // Every event about one payment in turn: two refunds of one charge handled at once
        // would both reverse from the same prior state.
        w.lock(&format!("payment:{payment_intent}")).await?;
        if !remember(&w, id, event_type).await? {
            return Ok(WebhookOutcome::Duplicate);
        }
        let tip = tips::ensure_tip(&w, payment_intent, &meta, &payment).await?;
        if let Some((entry, source_ref, total)) = reversal {
            tips::reverse(&w, &tip, entry, &source_ref, total).await?;
        }
        commit(w).await
    }
}

/// Stores the event's id; `false` when another delivery stored it first.
async fn remember(w: &Write, id: &str, event_type: &str) -> Result<bool, WebhookError> {
    let inserted = stripe_events::ActiveModel {
        id: Set(id.to_owned()),
        event_type: Set(event_type.chars().take(64).collect()),
        received_at: Set(Utc::now()),
    }
    .insert(w)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Premium and earnings are read where they are shown (an account page, a download's
/// gate), never from a cache: an event changes nothing a cache keeps.
async fn commit(w: Write) -> Result<WebhookOutcome, WebhookError> {
    match w.commit(Changed::nothing_shown()).await {
        Ok(()) => Ok(WebhookOutcome::Handled),
        Err(e) if is_unique_violation(&e) => Ok(WebhookOutcome::Duplicate),
        Err(e) => Err(e.into()),
    }
}
