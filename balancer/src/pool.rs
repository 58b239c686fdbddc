//! A pool of upstreams and the choice among them.
//!
//! Each upstream counts its requests in flight with a guard ([`InFlight`]) that lives in
//! the response body, so a request counts until its last byte is sent, and errors and
//! cancelled requests uncount themselves on drop (tower's `PendingRequests`). An upstream
//! takes requests when it is `ready`: healthy by the active checks, not draining, and not
//! ejected after connection failures. Beyond `max_connections` requests wait in a bounded
//! queue; beyond the queue they get 503.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use contract::histogram::Histogram;
use rand::Rng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{
    clients::UpstreamSlot,
    config::{Balance, HealthSettings, PoolSettings},
};

/// How fast the response-time estimate forgets.
const RTT_DECAY: Duration = Duration::from_secs(1);
/// The estimate for an upstream that has not answered yet.
const DEFAULT_RTT: Duration = Duration::from_millis(1);

pub struct Upstream {
    /// `host:port`, as configured.
    pub authority: String,
    in_flight: AtomicUsize,
    healthy: AtomicBool,
    draining: AtomicBool,
    /// Milliseconds since `epoch` until which passive ejection holds; 0 when not ejected.
    ejected_until_ms: AtomicU64,
    consecutive_failures: AtomicU32,
    ejections: AtomicU32,
    epoch: Instant,
    permits: Arc<Semaphore>,
    max_connections: AtomicUsize,
    queued: AtomicUsize,
    pub requests: AtomicU64,
    pub failures: AtomicU64,
    pub latency: Histogram,
    checker: AtomicBool,
    /// Peak-EWMA of the time to response headers, in microseconds (0: no sample yet), and
    /// when it was last updated (ms since `epoch`).
    rtt_us: AtomicU64,
    rtt_at_ms: AtomicU64,
    /// Read by the health-check task on every round, so a reload changes it in place.
    pub health: Mutex<HealthSettings>,
}

impl Upstream {
    pub fn new(authority: String, settings: &PoolSettings) -> Self {
        Self {
            authority,
            in_flight: AtomicUsize::new(0),
            healthy: AtomicBool::new(true),
            draining: AtomicBool::new(false),
            ejected_until_ms: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejections: AtomicU32::new(0),
            epoch: Instant::now(),
            permits: Arc::new(Semaphore::new(settings.max_connections)),
            max_connections: AtomicUsize::new(settings.max_connections),
            queued: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            latency: Histogram::default(),
            health: Mutex::new(settings.health.clone()),
            checker: AtomicBool::new(false),
            rtt_us: AtomicU64::new(0),
            rtt_at_ms: AtomicU64::new(0),
        }
    }

