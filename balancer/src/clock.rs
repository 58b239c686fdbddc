//! The balancer's time, handed in: the system's in production, a manual one in tests,
//! which advance it instead of sleeping. What the cache decides by time reads it — an
//! object's age and freshness, the stale windows, hit-for-miss marks, the `now` that
//! `Date`, `Expires` and `Age` are compared with. Socket timeouts and health-check
//! intervals stay on tokio's timers.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<Manual>>>);

struct Manual {
    instant: Instant,
    wall: SystemTime,
}

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still until [`Clock::advance`] moves it.
    pub fn manual() -> Self {
        Self(Some(Arc::new(Mutex::new(Manual {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }))))
    }

    /// Monotonic now, for ages and windows.
    pub fn now(&self) -> Instant {
        match &self.0 {
            None => Instant::now(),
            Some(m) => m.lock().map_or_else(|_| Instant::now(), |m| m.instant),
        }
    }

    /// Wall-clock now, for comparing with `Date` and `Expires`.
    pub fn wall(&self) -> SystemTime {
        match &self.0 {
            None => SystemTime::now(),
            Some(m) => m.lock().map_or_else(|_| SystemTime::now(), |m| m.wall),
        }
    }

    /// Moves a manual clock on (the system clock moves by itself: no effect).
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.0
            && let Ok(mut m) = m.lock()
        {
            m.instant += by;
            m.wall += by;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Clock;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual();
        let (t0, w0) = (clock.now(), clock.wall());
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now() - t0, Duration::from_secs(90));
        assert_eq!(
            clock.wall().duration_since(w0).ok(),
            Some(Duration::from_secs(90))
        );
    }
}
