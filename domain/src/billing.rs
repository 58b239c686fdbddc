//! The vocabulary of premium accounts and tips: plans, a subscription's status as Stripe
//! names it, money in integer minor units, and the uploader's share of a tip. The rules
//! that read and write them are in `payments` (server only).

use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(feature = "server")]
use sea_orm::sea_query::StringLen;

/// Seconds of a premium recording's previews that listeners without premium hear (the
/// rest of the previews, the original and its renditions are for premium members).
pub const PREMIUM_EXCERPT_S: u32 = 60;

/// What a recordist gets of a tip, after Stripe's fee.
pub const UPLOADER_SHARE_PERCENT: i64 = 70;

/// The uploader's share of a payment of `gross` that cost `fee`, in the same minor units,
/// rounded down (the site keeps the fraction of a cent).
pub fn uploader_share(gross: i64, fee: i64) -> i64 {
    (gross - fee).max(0) * UPLOADER_SHARE_PERCENT / 100
}

/// The part of `share` that a reversal of `reversed` out of `gross` takes back (a refund
/// or a dispute of some or all of a tip), rounded so that reversing everything takes back
/// exactly the whole share.
pub fn reversed_share(share: i64, gross: i64, reversed: i64) -> i64 {
    if gross <= 0 {
        return 0;
    }
    let reversed = reversed.clamp(0, gross);
    // Rounded up, so that the uploader is never paid for money that went back.
    (share * reversed + gross - 1) / gross
}

/// The premium plans on offer, each with its own Stripe price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Plan {
    Monthly,
    Quarterly,
    Yearly,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Monthly, Plan::Quarterly, Plan::Yearly];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Monthly => "monthly",
            Plan::Quarterly => "quarterly",
            Plan::Yearly => "yearly",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    pub fn label(self) -> &'static str {
        match self {
            Plan::Monthly => "Monthly",
            Plan::Quarterly => "Three months",
            Plan::Yearly => "Yearly",
        }
    }

    pub fn months(self) -> u32 {
        match self {
            Plan::Monthly => 1,
            Plan::Quarterly => 3,
            Plan::Yearly => 12,
        }
    }
}

/// "a month", "every three months", "a year": how often a price of `months` renews.
pub fn period_words(months: u32) -> String {
    match months {
        1 => "a month".into(),
        3 => "every three months".into(),
        12 => "a year".into(),
        n => format!("every {n} months"),
    }
}

/// A subscription's status, as Stripe names it (stored as that word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")
)]
pub enum SubscriptionStatus {
    #[cfg_attr(feature = "server", sea_orm(string_value = "incomplete"))]
    Incomplete,
    #[cfg_attr(feature = "server", sea_orm(string_value = "incomplete_expired"))]
    IncompleteExpired,
    #[cfg_attr(feature = "server", sea_orm(string_value = "trialing"))]
    Trialing,
    #[cfg_attr(feature = "server", sea_orm(string_value = "active"))]
    Active,
    #[cfg_attr(feature = "server", sea_orm(string_value = "past_due"))]
    PastDue,
    #[cfg_attr(feature = "server", sea_orm(string_value = "canceled"))]
    Canceled,
    #[cfg_attr(feature = "server", sea_orm(string_value = "unpaid"))]
    Unpaid,
    #[cfg_attr(feature = "server", sea_orm(string_value = "paused"))]
    Paused,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 8] = [
        Self::Incomplete,
        Self::IncompleteExpired,
        Self::Trialing,
        Self::Active,
        Self::PastDue,
        Self::Canceled,
        Self::Unpaid,
        Self::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// `active` and `trialing` are premium; `past_due` stays premium while Stripe retries
    /// the card (it then becomes `unpaid` or `canceled`, which are not).
    pub fn grants_premium(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue)
    }

    /// What the account page calls it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Incomplete => "waiting for the first payment",
            Self::IncompleteExpired => "first payment never made",
            Self::Trialing => "trial",
            Self::Active => "active",
            Self::PastDue => "payment failed, retrying",
            Self::Canceled => "cancelled",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
        }
    }
}

/// Where a dispute of a subscription payment stands, as far as premium goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum DisputeState {
    /// Being decided: premium is suspended.
    #[cfg_attr(feature = "server", sea_orm(string_value = "open"))]
    Open,
    /// Closed in the site's favour: premium is back.
    #[cfg_attr(feature = "server", sea_orm(string_value = "won"))]
    Won,
    /// Closed in the card holder's favour: the disputed period is not premium.
    #[cfg_attr(feature = "server", sea_orm(string_value = "lost"))]
    Lost,
}

