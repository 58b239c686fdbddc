//! Who is calling the API, and whether they may call again: the step around every API
//! read. It answers CORS preflights (any origin may `GET`, never with credentials: the API
//! reads no cookie), resolves a bearer token (a malformed, unknown or revoked one is a
//! `401` problem, never treated as anonymous), counts the request against the token's or
//! the address's allowance (`domain::quota`) and tells the client where it stands in
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` — with `Retry-After` on a
//! `429`.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use domain::{
    model::Viewer,
    quota::{Client, Quota, Standing},
    tokens::{Bearer, Scope},
};

use super::problem::{ApiError, Kind};

static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The caller of one API request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No `Authorization`: anyone, by address.
    Anonymous,
    Token(Bearer),
}

impl Caller {
    /// Who a read is for: `None` for anonymous (what everyone sees, shareable); the token's
    /// owner for a token with the `read` scope.
    pub fn reader(&self) -> Result<Option<Viewer>, ApiError> {
        match self {
            Caller::Anonymous => Ok(None),
            Caller::Token(t) => {
                t.require(Scope::Read)?;
                Ok(Some(t.viewer()))
            }
        }
    }
}

/// The client's address, as the trusted proxies vouch for it.
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

#[derive(Clone)]
pub struct Meter {
    pub db: domain::db::Db,
    pub quota: Arc<Quota>,
    pub proxies: balancer::TrustedProxies,
}

pub async fn meter(State(m): State<Meter>, mut req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        return preflight();
    }
    let address = crate::app_role::session::client_ip(&req, &m.proxies);
    let caller = match req.headers().get(header::AUTHORIZATION) {
        None => Ok(Caller::Anonymous),
        Some(v) => match bearer(v) {
            None => Err(ApiError::new(
                Kind::BadToken,
                "The Authorization header must be `Bearer amb_…`, a personal API token.",
            )),
            Some(token) => match domain::tokens::authenticate(&m.db, token).await {
                Ok(Some(b)) => Ok(Caller::Token(b)),
                Ok(None) => Err(ApiError::new(
                    Kind::BadToken,
                    "That token is unknown or revoked; make one on your account page.",
                )),
                Err(e) => Err(ApiError::from(e)),
            },
        },
    };
    let client = match &caller {
        Ok(Caller::Token(b)) => Client::Token(b.token_id),
        _ => Client::Address(address.clone()),
    };
    let standing = m.quota.take(&client).await;
    let mut res = match caller {
        Err(e) => e.into_response(),
        Ok(_) if !standing.allowed => ApiError::rate_limited(standing.reset_s).into_response(),
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            req.extensions_mut().insert(ClientAddress(address));
            next.run(req).await
        }
    };
    tell(res.headers_mut(), standing);
    cors(res.headers_mut());
    res
}

/// The token of `Bearer <token>`, when the header says that.
fn bearer(v: &HeaderValue) -> Option<&str> {
    let v = v.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with("amb_")).then_some(token)
}

fn tell(h: &mut HeaderMap, s: Standing) {
    h.insert(&RATELIMIT_LIMIT, HeaderValue::from(s.limit));
    h.insert(&RATELIMIT_REMAINING, HeaderValue::from(s.remaining));
    h.insert(&RATELIMIT_RESET, HeaderValue::from(s.reset_s));
}

/// Any origin may read (no credentials: the API reads no cookie), and see the headers a
/// client needs.
pub fn cors(h: &mut HeaderMap) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "ETag, Last-Modified, Link, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset",
        ),
    );
}

fn preflight() -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    cors(h);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, HEAD"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, If-None-Match, If-Modified-Since"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    res
}
