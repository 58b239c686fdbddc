//! The plain-HTTP listener beside TLS (`http_listen`, port 80): the CA's HTTP-01 challenge
//! requests (`/.well-known/acme-challenge/TOKEN`) get their key authorization; every other
//! request is sent to the same path over HTTPS with a permanent redirect (308, so that a
//! form's POST stays a POST). Nothing here reaches a replica, reads a cookie or a body.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::watch};

use super::{acme::Acme, body::Body, pages};

const CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

/// What the listener needs: the ACME client (none with certificate files), the host names
/// the site answers to (ACME's; empty with certificate files), and the HTTPS listener's
/// port.
pub struct Redirects {
    pub acme: Option<Arc<Acme>>,
    /// The first is used when a request names no host of these.
    pub hosts: Vec<String>,
    pub https_port: u16,
}

impl Redirects {
    /// `https://HOST[:PORT]PATH?QUERY` for a request to `host` — one of the site's hosts
    /// when they are known (ACME's), else the host asked for (as a web server's usual
    /// `https://$host$request_uri`).
    fn location(&self, host: Option<&str>, path_and_query: &str) -> Option<String> {
        let asked = host
            .map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
            .map(str::to_ascii_lowercase)
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            });
        let host = if self.hosts.is_empty() {
            asked?
        } else {
            asked
                .filter(|h| self.hosts.iter().any(|known| known == h))
                .or_else(|| self.hosts.first().cloned())?
        };
        let port = match self.https_port {
            443 => String::new(),
            p => format!(":{p}"),
        };
        Some(format!("https://{host}{port}{path_and_query}"))
    }

    async fn answer(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path();
        if let Some(token) = path.strip_prefix(CHALLENGE_PREFIX) {
            let found = match (&self.acme, req.method()) {
                (Some(acme), &Method::GET | &Method::HEAD) => acme.key_authorization(token).await,
                _ => None,
            };
            return match found {
                Some(answer) => pages::text(StatusCode::OK, "application/octet-stream", answer),
                None => pages::error(StatusCode::NOT_FOUND, None),
            };
        }
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().host());
        let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
        match self
            .location(host, path_and_query)
            .and_then(|l| HeaderValue::from_str(&l).ok())
        {
            Some(location) => {
                let mut resp = pages::text(
                    StatusCode::PERMANENT_REDIRECT,
                    "text/plain; charset=utf-8",
                    "This site is served over HTTPS.\n".to_owned(),
                );
                resp.headers_mut().insert(header::LOCATION, location);
                resp
            }
            None => pages::error(StatusCode::BAD_REQUEST, None),
        }
    }
}

/// Serves `listener` until `stop` turns true.
pub async fn serve(
    listener: TcpListener,
    redirects: Arc<Redirects>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)): std::io::Result<(_, SocketAddr)> = accepted else {
            continue;
        };
        let redirects = Arc::clone(&redirects);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let redirects = Arc::clone(&redirects);
                async move { Ok::<_, Infallible>(redirects.answer(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::Redirects;

    #[test]
    fn redirects_only_to_the_sites_own_hosts() {
        let r = Redirects {
            acme: None,
            hosts: vec!["ambisonia.org".into(), "www.ambisonia.org".into()],
            https_port: 443,
        };
        assert_eq!(
            r.location(Some("www.ambisonia.org"), "/catalog?q=rain")
                .as_deref(),
            Some("https://www.ambisonia.org/catalog?q=rain")
        );
        assert_eq!(
            r.location(Some("WWW.Ambisonia.org:80"), "/").as_deref(),
            Some("https://www.ambisonia.org/")
        );
        assert_eq!(
            r.location(Some("evil.example"), "/x").as_deref(),
            Some("https://ambisonia.org/x"),
            "never to a host the client names"
        );
        let r = Redirects {
            https_port: 8443,
            ..r
        };
        assert_eq!(
            r.location(None, "/").as_deref(),
            Some("https://ambisonia.org:8443/")
        );
    }
}
