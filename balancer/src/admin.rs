//! The admin listener (loopback by default): `/metrics` for Prometheus, `/upstreams` to see
//! the pools, and `POST /upstreams/HOST:PORT/drain` (or `/undrain`) to take a replica out of
//! rotation before restarting it: it gets no new requests and finishes what it has. Every
//! one of them asks for `Authorization: Bearer $AMBISONIA_ADMIN_TOKEN` when that is set (the
//! pools and counters tell an attacker where the replicas are and how busy), and it must be
//! set for an admin listener that is not on loopback.

use std::{convert::Infallible, sync::Arc};

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::{body::Body, pages, proxy::Shared};

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let live = shared.live();
    // Without a token the listener is loopback (settings refuse otherwise).
    let allowed = match &live.settings.admin_token {
        None => true,
        Some(t) => t.admits(req.headers()),
    };
    let path = req.uri().path();
    let resp = match (req.method(), path) {
        _ if !allowed => {
            let mut resp = pages::error(StatusCode::UNAUTHORIZED, None);
            resp.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer realm=\"ambisonia-admin\""),
            );
            resp
        }
        (&Method::GET, "/metrics") => {
            let body = shared.metrics.render(
                &shared.cache,
                &shared.clients,
                live.pools.values().map(Arc::as_ref),
                shared.acme.get().map(Arc::as_ref),
            );
            pages::text(StatusCode::OK, "text/plain; version=0.0.4", body)
        }
        (&Method::GET, "/upstreams") => {
            let mut out = String::from("pool\tupstream\tin_flight\thealthy\tdraining\tejected\n");
            for pool in live.pools.values() {
                for u in &pool.upstreams {
                    out.push_str(&format!(
                        "{}\t{}\t{}\t{}\t{}\t{}\n",
                        pool.name,
                        u.authority,
                        u.in_flight(),
                        u.is_healthy(),
                        u.is_draining(),
                        u.is_ejected()
                    ));
                }
            }
            pages::text(StatusCode::OK, "text/plain; charset=utf-8", out)
        }
        (&Method::POST, p) if p.starts_with("/upstreams/") => {
            let rest = &p["/upstreams/".len()..];
            let action = rest.rsplit_once('/');
            match action {
                Some((authority, verb @ ("drain" | "undrain"))) => {
                    let found: Vec<_> = live
                        .pools
                        .values()
                        .filter_map(|p| p.find(authority))
                        .collect();
                    if found.is_empty() {
                        pages::error(StatusCode::NOT_FOUND, None)
                    } else {
                        for u in &found {
                            u.set_draining(verb == "drain");
                        }
                        tracing::warn!(
                            upstream = authority,
                            draining = verb == "drain",
                            "upstream drain changed by admin"
                        );
                        let in_flight: usize = found.iter().map(|u| u.in_flight()).sum();
                        pages::text(
                            StatusCode::OK,
                            "application/json",
                            format!(
                                "{{\"upstream\":\"{authority}\",\"draining\":{},\"in_flight\":{in_flight}}}\n",
                                verb == "drain"
                            ),
                        )
                    }
                }
                _ => pages::error(StatusCode::NOT_FOUND, None),
            }
        }
        _ => pages::error(StatusCode::NOT_FOUND, None),
    };
    Ok(resp)
}
