//! `/healthz`: the process answers. `/readyz`: it can also reach its database, has read
//! the invalidation log lately (a Redis outage alone does not fail it: the replica then
//! answers from the database), and is not draining — so a balancer may send it requests. On
//! SIGTERM a replica fails `/readyz` first and keeps serving (each answer saying
//! `Connection: close`) while balancers notice, then stops.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::Response,
};
use domain::{bus::Bus, db::Db};

#[derive(Clone)]
pub struct Readiness {
    pub db: Db,
    pub bus: Arc<Bus>,
    pub draining: Arc<AtomicBool>,
}

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready(State(r): State<Readiness>) -> (StatusCode, &'static str) {
    if r.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if !domain::db::ping(&r.db).await {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    } else if !r.bus.caught_up() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "behind on the invalidation bus",
        )
    } else {
        (StatusCode::OK, "ready")
    }
}

/// While draining, every answer closes its connection, so that clients (the balancer's
/// pool) open their next one to another replica.
pub async fn close_while_draining(
    State(draining): State<Arc<AtomicBool>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    if draining.load(Ordering::Relaxed) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}
