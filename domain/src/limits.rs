//! How fast one account, one client address and the site as a whole may write: comments,
//! ratings, sign-ups and API tokens. Past an allowance a request is told to slow down
//! (`ServiceError::SlowDown`: 429 with `Retry-After`) before anything is written. Counted
//! per replica, in memory, in fixed windows: behind a balancer that spreads a client's
//! requests over N replicas, a client gets up to N times the allowance — still a bound, and
//! no database write per check. (Failed logins are counted in the database instead, so
//! every replica agrees: those guard passwords.)

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use crate::ServiceError;

/// What is being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    Comment,
    Rate,
    SignUp,
    CreateToken,
}

/// Whose doing is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// The logged-in account.
    Account,
    /// The client address (as the trusted proxies vouch for it).
    Address,
    /// Everyone together, on this replica.
    Site,
}

/// At most `max` acts by one `who` in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub who: Who,
    pub max: u32,
    pub window: Duration,
}

const fn bound(who: Who, max: u32, window_s: u64) -> Bound {
    Bound {
        who,
        max,
        window: Duration::from_secs(window_s),
    }
}

const COMMENT: [Bound; 2] = [bound(Who::Account, 60, 60), bound(Who::Address, 120, 60)];
const RATE: [Bound; 2] = [bound(Who::Account, 120, 60), bound(Who::Address, 300, 60)];
// A launch day's crowd, not a script's: a few accounts per address, and 300 new accounts a
// minute per replica for the site; the password gate (`passwords`) bounds what they cost
// meanwhile.
const SIGN_UP: [Bound; 2] = [bound(Who::Address, 5, 600), bound(Who::Site, 300, 60)];
const CREATE_TOKEN: [Bound; 2] = [bound(Who::Account, 10, 3600), bound(Who::Address, 30, 3600)];

impl Act {
    /// Each act's bounds, checked in this order: generous for a person, small for a script.
    pub const fn bounds(self) -> &'static [Bound] {
        match self {
            Act::Comment => &COMMENT,
            Act::Rate => &RATE,
            Act::SignUp => &SIGN_UP,
            Act::CreateToken => &CREATE_TOKEN,
        }
    }

    const ALL: [Act; 4] = [Act::Comment, Act::Rate, Act::SignUp, Act::CreateToken];
}

/// The counters of one bound: one per account, address or the site, each living one window.
struct Window {
    act: Act,
    bound: Bound,
    counts: moka::sync::Cache<String, Arc<AtomicU32>>,
}

impl Window {
    fn counter(&self, who: &str) -> Arc<AtomicU32> {
        self.counts
            .get_with(who.to_owned(), || Arc::new(AtomicU32::new(0)))
    }
}

/// Every act's counters, for one replica.
pub struct Limits {
    windows: Vec<Window>,
}

impl Default for Limits {
    fn default() -> Self {
        let windows = Act::ALL.into_iter().flat_map(|act| {
            act.bounds().iter().map(move |&bound| Window {
                act,
                bound,
                counts: moka::sync::Cache::builder()
                    .max_capacity(200_000)
                    .time_to_live(bound.window)
                    .build(),
            })
        });
        Self {
            windows: windows.collect(),
        }
    }
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limits")
    }
}

impl Limits {
    /// The counters `act` by `account` (when logged in) from `address` counts on, in the
    /// order of its bounds, with their maximum.
    fn counters<'a>(
        &'a self,
        act: Act,
        account: Option<i32>,
        address: &'a str,
    ) -> impl Iterator<Item = (Arc<AtomicU32>, u32)> + 'a {
        self.windows
            .iter()
            .filter(move |w| w.act == act)
            .filter_map(move |w| {
                let who = match w.bound.who {
                    Who::Account => format!("{}", account?),
                    Who::Address if address.is_empty() => return None,
                    Who::Address => address.to_owned(),
                    Who::Site => String::new(),
                };
                Some((w.counter(&who), w.bound.max))
            })
    }

    /// Counts `act` by `account` (when logged in) from `address`; `SlowDown` past any of
    /// its bounds. Stops counting at the first refusal: what one address is refused does
    /// not count against the site's allowance, so one client cannot spend everyone's.
    pub fn check(&self, act: Act, account: Option<i32>, address: &str) -> Result<(), ServiceError> {
        let mut taken: Vec<Arc<AtomicU32>> = Vec::new();
        for (count, max) in self.counters(act, account, address) {
            if count.fetch_add(1, Ordering::Relaxed) >= max {
                count.fetch_sub(1, Ordering::Relaxed);
                for earlier in taken {
                    Self::give_back(&earlier);
                }
                tracing::info!(?act, account, "slowed down");
                return Err(ServiceError::SlowDown);
            }
            taken.push(count);
        }
        Ok(())
    }

    /// Takes back a [`check`](Self::check) whose act did not happen after all (the site was
    /// busy): a visitor who tries again later is not charged twice.
    pub fn refund(&self, act: Act, account: Option<i32>, address: &str) {
        for (count, _) in self.counters(act, account, address) {
            Self::give_back(&count);
        }
    }

    fn give_back(count: &AtomicU32) {
        let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max(act: Act, who: Who) -> u32 {
        act.bounds()
            .iter()
            .find(|b| b.who == who)
            .map_or(0, |b| b.max)
    }

    #[test]
    fn an_account_or_an_address_past_its_allowance_is_slowed_down() {
        let limits = Limits::default();
        for _ in 0..max(Act::Comment, Who::Account) {
            assert!(limits.check(Act::Comment, Some(7), "10.0.0.1").is_ok());
        }
        assert!(
            limits.check(Act::Comment, Some(7), "10.0.0.2").is_err(),
            "the account"
        );
        assert!(
            limits.check(Act::Comment, Some(8), "10.0.0.1").is_ok(),
            "someone else"
        );
        for _ in 0..max(Act::SignUp, Who::Address) {
            assert!(limits.check(Act::SignUp, None, "10.0.0.3").is_ok());
        }
        assert_eq!(
            limits.check(Act::SignUp, None, "10.0.0.3"),
            Err(ServiceError::SlowDown),
            "the address"
        );
        assert!(limits.check(Act::SignUp, None, "10.0.0.4").is_ok());
    }

    #[test]
    fn the_site_has_an_allowance_one_address_cannot_spend() {
        let limits = Limits::default();
        let site = max(Act::SignUp, Who::Site);
        for _ in 0..site {
            let _ = limits.check(Act::SignUp, None, "10.9.9.9");
        }
        let others = (0..site).filter(|i| {
            let address = format!("10.1.{}.{}", i / 200, i % 200);
            limits.check(Act::SignUp, None, &address).is_ok()
        });
        let from_others = others.count() as u32;
        assert_eq!(
            from_others,
            site - max(Act::SignUp, Who::Address),
            "only the address's own allowance came out of the site's"
        );
        assert!(
            limits.check(Act::SignUp, None, "10.2.0.1").is_err(),
            "the site is full"
        );
    }

    #[test]
    fn a_refunded_act_is_not_charged() {
        let limits = Limits::default();
        for _ in 0..max(Act::SignUp, Who::Address) * 3 {
            assert!(limits.check(Act::SignUp, None, "10.0.0.5").is_ok());
            limits.refund(Act::SignUp, None, "10.0.0.5");
        }
    }
}
