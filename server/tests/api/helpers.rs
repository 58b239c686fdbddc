//! Starting an app on a fresh database, and speaking to it like a browser.

use std::path::PathBuf;

use base64::Engine;
use domain::{
    Convention, Email, Password, Role, Status, Username,
    recordings::{NewRecording, life},
    write::{Changed, Write},
};
use reqwest::{Response, StatusCode, header};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use server::{
    app_role::Application,
    config::{AppConfig, DatabaseConfig},
};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::helpers::Backend::Postgres).await })*
        }
    };
}

pub const PASSWORD: &str = "a long enough password";

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The primary of the PostgreSQL pair scripts/test starts (`scripts/pg-pair`), and its
/// streaming replica.
pub fn replica_pair_urls() -> (String, String) {
    let get = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is unset: run the tests with scripts/test, which starts a primary and a streaming replica")
        })
    };
    (get("TEST_PG_PRIMARY_URL"), get("TEST_PG_REPLICA_URL"))
}

/// `admin`'s server with database `name` instead.
fn on_server(admin: &str, name: &str) -> String {
    let server = admin.rsplit_once('/').map_or(admin, |(s, _)| s);
    format!("{server}/{name}")
}

/// Drops what a test made when the test ends, even when it fails.
enum Scratch {
    Dir(PathBuf),
    PgDatabase { admin: String, name: String },
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Scratch::PgDatabase { admin, name } => {
                let (admin_url, name) = (admin.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            if let Ok(admin) = Database::connect(admin_url).await {
                                let _ = admin
                                    .execute_unprepared(&format!(
                                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                    ))
                                    .await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

/// Somewhere to send requests as a browser would: the app itself, or a balancer in front.
pub struct Site {
    pub base: String,
    client: reqwest::Client,
}

impl Site {
    /// `base` (`http://host:port`), reached with `client` (which may bind a source address).
    pub fn new(base: String, client: reqwest::ClientBuilder) -> Self {
        let client = client
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self { base, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, browser: &Browser) -> Response {
        let mut req = self
            .client
            .get(self.url(path))
            .header(header::ACCEPT, "text/html");
        if !browser.cookies.is_empty() {
            req = req.header(header::COOKIE, browser.header());
        }
        req.send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str, browser: &Browser) -> (StatusCode, String) {
        let res = self.get(path, browser).await;
        let status = res.status();
        (status, res.text().await.expect("body"))
    }

    /// Loads `page` as a browser would and returns the form token in its HTML.
    pub async fn form_token(&self, page: &str, browser: &mut Browser) -> String {
        let res = self.get(page, browser).await;
        browser.absorb(&res);
        let html = res.text().await.expect("body");
        hidden_field(&html, "csrf").unwrap_or_else(|| panic!("no form token on {page}"))
    }

    /// Posts a form like a browser: urlencoded, with `Accept: text/html`, `Referer`, `Origin`.
    pub async fn post_form(
        &self,
        action: &str,
        referer: &str,
        fields: &[(&str, &str)],
        browser: &mut Browser,
    ) -> Response {
        let mut req = self
            .client
            .post(self.url(action))
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, self.url(referer))
            .header(header::ORIGIN, self.base.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode_form(fields));
        if !browser.cookies.is_empty() {
            req = req.header(header::COOKIE, browser.header());
        }
        let res = req.send().await.expect("POST");
        browser.absorb(&res);
        res
    }

    /// Posts like a script: same body, but `Accept: */*` so errors come back as statuses.
    pub async fn post_script(
        &self,
        action: &str,
        fields: &[(&str, &str)],
        browser: &Browser,
        forwarded_for: &str,
    ) -> Response {
        let mut req = self
            .client
            .post(self.url(action))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header("x-forwarded-for", forwarded_for)
            .body(encode_form(fields));
        if !browser.cookies.is_empty() {
            req = req.header(header::COOKIE, browser.header());
        }
        req.send().await.expect("POST")
    }

    /// Posts a form that hashes a password (sign-up, log-in): told "busy" — the password
    /// threads are shared by every test in this process — it tries again in a moment, as a
    /// person would.
    pub async fn post_password_form(
        &self,
        path: &str,
        from: &str,
        fields: &[(&str, &str)],
        browser: &mut Browser,
    ) -> Response {
        for _ in 0..200 {
            let res = self.post_form(path, from, fields, browser).await;
            if res.status() != StatusCode::SERVICE_UNAVAILABLE {
                return res;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{path}: the password threads stayed busy for 10 s");
    }

    /// Registers through the form and returns the logged-in browser.
    pub async fn register(&self, username: &str) -> Browser {
        let mut browser = Browser::default();
        let token = self.form_token("/register", &mut browser).await;
        let email = format!("{username}@example.org");
        let res = self
            .post_password_form(
                "/api/register",
                "/register",
                &[
                    ("csrf", &token),
                    ("username", username),
                    ("email", &email),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
                &mut browser,
            )
            .await;
        assert_eq!(res.status(), StatusCode::FOUND, "register {username}");
        assert!(
            browser.cookie("ambisonia_session").is_some(),
            "a session cookie after registering"
        );
        browser
    }

    /// A browser logged in as `name` (made with [`TestApp::user`]).
    pub async fn login(&self, name: &str) -> Browser {
        let mut browser = Browser::default();
        let token = self.form_token("/login", &mut browser).await;
        let res = self
            .post_password_form(
                "/api/login",
                "/login",
                &[
                    ("csrf", &token),
                    ("username", name),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
                &mut browser,
            )
            .await;
        assert_eq!(res.status(), StatusCode::FOUND, "log in {name}");
        browser
    }

    /// Changes the password on the account page as a browser would; the answer.
    pub async fn change_password(
        &self,
        browser: &mut Browser,
        current: &str,
        new: &str,
    ) -> Response {
        let token = self.form_token("/account", browser).await;
        self.post_form(
            "/api/change-password",
            "/account",
            &[
                ("csrf", &token),
                ("current", current),
                ("new_password", new),
            ],
            browser,
        )
        .await
    }

    /// Sends the upload form as a browser would (multipart, token in the action's query).
    pub async fn upload(
        &self,
        browser: &Browser,
        fields: &[(&str, &str)],
        file_name: &str,
        file: Vec<u8>,
    ) -> Response {
        // The form's own token; an account that may not upload has no form, so no token.
        let html = self
            .get("/upload", browser)
            .await
            .text()
            .await
            .expect("body");
        let token = hidden_action_token(&html).unwrap_or_default();
        self.upload_with(browser, &token, fields, file_name, file)
            .await
    }

    /// The upload form's post with a given form token (the session's, from any page).
    pub async fn upload_with(
        &self,
        browser: &Browser,
        token: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        file: Vec<u8>,
    ) -> Response {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(file).file_name(file_name.to_string()),
        );
        let mut req = self
            .client
            .post(self.url(&format!("/upload?csrf={token}")))
            .header(header::ACCEPT, "text/html")
            .header(header::ORIGIN, self.base.clone())
            .header(header::REFERER, self.url("/upload"))
            .multipart(form);
        if !browser.cookies.is_empty() {
            req = req.header(header::COOKIE, browser.header());
        }
        req.send().await.expect("upload")
    }
}

/// How a test's app is set up beyond its backend.
#[derive(Default)]
pub struct Setup {
    pub s3: Option<domain::store::S3Settings>,
    pub stripe: Option<server::config::StripeConfig>,
    pub bus: server::config::BusConfig,
    /// On the PostgreSQL pair, reading own pages from the replica.
    pub replica: bool,
    /// The job worker's lease, when not the default.
    pub job_lease_s: Option<u64>,
    /// No job worker in this app (nor its replicas).
    pub no_jobs: bool,
    /// The largest upload, when not the tests' 64 MiB.
    pub max_upload_mb: Option<u64>,
    /// What `/metrics` asks for, if anything.
    pub admin_token: Option<String>,
    /// The address visitors use, when not the tests' `http://127.0.0.1` (a balancer's, for
    /// what names the site's own URLs: feeds, torrents' web seeds).
    pub public_url: Option<String>,
    /// API requests a token may make a minute, when not the default.
    pub api_token_per_minute: Option<u32>,
}

pub struct TestApp {
    site: Site,
    /// Statements the replica sent while serving requests.
    pub statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Of those, statements sent to the read replica.
    pub replica_statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub bus: std::sync::Arc<domain::bus::Bus>,
    /// Downloads counted in memory, written every few seconds (`flush_downloads` now).
    pub downloads: std::sync::Arc<domain::downloads::Counter>,
    /// The replica's renditions (how many it has made).
    pub renditions: std::sync::Arc<domain::renditions::Renditions>,
    /// The replica's `/metrics`.
    pub metrics_url: String,
    config: AppConfig,
    /// The server the test's PostgreSQL database is on.
    pg_admin: String,
    /// The app's media folder (objects, and uploads in `.incoming` while they arrive).
    pub media_dir: PathBuf,
    /// The bucket, when the app keeps media in S3.
    pub s3: Option<domain::store::S3Settings>,
    /// The PostgreSQL database of this test, when it runs on PostgreSQL.
    pg_database: Option<String>,
    pub db: DatabaseConnection,
    _scratch: Vec<Scratch>,
}

impl std::ops::Deref for TestApp {
    type Target = Site;
    fn deref(&self) -> &Site {
        &self.site
    }
}

/// A second replica of a test's app.
pub struct Replica {
    pub site: Site,
    pub statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub bus: std::sync::Arc<domain::bus::Bus>,
}

impl Replica {
    pub fn statement_count(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A browser's cookies and the token its forms carry.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Takes the cookies a response sets (a `Max-Age=0` cookie removes one).
    pub fn absorb(&mut self, res: &Response) {
        for set in res.headers().get_all(header::SET_COOKIE) {
            let Ok(set) = set.to_str() else { continue };
            let Some((name, rest)) = set.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default().to_string();
            self.cookies.retain(|(k, _)| k != name);
            if !set.contains("Max-Age=0") {
                self.cookies.push((name.to_string(), value));
            }
        }
    }
}

pub fn random_suffix() -> String {
    use rand::Rng;
    format!("{:016x}", rand::thread_rng().r#gen::<u64>())
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, None).await
    }

    /// An app whose media store is this S3 bucket instead of a folder.
    pub async fn spawn_with(backend: Backend, s3: Option<domain::store::S3Settings>) -> Self {
        Self::spawn_configured(
            backend,
            Setup {
                s3,
                ..Default::default()
            },
        )
        .await
    }

    /// An app whose invalidation bus is carried by the Redis at `url`.
    pub async fn spawn_on_redis(backend: Backend, url: &str) -> Self {
        let bus = server::config::BusConfig {
            redis_url: Some(url.to_owned()),
            ..Default::default()
        };
        Self::spawn_configured(
            backend,
            Setup {
                bus,
                ..Default::default()
            },
        )
        .await
    }

    /// An app on the primary of the PostgreSQL pair, reading its visitors' own pages from
    /// the streaming replica.
    pub async fn spawn_with_replica() -> Self {
        Self::spawn_configured(
            Backend::Postgres,
            Setup {
                replica: true,
                ..Default::default()
            },
        )
        .await
    }

    /// An app with payments on, its Stripe being the stand-in at `api_base` whose events
    /// are signed with `webhook_secret`.
    pub async fn spawn_paid(backend: Backend, api_base: &str, webhook_secret: &str) -> Self {
        let stripe = server::config::StripeConfig {
            secret_key: domain::Secret::new("sk_test_standin"),
            webhook_secret: domain::Secret::new(webhook_secret),
            stripe_api_base: api_base.to_owned(),
            stripe_price_monthly: Some("price_monthly".into()),
            stripe_price_quarterly: Some("price_quarterly".into()),
            stripe_price_yearly: Some("price_yearly".into()),
            tip_currency: "usd".into(),
        };
        Self::spawn_configured(
            backend,
            Setup {
                stripe: Some(stripe),
                ..Default::default()
            },
        )
        .await
    }

    /// An app set up as `setup` says.
    pub async fn spawn_configured(backend: Backend, setup: Setup) -> Self {
        let Setup {
            s3,
            stripe,
            bus,
            replica,
            job_lease_s,
            no_jobs,
            max_upload_mb,
            admin_token,
            public_url,
            api_token_per_minute,
        } = setup;
        let (admin, read_admin) = if replica {
            let (primary, replica) = replica_pair_urls();
            (primary, Some(replica))
        } else {
            (admin_url(), None)
        };
        let mut database_read_url = None;
        let mut scratch = Vec::new();
        let mut pg_database = None;
        let dir = std::env::temp_dir().join(format!("ambisonia-test-{}", random_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        scratch.push(Scratch::Dir(dir.clone()));
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}/test.db", dir.display()),
            Backend::Postgres => {
                let name = format!("ambisonia_test_{}", random_suffix());
                let admin_db = Database::connect(&admin).await.expect(
                    "PostgreSQL is not reachable: run the tests with scripts/test, which starts it",
                );
                admin_db
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                scratch.push(Scratch::PgDatabase {
                    admin: admin.clone(),
                    name: name.clone(),
                });
                pg_database = Some(name.clone());
                if let Some(read_admin) = &read_admin {
                    // The new database reaches the replica by streaming.
                    let url = on_server(read_admin, &name);
                    for _ in 0..100 {
                        if Database::connect(&url).await.is_ok() {
                            break;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    database_read_url = Some(url);
                }
                on_server(&admin, &name)
            }
        };
        let config = AppConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            db: DatabaseConfig {
                database_url: database_url.clone(),
                database_read_url,
            },
            media_dir: dir.join("media"),
            public_url: public_url.unwrap_or_else(|| "http://127.0.0.1".into()),
            page_ttl_s: 60,
            feed_email: None,
            torrent_trackers: vec![],
            proxies: Default::default(),
            shutdown_grace_s: 1,
            drain_s: 0,
            job_lease_s: job_lease_s.unwrap_or(domain::jobs::DEFAULT_LEASE.as_secs()),
            jobs: !no_jobs,
            max_upload_mb: max_upload_mb.unwrap_or(64),
            read_cache_mb: 64,
            api_token_per_minute: api_token_per_minute.unwrap_or(600),
            api_address_per_minute: 300,
            // No tiles in tests: nothing reaches the internet.
            map_tiles: String::new(),
            map_attribution: String::new(),
            bus,
            direct_upload_from_mb: 64,
            s3: server::config::S3Config {
                s3_bucket: s3.as_ref().map(|s| s.bucket.clone()),
                s3_region: s3
                    .as_ref()
                    .map_or_else(|| "us-east-1".into(), |s| s.region.clone()),
                s3_endpoint: s3.as_ref().and_then(|s| s.endpoint_url.clone()),
                s3_path_style: s3.as_ref().is_some_and(|s| s.path_style),
                access_key_id: s3
                    .as_ref()
                    .map(|s| s.access_key_id.clone())
                    .unwrap_or_default(),
                secret_access_key: s3
                    .as_ref()
                    .map(|s| s.secret_access_key.clone())
                    .unwrap_or_default(),
            },
            stripe: stripe.unwrap_or_else(|| server::config::StripeConfig {
                secret_key: domain::Secret::default(),
                webhook_secret: domain::Secret::default(),
                stripe_api_base: domain::payments::STRIPE_API_BASE.into(),
                stripe_price_monthly: None,
                stripe_price_quarterly: None,
                stripe_price_yearly: None,
                tip_currency: "usd".into(),
            }),
            metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
            admin_token: admin_token.and_then(balancer::token::BearerToken::new),
        };
        if std::env::var_os("TEST_LOG").is_some() {
            server::telemetry::init(server::config::LogFormat::Text);
        }
        let app = Application::build(&config).await.expect("app starts");
        let base = format!("http://{}", app.local_addr());
        let (statements, bus) = (app.statements(), app.bus());
        let replica_statements = app.replica_statements();
        let (downloads, renditions) = (app.downloads(), app.renditions());
        let metrics_url = format!(
            "http://{}/metrics",
            app.metrics_addr().expect("a metrics listener")
        );
        tokio::spawn(app.run_until(std::future::pending()));
        let db = domain::db::connect(&database_url)
            .await
            .expect("test connection");
        TestApp {
            site: Site::new(base, reqwest::Client::builder()),
            statements,
            replica_statements,
            bus,
            downloads,
            renditions,
            metrics_url,
            config,
            pg_admin: admin,
            media_dir: dir.join("media"),
            s3,
            pg_database,
            db,
            _scratch: scratch,
        }
    }

    /// The test's database as another PostgreSQL login (`role` with `password`).
    pub fn database_url_as(&self, role: &str, password: &str) -> String {
        let url = &self.config.db.database_url;
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{role}:{}@{host}", password.replace(' ', "%20"))
    }

    /// The replica's `/metrics`: `name{labels}` → value.
    pub async fn metrics(&self) -> std::collections::HashMap<String, f64> {
        self.metrics_with(None).await
    }

    /// The same, asking with `token`.
    pub async fn metrics_with(
        &self,
        token: Option<&str>,
    ) -> std::collections::HashMap<String, f64> {
        let mut req = reqwest::Client::new().get(&self.metrics_url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("scrape");
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            header_of(&res, "content-type").starts_with("text/plain; version=0.0.4"),
            "Prometheus' text format"
        );
        let text = res.text().await.expect("body");
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').expect("`name value`");
                (name.to_owned(), value.parse().expect("a number"))
            })
            .collect()
    }

    /// Another replica on the same database and media (it lives as long as the test).
    pub async fn replica(&self) -> Replica {
        let app = Application::build(&self.config)
            .await
            .expect("replica starts");
        let base = format!("http://{}", app.local_addr());
        let replica = Replica {
            site: Site::new(base, reqwest::Client::builder()),
            statements: app.statements(),
            bus: app.bus(),
        };
        tokio::spawn(app.run_until(std::future::pending()));
        replica
    }

    /// Writes the download counts the replica holds in memory now.
    pub async fn flush_downloads(&self) {
        self.downloads
            .flush(&self.db)
            .await
            .expect("counts written");
    }

    /// The database URL the app uses.
    pub fn database_url(&self) -> String {
        self.config.db.database_url.clone()
    }

    /// Statements sent while serving requests so far.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes the database away from under the running app (PostgreSQL only): every
    /// connection is ended and no new one can be made.
    pub async fn lose_database(&self) {
        let name = self
            .pg_database
            .as_deref()
            .expect("lose_database needs PostgreSQL");
        let admin = Database::connect(&self.pg_admin)
            .await
            .expect("admin connection");
        admin
            .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .await
            .expect("drop the test database");
    }

    /// Makes an account. The password threads are shared by every test in this process:
    /// told they are busy, it tries again in a moment, as a person would.
    pub async fn user(&self, name: &str, role: Role) -> i32 {
        let (username, password) = (
            Username::parse(name).expect("username"),
            Password::parse(PASSWORD).expect("password"),
        );
        let email = Email::parse(&format!("{name}@example.org")).expect("email");
        for _ in 0..200 {
            match domain::accounts::create_user(&self.db, &username, &email, &password, role).await
            {
                Err(domain::ServiceError::Busy) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                made => return made.expect("user").id,
            }
        }
        panic!("the password threads stayed busy for 10 s");
    }

    /// Makes an uploader trusted: their uploads are published at once.
    pub async fn trust(&self, user_id: i32) {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let mut u: domain::entities::users::ActiveModel =
            domain::entities::users::Entity::find_by_id(user_id)
                .one(&self.db)
                .await
                .ok()
                .flatten()
                .expect("user")
                .into();
        u.trusted = Set(true);
        u.update(&self.db).await.expect("trusted");
    }

    pub async fn user_id(&self, name: &str) -> i32 {
        use domain::entities::users;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        users::Entity::find()
            .filter(users::Column::Username.eq(name))
            .one(&self.db)
            .await
            .ok()
            .flatten()
            .map(|u| u.id)
            .unwrap_or_else(|| panic!("no user {name}"))
    }

    /// A published recording with the given facts; returns (id, slug).
    pub async fn recording(&self, new: NewRecording) -> (i32, String) {
        self.recording_with_status(new, Status::Published).await
    }

    pub async fn recording_with_status(&self, new: NewRecording, status: Status) -> (i32, String) {
        let published = (status == Status::Published).then(chrono::Utc::now);
        let w = Write::begin(&self.db).await.expect("write");
        let (row, _) = life::create(&w, new, status, published)
            .await
            .expect("recording");
        // A fixture, seeded as a database would be before anything shows it: no purge (a
        // test that needs the bus to carry a write makes it through the site).
        w.commit(Changed::nothing_shown()).await.expect("commit");
        (row.id, row.slug)
    }
}

/// Posts a form of `page` to `action` as `who` would: the page's form token first.
pub async fn post_on(
    site: &Site,
    who: &mut Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> Response {
    let token = site.form_token(page, who).await;
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    site.post_form(action, page, &all, who).await
}

pub fn sample(title: &str, uploader_id: i32) -> NewRecording {
    NewRecording {
        title: title.to_string(),
        description: format!("A recording called {title}."),
        location: "Somewhere".into(),
        microphone: "TetraMic".into(),
        licence: "cc-by-4.0".into(),
        uploader_id,
        convention: Some(Convention::Ambix),
        order: Some(1),
        layout: Some("f".into()),
        channels: Some(4),
        sample_rate: Some(48_000),
        bit_depth: Some(24),
        duration_ms: Some(60_000),
        ..Default::default()
    }
}

/// The token in the upload form's action (`/upload?csrf=…`).
pub fn hidden_action_token(html: &str) -> Option<String> {
    let start = html.find("/upload?csrf=")? + "/upload?csrf=".len();
    let rest = &html[start..];
    Some(rest[..rest.find('"')?].to_string())
}

pub fn encode_form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                domain::catalog_query::encode_component(k),
                domain::catalog_query::encode_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

/// The message a form error carries back in the `__err` parameter of its redirect.
pub fn redirect_error(res: &Response) -> Option<String> {
    let location = res.headers().get(header::LOCATION)?.to_str().ok()?;
    let encoded = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("__err="))?;
    let encoded = encoded.replace("%3D", "=");
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(encoded)
        .ok()?;
    let error: app::error::AppError = serde_json::from_slice(&bytes).ok()?;
    Some(error.to_string())
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

pub fn header_of(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The titles of the recording cards on a page, in order.
pub fn titles(html: &str) -> Vec<String> {
    html.split("<h3 class=\"card-title\"><a href=\"/recordings/")
        .skip(1)
        .filter_map(|s| {
            s.split_once("\">")
                .and_then(|(_, rest)| rest.split_once("</a>"))
                .map(|(t, _)| t.to_string())
        })
        .collect()
}

/// The catalog's "N recordings" line.
pub fn count(html: &str) -> String {
    html.split("data-testid=\"result-count\"")
        .nth(1)
        .and_then(|s| s.split_once('>'))
        .and_then(|(_, s)| s.split('<').next())
        .unwrap_or_default()
        .to_string()
}

/// A Redis server of the test's own (one that can be stopped and started again on the
/// same port); `redis-server` must be on the PATH (scripts/test sees to it).
pub struct TestRedis {
    pub port: u16,
    process: Option<std::process::Child>,
}

impl TestRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Self {
            port,
            process: None,
        };
        redis.resume();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again) on its port, and waits until it answers.
    pub fn resume(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (scripts/test installs it)");
        self.process = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("redis-server did not start on {}", self.port);
    }

    /// Kills it (as an outage would).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
