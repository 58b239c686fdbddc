//! Tips to recordists: the checkout, the ledger (a tip, and refunds and disputes as
//! reversing lines), an uploader's earnings and the payouts owed.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{Payments, api::PaymentFacts};
use crate::{
    ServiceError, Status,
    billing::{LedgerEntry, Money, reversed_share, uploader_share},
    entities::{recordings, tip_ledger, users},
    error::is_unique_violation,
    model::{Earnings, LedgerLine, Viewer},
    write::Write,
};

/// The smallest and largest tip, in major units of the tip currency.
pub const MIN_TIP_MAJOR: i64 = 1;
pub const MAX_TIP_MAJOR: i64 = 500;

/// What a payment's metadata says when it is a tip (set by `Payments::tip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TipMeta {
    pub recording_id: i32,
    pub uploader_id: i32,
    pub tipper_id: i32,
}

impl TipMeta {
    fn to_metadata(&self) -> HashMap<String, String> {
        HashMap::from([
            ("kind".to_owned(), "tip".to_owned()),
            ("recording_id".to_owned(), self.recording_id.to_string()),
            ("uploader_id".to_owned(), self.uploader_id.to_string()),
            ("tipper_id".to_owned(), self.tipper_id.to_string()),
        ])
    }

    pub fn from_metadata(m: &HashMap<String, String>) -> Option<Self> {
        if m.get("kind").map(String::as_str) != Some("tip") {
            return None;
        }
        let num = |k: &str| m.get(k).and_then(|v| v.parse().ok());
        Some(Self {
            recording_id: num("recording_id")?,
            uploader_id: num("uploader_id")?,
            tipper_id: num("tipper_id")?,
        })
    }
}

impl Payments {
    /// Starts a tip of `amount` (typed in major units) from `tipper` to the uploader of
    /// recording `slug`; the Stripe Checkout URL to send them to.
    pub async fn tip(
        &self,
        db: &DatabaseConnection,
        tipper: &Viewer,
        slug: &str,
        amount: &str,
        public_url: &str,
    ) -> Result<String, ServiceError> {
        let stripe = self.on()?;
        let currency = self.tip_currency();
        let amount = Money::parse_major(amount, currency)
            .ok_or_else(|| ServiceError::invalid("A tip is an amount such as 5 or 2.50."))?;
        let unit = Money::parse_major("1", currency).map_or(100, |m| m.minor);
        if amount.minor < MIN_TIP_MAJOR * unit || amount.minor > MAX_TIP_MAJOR * unit {
            return Err(ServiceError::Invalid(format!(
                "A tip is between {} and {}.",
                Money::new(MIN_TIP_MAJOR * unit, currency),
                Money::new(MAX_TIP_MAJOR * unit, currency)
            )));
        }
        let row = crate::recordings::visible(db, slug, Some(tipper)).await?;
        if row.status != Status::Published {
            return Err(ServiceError::invalid(
                "Only published recordings can be tipped.",
            ));
        }
        if row.uploader_id == tipper.user_id {
            return Err(ServiceError::invalid("You cannot tip yourself."));
        }
        let uploader = users::Entity::find_by_id(row.uploader_id)
            .one(db)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let customer = self.customer_for(db, tipper.user_id).await?;
        let meta = TipMeta {
            recording_id: row.id,
            uploader_id: row.uploader_id,
            tipper_id: tipper.user_id,
        };
        let page = format!("{public_url}/recordings/{}", row.slug);
        stripe
            .api
            .payment_checkout(
                &customer,
                tipper.user_id,
                &amount,
                &format!("A tip for “{}” by {}", row.title, uploader.username),
                meta.to_metadata(),
                &format!("{page}?tipped=1"),
                &page,
            )
            .await
    }
}

