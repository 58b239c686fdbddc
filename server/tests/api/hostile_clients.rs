//! The front door as an attacker tries it: the balancer in front of a real app replica,
//! hundreds of hostile connections from a handful of addresses at once — half-sent headers
//! (slowloris), form bodies dribbled a byte at a time, long downloads read a byte at a time,
//! header floods and request smuggling — while an ordinary visitor on another address keeps
//! opening an uncacheable page. Every one of the visitor's answers must be a 200 in under a
//! second, and `/metrics` must say what was refused.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use domain::Role;
use sea_orm::{ActiveModelTrait, Set};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
    task::JoinSet,
};

use crate::{
    front_door::{balancer_with, visitor},
    helpers::{Backend, Browser, TestApp, sample},
};

/// How long the attack lasts; the balancer's windows are shortened to 2 s so that each
/// kind of attacker is cut off several times over.
const ATTACK: Duration = Duration::from_secs(8);
const LIMITS: &str = "[limits]\nheader_read_timeout_ms = 2000\nrate_window_ms = 2000\n";

/// A TCP connection from `127.0.0.N`, with a small receive buffer (a slow reader's window
/// fills at once).
async fn connect_from(n: u8, to: SocketAddr, small_window: bool) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)), 0))
        .ok()?;
    if small_window {
        socket.set_recv_buffer_size(4096).ok()?;
    }
    socket.connect(to).await.ok()
}

/// Everything the server sends until it closes the connection or goes quiet for `quiet`.
async fn read_answer(s: &mut TcpStream, quiet: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(quiet, s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> String {
    answer
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("closed")
        .to_string()
}

/// Headers sent a line every half second, never finished.
async fn slowloris(from: u8, to: SocketAddr) -> String {
    let Some(mut s) = connect_from(from, to, false).await else {
        return "no connection".into();
    };
    let _ = s
        .write_all(format!("GET /login HTTP/1.1\r\nHost: {to}\r\n").as_bytes())
        .await;
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < ATTACK {
        n += 1;
        if s.write_all(format!("X-Slow-{n}: x\r\n").as_bytes())
            .await
            .is_err()
        {
            return "closed".into();
        }
        // The balancer's answer (a 429 for one connection too many) or its close ends this.
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return "closed".into(),
            Ok(Ok(k)) => return status_of(&String::from_utf8_lossy(&buf[..k])),
            Err(_) => {}
        }
    }
    "still open".into()
}

/// A login form that promises 100,000 bytes and sends two a second.
async fn dribbler(from: u8, to: SocketAddr) -> String {
    let Some(mut s) = connect_from(from, to, false).await else {
        return "no connection".into();
    };
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
    );
    if s.write_all(head.as_bytes()).await.is_err() {
        return "closed".into();
    }
    let started = Instant::now();
    while started.elapsed() < ATTACK {
        if s.write_all(b"u").await.is_err() {
            // Refused and reset before its answer could be read.
            return "closed".into();
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return "closed".into(),
            Ok(Ok(k)) => return status_of(&String::from_utf8_lossy(&buf[..k])),
            Err(_) => {}
        }
    }
    "still open".into()
}

