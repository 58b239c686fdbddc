//! One log line per request: status and duration (the request's span, `pipeline`, carries
//! its id, method and path — never the query, which may hold what a person typed) — and,
//! for a request that failed on our side, the cause, which is written here once and nowhere
//! else; and the same status and duration, by route, to `/metrics` (`metrics::Counters`).
//! The cause arrives in an [`ErrorCause`] slot this step puts in the request (server
//! functions fill it) or on the response (the upload and download handlers attach one).

use std::{sync::Arc, time::Instant};

use app::ssr::errors::ErrorCause;
use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};

use super::metrics::{Counters, UNMATCHED};

pub async fn log(State(counters): State<Arc<Counters>>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    // An Arc inside: no copy of the path per request.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let slot = ErrorCause::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    let took = started.elapsed();
    let duration_ms = took.as_secs_f64() * 1000.0;
    let cause = response
        .extensions_mut()
        .remove::<ErrorCause>()
        .and_then(|c| c.take())
        .or_else(|| slot.take());
    let status = response.status().as_u16();
    counters.request(
        route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
        status,
        took,
    );
    match cause {
        Some(cause) => tracing::error!(
            status,
            duration_ms = format!("{duration_ms:.2}"),
            cause = %cause,
            "request failed"
        ),
        None => tracing::info!(status, duration_ms = format!("{duration_ms:.2}"), "request"),
    }
    response
}
