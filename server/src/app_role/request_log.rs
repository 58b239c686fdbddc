//! One log line per request: status and duration (the request's span, `pipeline`, carries
//! its id, method and path — never the query, which may hold what a person typed) — and,
//! for a request that failed on our side, the cause, which is written here once and nowhere
//! else. The cause arrives in an [`ErrorCause`] slot this step puts in the request (server
//! functions fill it) or on the response (the upload and download handlers attach one).

use std::time::Instant;

use app::ssr::errors::ErrorCause;
use axum::{extract::Request, middleware::Next, response::Response};

pub async fn log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let slot = ErrorCause::default();
    req.extensions_mut().insert(slot.clone());
    let mut response = next.run(req).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let cause = response
        .extensions_mut()
        .remove::<ErrorCause>()
        .and_then(|c| c.take())
        .or_else(|| slot.take());
    let status = response.status().as_u16();
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
