//! Disputes of subscription payments (owner of `disputes`). A subscriber who disputes a
//! payment for premium is not premium while the dispute is open, nor, if the bank sides
//! with them, until the end of the period that payment was for; when Stripe decides it in
//! the site's favour, premium is back. Stripe's decision is final: an event about a
//! dispute that arrives after its decision (late, twice, out of order) changes nothing.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    sea_query::Condition,
};

use crate::{ServiceError, billing::DisputeState, entities::disputes, write::Write};

/// Writes where dispute `id` of `user_id`'s payment stands now; `period_end` is the end of
/// the period the disputed payment paid for (a lost dispute suspends premium until then;
/// without one, a lost dispute suspends nothing more).
pub async fn record(
    w: &Write,
    id: &str,
    user_id: i32,
    state: DisputeState,
    period_end: Option<DateTime<Utc>>,
) -> Result<(), ServiceError> {
    let now = Utc::now();
    match disputes::Entity::find_by_id(id.to_owned()).one(w).await? {
        Some(known) if known.state.is_decided() => {
            tracing::info!(dispute = id, state = ?known.state, "a dispute already decided");
        }
        Some(known) => {
            let mut row: disputes::ActiveModel = known.into();
            row.state = Set(state);
            row.suspends_until = Set(period_end);
            row.updated_at = Set(now);
            row.update(w).await?;
        }
        None => {
            disputes::ActiveModel {
                id: Set(id.to_owned()),
                user_id: Set(user_id),
                state: Set(state),
                suspends_until: Set(period_end),
                updated_at: Set(now),
            }
            .insert(w)
            .await?;
        }
    }
    tracing::warn!(
        dispute = id,
        user = user_id,
        ?state,
        "a subscription payment disputed"
    );
    Ok(())
}

/// Whether a dispute keeps `user_id`'s subscription from granting premium at `now`: one is
/// open, or one was lost and the period it disputed has not ended.
pub async fn suspends(
    db: &impl ConnectionTrait,
    user_id: i32,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    let lost_period_runs = Condition::all()
        .add(disputes::Column::State.eq(DisputeState::Lost))
        .add(disputes::Column::SuspendsUntil.gt(now));
    let n = disputes::Entity::find()
        .filter(disputes::Column::UserId.eq(user_id))
        .filter(
            Condition::any()
                .add(disputes::Column::State.eq(DisputeState::Open))
                .add(lost_period_runs),
        )
        .count(db)
        .await?;
    Ok(n > 0)
}
