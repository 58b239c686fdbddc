//! One log line per request: method, path (without the query, which may hold what a person
//! typed), status and duration.

use std::time::Instant;

use axum::{extract::Request, middleware::Next, response::Response};

pub async fn log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        method = %method,
        path = %path,
        status = response.status().as_u16(),
        duration_ms = format!("{duration_ms:.2}"),
        "request"
    );
    response
}
