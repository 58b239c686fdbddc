//! The API's one shape of an error: problem details (RFC 9457), `application/problem+json`.
//! Each kind has a `type` that is a link to its explanation on `/api`.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use domain::ServiceError;
use serde::Serialize;
use utoipa::ToSchema;

/// What went wrong, as problem details (RFC 9457). `type` names the kind of problem (a link
/// to its explanation), `title` says it in a few words, `detail` says what to do.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "/api#problem-bad-cursor",
    "title": "Bad cursor",
    "status": 400,
    "detail": "That cursor was not made by this API for this sort; start again without one."
}))]
pub struct Problem {
    /// A link to this kind of problem's explanation.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    pub detail: String,
}

/// The kinds of problem, each explained on `/api` under `#problem-{slug}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BadParameter,
    BadCursor,
    BadToken,
    TokenNeeded,
    MissingScope,
    NotFound,
    PremiumOnly,
    RateLimited,
    Busy,
    Internal,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::BadParameter,
        Kind::BadCursor,
        Kind::BadToken,
        Kind::TokenNeeded,
        Kind::MissingScope,
        Kind::NotFound,
        Kind::PremiumOnly,
        Kind::RateLimited,
        Kind::Busy,
        Kind::Internal,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Kind::BadParameter => "bad-parameter",
            Kind::BadCursor => "bad-cursor",
            Kind::BadToken => "bad-token",
            Kind::TokenNeeded => "token-needed",
            Kind::MissingScope => "missing-scope",
            Kind::NotFound => "not-found",
            Kind::PremiumOnly => "premium-only",
            Kind::RateLimited => "rate-limited",
            Kind::Busy => "busy",
            Kind::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::BadParameter => "Bad parameter",
            Kind::BadCursor => "Bad cursor",
            Kind::BadToken => "Bad token",
            Kind::TokenNeeded => "Token needed",
            Kind::MissingScope => "Missing scope",
            Kind::NotFound => "Not found",
            Kind::PremiumOnly => "Premium only",
            Kind::RateLimited => "Too many requests",
            Kind::Busy => "Busy",
            Kind::Internal => "Internal error",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Kind::BadParameter | Kind::BadCursor => StatusCode::BAD_REQUEST,
            Kind::BadToken | Kind::TokenNeeded => StatusCode::UNAUTHORIZED,
            Kind::MissingScope | Kind::PremiumOnly => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// When it happens, for the documentation page.
    pub fn explanation(self) -> &'static str {
        match self {
            Kind::BadParameter => {
                "A query parameter is unknown or its value is not one the endpoint takes (an unknown sort, an order outside 1–3, a word where a number goes). Nothing was searched; fix the parameter named in detail."
            }
            Kind::BadCursor => {
                "The cursor was not made by this API, was changed, or belongs to another sort. Start the walk again without a cursor."
            }
            Kind::BadToken => {
                "The Authorization header is not `Bearer amb_…` with a live personal token: malformed, unknown or revoked. Make a token on your account page."
            }
            Kind::TokenNeeded => {
                "This needs a token (a premium recording's download): send `Authorization: Bearer amb_…` of an account that may have it."
            }
            Kind::MissingScope => {
                "The token is valid but was not given the scope this request needs (read, upload or download). Make a token with that scope."
            }
            Kind::NotFound => "No published recording, user or page by that name.",
            Kind::PremiumOnly => {
                "A premium recording's original and renditions are for premium members: send a token (with the download scope) of a premium account."
            }
            Kind::RateLimited => {
                "The token or address used its allowance for this window. Wait the seconds in Retry-After (RateLimit-Reset says the same)."
            }
            Kind::Busy => {
                "The site has too much of this work in hand just now; the same request a moment later will do."
            }
            Kind::Internal => "Something failed on our side; nothing was changed. Try again.",
        }
    }
}

/// A problem ready to send: its kind, what to tell the client, and how long to wait.
#[derive(Debug)]
pub struct ApiError {
    pub kind: Kind,
    pub detail: String,
    pub retry_after_s: Option<u64>,
    /// Our side's cause, for the request log only.
    cause: Option<String>,
}

impl ApiError {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            retry_after_s: None,
            cause: None,
        }
    }

    pub fn bad_parameter(detail: impl Into<String>) -> Self {
        let detail: String = detail.into();
        // Axum's words before serde's, which name the parameter and what it takes.
        let detail = detail
            .strip_prefix("Failed to deserialize query string: ")
            .map_or(detail.clone(), str::to_owned);
        Self::new(Kind::BadParameter, detail)
    }

    pub fn rate_limited(reset_s: u64) -> Self {
        Self {
            retry_after_s: Some(reset_s.max(1)),
            ..Self::new(
                Kind::RateLimited,
                format!(
                    "This allowance is used up; it is whole again in {} s.",
                    reset_s.max(1)
                ),
            )
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/api#problem-{}", self.kind.slug()),
            title: self.kind.title().to_owned(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let kind = match &e {
            ServiceError::NotFound => Kind::NotFound,
            ServiceError::Unauthorized => Kind::TokenNeeded,
            ServiceError::Forbidden(_) => Kind::MissingScope,
            ServiceError::Invalid(_) | ServiceError::TooLarge(_) | ServiceError::Conflict(_) => {
                Kind::BadParameter
            }
            ServiceError::TooManyRequests | ServiceError::SlowDown => Kind::RateLimited,
            ServiceError::Busy => Kind::Busy,
            ServiceError::Internal(_) => Kind::Internal,
        };
        Self {
            kind,
            detail: e.to_string(),
            retry_after_s: e.retry_after_s().map(u64::from),
            cause: e.cause().map(str::to_owned),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (self.kind.status(), body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(contract::policy::PRIVATE),
        );
        if let Some(wait) = self.retry_after_s {
            h.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        let challenge = match self.kind {
            Kind::BadToken => Some("Bearer realm=\"ambisonia\", error=\"invalid_token\""),
            Kind::TokenNeeded => Some("Bearer realm=\"ambisonia\""),
            _ => None,
        };
        if let Some(c) = challenge {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let Some(cause) = self.cause {
            let slot = app::ssr::errors::ErrorCause::default();
            slot.set(&cause);
            resp.extensions_mut().insert(slot);
        }
        resp
    }
}
