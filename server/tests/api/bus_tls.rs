//! The bus as the fleet runs it (`deploy/`): Redis over TLS (`rediss://`) with a password,
//! as ElastiCache with transit encryption and an AUTH token is reached. The replicas run as
//! processes, as deployed: each trusts the test's own certificate authority through
//! `SSL_CERT_FILE`, as a host trusts the one that signed its Redis. A replica that does not
//! trust it, or has the wrong password, never talks to that Redis — and still serves from
//! the database.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp};

const PASSWORD: &str = "correct horse battery staple";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A certificate authority of the test's own and a certificate it signed for `localhost`:
/// (the authority's PEM file, the server's certificate and key files).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Ambisonia test CA");
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("CA certificate");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("parameters");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = leaf.signed_by(&leaf_key, &ca).expect("certificate");
    let paths = (
        dir.join("ca.pem"),
        dir.join("redis.pem"),
        dir.join("redis.key"),
    );
    std::fs::create_dir_all(dir).expect("a folder");
    std::fs::write(&paths.0, ca.pem()).expect("CA file");
    std::fs::write(&paths.1, leaf.pem()).expect("certificate file");
    std::fs::write(&paths.2, leaf_key.serialize_pem()).expect("key file");
    (paths.0, paths.1, paths.2)
}

/// A process killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `redis-server` answering only TLS on `port`, asking for `PASSWORD`.
fn redis_tls(port: u16, cert: &Path, key: &Path, ca: &Path) -> Process {
    let redis = Process(
        Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--tls-cert-file")
            .arg(cert)
            .arg("--tls-key-file")
            .arg(key)
            .arg("--tls-ca-cert-file")
            .arg(ca)
            .args(["--tls-auth-clients", "no", "--requirepass", PASSWORD])
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return redis;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redis-server with TLS did not start on {port}");
}

/// A replica process on `app`'s database with the bus on `redis_url`, trusting `ca` if
/// given (else only the system's authorities); its metrics listener's port.
async fn replica(app: &TestApp, redis_url: &str, ca: Option<&Path>, log: &Path) -> (Process, u16) {
    let (port, metrics) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--metrics-listen", &format!("127.0.0.1:{metrics}")])
        .env("DATABASE_URL", app.database_url())
        .env("AMBISONIA_MEDIA_DIR", &app.media_dir)
        .env("REDIS_URL", redis_url)
        .env("RUST_LOG", "warn")
        .env_remove("SSL_CERT_FILE")
        .stderr(Stdio::null());
    // The log is written to standard output.
    command.stdout(std::fs::File::create(log).expect("a log file"));
    if let Some(ca) = ca {
        command.env("SSL_CERT_FILE", ca);
    }
    let child = Process(command.spawn().expect("server starts"));
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(&ready)
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "replica on {port} ready in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, metrics)
}

/// The replica's `ambisonia_bus_transport_up{transport="redis"}`, once it has had `wait` to
/// connect (1 or 0).
async fn redis_up(metrics: u16, wait: Duration) -> f64 {
    let deadline = Instant::now() + wait;
    loop {
        let text = reqwest::get(format!("http://127.0.0.1:{metrics}/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .unwrap_or_default();
        let up = text
            .lines()
            .find_map(|l| l.strip_prefix("ambisonia_bus_transport_up{transport=\"redis\"} "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .expect("the bus's transport is Redis");
        if up == 1.0 || Instant::now() >= deadline {
            return up;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The clients connected to the Redis, as it lists them (each replica holds some).
fn clients(port: u16, ca: &Path) -> usize {
    let out = Command::new("redis-cli")
        .args(["--tls", "-h", "localhost", "-p", &port.to_string()])
        .arg("--cacert")
        .arg(ca)
        .args(["--no-auth-warning", "-a", PASSWORD, "CLIENT", "LIST"])
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("cmd=") && !l.contains("cmd=client"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_speaks_tls_with_a_password_and_refuses_an_untrusted_redis() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let dir = app.media_dir.with_file_name("tls");
    let (ca, cert, key) = certificates(&dir);
    let port = free_port();
    let _redis = redis_tls(port, &cert, &key, &ca);
    let url = |password: &str| {
        format!(
            "rediss://:{}@localhost:{port}/",
            password.replace(' ', "%20")
        )
    };

    let (_a, a) = replica(&app, &url(PASSWORD), Some(&ca), &dir.join("a.log")).await;
    let (_b, b) = replica(&app, &url(PASSWORD), Some(&ca), &dir.join("b.log")).await;
    assert_eq!(redis_up(a, Duration::from_secs(10)).await, 1.0, "A on TLS");
    assert_eq!(redis_up(b, Duration::from_secs(10)).await, 1.0, "B on TLS");
    let connected = clients(port, &ca);
    assert!(connected >= 2, "both replicas connected: {connected}");

    // The CA not trusted: the certificate is refused, nothing is said in clear text.
    let untrusting = dir.join("untrusting.log");
    let (_c, c) = replica(&app, &url(PASSWORD), None, &untrusting).await;
    assert_eq!(redis_up(c, Duration::from_secs(3)).await, 0.0);
    let said = std::fs::read_to_string(&untrusting).unwrap_or_default();
    assert!(
        said.contains("UnknownIssuer"),
        "the reason is logged: {said}"
    );
    // The wrong password, or none: refused, and the reason logged.
    for (name, url, reason) in [
        (
            "wrong.log",
            url("not the password"),
            "Password authentication failed",
        ),
        ("none.log", format!("rediss://localhost:{port}/"), "NOAUTH"),
    ] {
        let (_r, r) = replica(&app, &url, Some(&ca), &dir.join(name)).await;
        assert_eq!(redis_up(r, Duration::from_secs(3)).await, 0.0, "{name}");
        let said = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(said.contains(reason), "{name} says why: {said}");
    }
    for log in ["a.log", "b.log", "untrusting.log", "wrong.log", "none.log"] {
        let said = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
        for secret in [PASSWORD, "not the password"] {
            for spelling in [secret.to_owned(), secret.replace(' ', "%20")] {
                assert!(!said.contains(&spelling), "no password in {log}: {said}");
            }
        }
    }
    assert_eq!(clients(port, &ca), connected, "none of them got in");
}