    /// True once: for the caller that should start this upstream's health-check task.
    pub fn claim_checker(&self) -> bool {
        !self.checker.swap(true, Relaxed)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Relaxed)
    }
    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }
    pub fn set_draining(&self, draining: bool) {
        self.draining.store(draining, Relaxed);
    }
    pub fn is_ejected(&self) -> bool {
        let until = self.ejected_until_ms.load(Relaxed);
        until != 0 && self.now_ms() < until
    }
    /// May take new requests.
    pub fn is_ready(&self) -> bool {
        self.is_healthy() && !self.is_draining() && !self.is_ejected()
    }

    /// The active health check's verdict (after `rise`/`fall` consecutive results).
    pub fn set_healthy(&self, healthy: bool) -> bool {
        let was = self.healthy.swap(healthy, Relaxed);
        if healthy {
            self.record_success();
        }
        was != healthy
    }

    /// A request got an answer: forget earlier connection failures.
    pub fn record_success(&self) {
        if self.consecutive_failures.load(Relaxed) != 0 {
            self.consecutive_failures.store(0, Relaxed);
        }
        if self.ejections.load(Relaxed) != 0 && !self.is_ejected() {
            self.ejections.store(0, Relaxed);
            self.ejected_until_ms.store(0, Relaxed);
        }
    }

    /// A request failed to reach the upstream. Returns the ejection time when this failure
    /// ejects it; the backoff doubles with each ejection in a row.
    pub fn record_failure(&self, settings: &PoolSettings) -> Option<Duration> {
        self.failures.fetch_add(1, Relaxed);
        let failures = self.consecutive_failures.fetch_add(1, Relaxed) + 1;
        if failures < settings.eject.after_failures || self.is_ejected() {
            return None;
        }
        self.consecutive_failures.store(0, Relaxed);
        let n = self.ejections.fetch_add(1, Relaxed).min(16);
        let backoff = settings
            .eject
            .backoff
            .saturating_mul(1 << n)
            .min(settings.eject.max_backoff);
        let until = self.now_ms() + backoff.as_millis() as u64;
        self.ejected_until_ms.store(until.max(1), Relaxed);
        Some(backoff)
    }

    /// One more response-time sample, from a request that shared the upstream with
    /// `sharing` in flight (itself included; the caller counts the busier of when it was
    /// sent and when it was answered). The estimate is kept per request in flight —
    /// the response time divided by how many shared it — so that [`Upstream::cost`], which
    /// multiplies by the requests in flight now, predicts the response time a new request
    /// would see: a replica whose response time grew because it was busier is not counted
    /// busy twice (once in the time, once in the count), and a replica that is slow at any
    /// load keeps its whole delay. Peaks count at once; lower samples pull the estimate
    /// down by how much time has passed since the last one (`RTT_DECAY`), so the estimate
    /// follows time, not request counts.
    pub fn observe_rtt(&self, d: Duration, sharing: usize) {
        let sample = ((d.as_micros() as u64) / sharing.max(1) as u64).max(1);
        let now = self.now_ms();
        let prev = self.rtt_us.load(Relaxed);
        let next = if prev == 0 || sample >= prev {
            sample
        } else {
            let elapsed = now.saturating_sub(self.rtt_at_ms.load(Relaxed)) as f64;
            let keep = (-elapsed / RTT_DECAY.as_millis() as f64).exp();
            (sample as f64 + (prev - sample) as f64 * keep.min(0.999)) as u64
        };
        self.rtt_us.store(next, Relaxed);
        self.rtt_at_ms.store(now, Relaxed);
    }

    /// Expected response time for one more request: the per-request estimate, decayed while
    /// no sample arrives (so an idle, once-slow replica is tried again now and then), times
    /// the requests it would then have in flight.
    fn cost(&self) -> f64 {
        let rtt = match self.rtt_us.load(Relaxed) {
            0 => DEFAULT_RTT.as_micros() as f64,
            r => {
                let idle = self.now_ms().saturating_sub(self.rtt_at_ms.load(Relaxed)) as f64;
                r as f64 * (-idle / RTT_DECAY.as_millis() as f64).exp()
            }
        };
        rtt * (self.in_flight() + 1) as f64
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A reload changed `max_connections`: grow or shrink the permits to match.
    fn resize(&self, max: usize) {
        let old = self.max_connections.swap(max, Relaxed);
        if max > old {
            self.permits.add_permits(max - old);
        } else if old > max {
            self.permits.forget_permits(old - max);
        }
    }
}

/// One request's claim on an upstream, from choice to the last byte of the response.
pub struct InFlight {
    pub upstream: Arc<Upstream>,
    permit: Option<OwnedSemaphorePermit>,
    /// The client's own slot (clients.rs), released with the upstream's.
    pub client: Option<UpstreamSlot>,
}

