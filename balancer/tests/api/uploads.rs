//! Long uploads through the front door: the answer's deadline is counted from the end of the
//! request body, so an upload that takes longer than the route's timeout to send — slow but
//! moving — is answered; an upstream that stops taking a body, or answers too long after
//! it, is still a 504.

use std::time::Duration;

use bytes::Bytes;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::{Origin, Reply, TestBalancer, one_pool};

/// Routes with a 1 s answer timeout; bodies over 1 KiB stream (so the upstream is chosen
/// while the body is still arriving).
fn toml(origins: &[&Origin], pool_extra: &str) -> String {
    one_pool(origins, pool_extra).replace(
        "pool = \"app\"\n",
        "pool = \"app\"\ntimeout_ms = 1000\nmax_body_kb = 1048576\n",
    ) + "\n[limits]\nrequest_buffer_kb = 1\n"
}

/// A body sent in `chunks` pieces of `size` bytes, `gap` apart.
fn slow_body(chunks: usize, size: usize, gap: Duration) -> reqwest::Body {
    let stream = futures::stream::unfold(0, move |n| async move {
        if n == chunks {
            return None;
        }
        if n > 0 {
            tokio::time::sleep(gap).await;
        }
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; size])),
            n + 1,
        ))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_slower_than_the_timeout_but_moving_is_answered() {
    let origin = Origin::spawn(|_| Reply::ok("taken")).await;
    let lb = TestBalancer::start(&toml(&[&origin], "")).await;
    // 3.2 s to send (16 KiB/s: well above the 1 KiB/s minimum), the timeout is 1 s.
    let started = std::time::Instant::now();
    let res = lb
        .http
        .post(lb.url("/api/v1/recordings"))
        .body(slow_body(9, 8 * 1024, Duration::from_millis(400)))
        .send()
        .await
        .expect("answered");
    assert!(started.elapsed() > Duration::from_secs(3));
    assert_eq!(res.status(), 200, "not a 504");
    assert_eq!(res.text().await.unwrap_or_default(), "taken");
    assert_eq!(origin.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_later_than_the_timeout_after_the_body_is_a_504() {
    let origin = Origin::spawn(|_| Reply::ok("late").after(Duration::from_millis(1500))).await;
    let lb = TestBalancer::start(&toml(&[&origin], "")).await;
    let res = lb
        .http
        .post(lb.url("/api/v1/recordings"))
        .body(slow_body(3, 8 * 1024, Duration::from_millis(400)))
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status(), 504);
}

/// An upstream that takes the request's head and then stops reading its body.
async fn deaf_upstream() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            let mut head = [0u8; 1024];
            let _ = s.read(&mut head).await;
            held.push(s);
        }
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_stops_taking_the_body_is_a_504() {
    let (addr, _deaf) = deaf_upstream().await;
    let toml = format!(
        "[pools.app]\nupstreams = [\"{addr}\"]\n[pools.app.health]\nenabled = false\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\ntimeout_ms = 1000\nmax_body_kb = 1048576\n\n[limits]\nrequest_buffer_kb = 1\n"
    );
    let lb = TestBalancer::start(&toml).await;
    let mut s = TcpStream::connect(lb.addr).await.expect("connects");
    let size: usize = 256 << 20;
    let head = format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
    s.write_all(head.as_bytes()).await.expect("head");
    let (mut read, mut write) = s.into_split();
    // Writes as fast as the balancer takes them, until it stops taking (the socket buffers
    // between it and the deaf upstream are full) or answers.
    let writer = tokio::spawn(async move {
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..(size / chunk.len()) {
            if write.write_all(&chunk).await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        assert!(
            std::time::Instant::now() < deadline,
            "an answer within 20 s"
        );
        match tokio::time::timeout(Duration::from_secs(20), read.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    writer.abort();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 504"), "{text}");
}
