//! Automatic HTTPS against a real ACME CA: Debian's `pebble` (Let's Encrypt's test server),
//! which validates the HTTP-01 challenge by connecting to the balancer's plain-HTTP listener
//! (its DNS answers from `pebble-challtestsrv`: every name is 127.0.0.1). The balancer
//! obtains a certificate, serves HTTPS with it, redirects HTTP, and renews it when pebble
//! issues certificates that live 15 seconds.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use balancer::{Balancer, Clock, Settings};

use crate::{Origin, Reply, one_pool};

const DOMAIN: &str = "ambisonia.test";
/// How long pebble's certificates live here: renewed two thirds through, after 10 s.
const VALIDITY_S: u64 = 15;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, what: &str) -> Running {
    Running(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {what} ({e}): run the tests with scripts/test, which installs it"
                )
            }),
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and, signed by it, the certificate pebble's own HTTPS (its ACME API) is served
/// with; the balancer trusts that CA for the API only.
fn pebble_api_certificate(dir: &Path) -> PathBuf {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "1",
        "-subj",
        "/CN=test ACME API CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
    openssl(dir, &ca);
    let mut req = vec!["req", "-new", "-subj", "/CN=localhost"];
    req.extend(ec);
    req.extend(["-keyout", "api.key", "-out", "api.csr"]);
    openssl(dir, &req);
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("extensions file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "api.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "api.pem",
        ],
    );
    dir.join("ca.pem")
}

struct Pebble {
    directory: String,
    management: u16,
    ca: PathBuf,
    _pebble: Running,
    _dns: Running,
}

impl Pebble {
    fn start(dir: &Path, http_port: u16) -> Self {
        let ca = pebble_api_certificate(dir);
        let (api, management, dns_port, dns_management) =
            (free_port(), free_port(), free_udp_port(), free_port());
        let dns = spawn(
            Command::new("pebble-challtestsrv")
                .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{dns_management}")])
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""]),
            "pebble-challtestsrv",
        )
        .wait_listening(dns_management);
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{api}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": dir.join("api.pem"),
                "privateKey": dir.join("api.key"),
                "httpPort": http_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
                "certificateValidityPeriod": VALIDITY_S,
            }
        });
        std::fs::write(dir.join("pebble.json"), config.to_string()).expect("pebble config");
        let pebble = spawn(
            Command::new("pebble")
                .arg("-config")
                .arg(dir.join("pebble.json"))
                .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0"),
            "pebble",
        )
        // Pebble opens its two listeners separately: one answering says nothing of the other.
        .wait_listening(api)
        .wait_listening(management);
        Self {
            directory: format!("https://127.0.0.1:{api}/dir"),
            management,
            ca,
            _pebble: pebble,
            _dns: dns,
        }
    }

    /// The root pebble signs certificates with (it makes a new one each start).
    async fn issuing_root(&self) -> reqwest::Certificate {
        let api_ca = std::fs::read(&self.ca).expect("CA file");
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&api_ca).expect("CA"))
            .build()
            .expect("client");
        let pem = client
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .expect("pebble's roots")
            .bytes()
            .await
            .expect("body");
        reqwest::Certificate::from_pem(&pem).expect("pebble's root")
    }
}

