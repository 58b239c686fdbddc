//! Active health checks: every upstream is asked `GET /readyz` (or the pool's path) on an
//! interval; it leaves the rotation after `fall` failures in a row and returns after `rise`
//! passes in a row, so one slow answer does not flap it (pingora's `health_check.rs`).

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

use super::pool::Upstream;

/// Starts the checking task of one upstream. It ends when the upstream is dropped (a reload
/// removed it), so each upstream has exactly one checker however often the pool is rebuilt.
pub fn spawn(upstream: &Arc<Upstream>) {
    let weak: Weak<Upstream> = Arc::downgrade(upstream);
    tokio::spawn(async move {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        // No pooling: a check should see what a new connection sees.
        let client: Client<HttpConnector, Empty<bytes::Bytes>> =
            Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(http);
        let (mut passes, mut fails) = (0u32, 0u32);
        loop {
            let Some(up) = weak.upgrade() else { return };
            let settings = match up.health.lock() {
                Ok(h) => h.clone(),
                Err(_) => return,
            };
            let Some(path) = settings.path.clone() else {
                // Checks off: trust passive ejection alone.
                up.set_healthy(true);
                drop(up);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let ok = check(&client, &up.authority, &path, settings.timeout).await;
            if ok {
                passes += 1;
                fails = 0;
            } else {
                fails += 1;
                passes = 0;
            }
            let verdict = if !up.is_healthy() && passes >= settings.rise {
                Some(true)
            } else if up.is_healthy() && fails >= settings.fall {
                Some(false)
            } else {
                None
            };
            if let Some(healthy) = verdict
                && up.set_healthy(healthy)
            {
                tracing::warn!(upstream = %up.authority, healthy, "upstream health changed");
            }
            drop(up);
            tokio::time::sleep(settings.interval).await;
        }
    });
}

async fn check(
    client: &Client<HttpConnector, Empty<bytes::Bytes>>,
    authority: &str,
    path: &str,
    timeout: Duration,
) -> bool {
    let Ok(uri) = format!("http://{authority}{path}").parse::<Uri>() else {
        return false;
    };
    let Ok(req) = Request::get(uri)
        .header("user-agent", "ambisonia-balancer-health")
        .body(Empty::new())
    else {
        return false;
    };
    let attempt = async {
        let resp = client.request(req).await.ok()?;
        let status = resp.status();
        // Read the body so the answer is complete, not just its headers.
        resp.into_body().collect().await.ok()?;
        Some(status)
    };
    matches!(
        tokio::time::timeout(timeout, attempt).await,
        Ok(Some(s)) if s.is_success() || s == StatusCode::NO_CONTENT
    )
}
