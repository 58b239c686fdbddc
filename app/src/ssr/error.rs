//! Conversions into `AppError`, done once here so that database details are logged on the
//! server and never reach a visitor.

use sea_orm::{DbErr, SqlErr, TransactionError};

use crate::error::AppError;

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        tracing::error!(error = %err, "database error");
        AppError::Internal
    }
}

impl From<TransactionError<AppError>> for AppError {
    fn from(err: TransactionError<AppError>) -> Self {
        match err {
            TransactionError::Connection(db) => db.into(),
            TransactionError::Transaction(app) => app,
        }
    }
}

/// True when `err` is a violated unique constraint, which callers turn into a user error.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
