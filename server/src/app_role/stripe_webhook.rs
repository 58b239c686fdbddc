//! `POST /stripe/webhook`: Stripe's events, verified over the raw body by the domain.
//! A refused event (bad or missing signature, stale timestamp, not an event) is answered
//! 400 and changes nothing; an event we could not handle now is answered 500, so that
//! Stripe retries it (for up to three days); everything else 200.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use domain::payments::WebhookError;

use super::refusal::Refusal;
use app::ssr::state::AppState;

/// Stripe's events are small; anything larger is not one.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

pub async fn receive(State(st): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    match st.payments.webhook(&st.db, &body, signature).await {
        Ok(outcome) => (StatusCode::OK, format!("{outcome:?}\n")).into_response(),
        Err(WebhookError::Refused(why)) => {
            tracing::warn!(reason = %why, "webhook refused");
            Refusal::new(StatusCode::BAD_REQUEST, why).json()
        }
        Err(WebhookError::Failed(e)) => Refusal::from(e).json(),
    }
}
