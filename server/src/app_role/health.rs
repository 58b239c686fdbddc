//! `/healthz`: the process answers. `/readyz`: it can also reach its database, so a
//! balancer may send it requests.

use axum::{extract::State, http::StatusCode};
use domain::db::Db;

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready(State(db): State<Db>) -> (StatusCode, &'static str) {
    if domain::db::ping(&db).await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}
