//! Who is asking. Before a page or server function runs, this step resolves the session
//! cookie to a viewer (through the replica's read cache; one indexed lookup on a miss, and
//! only when the cookie is there), picks the form token a page's forms must carry — the
//! session's, or the anonymous double-submit cookie's, which this site signed — and works out the client address,
//! and puts all of it into the request as a `RequestContext`. A session cookie that no
//! longer names a login is cleared on the way out. The next step, `csrf`, decides whether
//! a state-changing request may go on.

use std::net::SocketAddr;

use app::ssr::{
    cookies::{self, CSRF_COOKIE, SESSION_COOKIE},
    request::RequestContext,
};
use axum::{
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header::SET_COOKIE},
    middleware::Next,
    response::Response,
};
use domain::{db::Db, sessions, signing};

use super::refusal::Refusal;

#[derive(Clone)]
pub struct Sessions {
    pub db: Db,
    /// Sessions are resolved through this replica's read cache.
    pub bus: std::sync::Arc<domain::bus::Bus>,
    pub secure_cookies: bool,
    pub proxies: balancer::TrustedProxies,
    /// Signs the form tokens of visitors without a session.
    pub form_key: domain::Secret,
}

/// The client's address, as far as the trusted proxies in front vouch for it.
pub(super) fn client_ip(req: &Request, proxies: &balancer::TrustedProxies) -> String {
    let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return String::new();
    };
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    proxies.client_address(peer.ip(), forwarded).to_string()
}

pub async fn resolve(State(s): State<Sessions>, mut req: Request, next: Next) -> Response {
    let session_token = cookies::request_cookie(req.headers(), SESSION_COOKIE).map(str::to_string);
    let viewer = match &session_token {
        Some(token) => match sessions::resolve(&s.bus, &s.db, token).await {
            Ok(v) => v,
            Err(e) => {
                return Refusal::from(e)
                    .with_message(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The site cannot reach its database just now. Please try again in a moment.",
                    )
                    .form_page();
            }
        },
        None => None,
    };
    let stale_session = session_token.is_some() && viewer.is_none();
    // Only a token this site signed: one a script made up for both cookie and field is
    // treated as no token at all (a new one is handed out, and this request's post fails).
    let anon_token = cookies::request_cookie(req.headers(), CSRF_COOKIE)
        .filter(|t| signing::is_anonymous_form_token(&s.form_key, t))
        .map(str::to_string);
    let (csrf, csrf_is_new) = match (&viewer, &anon_token) {
        (Some(v), _) => (v.csrf.clone(), false),
        (None, Some(t)) => (t.clone(), false),
        (None, None) => (signing::anonymous_form_token(&s.form_key), true),
    };
    let context = RequestContext {
        viewer,
        csrf,
        csrf_is_new,
        client_ip: client_ip(&req, &s.proxies),
        secure_cookies: s.secure_cookies,
    };
    req.extensions_mut().insert(context);
    let mut res = next.run(req).await;
    if stale_session
        && let Ok(v) = HeaderValue::from_str(&cookies::clear_session_cookie(s.secure_cookies))
    {
        res.headers_mut().append(SET_COOKIE, v);
    }
    res
}