/// The tip line for a payment, written when it is not there yet; the line either way.
pub(super) async fn ensure_tip(
    w: &Write,
    payment_intent: &str,
    meta: &TipMeta,
    payment: &PaymentFacts,
) -> Result<tip_ledger::Model, ServiceError> {
    if let Some(line) = tip_of_payment(w, payment_intent).await? {
        return Ok(line);
    }
    let recording = recordings::Entity::find_by_id(meta.recording_id)
        .one(w)
        .await?
        .map(|r| r.id);
    let gross = payment.amount.minor;
    let line = tip_ledger::ActiveModel {
        entry: Set(LedgerEntry::Tip),
        source_ref: Set(payment_intent.to_owned()),
        recording_id: Set(recording),
        uploader_id: Set(meta.uploader_id),
        tipper_id: Set(Some(meta.tipper_id)),
        charge_id: Set(Some(payment.charge_id.clone())),
        currency: Set(payment.amount.currency.clone()),
        gross: Set(gross),
        fee: Set(payment.fee),
        share: Set(uploader_share(gross, payment.fee)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(w)
    .await?;
    tracing::info!(
        uploader = meta.uploader_id,
        gross,
        fee = payment.fee,
        "tip recorded"
    );
    Ok(line)
}

async fn tip_of_payment(
    db: &impl ConnectionTrait,
    payment_intent: &str,
) -> Result<Option<tip_ledger::Model>, ServiceError> {
    Ok(tip_ledger::Entity::find()
        .filter(tip_ledger::Column::Entry.eq(LedgerEntry::Tip))
        .filter(tip_ledger::Column::SourceRef.eq(payment_intent))
        .one(db)
        .await?)
}

/// A reversal of `tip`: a refund (bringing the charge's refunded total to `total`) or a
/// dispute of `total`. Refunds are cumulative, so events in any order write each cent once.
pub(super) async fn reverse(
    w: &Write,
    tip: &tip_ledger::Model,
    entry: LedgerEntry,
    source_ref: &str,
    total: i64,
) -> Result<bool, ServiceError> {
    let (gross, share) = match entry {
        LedgerEntry::Refund => {
            let before: Vec<tip_ledger::Model> = tip_ledger::Entity::find()
                .filter(tip_ledger::Column::Entry.eq(LedgerEntry::Refund))
                .filter(tip_ledger::Column::ChargeId.eq(tip.charge_id.clone()))
                .all(w)
                .await?;
            let refunded: i64 = before.iter().map(|l| -l.gross).sum();
            let reversed: i64 = before.iter().map(|l| -l.share).sum();
            let more = total.min(tip.gross) - refunded;
            if more <= 0 {
                return Ok(false);
            }
            let target = reversed_share(tip.share, tip.gross, refunded + more);
            (-more, -(target - reversed))
        }
        LedgerEntry::Dispute => {
            let amount = total.min(tip.gross);
            (-amount, -reversed_share(tip.share, tip.gross, amount))
        }
        LedgerEntry::Tip => return Ok(false),
    };
    let written = tip_ledger::ActiveModel {
        entry: Set(entry),
        source_ref: Set(source_ref.to_owned()),
        recording_id: Set(tip.recording_id),
        uploader_id: Set(tip.uploader_id),
        tipper_id: Set(tip.tipper_id),
        charge_id: Set(tip.charge_id.clone()),
        currency: Set(tip.currency.clone()),
        gross: Set(gross),
        fee: Set(0),
        share: Set(share),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(w)
    .await;
    match written {
        Ok(_) => {
            tracing::info!(
                uploader = tip.uploader_id,
                entry = entry.as_str(),
                gross,
                share,
                "tip reversed"
            );
            Ok(true)
        }
        // The same reversal, already written (by another delivery of another event).
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// An uploader's tips: what they are owed per currency, and the latest lines.
pub async fn earnings(db: &DatabaseConnection, uploader_id: i32) -> Result<Earnings, ServiceError> {
    let lines = tip_ledger::Entity::find()
        .filter(tip_ledger::Column::UploaderId.eq(uploader_id))
        .order_by_desc(tip_ledger::Column::Id)
        .all(db)
        .await?;
    if lines.is_empty() {
        return Ok(Earnings::default());
    }
    let mut owed: BTreeMap<String, i64> = BTreeMap::new();
    for l in &lines {
        *owed.entry(l.currency.clone()).or_default() += l.share;
    }
    let ids: Vec<i32> = lines.iter().filter_map(|l| l.recording_id).collect();
    let titles: HashMap<i32, (String, String)> = recordings::Entity::find()
        .filter(recordings::Column::Id.is_in(ids))
        .select_only()
        .column(recordings::Column::Id)
        .column(recordings::Column::Slug)
        .column(recordings::Column::Title)
        .into_tuple::<(i32, String, String)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, slug, title)| (id, (slug, title)))
        .collect();
    Ok(Earnings {
        owed: owed
            .into_iter()
            .map(|(currency, minor)| Money::new(minor, &currency))
            .collect(),
        lines: lines
            .into_iter()
            .take(100)
            .map(|l| LedgerLine {
                entry: l.entry,
                recording: l.recording_id.and_then(|id| titles.get(&id).cloned()),
                gross: Money::new(l.gross, &l.currency),
                fee: Money::new(l.fee, &l.currency),
                share: Money::new(l.share, &l.currency),
                at: l.created_at,
            })
            .collect(),
    })
}

/// What one uploader is owed in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    pub username: String,
    pub email: String,
    pub currency: String,
    pub tips: u64,
    pub gross: i64,
    pub fees: i64,
    pub share: i64,
}

/// Every uploader's balance per currency, by username (`server admin payouts`).
pub async fn payouts(db: &DatabaseConnection) -> Result<Vec<PayoutLine>, ServiceError> {
    let lines = tip_ledger::Entity::find().all(db).await?;
    let mut by: BTreeMap<(i32, String), (u64, i64, i64, i64)> = BTreeMap::new();
    for l in &lines {
        let e = by.entry((l.uploader_id, l.currency.clone())).or_default();
        if l.entry == LedgerEntry::Tip {
            e.0 += 1;
        }
        e.1 += l.gross;
        e.2 += l.fee;
        e.3 += l.share;
    }
    let ids: Vec<i32> = by.keys().map(|(id, _)| *id).collect();
    let people: HashMap<i32, (String, String)> = users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, (u.username, u.email)))
        .collect();
    let mut out: Vec<PayoutLine> = by
        .into_iter()
        .map(|((id, currency), (tips, gross, fees, share))| {
            let (username, email) = people.get(&id).cloned().unwrap_or_default();
            PayoutLine {
                username,
                email,
                currency,
                tips,
                gross,
                fees,
                share,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.username, &a.currency).cmp(&(&b.username, &b.currency)));
    Ok(out)
}