impl InFlight {
    fn new(upstream: Arc<Upstream>) -> Self {
        upstream.in_flight.fetch_add(1, Relaxed);
        Self {
            upstream,
            permit: None,
            client: None,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.upstream.in_flight.fetch_sub(1, Relaxed);
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// No upstream is ready (all down, ejected or draining).
    NoneReady,
    /// The queue for the chosen upstream is full, or the wait ran out.
    Overloaded,
}

pub struct Pool {
    pub name: String,
    pub settings: PoolSettings,
    pub upstreams: Vec<Arc<Upstream>>,
    next: AtomicUsize,
    /// Below the panic threshold now (said once in the log when it changes).
    panicking: AtomicBool,
    /// Requests routed regardless of health while panicking.
    pub panic_routed: AtomicU64,
}

impl Pool {
    /// Builds the pool, reusing upstreams from `previous` (same pool, same address) so a
    /// reload keeps their counters, health and queues.
    pub fn new(name: String, settings: PoolSettings, previous: Option<&Pool>) -> Self {
        let upstreams = settings
            .upstreams
            .iter()
            .map(|authority| {
                match previous.and_then(|p| p.upstreams.iter().find(|u| &u.authority == authority))
                {
                    Some(u) => {
                        u.resize(settings.max_connections);
                        if let Ok(mut h) = u.health.lock() {
                            *h = settings.health.clone();
                        }
                        Arc::clone(u)
                    }
                    None => Arc::new(Upstream::new(authority.clone(), &settings)),
                }
            })
            .collect();
        Self {
            name,
            settings,
            upstreams,
            next: AtomicUsize::new(0),
            panicking: AtomicBool::new(false),
            panic_routed: AtomicU64::new(0),
        }
    }

    pub fn is_panicking(&self) -> bool {
        self.panicking.load(Relaxed)
    }

    /// Whether too few of the upstreams not draining are healthy (and not ejected): then
    /// health is ignored. Logged when it changes.
    fn panic_mode(&self) -> bool {
        let in_service = self.upstreams.iter().filter(|u| !u.is_draining());
        let (mut total, mut healthy) = (0usize, 0usize);
        for u in in_service {
            total += 1;
            healthy += usize::from(u.is_healthy() && !u.is_ejected());
        }
        let threshold = usize::from(self.settings.panic_below_percent);
        let panic = total > 0 && healthy * 100 < threshold * total;
        if self.panicking.swap(panic, Relaxed) != panic {
            if panic {
                tracing::warn!(pool = %self.name, healthy, total, "below the panic threshold: routing to every upstream, healthy or not");
            } else {
                tracing::info!(pool = %self.name, healthy, total, "above the panic threshold again: routing by health");
            }
        }
        panic
    }

    /// Chooses a ready upstream other than `avoid` and counts the request on it; below the
    /// panic threshold, any upstream that is not draining.
    pub fn pick(&self, avoid: Option<&Upstream>) -> Result<InFlight, Refused> {
        let panic = self.panic_mode();
        let eligible = |u: &&Arc<Upstream>| {
            (if panic {
                !u.is_draining()
            } else {
                u.is_ready()
            }) && avoid.is_none_or(|a| !std::ptr::eq(a, u.as_ref()))
        };
        let chosen = match self.settings.balance {
            Balance::RoundRobin => {
                let n = self.upstreams.len();
                let start = self.next.fetch_add(1, Relaxed);
                (0..n)
                    .map(|i| &self.upstreams[(start + i) % n])
                    .find(|u| eligible(u))
            }
            Balance::LeastBusy => cheapest(self.upstreams.iter().filter(eligible), |u| {
                u.in_flight() as f64
            }),
            Balance::PeakEwma => cheapest(self.upstreams.iter().filter(eligible), Upstream::cost),
        };
        if panic && chosen.is_some() {
            self.panic_routed.fetch_add(1, Relaxed);
        }
        chosen
            .map(|u| InFlight::new(Arc::clone(u)))
            .ok_or(Refused::NoneReady)
    }

    /// Waits for a connection slot on the chosen upstream, within the queue's bounds.
    pub async fn admit(&self, claim: &mut InFlight) -> Result<(), Refused> {
        let up = &claim.upstream;
        if let Ok(permit) = Arc::clone(&up.permits).try_acquire_owned() {
            claim.permit = Some(permit);
            return Ok(());
        }
        if up.queued.fetch_add(1, Relaxed) >= self.settings.queue {
            up.queued.fetch_sub(1, Relaxed);
            return Err(Refused::Overloaded);
        }
        let waited = tokio::time::timeout(
            self.settings.queue_timeout,
            Arc::clone(&up.permits).acquire_owned(),
        )
        .await;
        up.queued.fetch_sub(1, Relaxed);
        match waited {
            Ok(Ok(permit)) => {
                claim.permit = Some(permit);
                Ok(())
            }
            _ => Err(Refused::Overloaded),
        }
    }

    pub fn find(&self, authority: &str) -> Option<&Arc<Upstream>> {
        self.upstreams.iter().find(|u| u.authority == authority)
    }
}

/// The lowest `cost` (fewest in flight, or peak-EWMA cost); among equals, one at random.
/// Small pools are scanned whole; large ones use the power of two random choices, which
/// keeps the choice O(1) and avoids every balancer herding onto the same momentarily idle
/// replica.
fn cheapest<'a>(
    candidates: impl Iterator<Item = &'a Arc<Upstream>>,
    cost: impl Fn(&Upstream) -> f64,
) -> Option<&'a Arc<Upstream>> {
    let all: Vec<&Arc<Upstream>> = candidates.collect();
    let mut rng = rand::thread_rng();
    if all.len() > 8 {
        let a = all[rng.gen_range(0..all.len())];
        let b = all[rng.gen_range(0..all.len())];
        return Some(if cost(b) < cost(a) { b } else { a });
    }
    let mut best: Option<(&Arc<Upstream>, f64)> = None;
    let mut ties = 0u32;
    for u in all {
        let c = cost(u);
        match best {
            Some((_, b)) if c > b => {}
            Some((_, b)) if c == b => {
                ties += 1;
                if rng.gen_range(0..=ties) == 0 {
                    best = Some((u, c));
                }
            }
            _ => {
                best = Some((u, c));
                ties = 0;
            }
        }
    }
    best.map(|(u, _)| u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(balance: Balance) -> Pool {
        let s = PoolSettings::new(vec!["a:1".into(), "b:1".into(), "c:1".into()], balance);
        Pool::new("p".into(), s, None)
    }

    #[test]
    fn least_busy_takes_the_idle_one_and_counts_until_drop() {
        let p = pool(Balance::LeastBusy);
        let first = p.pick(None).unwrap_or_else(|_| panic!("none ready"));
        let second = p.pick(None).unwrap_or_else(|_| panic!("none ready"));
        let third = p.pick(None).unwrap_or_else(|_| panic!("none ready"));
        let mut names = vec![
            &first.upstream.authority,
            &second.upstream.authority,
            &third.upstream.authority,
        ];
        names.sort();
        assert_eq!(names, ["a:1", "b:1", "c:1"]);
        drop(second);
        let next = p.pick(None).unwrap_or_else(|_| panic!("none ready"));
        assert_eq!(next.upstream.in_flight(), 1);
    }

    #[test]
    fn draining_and_unhealthy_upstreams_get_nothing() {
        let p = pool(Balance::RoundRobin);
        p.upstreams[0].set_draining(true);
        p.upstreams[1].set_healthy(false);
        for _ in 0..5 {
            let c = p.pick(None).unwrap_or_else(|_| panic!("none ready"));
            assert_eq!(c.upstream.authority, "c:1");
        }
        // c drained too: the one upstream in service is unhealthy, below the panic
        // threshold, so it is used anyway; draining is the operator's word and stays.
        p.upstreams[2].set_draining(true);
        let c = p
            .pick(None)
            .unwrap_or_else(|_| panic!("panic mode routes to b"));
        assert_eq!(c.upstream.authority, "b:1");
        assert!(p.is_panicking());
        p.upstreams[1].set_draining(true);
        assert!(matches!(p.pick(None), Err(Refused::NoneReady)));
    }

    #[test]
    fn peak_ewma_prefers_the_fast_replica_until_it_is_much_busier() {
        let p = pool(Balance::PeakEwma);
        p.upstreams[0].observe_rtt(Duration::from_millis(50), 1);
        p.upstreams[1].observe_rtt(Duration::from_millis(1), 1);
        p.upstreams[2].set_draining(true);
        let claims: Vec<InFlight> = (0..20)
            .map(|_| p.pick(None).unwrap_or_else(|_| panic!("none ready")))
            .collect();
        let slow = claims
            .iter()
            .filter(|c| c.upstream.authority == "a:1")
            .count();
        assert_eq!(
            slow, 0,
            "20 in flight on a 1 ms replica still beat one on a 50 ms one"
        );
        // A peak counts at once.
        p.upstreams[1].observe_rtt(Duration::from_millis(80), 1);
        let next = p.pick(None).unwrap_or_else(|_| panic!("none ready"));
        assert_eq!(next.upstream.authority, "a:1");
    }

    #[test]
    fn repeated_failures_eject_with_growing_backoff() {
        let p = pool(Balance::LeastBusy);
        let u = &p.upstreams[0];
        assert_eq!(u.record_failure(&p.settings), None);
        assert_eq!(u.record_failure(&p.settings), None);
        assert_eq!(u.record_failure(&p.settings), Some(Duration::from_secs(1)));
        assert!(u.is_ejected() && !u.is_ready());
        let avoid = p
            .pick(Some(&p.upstreams[1]))
            .unwrap_or_else(|_| panic!("none ready"));
        assert_eq!(avoid.upstream.authority, "c:1");
    }
}
