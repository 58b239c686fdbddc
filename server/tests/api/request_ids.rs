//! One id per request, on both sides of the front door: a replica and a balancer run as the
//! README runs them (processes, their logs on standard output), and for a request through
//! the balancer the balancer's access line and every line the replica writes for it — its
//! request line, a domain service's span, a logged error — carry the id the balancer made,
//! which the answer returns.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use domain::Role;
use reqwest::StatusCode;

use crate::helpers::{Backend, Browser, Site, TestApp, header_of, hidden_field, sample};

/// A process whose standard output goes to a file; killed when dropped.
struct Logged {
    child: Child,
    log: PathBuf,
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Logged {
    fn start(args: &[&str], env: &[(&str, &str)], log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::from(out))
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self {
            child: cmd.spawn().expect("server starts"),
            log,
        }
    }

    /// The lines logged so far that contain `needle`, waiting (10 s at most) for one.
    async fn lines_with(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let found: Vec<String> = text
                .lines()
                .filter(|l| l.contains(needle))
                .map(str::to_owned)
                .collect();
            if !found.is_empty() {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} in {}:\n{text}",
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn answers(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(url)
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "{url} answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ambisonia-request-ids-{name}-{}",
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn line_has_id(line: &str, id: &str) -> bool {
    line.contains(&format!("request_id={id}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_carries_one_id_through_the_balancer_and_the_replica() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let uploader = app.user("ulla", Role::Uploader).await;
    app.user("edith", Role::Editor).await;
    // A recording whose original is missing from the media store (the replica logs an
    // error when it is asked for), and one the editor will delete (a domain span logs it).
    let mut gone = sample("Lost tape", uploader);
    gone.media_key = Some("originals/00/lost.wav".into());
    let (_, gone) = app.recording(gone).await;
    let (_, doomed) = app.recording(sample("Doomed take", uploader)).await;

    let dir = scratch("logs");
    let media: &Path = &dir.join("media");
    let (replica_port, front_port, admin_port) = (free_port(), free_port(), free_port());
    let replica = Logged::start(
        &["--listen", &format!("127.0.0.1:{replica_port}")],
        &[
            ("DATABASE_URL", &app.database_url()),
            ("AMBISONIA_MEDIA_DIR", &media.display().to_string()),
        ],
        dir.join("replica.log"),
    );
    answers(&format!("http://127.0.0.1:{replica_port}/readyz")).await;
    let balancer = Logged::start(
        &[
            "--role",
            "balancer",
            "--listen",
            &format!("127.0.0.1:{front_port}"),
            "--admin-listen",
            &format!("127.0.0.1:{admin_port}"),
            "--upstream",
            &format!("127.0.0.1:{replica_port}"),
        ],
        &[],
        dir.join("balancer.log"),
    );
    answers(&format!("http://127.0.0.1:{front_port}/")).await;
    let front = Site::new(
        format!("http://127.0.0.1:{front_port}"),
        reqwest::Client::builder(),
    );

    // A logged error: the original is missing.
    let res = front
        .get(&format!("/recordings/{gone}/download"), &Browser::default())
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let id = header_of(&res, "x-request-id");
    assert_eq!(id.len(), 16, "the balancer made the id: {id:?}");
    let error = replica
        .lines_with("an object a recording names is missing")
        .await;
    assert!(error.iter().all(|l| line_has_id(l, &id)), "{error:?}");
    assert!(error.iter().all(|l| l.contains("ERROR")), "{error:?}");
    let request = replica
        .lines_with(&format!("path=/recordings/{gone}/download"))
        .await;
    assert!(request.iter().all(|l| line_has_id(l, &id)), "{request:?}");
    let access = balancer
        .lines_with(&format!("path=/recordings/{gone}/download"))
        .await;
    assert!(access.iter().all(|l| line_has_id(l, &id)), "{access:?}");

    // A domain service's span: the editor deletes a recording through its page's form.
    let mut edith = front.login("edith").await;
    let page = format!("/recordings/{doomed}");
    let res = front.get(&page, &edith).await;
    edith.absorb(&res);
    let html = res.text().await.expect("page");
    let token = hidden_field(&html, "csrf").expect("a form token");
    let res = front
        .post_form(
            "/api/delete-recording",
            &page,
            &[("csrf", &token), ("slug", &doomed)],
            &mut edith,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND, "deleted");
    let id = header_of(&res, "x-request-id");
    let deleted = replica.lines_with("recording deleted").await;
    assert!(
        deleted
            .iter()
            .all(|l| line_has_id(l, &id) && l.contains("delete{")),
        "the domain's span, inside the request's: {deleted:?}"
    );
    let request = replica.lines_with("path=/api/delete-recording").await;
    assert!(request.iter().all(|l| line_has_id(l, &id)), "{request:?}");
    let access = balancer.lines_with("path=/api/delete-recording").await;
    assert!(access.iter().all(|l| line_has_id(l, &id)), "{access:?}");

    // A request that arrives with an id of its own (from a trusted proxy) keeps it.
    let direct = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{replica_port}/catalog"))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .expect("GET");
    assert_eq!(header_of(&direct, "x-request-id"), "from-the-proxy-42");
    let catalog = replica.lines_with("request_id=from-the-proxy-42").await;
    assert!(
        catalog.iter().any(|l| l.contains("path=/catalog")),
        "{catalog:?}"
    );

    drop((replica, balancer));
    let _ = std::fs::remove_dir_all(&dir);
}
