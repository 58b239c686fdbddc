//! Knowing when a client connection last moved a byte, so one that sits idle can be closed
//! (hyper has a header-read timeout but no idle timeout that also covers HTTP/2), and how
//! fast the client takes what is written to it, so one that reads a long answer a byte at a
//! time can be cut off (its upstream slot is held until the last byte goes out).

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    /// Bytes the client has taken.
    written: AtomicU64,
    /// Since when a write has waited on the client (ms after epoch + 1; 0: none waits).
    blocked_since_ms: AtomicU64,
    /// Time writes spent waiting on the client, finished waits only.
    blocked_ms: AtomicU64,
    /// Close with a reset rather than a FIN.
    reset: AtomicBool,
}

/// What a connection's writes looked like at one moment.
#[derive(Debug, Clone, Copy)]
pub struct WriteSample {
    pub at: Duration,
    pub written: u64,
    /// Total time writes waited on the client up to `at`.
    pub blocked: Duration,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            written: AtomicU64::new(0),
            blocked_since_ms: AtomicU64::new(0),
            blocked_ms: AtomicU64::new(0),
            reset: AtomicBool::new(false),
        })
    }
    /// When the connection is dropped, reset it: a slow reader would otherwise keep the
    /// kernel sending what its socket buffer still holds, at its pace.
    pub fn reset_on_close(&self) {
        self.reset.store(true, Relaxed);
    }
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
    fn touch(&self) {
        self.last_ms.store(self.now_ms(), Relaxed);
    }
    fn wrote(&self, n: usize) {
        self.touch();
        self.written.fetch_add(n as u64, Relaxed);
        let since = self.blocked_since_ms.swap(0, Relaxed);
        if since > 0 {
            let waited = self.now_ms().saturating_sub(since - 1);
            self.blocked_ms.fetch_add(waited, Relaxed);
        }
    }
    fn blocked(&self) {
        if self.blocked_since_ms.load(Relaxed) == 0 {
            self.blocked_since_ms.store(self.now_ms() + 1, Relaxed);
        }
    }
    pub fn sample(&self) -> WriteSample {
        let now = self.now_ms();
        let since = self.blocked_since_ms.load(Relaxed);
        let open = if since > 0 {
            now.saturating_sub(since - 1)
        } else {
            0
        };
        WriteSample {
            at: Duration::from_millis(now),
            written: self.written.load(Relaxed),
            blocked: Duration::from_millis(self.blocked_ms.load(Relaxed) + open),
        }
    }
    pub fn idle_for(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Relaxed)))
    }
}

pub struct IdleIo<T: Reset> {
    inner: T,
    activity: Arc<Activity>,
}

/// A connection that can be closed with a reset (`SO_LINGER` 0).
pub trait Reset {
    fn reset_on_close(&self);
}

impl Reset for tokio::net::TcpStream {
    fn reset_on_close(&self) {
        let _ = self.set_zero_linger();
    }
}

impl Reset for tokio_rustls::server::TlsStream<tokio::net::TcpStream> {
    fn reset_on_close(&self) {
        self.get_ref().0.reset_on_close();
    }
}

impl<T: Reset> Drop for IdleIo<T> {
    fn drop(&mut self) {
        if self.activity.reset.load(Relaxed) {
            self.inner.reset_on_close();
        }
    }
}

impl<T: Reset> IdleIo<T> {
    pub fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
    fn observe(&self, r: &Poll<io::Result<usize>>) {
        match r {
            Poll::Ready(Ok(n)) if *n > 0 => self.activity.wrote(*n),
            Poll::Pending => self.activity.blocked(),
            _ => {}
        }
    }
}

/// A connection's write samples over the last window, judged as they come.
pub struct ReadWatch {
    samples: VecDeque<WriteSample>,
    window: Duration,
    min_per_s: u64,
}

impl ReadWatch {
    pub fn new(window: Duration, min_per_s: u64) -> Self {
        Self {
            samples: VecDeque::new(),
            window,
            min_per_s,
        }
    }

    /// Takes the sample of now; whether the client read too slowly over the whole window
    /// that ends now (never before a window has passed).
    pub fn too_slow(&mut self, now: WriteSample) -> bool {
        let from = now.at.saturating_sub(self.window);
        // Keep the latest sample at least a window old, and what came after it.
        while self.samples.get(1).is_some_and(|s| s.at <= from) {
            self.samples.pop_front();
        }
        let slow = self
            .samples
            .front()
            .is_some_and(|then| then.at <= from && reads_too_slowly(*then, now, self.min_per_s));
        self.samples.push_back(now);
        slow
    }
}

/// Over the last `window`, did the client keep writes waiting nearly all the time and yet
/// take fewer than `min_per_s × window` bytes? (A slow upstream keeps no write waiting, so
/// it never counts against the client.)
fn reads_too_slowly(then: WriteSample, now: WriteSample, min_per_s: u64) -> bool {
    let span = now.at.saturating_sub(then.at);
    if span.is_zero() {
        return false;
    }
    let waited = now.blocked.saturating_sub(then.blocked);
    let taken = now.written.saturating_sub(then.written);
    waited.as_secs_f64() >= span.as_secs_f64() * 0.9
        && (taken as f64) < min_per_s as f64 * span.as_secs_f64()
}

impl<T: AsyncRead + Reset + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Reset + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        this.observe(&r);
        r
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.observe(&r);
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64, written: u64, blocked_s: u64) -> WriteSample {
        WriteSample {
            at: Duration::from_secs(s),
            written,
            blocked: Duration::from_secs(blocked_s),
        }
    }

    #[test]
    fn only_a_client_that_keeps_writes_waiting_and_takes_little_reads_too_slowly() {
        // A byte a second for ten seconds, the writes waiting all along.
        assert!(reads_too_slowly(at(0, 0, 0), at(10, 10, 10), 1024));
        // 2 KiB/s, waiting all along: slow, but over the minimum.
        assert!(!reads_too_slowly(at(0, 0, 0), at(10, 20_480, 10), 1024));
        // Nothing written, nothing waiting: the upstream is slow, not the client.
        assert!(!reads_too_slowly(at(0, 0, 0), at(10, 0, 0), 1024));
        // Fast, then stalled for the whole window: the earlier bytes buy nothing.
        assert!(reads_too_slowly(
            at(5, 10_000_000, 0),
            at(15, 10_000_000, 10),
            1024
        ));
    }

    #[test]
    fn the_watch_judges_only_whole_windows_and_forgets_what_is_older() {
        let mut w = ReadWatch::new(Duration::from_secs(3), 1024);
        // Fast for three seconds, then stalled with writes waiting.
        let fast = [
            at(0, 0, 0),
            at(1, 1 << 20, 0),
            at(2, 2 << 20, 0),
            at(3, 3 << 20, 0),
        ];
        assert!(fast.into_iter().all(|s| !w.too_slow(s)));
        assert!(
            !w.too_slow(at(4, 3 << 20, 1)),
            "the window holds fast seconds"
        );
        assert!(!w.too_slow(at(5, 3 << 20, 2)));
        assert!(
            w.too_slow(at(6, 3 << 20, 3)),
            "three seconds waiting, nothing taken"
        );
        assert!(w.samples.len() <= 5, "older samples are dropped");
    }
}
