//! The app role's request pipeline, in the order a request meets it.
//!
//! Every request:
//!
//! 1. `health::close_while_draining` — while the replica drains, each answer closes its
//!    connection, so the balancer's next request goes to another replica;
//! 2. the request id — the balancer's `X-Request-Id` is kept, or one is made;
//! 3. the request span — every log line of the request, the domain's spans and the tasks
//!    Leptos spawns for it included, carries that id (so does the balancer's access line);
//! 4. the id returned on the response;
//! 5. `request_log` — one line per request, with the cause of a failure on our side, and
//!    its route, status and duration counted for `/metrics`;
//! 6. `changed_pages` — what the request's writes changed, for the balancer to purge;
//! 7. `page_headers` — the security headers.
//!
//! Then the routes that need nothing more (health, assets, the token-authenticated upload
//! API, Stripe's signed webhook), and, for pages and their forms only:
//!
//! 8. `conditional` — validators (`ETag`, `Last-Modified`) on what a shared cache may
//!    keep, and `304` when the client's copy is current;
//! 9. `cache_policy` — the last word on whether a shared cache may keep the answer;
//! 10. `read_your_writes` — after a write, where the primary's log stood;
//! 11. `session` — who is asking (the session cookie, the form token, the client address);
//! 12. `csrf` — may they post this (same origin, the right form token), else 403;
//! 13. `form_errors` — a form error sent back to its form is signed;
//!
//! and then Leptos: the page, or the server function a form posted to.

use std::{future::Future, pin::Pin, sync::Arc};

use axum::{
    Router,
    extract::Request,
    middleware::{from_fn, from_fn_with_state},
};
use contract::header::X_REQUEST_ID;
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing::Instrument;

use super::{
    cache_policy, changed_pages, conditional, csrf, form_errors, health, page_headers,
    read_your_writes, request_log, session,
};

/// What the steps for every request need.
pub struct Outer {
    pub draining: Arc<std::sync::atomic::AtomicBool>,
    pub counters: Arc<super::metrics::Counters>,
    pub bus: Arc<domain::bus::Bus>,
    pub page_headers: page_headers::PageHeaders,
}

/// What the steps for pages need.
pub struct Pages {
    pub routing: read_your_writes::Routing,
    pub sessions: session::Sessions,
    pub form_tokens: csrf::FormTokens,
    pub form_error_key: domain::Secret,
}

/// Steps 1–7 around the whole router.
pub fn every_request(router: Router, s: Outer) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(s.draining, health::close_while_draining))
            .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), NewRequestId))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(())
                    .on_body_chunk(())
                    .on_eos(())
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
            .layer(from_fn_with_state(s.counters, request_log::log))
            .layer(from_fn_with_state(s.bus, changed_pages::name))
            .layer(from_fn_with_state(s.page_headers, page_headers::apply)),
    )
}

/// Steps 8–13 around the pages and their forms.
pub fn pages<S: Clone + Send + Sync + 'static>(router: Router<S>, s: Pages) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .layer(from_fn(conditional::validate))
            .layer(from_fn(cache_policy::apply))
            .layer(from_fn_with_state(s.routing, read_your_writes::remember))
            .layer(from_fn_with_state(s.sessions, session::resolve))
            .layer(from_fn_with_state(s.form_tokens, csrf::check))
            .layer(from_fn_with_state(s.form_error_key, form_errors::sign)),
    )
}

/// The span every line of a request is written in: its id (the balancer's, or ours),
/// method and path (never the query, which may hold what a person typed).
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    )
}

/// A request id like the balancer's: 16 hex digits.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &http::Request<B>) -> Option<RequestId> {
        let n: u64 = rand::random();
        http::HeaderValue::from_str(&format!("{n:016x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// Leptos spawns the loading of a page's data as tasks of their own; this executor carries
/// the spawning request's span into them, so their lines carry its id too. Set once per
/// process, before Leptos would set its plain Tokio one.
pub fn carry_spans_into_leptos_tasks() {
    let _ = any_spawner::Executor::init_custom_executor(InSpan);
}

struct InSpan;

impl any_spawner::CustomExecutor for InSpan {
    fn spawn(&self, fut: Pin<Box<dyn Future<Output = ()> + Send>>) {
        tokio::spawn(fut.instrument(tracing::Span::current()));
    }

    fn spawn_local(&self, fut: Pin<Box<dyn Future<Output = ()>>>) {
        tokio::task::spawn_local(fut.instrument(tracing::Span::current()));
    }

    fn poll_local(&self) {}
}