/// Asks for the long download and reads 16 bytes every half second through the attack;
/// then reads as fast as it can for a few seconds, to see whether the answer was cut off
/// (what the kernel already held arrives, then the end) or is still flowing.
async fn slow_reader(from: u8, to: SocketAddr, path: String) -> String {
    let Some(mut s) = connect_from(from, to, true).await else {
        return "no connection".into();
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {to}\r\n\r\n");
    if s.write_all(request.as_bytes()).await.is_err() {
        return "closed".into();
    }
    let mut status = String::new();
    let started = Instant::now();
    let mut buf = [0u8; 16];
    while started.elapsed() < ATTACK {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return format!("{status} cut off"),
            Ok(k) => {
                if status.is_empty() {
                    status = status_of(&String::from_utf8_lossy(&buf[..k]));
                    // A refusal is short: read it whole.
                    if status != "200" {
                        return status;
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut drained = 0usize;
    let mut big = vec![0u8; 1 << 16];
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Ok(read) = tokio::time::timeout_at(deadline.into(), s.read(&mut big)).await {
        match read {
            Ok(0) | Err(_) => return format!("{status} cut off"),
            Ok(k) => drained += k,
        }
    }
    format!("{status} still flowing ({drained} bytes drained)")
}

/// 120 headers of 150 bytes: over the header count and the header size at once.
async fn header_flood(from: u8, to: SocketAddr) -> String {
    let Some(mut s) = connect_from(from, to, false).await else {
        return "no connection".into();
    };
    let mut request = format!("GET /login HTTP/1.1\r\nHost: {to}\r\n");
    for n in 0..120 {
        request.push_str(&format!("X-Flood-{n}: {}\r\n", "a".repeat(150)));
    }
    request.push_str("\r\n");
    let _ = s.write_all(request.as_bytes()).await;
    status_of(&read_answer(&mut s, Duration::from_secs(2)).await)
}

/// Each payload hides a second request (`/smuggled`) behind conflicting framing; what comes
/// back must be at most one answer, and nothing for the hidden request.
async fn smuggler(from: u8, to: SocketAddr) -> Vec<String> {
    let hidden = format!("GET /smuggled HTTP/1.1\r\nHost: {to}\r\n\r\n");
    let chunk = format!("x=1&{hidden}");
    let payloads = [
        // CL.TE: the length covers the hidden request, the chunked framing ends before it.
        format!(
            "POST /api/logout HTTP/1.1\r\nHost: {to}\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}",
            5 + hidden.len()
        ),
        // TE.CL: a chunk that holds the hidden request, a length that stops before it.
        format!(
            "POST /api/logout HTTP/1.1\r\nHost: {to}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            chunk.len()
        ),
        // Two lengths.
        format!(
            "POST /api/logout HTTP/1.1\r\nHost: {to}\r\nContent-Length: 3\r\nContent-Length: {}\r\n\r\nx=1{hidden}",
            3 + hidden.len()
        ),
        // A Transfer-Encoding that is not chunked.
        format!(
            "POST /api/logout HTTP/1.1\r\nHost: {to}\r\nTransfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nx=1{hidden}"
        ),
    ];
    let mut out = Vec::new();
    for p in payloads {
        let Some(mut s) = connect_from(from, to, false).await else {
            out.push("no connection".into());
            continue;
        };
        let _ = s.write_all(p.as_bytes()).await;
        out.push(read_answer(&mut s, Duration::from_secs(2)).await);
    }
    out
}

async fn metric(admin: SocketAddr, line_start: &str) -> u64 {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_leave_an_ordinary_visitor_served() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let uploader = app.user("ulrike", Role::Uploader).await;
    let (id, slug) = app.recording(sample("Long Night", uploader)).await;
    // A 16 MiB original in the local media folder: a download long enough to read slowly.
    let key = "originals/00/long-night.wav";
    let file = app.media_dir.join(key);
    std::fs::create_dir_all(file.parent().expect("folder")).expect("media folder");
    std::fs::write(&file, vec![0u8; 16 << 20]).expect("original");
    domain::entities::recordings::ActiveModel {
        id: Set(id),
        media_key: Set(Some(key.into())),
        size_bytes: Set(Some(16 << 20)),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("row");

    let (front, admin) = balancer_with(&app, LIMITS).await;
    let to: SocketAddr = front
        .trim_start_matches("http://")
        .parse()
        .expect("address");

    // The visitor, on 127.0.0.9: an uncacheable page every 100 ms until the attack ends.
    let site = visitor(&front, 9);
    let first = site.get("/login", &Browser::default()).await;
    assert_eq!(first.status(), 200, "served before the attack");
    let stop = Arc::new(AtomicBool::new(false));
    let watching = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Relaxed) {
                let started = Instant::now();
                let res = site.get("/login", &Browser::default()).await;
                let status = res.status().as_u16();
                let cache = crate::helpers::header_of(&res, "x-cache");
                let _ = res.bytes().await;
                seen.push((status, started.elapsed(), cache));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            seen
        })
    };

    let mut slowlorises = JoinSet::new();
    for _ in 0..200 {
        slowlorises.spawn(slowloris(2, to));
    }
    let mut dribblers = JoinSet::new();
    for from in 3..=6 {
        for _ in 0..100 {
            dribblers.spawn(dribbler(from, to));
        }
    }
    let mut readers = JoinSet::new();
    for from in 7..=8 {
        for _ in 0..150 {
            readers.spawn(slow_reader(
                from,
                to,
                format!("/recordings/{slug}/download"),
            ));
        }
    }
    let mut floods = JoinSet::new();
    for _ in 0..50 {
        floods.spawn(header_flood(10, to));
    }
    let smuggled = tokio::spawn(smuggler(11, to));

    let slowlorises = slowlorises.join_all().await;
    let dribblers = dribblers.join_all().await;
    let floods = floods.join_all().await;
    let smuggled = smuggled.await.expect("smuggler");
    let readers = readers.join_all().await;
    stop.store(true, Relaxed);
    let seen = watching.await.expect("visitor");

    // The visitor was answered all along, quickly, from the app (not from a cache).
    assert!(seen.len() >= 40, "the visitor kept asking: {}", seen.len());
    for (n, (status, took, cache)) in seen.iter().enumerate() {
        assert_eq!(*status, 200, "visitor request {n} ({took:?})");
        assert!(
            *took < Duration::from_secs(1),
            "visitor request {n} took {took:?}"
        );
        assert_ne!(cache, "HIT", "the page is uncacheable");
    }

    // What each attacker got.
    let count = |answers: &[String], what: &str| answers.iter().filter(|a| *a == what).count();
    assert_eq!(
        count(&slowlorises, "still open"),
        0,
        "every half-sent header was cut off: {slowlorises:?}"
    );
    assert!(
        count(&slowlorises, "429") > 0,
        "one address gets only so many connections"
    );
    // Each dribbler got its 408, or — still sending when the balancer closed — a reset
    // before it could read it.
    assert!(
        dribblers.iter().all(|a| a == "408" || a == "closed"),
        "every dribbled body was refused: {:?}",
        dribblers
            .iter()
            .filter(|a| *a != "408" && *a != "closed")
            .collect::<Vec<_>>()
    );
    assert!(count(&dribblers, "408") > 0, "{dribblers:?}");
    assert_eq!(count(&floods, "431"), floods.len(), "{floods:?}");
    assert!(
        readers.iter().all(|r| r == "429" || r == "200 cut off"),
        "every slow reader was cut off or refused: {:?}",
        readers
            .iter()
            .filter(|r| *r != "429" && *r != "200 cut off")
            .collect::<Vec<_>>()
    );
    assert!(readers.iter().any(|r| r == "200 cut off"));
    for answer in &smuggled {
        assert!(
            answer.matches("HTTP/1.1 ").count() <= 1,
            "one request, at most one answer: {answer}"
        );
        assert!(!answer.contains("smuggled"), "{answer}");
    }

    // And /metrics says so.
    let too_slow = metric(
        admin,
        "balancer_request_bodies_refused_total{reason=\"too_slow\"}",
    )
    .await;
    assert!(
        too_slow >= count(&dribblers, "408") as u64,
        "every 408 is counted: {too_slow}"
    );
    for (metric_line, what) in [
        ("balancer_slow_readers_closed_total", "slow readers"),
        (
            "balancer_client_connections_refused_total",
            "connections over the cap",
        ),
    ] {
        assert!(metric(admin, metric_line).await > 0, "{what} are counted");
    }
}
