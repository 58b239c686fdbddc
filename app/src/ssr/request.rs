//! Facts about the current request that the `server` crate's middleware works out once
//! (who is logged in, the form token, the client's address) and puts into the request's
//! extensions, where Leptos renders and server functions read them.

use http::{HeaderValue, header::SET_COOKIE, request::Parts};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use domain::model::Viewer;

use crate::ssr::cookies;

#[derive(Debug, Clone)]
pub struct RequestContext {
    pub viewer: Option<Viewer>,
    /// The token a form on this page must carry: the session's for a logged-in visitor,
    /// otherwise the one in the anonymous `ambisonia_csrf` cookie.
    pub csrf: String,
    /// The anonymous token was made for this request, so the cookie must be set.
    pub csrf_is_new: bool,
    pub client_ip: String,
    pub secure_cookies: bool,
}

pub fn request_context() -> Option<RequestContext> {
    use_context::<Parts>().and_then(|parts| parts.extensions.get::<RequestContext>().cloned())
}

pub fn viewer() -> Option<Viewer> {
    request_context().and_then(|c| c.viewer)
}

/// The token for a form on the page being rendered. For an anonymous visitor this sets the
/// token cookie, which also makes the page uncacheable (a response with `Set-Cookie` is
/// never stored by the balancer), as a page with a per-visitor form must be.
pub fn form_token() -> String {
    let Some(ctx) = request_context() else {
        return String::new();
    };
    if ctx.csrf_is_new
        && let Some(res) = use_context::<ResponseOptions>()
        && let Ok(value) =
            HeaderValue::from_str(&cookies::csrf_cookie(&ctx.csrf, ctx.secure_cookies))
    {
        res.append_header(SET_COOKIE, value);
    }
    ctx.csrf
}