impl Running {
    fn wait_listening(mut self, port: u16) -> Self {
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                self.0.try_wait().ok().flatten().is_none(),
                "it exited at start"
            );
            assert!(Instant::now() < until, "nothing listens on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }
}

/// The metric `name` of the balancer's admin listener.
async fn metric(admin: SocketAddr, name: &str) -> u64 {
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_balancer_obtains_serves_and_renews_a_certificate_and_redirects_http() {
    let dir = std::env::temp_dir().join(format!("ambisonia-acme-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let http_port = free_port();
    let pebble = Pebble::start(&dir, http_port);

    let origin = Origin::spawn(|_| Reply::ok("over https")).await;
    let store = dir.join("acme-store");
    let toml = format!(
        "http_listen = \"127.0.0.1:{http_port}\"\n\n\
         [acme]\ndirectory = \"{}\"\ndomains = [\"{DOMAIN}\"]\n\
         contact = [\"mailto:ops@{DOMAIN}\"]\nstore = \"{}\"\nca_root = \"{}\"\n\n{}",
        pebble.directory,
        store.display(),
        pebble.ca.display(),
        one_pool(&[&origin], "")
    );
    let any: SocketAddr = "127.0.0.1:0".parse().expect("address");
    let settings = Settings::from_toml(&toml, any, any).unwrap_or_else(|e| panic!("{e}"));
    let balancer = Balancer::bind_with(settings, Clock::system(), None)
        .await
        .expect("balancer binds");
    let (addr, admin) = (balancer.local_addr(), balancer.admin_addr());
    assert_eq!(balancer.http_addr().map(|a| a.port()), Some(http_port));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(balancer.run_until(async move {
        let _ = stopped.await;
    }));

    // HTTPS, trusting only pebble's root, to the name the certificate is for.
    let root = pebble.issuing_root().await;
    let https = reqwest::Client::builder()
        .add_root_certificate(root)
        .tls_built_in_root_certs(false)
        .resolve(DOMAIN, addr)
        .build()
        .expect("client");
    let url = format!("https://{DOMAIN}:{}/catalog", addr.port());
    let until = Instant::now() + Duration::from_secs(60);
    let first = loop {
        match https.get(&url).send().await {
            Ok(r) => break r,
            Err(e) => {
                assert!(Instant::now() < until, "no certificate within 60 s: {e:?}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.expect("body"), "over https");
    let issued = metric(admin, "balancer_acme_certificates_issued_total").await;
    assert_eq!(issued, 1);
    let not_after = metric(admin, "balancer_tls_certificate_not_after_seconds").await;
    assert!(not_after > 0);
    assert!(store.join("certificate.pem").is_file() && store.join("account.json").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(store.join("certificate.pem"))
            .expect("stored")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by its owner only");
    }

    // Plain HTTP: sent to HTTPS, the path and query kept; an unknown host goes to ours.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for (host, expected) in [
        (
            DOMAIN,
            format!("https://{DOMAIN}:{}/catalog?q=rain", addr.port()),
        ),
        (
            "evil.example",
            format!("https://{DOMAIN}:{}/catalog?q=rain", addr.port()),
        ),
    ] {
        let r = plain
            .post(format!("http://127.0.0.1:{http_port}/catalog?q=rain"))
            .header("host", host)
            .send()
            .await
            .expect("plain HTTP");
        assert_eq!(r.status(), 308, "{host}");
        assert_eq!(crate::header(&r, "location"), expected, "{host}");
    }
    let unknown = plain
        .get(format!(
            "http://127.0.0.1:{http_port}/.well-known/acme-challenge/nope"
        ))
        .send()
        .await
        .expect("plain HTTP");
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        origin.hits(),
        1,
        "nothing over plain HTTP reached a replica"
    );

    // Renewal: two thirds through the certificate's 15 s, a new one is served.
    let until = Instant::now() + Duration::from_secs(60);
    while metric(admin, "balancer_acme_certificates_issued_total").await < 2 {
        assert!(Instant::now() < until, "not renewed within 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let renewed = metric(admin, "balancer_tls_certificate_not_after_seconds").await;
    assert!(renewed > not_after, "{renewed} > {not_after}");
    // A new client (no session to resume) sees the new certificate work.
    let again = reqwest::Client::builder()
        .add_root_certificate(pebble.issuing_root().await)
        .tls_built_in_root_certs(false)
        .resolve(DOMAIN, addr)
        .build()
        .expect("client")
        .get(&url)
        .send()
        .await
        .expect("HTTPS after renewal");
    assert_eq!(again.status(), 200);
    assert_eq!(metric(admin, "balancer_acme_orders_failed_total").await, 0);

    let _ = stop.send(());
    let _ = task.await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::process::id())
}
