//! Replicas as processes behind the balancer, as a deployment runs them: `kill -9` of one
//! under load fails no GET (the balancer retries a request that got no answer byte on the
//! other replica), and a rolling restart — SIGTERM, the replica drains (`/readyz` fails,
//! answers close their connections) and stops, a new one starts on its port — fails no
//! request of any kind, GET or POST.

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use domain::Role;
use reqwest::StatusCode;

use crate::helpers::{Backend, Browser, Site, TestApp};

struct Replica {
    port: u16,
    child: Child,
}

/// A failing test must not leave its replicas running: they would keep the database busy
/// and hold the test's output pipe open (whoever reads it then waits forever).
impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start(app: &TestApp, port: u16, media: &std::path::Path) -> Replica {
    let child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", app.database_url())
        .env("AMBISONIA_MEDIA_DIR", media)
        .env("AMBISONIA_DRAIN_S", "1")
        .env("AMBISONIA_SHUTDOWN_GRACE", "5")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("server starts");
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
    {
        assert!(
            Instant::now() < deadline,
            "replica on {port} ready within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Replica { port, child }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Requests through the balancer until `stop`: logged-in GETs (which no cache answers) and
/// every tenth a comment (a POST); (sent, failed) and the failures' descriptions.
fn load(
    front: Site,
    browser: Browser,
    token: String,
    slug: String,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<Vec<String>> {
    tokio::spawn(async move {
        let mut failures = Vec::new();
        let mut browser = browser;
        let page = format!("/recordings/{slug}");
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            sent.fetch_add(1, Ordering::Relaxed);
            let status = if i.is_multiple_of(10) {
                let body = format!("Still here, {i}.");
                front
                    .post_form(
                        "/api/comment",
                        &page,
                        &[
                            ("csrf", &token),
                            ("slug", &slug),
                            ("title", ""),
                            ("body", &body),
                        ],
                        &mut browser,
                    )
                    .await
                    .status()
            } else {
                front.get(&page, &browser).await.status()
            };
            if status != StatusCode::OK && status != StatusCode::FOUND {
                failures.push(format!("request {i}: {status}"));
            }
        }
        failures
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_fails_no_get_and_a_rolling_restart_fails_no_request() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let paul = app.user("paul", Role::Uploader).await;
    let (_, slug) = app.recording(crate::helpers::sample("Harbour", paul)).await;
    app.user("lena", Role::Listener).await;
    let media = app.media_dir.clone();
    let ports = [free_port(), free_port()];
    let mut replicas = Vec::new();
    for port in ports {
        replicas.push(start(&app, port, &media).await);
    }
    let upstreams = ports
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        "[pools.app]\nupstreams = [{upstreams}]\n\n[pools.app.health]\ninterval_ms = 100\nfall = 2\nrise = 1\n\n[[routes]]\nprefix = \"/\"\npool = \"app\"\n"
    );
    let any = "127.0.0.1:0".parse().expect("address");
    let settings = balancer::Settings::from_toml(&toml, any, any).expect("settings");
    let front = balancer::Balancer::bind(settings).await.expect("balancer");
    let base = format!("http://{}", front.local_addr());
    tokio::spawn(front.run_until(std::future::pending()));
    let site = || Site::new(base.clone(), reqwest::Client::builder());
    let mut lena = site().login("lena").await;
    let token = site()
        .form_token(&format!("/recordings/{slug}"), &mut lena)
        .await;

    // kill -9 under load: GETs only.
    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let gets = {
        let (front, browser, stop, sent, page) = (
            site(),
            lena.clone(),
            Arc::clone(&stop),
            Arc::clone(&sent),
            format!("/recordings/{slug}"),
        );
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                let status = front.get(&page, &browser).await.status();
                if status != StatusCode::OK {
                    failures.push(status.to_string());
                }
            }
            failures
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    replicas[0].child.kill().expect("kill -9");
    let _ = replicas[0].child.wait();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let failures = gets.await.expect("load");
    eprintln!(
        "kill -9: {} GETs, {} failed",
        sent.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "no GET fails when a replica dies: {failures:?}"
    );
    replicas[0] = start(&app, ports[0], &media).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A rolling restart under load: GETs and POSTs.
    let (stop, sent) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let traffic = load(
        site(),
        lena.clone(),
        token,
        slug.clone(),
        Arc::clone(&stop),
        Arc::clone(&sent),
    );
    for (i, replica) in replicas.iter_mut().enumerate() {
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(&replica.child, "-TERM");
        let exited = replica.child.wait().expect("exit");
        assert!(exited.success(), "replica {i} stopped cleanly: {exited}");
        *replica = start(&app, replica.port, &media).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let failures = traffic.await.expect("load");
    eprintln!(
        "rolling restart: {} requests, {} failed",
        sent.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "no request fails in a rolling restart: {failures:?}"
    );
}
