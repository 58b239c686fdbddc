//! A latency histogram of plain atomics, so observing costs a few nanoseconds on the hot
//! path: each of the balancer's upstreams keeps one, the app role one per route and status
//! (and for its statements and Stripe calls), and `/metrics` renders them.

use std::{
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Relaxed);
    }

    /// Writes the histogram as Prometheus text under `name` with `labels` (`a="x",b="y"`,
    /// or empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let (braced, sep) = if labels.is_empty() {
            (String::new(), "")
        } else {
            (format!("{{{labels}}}"), ",")
        };
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum{braced} {}",
            self.sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braced} {count}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Histogram;

    #[test]
    fn renders_cumulative_buckets_with_or_without_labels() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(800));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "");
        assert!(out.contains("x_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(out.contains("x_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{le=\"10\"} 2\n"));
        assert!(out.contains("x_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_seconds_count 3\n"));
        let mut out = String::new();
        h.render(&mut out, "x_seconds", "route=\"/\"");
        assert!(out.contains("x_seconds_bucket{route=\"/\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_seconds_sum{route=\"/\"} 60.0308\n"));
    }
}
