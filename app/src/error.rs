//! The one error type every server function and loader returns.
//!
//! It crosses the server-function boundary (serialised as JSON, or base64 in the `__err`
//! query parameter after a plain form post), so it carries only what a visitor may see.
//! Internal causes are logged once where they are converted (see `ssr::error`), never shown.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("We could not find that page.")]
    NotFound,
    #[error("Please log in first.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// Input that does not parse: the message says which field and why.
    #[error("{0}")]
    Invalid(String),
    /// A uniqueness rule, such as a username that is taken.
    #[error("{0}")]
    Conflict(String),
    /// More than the site takes (a file over the upload limit).
    #[error("{0}")]
    TooLarge(String),
    #[error("Too many attempts. Please wait a few minutes and try again.")]
    TooManyRequests,
    #[error("You are going faster than this site allows. Please wait a minute and try again.")]
    SlowDown,
    #[error("The site is busy just now. Please try again in a moment.")]
    Busy,
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
}

impl AppError {
    /// Seconds to wait before asking again (`Retry-After`), for a 429 or 503.
    pub fn retry_after_s(&self) -> Option<u32> {
        match self {
            AppError::Busy => Some(2),
            AppError::SlowDown => Some(60),
            AppError::TooManyRequests => Some(900),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound => 404,
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::Invalid(_) => 422,
            AppError::Conflict(_) => 409,
            AppError::TooLarge(_) => 413,
            AppError::TooManyRequests | AppError::SlowDown => 429,
            AppError::Busy => 503,
            AppError::Internal => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::Deserialization(_) => {
                AppError::Invalid("The form was incomplete. Please fill in every field.".into())
            }
            _ => AppError::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_variant() {
        assert_eq!(AppError::NotFound.status(), 404);
        assert_eq!(AppError::Invalid("x".into()).status(), 422);
        assert_eq!(AppError::TooManyRequests.status(), 429);
    }

    #[test]
    fn internal_errors_show_no_detail() {
        let shown = AppError::from_server_fn_error(ServerFnErrorErr::ServerError(
            "relation \"users\" does not exist".into(),
        ))
        .to_string();
        assert!(!shown.contains("users"));
    }
}
