//! A stand-in origin for `scripts/bench-balancer`: answers every request with the same page
//! (`--body-kb`, default 20) and `Cache-Control` (`--cache-control`), after `--delay-ms`
//! (default 0). Not part of the product; it exists so the balancer and Varnish are measured
//! in front of the same, predictable upstream.
//!
//!   cargo run --release -p server --example bench_origin -- --listen 127.0.0.1:9000

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 9000).into();
    let (mut delay_ms, mut body_kb) = (0u64, 20usize);
    let mut cache_control = String::from("public, max-age=0, s-maxage=60");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = value.parse().map_err(|e| format!("--listen: {e}"))?,
            "--delay-ms" => delay_ms = value.parse().map_err(|e| format!("--delay-ms: {e}"))?,
            "--body-kb" => body_kb = value.parse().map_err(|e| format!("--body-kb: {e}"))?,
            "--cache-control" => cache_control = value,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let mut page = String::from("<!doctype html><html><body><h1>Ambisonia</h1>");
    while page.len() < body_kb * 1024 - 16 {
        page.push_str("<p>a recording in the round</p>");
    }
    page.push_str("</body></html>");
    let body = Bytes::from(page);
    let cc = HeaderValue::from_str(&cache_control).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(listen).await.map_err(|e| e.to_string())?;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (body, cc) = (body.clone(), cc.clone());
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let (body, cc) = (body.clone(), cc.clone());
                async move {
                    if delay_ms > 0 && req.uri().path() != "/readyz" {
                        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    }
                    let mut resp = Response::new(Full::new(body));
                    resp.headers_mut().insert(header::CACHE_CONTROL, cc);
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