impl DisputeState {
    /// Stripe's dispute status, read: `won`, and `warning_closed` (an inquiry that ended
    /// without a chargeback), are the site's; `lost` is the card holder's; every other
    /// status (`needs_response`, `under_review`, `warning_…`) is still open.
    pub fn from_stripe(status: &str) -> Self {
        match status {
            "won" | "warning_closed" => Self::Won,
            "lost" => Self::Lost,
            _ => Self::Open,
        }
    }

    /// Whether Stripe has decided it: a decision is final, so an event about the dispute
    /// that arrives after it (late, or out of order) changes nothing.
    pub fn is_decided(self) -> bool {
        !matches!(self, Self::Open)
    }
}

/// An amount of money: integer minor units (cents) of a currency (ISO 4217, lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

/// Currencies Stripe counts in whole units (no cents).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

impl Money {
    pub fn new(minor: i64, currency: &str) -> Self {
        Self {
            minor,
            currency: currency.to_ascii_lowercase(),
        }
    }

    fn decimals(&self) -> u32 {
        if ZERO_DECIMAL.contains(&self.currency.as_str()) {
            0
        } else {
            2
        }
    }

    /// The amount in major units as a plain number ("14.95", "-3.50", "500"), for CSV.
    pub fn plain(&self) -> String {
        let d = self.decimals();
        if d == 0 {
            return self.minor.to_string();
        }
        let unit = 10_u64.pow(d);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / unit,
            abs % unit,
            width = d as usize
        )
    }

    /// Parses what a person typed ("5", "5.5", "14.95") in major units of `currency`.
    pub fn parse_major(raw: &str, currency: &str) -> Option<Self> {
        let probe = Self::new(0, currency);
        let d = probe.decimals();
        let raw = raw.trim();
        let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
            || frac.len() > d as usize
            || whole.len() > 9
        {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let frac: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<width$}", width = d as usize)
                .parse()
                .ok()?
        };
        Some(Self::new(whole * 10_i64.pow(d) + frac, currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let symbol = match self.currency.as_str() {
            "usd" => Some("$"),
            "eur" => Some("€"),
            "gbp" => Some("£"),
            _ => None,
        };
        let plain = self.plain();
        let (sign, digits) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain.as_str()),
        };
        match symbol {
            Some(s) => write!(f, "{sign}{s}{digits}"),
            None => write!(f, "{sign}{digits} {}", self.currency.to_ascii_uppercase()),
        }
    }
}

/// What a ledger line is: a tip, or the reversal of (part of) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum LedgerEntry {
    #[cfg_attr(feature = "server", sea_orm(string_value = "tip"))]
    Tip,
    #[cfg_attr(feature = "server", sea_orm(string_value = "refund"))]
    Refund,
    #[cfg_attr(feature = "server", sea_orm(string_value = "dispute"))]
    Dispute,
}

impl LedgerEntry {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tip => "tip",
            Self::Refund => "refund",
            Self::Dispute => "dispute",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_whole_minor_units_and_reverse_exactly() {
        // $5.00 tip, Stripe's fee 30c + 2.9 % = 45c: 70 % of $4.55 is $3.185 → $3.18.
        assert_eq!(uploader_share(500, 45), 318);
        assert_eq!(reversed_share(318, 500, 500), 318);
        assert_eq!(reversed_share(318, 500, 250), 159);
        assert_eq!(reversed_share(318, 500, 1), 1);
        assert_eq!(reversed_share(318, 500, 0), 0);
        assert_eq!(uploader_share(40, 45), 0);
    }

    #[test]
    fn money_reads_and_prints_without_floats() {
        assert_eq!(
            Money::parse_major("14.95", "usd"),
            Some(Money::new(1495, "usd"))
        );
        assert_eq!(Money::parse_major("5", "eur"), Some(Money::new(500, "eur")));
        assert_eq!(
            Money::parse_major("5.5", "eur"),
            Some(Money::new(550, "eur"))
        );
        assert_eq!(
            Money::parse_major("500", "jpy"),
            Some(Money::new(500, "jpy"))
        );
        for bad in ["", ".", "1.234", "-1", "1e3", "5,00", "9999999999"] {
            assert_eq!(Money::parse_major(bad, "usd"), None, "{bad}");
        }
        assert_eq!(Money::new(1495, "usd").to_string(), "$14.95");
        assert_eq!(Money::new(-350, "gbp").to_string(), "-£3.50");
        assert_eq!(Money::new(7, "chf").to_string(), "0.07 CHF");
        assert_eq!(Money::new(500, "jpy").plain(), "500");
    }
}
