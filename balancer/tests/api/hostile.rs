//! Hostile and broken clients, spoken to over raw TCP: each gets its 4xx or its connection
//! closed, nothing reaches the origin that should not, and everyone else is still served.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{Origin, Reply, TestBalancer, one_pool};

async fn balancer(origin: &Origin) -> TestBalancer {
    let toml = format!(
        "{}max_body_kb = 4\n\n[limits]\nheader_read_timeout_ms = 300\nmax_header_kb = 16\nmax_headers = 40\n",
        one_pool(&[origin], "")
    );
    TestBalancer::start(&toml).await
}

/// Sends raw bytes; returns everything the balancer wrote before closing (or pausing 2 s).
async fn exchange(lb: &TestBalancer, request: &[u8]) -> String {
    let mut s = TcpStream::connect(lb.addr).await.expect("connects");
    // A peer that has stopped reading can make this fail; what it got back is what counts.
    let _ = s.write_all(request).await;
    read_until_closed(&mut s).await
}

async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

async fn still_serves(lb: &TestBalancer) {
    let r = lb.get("/healthy").await;
    assert_eq!(r.status(), 200, "the balancer keeps serving other clients");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_or_too_many_headers_get_431() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let lb = balancer(&origin).await;
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let answer = exchange(&lb, big.as_bytes()).await;
    assert!(status_line(&answer).contains("431"), "{answer}");

    let mut many = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = exchange(&lb, many.as_bytes()).await;
    assert!(status_line(&answer).contains("431"), "{answer}");
    assert_eq!(origin.hits(), 0);
    still_serves(&lb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_its_headers_is_closed() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let lb = balancer(&origin).await;
    let mut slow = TcpStream::connect(lb.addr).await.expect("connects");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("writes");
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut slow).await;
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "closed by the header timeout, not by our patience"
    );
    assert!(
        answer.is_empty() || status_line(&answer).contains("408"),
        "{answer}"
    );
    assert_eq!(origin.hits(), 0);
    still_serves(&lb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_413_declared_or_chunked() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let lb = balancer(&origin).await;
    let declared = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\n{}",
        "a".repeat(10_000)
    );
    let answer = exchange(&lb, declared.as_bytes()).await;
    assert!(status_line(&answer).contains("413"), "{answer}");
    assert_eq!(
        origin.hits(),
        0,
        "refused before anything was sent upstream"
    );

    let chunk = "a".repeat(1000);
    let mut chunked =
        String::from("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..10 {
        chunked.push_str(&format!("3e8\r\n{chunk}\r\n"));
    }
    chunked.push_str("0\r\n\r\n");
    let answer = exchange(&lb, chunked.as_bytes()).await;
    assert!(status_line(&answer).contains("413"), "{answer}");
    still_serves(&lb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_content_length_gets_400() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let lb = balancer(&origin).await;
    for cl in ["abc", "-1", "1, 2", "99999999999999999999999"] {
        let req = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {cl}\r\n\r\nx");
        let answer = exchange(&lb, req.as_bytes()).await;
        assert!(
            status_line(&answer).contains("400"),
            "Content-Length: {cl} → {answer}"
        );
    }
    let twice = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx";
    assert!(status_line(&exchange(&lb, twice).await).contains("400"));
    assert_eq!(origin.hits(), 0);
    still_serves(&lb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_with_content_length_and_transfer_encoding_goes_nowhere() {
    let origin = Origin::spawn(|s| Reply::ok(format!("saw {}", s.path))).await;
    let lb = balancer(&origin).await;
    // CL.TE: a front end trusting Content-Length would forward the smuggled GET as body;
    // one trusting Transfer-Encoding would see a second request. We frame by
    // Transfer-Encoding (RFC 9112 §6.3), then close the connection, so the rest is never read.
    let smuggle = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let answer = exchange(&lb, smuggle).await;
    assert_eq!(
        answer.matches("HTTP/1.1 ").count(),
        1,
        "one request, one answer: {answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    // TE.CL: an obfuscated Transfer-Encoding is refused outright.
    let obfuscated = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked, identity\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\n\r\n0\r\n\r\n";
    let answer = exchange(&lb, obfuscated).await;
    assert!(status_line(&answer).contains("400"), "{answer}");
    assert!(
        origin.seen().iter().all(|s| s.path != "/smuggled"),
        "{:?}",
        origin.seen()
    );
    still_serves(&lb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let toml = format!(
        "{}\n[limits]\nidle_timeout_ms = 300\nheader_read_timeout_ms = 5000\n",
        one_pool(&[&origin], "")
    );
    let lb = TestBalancer::start(&toml).await;
    let mut s = TcpStream::connect(lb.addr).await.expect("connects");
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let started = std::time::Instant::now();
    let answer = read_until_closed(&mut s).await;
    assert!(status_line(&answer).contains("200"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "closed for idleness, not by our patience"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_no_host_or_disagrees_with_the_uri_gets_400() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let lb = balancer(&origin).await;
    for request in [
        // A path smuggled into Host would file the page under another URL's key.
        "GET /catalog HTTP/1.1\r\nHost: site.example/users\r\n\r\n",
        "GET /catalog HTTP/1.1\r\nHost: site.example:80x\r\n\r\n",
        // An absolute URI naming another host than Host: which one is the key?
        "GET http://a.example/catalog HTTP/1.1\r\nHost: b.example\r\n\r\n",
    ] {
        let answer = exchange(&lb, request.as_bytes()).await;
        assert!(
            status_line(&answer).contains("400"),
            "{request:?}: {answer}"
        );
    }
    assert!(origin.seen().is_empty(), "nothing reached the origin");
    // Agreeing absolute-form: the upstream gets the host the key used.
    let answer = exchange(
        &lb,
        b"GET http://a.example/catalog HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status_line(&answer).contains("200"), "{answer}");
    let seen = &origin.seen()[0];
    assert_eq!(
        seen.headers.get("host").and_then(|v| v.to_str().ok()),
        Some("a.example")
    );
    still_serves(&lb).await;
}

/// A body too big to hold is streamed to the upstream; when the client then stalls, the
/// balancer gives up on it (408) without blaming the upstream, which stays in the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_that_stalls_gets_408_and_the_upstream_is_not_blamed() {
    let origin = Origin::spawn(|_| Reply::ok("ok")).await;
    let toml = format!(
        "{}\n[limits]\nrequest_buffer_kb = 1\nmin_request_bytes_per_s = 8192\nrate_window_ms = 1000\n",
        one_pool(&[&origin], "")
    );
    let lb = TestBalancer::start(&toml).await;
    let mut s = TcpStream::connect(lb.addr).await.expect("connects");
    let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    s.write_all(head.as_bytes()).await.expect("head");
    // Past the buffer at once (so it streams), then nothing more.
    s.write_all(&[b'a'; 4096]).await.expect("first bytes");
    let answer = read_until_closed(&mut s).await;
    assert!(status_line(&answer).contains("408"), "{answer}");
    let metrics = lb.metrics().await;
    assert!(
        metrics.contains("balancer_request_bodies_refused_total{reason=\"too_slow\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .filter(|l| l.starts_with("balancer_upstream_failures_total"))
            .all(|l| l.ends_with(" 0")),
        "{metrics}"
    );
    still_serves(&lb).await;
}

/// A flood from one address over its cap: each refused connection would hold a socket for
/// a second of staged closing; past `max_lingering_refusals` they are closed at once, so
/// the flood holds no more sockets than that, and when it stops none are held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_over_the_cap_lingers_no_more_than_its_cap() {
    let origin = Origin::spawn(|_| Reply::ok("fine")).await;
    let toml = format!(
        "{}\n[limits]\nmax_connections_per_client = 1\nmax_lingering_refusals = 4\nheader_read_timeout_ms = 5000\n",
        one_pool(&[&origin], "")
    );
    let lb = TestBalancer::start(&toml).await;
    let mut holder = TcpStream::connect(lb.addr).await.expect("connects");
    holder
        .write_all(b"GET /held HTTP/1.1\r\n")
        .await
        .expect("half a request");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Thirty more, each still sending, none reading: what a staged close would wait out.
    let mut flood = Vec::new();
    for _ in 0..30 {
        let mut s = TcpStream::connect(lb.addr).await.expect("connects");
        let _ = s
            .write_all(b"POST /upload HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
            .await;
        flood.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let gauge = |m: &str| -> u64 {
        m.lines()
            .find_map(|l| l.strip_prefix("balancer_refused_connections_lingering "))
            .and_then(|v| v.trim().parse().ok())
            .expect("the gauge is exported")
    };
    let metrics = lb.metrics().await;
    assert_eq!(gauge(&metrics), 4, "lingering at the cap: {metrics}");
    assert!(metrics.contains("balancer_client_connections_refused_total 30"));
    // The ones closed at once: a write now meets the closed socket.
    let mut closed = 0;
    for s in &mut flood {
        let mut cut = false;
        for _ in 0..4 {
            if s.write_all(&[b'x'; 16 * 1024]).await.is_err() {
                cut = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        closed += usize::from(cut);
    }
    assert!(closed >= 26, "{closed} of 30 closed at once");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        gauge(&lb.metrics().await),
        0,
        "none held once the lingering ran out"
    );
    drop((holder, flood));
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serves(&lb).await;
}

/// An address over its connection cap is told so with a 429 even when it is still sending
/// (an upload's body): the balancer reads and drops what comes after the answer for a
/// moment before closing, so the client meets no reset before it has read the 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_cap_still_sending_reads_its_429() {
    let origin = Origin::spawn(|_| Reply::ok("fine")).await;
    let toml = format!(
        "{}\n[limits]\nmax_connections_per_client = 2\nheader_read_timeout_ms = 5000\n",
        one_pool(&[&origin], "")
    );
    let lb = TestBalancer::start(&toml).await;
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(lb.addr).await.expect("connects");
        s.write_all(b"GET /held HTTP/1.1\r\n")
            .await
            .expect("half a request");
        holders.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut s = TcpStream::connect(lb.addr).await.expect("connects");
    let head = "POST /upload HTTP/1.1\r\nHost: example.org\r\nContent-Length: 1000000\r\n\r\n";
    s.write_all(head.as_bytes())
        .await
        .expect("the request's head");
    let chunk = vec![b'x'; 16 * 1024];
    let mut reset = None;
    for n in 0..10 {
        if let Err(e) = s.write_all(&chunk).await {
            reset = Some(format!("chunk {n}: {e}"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let answer = read_until_closed(&mut s).await;
    assert_eq!(reset, None, "the body was still being taken: {answer:?}");
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 429"),
        "told why: {answer:?}"
    );
    assert_eq!(origin.hits(), 0, "nothing of it reached the origin");
    drop(holders);
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serves(&lb).await;
}
