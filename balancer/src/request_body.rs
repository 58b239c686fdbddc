//! A client's request body on its way upstream. Bodies up to a size are read whole before
//! an upstream is chosen (nginx's `proxy_request_buffering`, HAProxy's
//! `http-buffer-request`), so a client dribbling a form holds no replica's slot; larger ones
//! stream. Either way the body must keep a minimum average rate and stay within the route's
//! size, or the client is cut off.
//!
//! Each attempt's body reports its [`Progress`]: when the upstream last took a piece of it,
//! whether it is waiting on the client, and when it ended — so the answer's deadline can be
//! counted from the end of the body (a slow but moving upload is never timed out for its
//! length), while an upstream that stops taking the body is.

use std::{
    error::Error,
    fmt,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::{
    body::{BoxError, UpstreamBody, prefixed},
    config::Limits,
};

/// Why a client's body was not passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefused {
    /// Slower than the minimum rate (408).
    TooSlow,
    /// Over the route's maximum (413).
    TooLarge,
    /// The client broke off or sent bad framing (400).
    Broken,
}

impl fmt::Display for BodyRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooSlow => "request body arrived below the minimum rate",
            Self::TooLarge => "request body larger than the route accepts",
            Self::Broken => "request body broken off",
        })
    }
}

impl BodyRefused {
    /// Its label in `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooSlow => "too_slow",
            Self::TooLarge => "too_large",
            Self::Broken => "broken",
        }
    }
}

impl Error for BodyRefused {}

impl BodyRefused {
    /// The refusal somewhere in an upstream client's error chain, if the client's body
    /// (not the upstream) was what failed.
    pub fn in_chain(e: &(dyn Error + 'static)) -> Option<Self> {
        let mut source: Option<&(dyn Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<Self>() {
                return Some(*r);
            }
            source = s.source();
        }
        None
    }
}

/// The body the client is still sending, held to a rate and a size: by any moment `t`
/// after the start it must have sent `min_rate × (t − window)` bytes.
pub struct ClientBody {
    prefix: Option<Bytes>,
    inner: Incoming,
    started: Instant,
    received: u64,
    max_bytes: u64,
    min_per_s: u64,
    window: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl ClientBody {
    pub fn new(inner: Incoming, limits: &Limits, max_bytes: u64) -> Self {
        let mut b = Self {
            prefix: None,
            inner,
            started: Instant::now(),
            received: 0,
            max_bytes,
            min_per_s: limits.min_request_bytes_per_s,
            window: limits.rate_window,
            deadline: None,
        };
        b.deadline = b
            .next_deadline()
            .map(|d| Box::pin(tokio::time::sleep_until(d)));
        b
    }

    /// When the client must have sent more than it has.
    fn next_deadline(&self) -> Option<Instant> {
        (self.min_per_s > 0).then(|| {
            let owed = Duration::from_secs_f64(self.received as f64 / self.min_per_s as f64);
            self.started + self.window + owed
        })
    }
}

impl http_body::Body for ClientBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Some(p) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if this.received > this.max_bytes {
                        return Poll::Ready(Some(Err(BodyRefused::TooLarge.into())));
                    }
                    let next = this.next_deadline();
                    if let (Some(sleep), Some(at)) = (this.deadline.as_mut(), next) {
                        sleep.as_mut().reset(at);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(_))) => Poll::Ready(Some(Err(BodyRefused::Broken.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().map(|s| s.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Some(Err(BodyRefused::TooSlow.into()))),
                _ => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        prefixed(self.prefix.as_ref(), self.inner.size_hint())
    }
}

/// A request body as the balancer holds it.
pub enum RequestBody {
    Empty,
    /// Read whole: can be sent again to another upstream.
    Buffered(Bytes),
    /// Too big to hold: the part read so far and the rest, sent once.
    Streaming(Option<ClientBody>),
}

impl RequestBody {
    /// Reads `incoming` up to the buffer size, at the minimum rate.
    pub async fn read(
        incoming: Incoming,
        limits: &Limits,
        max_bytes: u64,
    ) -> Result<Self, BodyRefused> {
        if incoming.is_end_stream() {
            return Ok(Self::Empty);
        }
        let mut body = ClientBody::new(incoming, limits, max_bytes);
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| BodyRefused::in_chain(&*e).unwrap_or(BodyRefused::Broken))?;
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
                if buf.len() > limits.request_buffer_bytes {
                    body.prefix = Some(buf.freeze());
                    return Ok(Self::Streaming(Some(body)));
                }
            }
        }
        Ok(Self::Buffered(buf.freeze()))
    }

    /// May go to a second upstream after the first failed before answering.
    pub fn repeatable(&self) -> bool {
        !matches!(self, Self::Streaming(_))
    }

    /// The body for one attempt upstream (a streaming body only once), reporting to
    /// `progress` as the upstream takes it.
    pub fn for_attempt(&mut self, progress: &Arc<Progress>) -> UpstreamBody {
        let body = match self {
            Self::Buffered(b) if !b.is_empty() => {
                Full::new(b.clone()).map_err(|never| match never {}).boxed()
            }
            Self::Streaming(s) => match s.take() {
                Some(body) => body.boxed(),
                None => empty(),
            },
            Self::Empty | Self::Buffered(_) => empty(),
        };
        if body.is_end_stream() {
            progress.end();
            return body;
        }
        Tracked {
            inner: body,
            progress: Arc::clone(progress),
        }
        .boxed()
    }
}

/// How one attempt's request body is going upstream.
#[derive(Debug)]
pub struct Progress {
    /// When the upstream last took a piece of it (or the attempt began).
    moved: Mutex<Instant>,
    /// The upstream asked for more and the client has not sent it yet: its delay is the
    /// client's (held to the minimum rate), not the upstream's.
    on_client: AtomicBool,
    ended: AtomicBool,
    end: tokio::sync::Notify,
}

impl Progress {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            moved: Mutex::new(Instant::now()),
            on_client: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            end: tokio::sync::Notify::new(),
        })
    }

    fn moved(&self) {
        *self.moved.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn end(&self) {
        self.moved();
        self.ended.store(true, Relaxed);
        self.end.notify_waiters();
    }

    /// Whether the whole body has gone upstream.
    pub fn ended(&self) -> bool {
        self.ended.load(Relaxed)
    }

    /// Resolves once the whole body has gone upstream.
    pub async fn wait_end(&self) {
        let ended = self.end.notified();
        if !self.ended() {
            ended.await;
        }
    }

    /// When the body's stall becomes the upstream's fault: `timeout` after it last moved,
    /// unless it is waiting on the client (then the client's rate rule decides).
    pub fn stalled_at(&self, timeout: Duration) -> Option<Instant> {
        (!self.on_client.load(Relaxed))
            .then(|| *self.moved.lock().unwrap_or_else(|p| p.into_inner()) + timeout)
    }
}

/// A body that tells its [`Progress`] as it goes.
struct Tracked {
    inner: UpstreamBody,
    progress: Arc<Progress>,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Pending => this.progress.on_client.store(true, Relaxed),
            Poll::Ready(Some(Ok(_))) => {
                this.progress.on_client.store(false, Relaxed);
                this.progress.moved();
            }
            Poll::Ready(None) => {
                this.progress.on_client.store(false, Relaxed);
                this.progress.end();
            }
            Poll::Ready(Some(Err(_))) => this.progress.on_client.store(false, Relaxed),
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn empty() -> UpstreamBody {
    Empty::new().map_err(|never| match never {}).boxed()
}
