//! HTTP/2 and TLS from clients, spoken by curl (an independent client): h2c with prior
//! knowledge, and TLS with ALPN choosing h2 or http/1.1, from certificate files.

use std::process::Command;

use balancer::config::{Tls, TlsFiles};

use super::{Origin, Reply, TestBalancer, one_pool};

/// Runs curl and returns "<http version> <status> <x-cache>".
async fn curl(args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code} %header{x-cache}",
            ])
            .args(&args)
            .output()
            .expect("curl runs (apt-get install curl)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge_is_served_and_cached() {
    let origin =
        Origin::spawn(|_| Reply::ok("hello").with("cache-control", "public, s-maxage=60")).await;
    let lb = TestBalancer::start(&one_pool(&[&origin], "")).await;
    let url = lb.url("/page");
    assert_eq!(
        curl(vec!["--http2-prior-knowledge".into(), url.clone()]).await,
        "2 200 MISS"
    );
    assert_eq!(
        curl(vec!["--http2-prior-knowledge".into(), url.clone()]).await,
        "2 200 HIT"
    );
    assert_eq!(curl(vec!["--http1.1".into(), url]).await, "1.1 200 HIT");
    assert_eq!(origin.hits(), 1);
    let host = origin.seen()[0]
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        host,
        Some(lb.addr.to_string()),
        "an HTTP/2 :authority reaches the app as Host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_terminates_with_certificate_files_for_http2_and_http1() {
    let dir = std::env::temp_dir().join(format!("ambisonia-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let origin = Origin::spawn(|_| Reply::ok("secure")).await;
    let mut settings = super::settings(&one_pool(&[&origin], ""));
    settings.tls = Some(Tls::Files(TlsFiles {
        cert: cert.clone(),
        key,
    }));
    let lb = TestBalancer::with(settings).await;
    let url = format!("https://localhost:{}/", lb.addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", lb.addr.port());
    let base = vec![
        "--cacert".to_string(),
        cert.display().to_string(),
        "--resolve".into(),
        resolve,
    ];
    let h2 = curl([base.clone(), vec!["--http2".into(), url.clone()]].concat()).await;
    assert_eq!(h2, "2 200 MISS");
    let h1 = curl([base, vec!["--http1.1".into(), url.clone()]].concat()).await;
    assert_eq!(h1, "1.1 200 MISS");
    let proto = origin.seen()[0]
        .headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    assert_eq!(proto.as_deref(), Some("https"));
    // Plain HTTP to the TLS port gets nothing served.
    let plain = curl(vec![format!("http://127.0.0.1:{}/", lb.addr.port())]).await;
    assert!(plain.starts_with("0 000"), "{plain}");
    let _ = std::fs::remove_dir_all(&dir);
}
