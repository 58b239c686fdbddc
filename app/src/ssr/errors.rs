//! The one conversion of the domain's `ServiceError` into the `AppError` a visitor sees.
//! An internal cause is not logged here: it is put in the request's [`ErrorCause`] slot,
//! which the server's request log writes once, on the request's own line.

use std::sync::{Arc, Mutex};

use domain::ServiceError;
use leptos::prelude::use_context;

use crate::error::AppError;

/// Where a request's internal failure is kept for its log line. The server's request-log
/// middleware puts one in every request's extensions (Leptos hands server functions a copy
/// of the request parts, which shares the slot) and reads it when the response is ready.
#[derive(Debug, Clone, Default)]
pub struct ErrorCause(Arc<Mutex<Option<String>>>);

impl ErrorCause {
    pub fn set(&self, cause: &str) {
        if let Ok(mut slot) = self.0.lock() {
            slot.get_or_insert_with(|| cause.to_owned());
        }
    }

    pub fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Keeps `error`'s cause (if internal) for the current request's log line.
pub fn record(error: &ServiceError) {
    if let Some(cause) = error.cause() {
        match use_context::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<ErrorCause>().cloned())
        {
            Some(slot) => slot.set(cause),
            // Outside a request (a test render): the log is the only place left.
            None => tracing::error!(cause, "internal error outside a request"),
        }
    }
}

impl From<ServiceError> for AppError {
    fn from(err: ServiceError) -> Self {
        record(&err);
        match err {
            ServiceError::NotFound => AppError::NotFound,
            ServiceError::Unauthorized => AppError::Unauthorized,
            ServiceError::Forbidden(m) => AppError::Forbidden(m),
            ServiceError::Invalid(m) => AppError::Invalid(m),
            ServiceError::TooLarge(m) => AppError::TooLarge(m),
            ServiceError::Conflict(m) => AppError::Conflict(m),
            ServiceError::TooManyRequests => AppError::TooManyRequests,
            ServiceError::SlowDown => AppError::SlowDown,
            ServiceError::Busy => AppError::Busy,
            ServiceError::Internal(_) => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One failure, one status, whichever way the visitor came in.
    #[test]
    fn every_failure_keeps_its_status_across_the_boundary() {
        for e in [
            ServiceError::NotFound,
            ServiceError::Unauthorized,
            ServiceError::forbidden("no"),
            ServiceError::invalid("bad"),
            ServiceError::conflict("taken"),
            ServiceError::TooLarge("big".into()),
            ServiceError::TooManyRequests,
            ServiceError::SlowDown,
            ServiceError::Busy,
            ServiceError::internal("database", "gone"),
        ] {
            let (status, wait) = (e.status(), e.retry_after_s());
            let shown = AppError::from(e);
            assert_eq!((shown.status(), shown.retry_after_s()), (status, wait));
        }
    }
}
