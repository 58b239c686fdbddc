//! The body of every response the balancer sends: bytes it holds (cache hits, its own
//! pages) or an upstream's body streamed through, carrying the upstream's in-flight claim
//! so the request counts as busy until its last byte.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use super::pool::InFlight;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body on its way to an upstream (request_body.rs makes them).
pub type UpstreamBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

pub enum Body {
    Bytes(Option<Bytes>),
    Upstream {
        /// Bytes already read from `inner` (a response that turned out too big to store).
        prefix: Option<Bytes>,
        inner: Incoming,
        claim: Option<InFlight>,
    },
}

impl Body {
    pub fn empty() -> Self {
        Self::Bytes(None)
    }
    pub fn bytes(b: impl Into<Bytes>) -> Self {
        let b = b.into();
        Self::Bytes((!b.is_empty()).then_some(b))
    }
    pub fn upstream(inner: Incoming, claim: InFlight) -> Self {
        Self::Upstream {
            prefix: None,
            inner,
            claim: Some(claim),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Bytes(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Upstream {
                prefix,
                inner,
                claim,
            } => {
                if let Some(p) = prefix.take() {
                    return Poll::Ready(Some(Ok(Frame::data(p))));
                }
                match Pin::new(inner).poll_frame(cx) {
                    Poll::Ready(None) => {
                        // The last byte is out: the upstream is no longer busy with us.
                        claim.take();
                        Poll::Ready(None)
                    }
                    Poll::Ready(Some(Err(e))) => {
                        claim.take();
                        Poll::Ready(Some(Err(e.into())))
                    }
                    Poll::Ready(Some(Ok(frame))) => Poll::Ready(Some(Ok(frame))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Bytes(b) => b.is_none(),
            Self::Upstream { prefix, inner, .. } => prefix.is_none() && inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Bytes(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Upstream { prefix, inner, .. } => prefixed(prefix.as_ref(), inner.size_hint()),
        }
    }
}

/// The size of a body whose first bytes (`prefix`) were already read from one that has
/// `rest` left.
pub fn prefixed(prefix: Option<&Bytes>, rest: SizeHint) -> SizeHint {
    let extra = prefix.map_or(0, |p| p.len() as u64);
    let mut out = SizeHint::new();
    out.set_lower(rest.lower() + extra);
    if let Some(u) = rest.upper() {
        out.set_upper(u + extra);
    }
    out
}
