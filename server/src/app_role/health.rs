//! `/healthz`: the process answers. `/readyz`: it can also reach its database, so a
//! balancer may send it requests.

use axum::{extract::State, http::StatusCode};
use sea_orm::DatabaseConnection;

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready(State(db): State<DatabaseConnection>) -> (StatusCode, &'static str) {
    if app::ssr::db::ping(&db).await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
    }
}
