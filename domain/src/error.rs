//! The one error every service of the domain returns.
//!
//! Variants say what a visitor may be told and map to status codes; `Internal` carries the
//! cause for the operator (a database or media-store error), which the web layer writes
//! once, on the request's own log line, and never shows.

use std::fmt;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("We could not find that page.")]
    NotFound,
    #[error("Please log in first.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// Input that does not parse: the message says which field and why.
    #[error("{0}")]
    Invalid(String),
    /// A uniqueness rule, such as a username that is taken, or a state that moved on.
    #[error("{0}")]
    Conflict(String),
    /// More than the site takes (a file over the upload limit).
    #[error("{0}")]
    TooLarge(String),
    #[error("Too many attempts. Please wait a few minutes and try again.")]
    TooManyRequests,
    /// Going faster than the site allows one person or address (comments, ratings,
    /// sign-ups, tokens): a minute's pause.
    #[error("You are going faster than this site allows. Please wait a minute and try again.")]
    SlowDown,
    /// The site has too much of this kind of work in hand just now (password hashing,
    /// renditions): nothing was done; the same request a moment later will do.
    #[error("The site is busy just now. Please try again in a moment.")]
    Busy,
    /// Our side failed; the cause is for the log only.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(Cause),
}

/// Why something failed on our side, for the operator's log.
#[derive(PartialEq, Eq)]
pub struct Cause {
    text: String,
    /// The database refused a row that broke a unique rule (which a caller may know how to
    /// answer: "that file is in the catalog already").
    unique_violation: bool,
}

impl Cause {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl ServiceError {
    pub fn forbidden(why: &str) -> Self {
        Self::Forbidden(why.to_owned())
    }

    pub fn invalid(why: &str) -> Self {
        Self::Invalid(why.to_owned())
    }

    pub fn conflict(why: &str) -> Self {
        Self::Conflict(why.to_owned())
    }

    /// An internal failure: `what` we were doing, and the error that stopped it.
    pub fn internal(what: &str, cause: impl fmt::Display) -> Self {
        Self::Internal(Cause {
            text: format!("{what}: {cause}"),
            unique_violation: false,
        })
    }

    /// Whether the database refused a row that broke a unique rule.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::Internal(c) if c.unique_violation)
    }

    /// Seconds a client should wait before asking again, for the `Retry-After` of a 429 or
    /// 503.
    pub fn retry_after_s(&self) -> Option<u32> {
        match self {
            Self::Busy => Some(2),
            Self::SlowDown => Some(60),
            Self::TooManyRequests => Some(900),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::NotFound => 404,
            Self::Unauthorized => 401,
            Self::Forbidden(_) => 403,
            Self::Invalid(_) => 422,
            Self::Conflict(_) => 409,
            Self::TooLarge(_) => 413,
            Self::TooManyRequests | Self::SlowDown => 429,
            Self::Busy => 503,
            Self::Internal(_) => 500,
        }
    }

    /// What an operator at a terminal is told: the cause of an internal failure, or the
    /// refusal's own sentence.
    pub fn for_operator(&self) -> String {
        self.cause().map_or_else(|| self.to_string(), str::to_owned)
    }

    /// The operator's reading of an internal failure; `None` for a refusal.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::Internal(c) => Some(c.as_str()),
            _ => None,
        }
    }
}

#[cfg(feature = "server")]
mod from_db {
    use sea_orm::{DbErr, TransactionError};

    use super::ServiceError;

    impl From<DbErr> for ServiceError {
        fn from(err: DbErr) -> Self {
            let unique_violation = super::is_unique_violation(&err);
            ServiceError::Internal(super::Cause {
                text: format!("database: {err}"),
                unique_violation,
            })
        }
    }

    impl From<TransactionError<ServiceError>> for ServiceError {
        fn from(err: TransactionError<ServiceError>) -> Self {
            match err {
                TransactionError::Connection(db) => db.into(),
                TransactionError::Transaction(e) => e,
            }
        }
    }
}

/// True when `err` is a violated unique constraint, which callers turn into a user error.
#[cfg(feature = "server")]
pub fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::ServiceError;

    #[test]
    fn internal_errors_keep_their_cause_but_show_none() {
        let e = ServiceError::internal("database", "relation \"users\" does not exist");
        assert_eq!(e.status(), 500);
        assert!(!e.to_string().contains("users"));
        assert!(e.cause().is_some_and(|c| c.contains("users")));
        assert_eq!(ServiceError::NotFound.cause(), None);
    }
}
