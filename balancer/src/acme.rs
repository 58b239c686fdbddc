//! Automatic HTTPS: certificates for the configured host names from an ACME CA (RFC 8555;
//! Let's Encrypt by default), obtained at start and renewed at two thirds of their lifetime,
//! with the HTTP-01 challenge answered on the plain-HTTP listener (`http`), which sends
//! everything else to HTTPS.
//!
//! What a fleet shares lives in a [`Store`]: the ACME account, the certificate with its key
//! (one object, so a reader never sees a new certificate with an old key) and the pending
//! challenges — a folder for one balancer, the bucket for many. Each balancer looks at the
//! store every few minutes and serves the newest certificate there; one that finds it due
//! for renewal waits a random moment and looks again before ordering, so that a fleet
//! seldom orders twice (a second order is harmless, only wasteful). Any balancer answers a
//! challenge another one started: the CA may ask whichever one DNS gives it.

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    pin::Pin,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use rand::Rng;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio_rustls::rustls::{
    self,
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// Let's Encrypt's production directory: the default CA.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// How often a balancer looks in the store for a certificate another one renewed.
const LOOK_EVERY: Duration = Duration::from_secs(300);
/// After a failed order, the first wait before trying again (doubling up to `RETRY_MAX`).
const RETRY_FIRST: Duration = Duration::from_secs(10);
const RETRY_MAX: Duration = Duration::from_secs(3600);
/// The longest a balancer waits before ordering a renewal (so that one of a fleet goes first).
const ORDER_JITTER_MAX: Duration = Duration::from_secs(20);
/// How long the CA may take to validate and to issue.
const CA_PATIENCE: Duration = Duration::from_secs(120);

/// The store's names.
const ACCOUNT: &str = "account.json";
const CERTIFICATE: &str = "certificate.pem";
fn challenge_name(token: &str) -> String {
    format!("challenges/{token}")
}

/// What `[acme]` in the balancer's file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// The CA's directory URL.
    pub directory: String,
    /// The host names the certificate covers (the first is where HTTP is redirected when a
    /// request names none of them).
    pub domains: Vec<String>,
    /// `mailto:` addresses the CA may write to about the account.
    pub contact: Vec<String>,
    /// Where the account, certificate and challenges are kept.
    pub store: StoreLocation,
    /// A PEM root the CA's own HTTPS is checked against instead of the system's (a test CA
    /// such as pebble).
    pub ca_root: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A folder on this machine (one balancer).
    Dir(PathBuf),
    /// The media bucket, under this prefix (every balancer of a fleet); the binary that
    /// runs the balancer supplies it.
    Bucket(String),
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Where a fleet keeps what it shares about its certificate.
pub trait Store: Send + Sync + 'static {
    fn load<'a>(&'a self, name: &'a str) -> Fut<'a, Option<Vec<u8>>>;
    fn save<'a>(&'a self, name: &'a str, bytes: Vec<u8>) -> Fut<'a, ()>;
}

/// A folder, readable by this user only (it holds private keys).
pub struct DirStore(pub PathBuf);

impl Store for DirStore {
    fn load<'a>(&'a self, name: &'a str) -> Fut<'a, Option<Vec<u8>>> {
        let path = self.0.join(name);
        Box::pin(async move {
            let shown = path.display().to_string();
            match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
                Ok(Ok(b)) => Ok(Some(b)),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Ok(Err(e)) => Err(format!("cannot read {shown}: {e}")),
                Err(e) => Err(format!("cannot read {shown}: {e}")),
            }
        })
    }

    fn save<'a>(&'a self, name: &'a str, bytes: Vec<u8>) -> Fut<'a, ()> {
        let (root, path) = (self.0.clone(), self.0.join(name));
        Box::pin(async move {
            let shown = path.display().to_string();
            let write = move || -> std::io::Result<()> {
                use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _};
                let dir = path.parent().unwrap_or(&root);
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(
                    &root,
                    std::os::unix::fs::PermissionsExt::from_mode(0o700),
                )?;
                // Written beside, then renamed: a reader sees the old file or the new one.
                let tmp = dir.join(format!(".{}.tmp", rand::random::<u64>()));
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)?;
                f.write_all(&bytes)?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)
            };
            tokio::task::spawn_blocking(write)
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map_err(|e| format!("cannot write {shown}: {e}"))
        })
    }
}

/// A store's names under a prefix (the bucket's `acme/…`).
pub struct Prefixed {
    pub inner: Arc<dyn Store>,
    pub prefix: String,
}

impl Prefixed {
    fn name(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }
}

impl Store for Prefixed {
    fn load<'a>(&'a self, name: &'a str) -> Fut<'a, Option<Vec<u8>>> {
        Box::pin(async move { self.inner.load(&self.name(name)).await })
    }

    fn save<'a>(&'a self, name: &'a str, bytes: Vec<u8>) -> Fut<'a, ()> {
        Box::pin(async move { self.inner.save(&self.name(name), bytes).await })
    }
}

/// The certificate the TLS listener serves: swapped in place when renewed.
#[derive(Debug, Default)]
pub struct CurrentCert(RwLock<Option<Arc<CertifiedKey>>>);

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A certificate as the store keeps it, parsed.
struct Issued {
    key: Arc<CertifiedKey>,
    validity: Validity,
}

/// The ACME client of one balancer.
pub struct Acme {
    settings: AcmeSettings,
    store: Arc<dyn Store>,
    pub current: Arc<CurrentCert>,
    /// The certificate served now: when it stops being valid (Unix seconds; 0 = none).
    not_after: AtomicU64,
    /// Challenges this balancer started: token → key authorization.
    challenges: Mutex<HashMap<String, String>>,
    /// Certificates this balancer obtained, and orders that failed (for `/metrics`).
    pub issued: AtomicU64,
    pub failed: AtomicU64,
}

impl Acme {
    pub fn new(settings: AcmeSettings, store: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(Self {
            settings,
            store,
            current: Arc::default(),
            not_after: AtomicU64::new(0),
            challenges: Mutex::default(),
            issued: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    pub fn settings(&self) -> &AcmeSettings {
        &self.settings
    }

    /// When the certificate served now expires (Unix seconds), if there is one.
    pub fn not_after(&self) -> Option<u64> {
        Some(self.not_after.load(Relaxed)).filter(|t| *t > 0)
    }

    /// The key authorization for `token`, if this fleet started that challenge.
    pub async fn key_authorization(&self, token: &str) -> Option<String> {
        let known = self
            .challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        if known.is_some() {
            return known;
        }
        // Tokens are the CA's base64url; nothing else names a file.
        if token.is_empty()
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        match self.store.load(&challenge_name(token)).await {
            Ok(found) => found.and_then(|b| String::from_utf8(b).ok()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot look up an ACME challenge in the store");
                None
            }
        }
    }

    /// Keeps a certificate served: the stored one when there is one, a new one when it is
    /// due — forever.
    pub async fn run(self: Arc<Self>) {
        let mut retry = RETRY_FIRST;
        loop {
            let wait = match self.step().await {
                Ok(wait) => {
                    retry = RETRY_FIRST;
                    wait
                }
                Err(e) => {
                    self.failed.fetch_add(1, Relaxed);
                    tracing::error!(error = %e, retry_s = retry.as_secs(), "could not obtain a certificate");
                    let wait = retry;
                    retry = (retry * 2).min(RETRY_MAX);
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// One look: serve what the store has, order when it is missing or due. How long to wait
    /// before looking again.
    async fn step(&self) -> Result<Duration, String> {
        let now = SystemTime::now();
        if let Some(stored) = self.stored().await? {
            let renew_at = stored.validity.renew_at();
            self.install(stored);
            if now < renew_at {
                let until = renew_at.duration_since(now).unwrap_or_default();
                return Ok(until.min(LOOK_EVERY));
            }
            // Due: give the rest of the fleet a moment, then look again before ordering.
            let left = self.not_after().map_or(0, |t| t.saturating_sub(unix(now)));
            let jitter = ORDER_JITTER_MAX.min(Duration::from_secs(left / 10));
            if !jitter.is_zero() {
                let ms = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
                let wait = Duration::from_millis(rand::thread_rng().gen_range(0..=ms));
                tokio::time::sleep(wait).await;
                if let Some(again) = self.stored().await?
                    && SystemTime::now() < again.validity.renew_at()
                {
                    self.install(again);
                    return Ok(Duration::ZERO);
                }
            }
        }
        let issued = self.order().await?;
        let renew_at = issued.validity.renew_at();
        self.install(issued);
        self.issued.fetch_add(1, Relaxed);
        Ok(renew_at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .min(LOOK_EVERY))
    }

    fn install(&self, issued: Issued) {
        let not_after = unix(issued.validity.not_after);
        if self.not_after.swap(not_after, Relaxed) != not_after {
            tracing::info!(
                domains = ?self.settings.domains,
                valid_until = not_after,
                "serving a certificate"
            );
        }
        *self.current.0.write().unwrap_or_else(|p| p.into_inner()) = Some(issued.key);
    }

    async fn stored(&self) -> Result<Option<Issued>, String> {
        match self.store.load(CERTIFICATE).await? {
            Some(pem) => parse(&pem).map(Some),
            None => Ok(None),
        }
    }

    async fn account(&self) -> Result<Account, String> {
        let builder = match &self.settings.ca_root {
            Some(root) => Account::builder_with_root(root),
            None => Account::builder(),
        }
        .map_err(|e| format!("ACME client: {e}"))?;
        if let Some(saved) = self.store.load(ACCOUNT).await? {
            let credentials: AccountCredentials = serde_json::from_slice(&saved)
                .map_err(|e| format!("the stored ACME account is unreadable: {e}"))?;
            return builder
                .from_credentials(credentials)
                .await
                .map_err(|e| format!("ACME account: {e}"));
        }
        let contact: Vec<&str> = self.settings.contact.iter().map(String::as_str).collect();
        let (account, credentials) = builder
            .create(
                &NewAccount {
                    contact: &contact,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.settings.directory.clone(),
                None,
            )
            .await
            .map_err(|e| format!("cannot create an ACME account: {e}"))?;
        let saved = serde_json::to_vec(&credentials).map_err(|e| e.to_string())?;
        self.store.save(ACCOUNT, saved).await?;
        tracing::info!(directory = %self.settings.directory, "ACME account created");
        Ok(account)
    }

    /// Orders a certificate, answers its HTTP-01 challenges, keeps it in the store.
    async fn order(&self) -> Result<Issued, String> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .settings
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .map_err(|e| format!("new order: {e}"))?;
        tracing::info!(domains = ?self.settings.domains, "ordering a certificate");
        let mut tokens = Vec::new();
        // Answered until the CA has looked, whatever the outcome; then forgotten here (the
        // store keeps them: any balancer may still be asked).
        let validated = self.answer_challenges(&mut order, &mut tokens).await;
        self.challenges
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|t, _| !tokens.contains(t));
        let status = validated?;
        if status != OrderStatus::Ready {
            return Err(format!("the order is {status:?}, not ready"));
        }
        let patience = patience();
        let key = order
            .finalize()
            .await
            .map_err(|e| format!("finalize: {e}"))?;
        let chain = order
            .poll_certificate(&patience)
            .await
            .map_err(|e| format!("waiting for the certificate: {e}"))?;
        let pem = format!("{key}{chain}").into_bytes();
        let issued = parse(&pem)?;
        self.store.save(CERTIFICATE, pem).await?;
        Ok(issued)
    }

    /// Sets up the HTTP-01 answer of each pending authorization (`tokens` names them) and
    /// waits for the CA to validate them: the order's status then.
    async fn answer_challenges(
        &self,
        order: &mut instant_acme::Order,
        tokens: &mut Vec<String>,
    ) -> Result<OrderStatus, String> {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => return Err(format!("an authorization is {other:?}")),
            }
            let mut challenge = authz
                .challenge(ChallengeType::Http01)
                .ok_or("the CA offers no HTTP-01 challenge")?;
            let (token, answer) = (
                challenge.token.clone(),
                challenge.key_authorization().as_str().to_owned(),
            );
            self.store
                .save(&challenge_name(&token), answer.clone().into_bytes())
                .await?;
            self.challenges
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(token.clone(), answer);
            tokens.push(token);
            challenge
                .set_ready()
                .await
                .map_err(|e| format!("challenge: {e}"))?;
        }
        order
            .poll_ready(&patience())
            .await
            .map_err(|e| format!("waiting for validation: {e}"))
    }
}

/// How long the CA may take to validate and to issue, polled from every 250 ms, doubling.
fn patience() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .timeout(CA_PATIENCE)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A stored certificate: its private key and chain, PEM, in one object.
fn parse(pem: &[u8]) -> Result<Issued, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("stored certificate: {e}"))?;
    let first = chain.first().ok_or("the stored certificate has no chain")?;
    let validity = Validity::of(first).ok_or("the stored certificate's validity is unreadable")?;
    let key =
        PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("stored certificate's key: {e}"))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("stored certificate's key: {e}"))?;
    Ok(Issued {
        key: Arc::new(CertifiedKey::new(chain, signing)),
        validity,
    })
}

/// When a certificate starts and stops being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

impl Validity {
    /// When to renew: two thirds through its life (Let's Encrypt's 90 days: at 60).
    pub fn renew_at(&self) -> SystemTime {
        let life = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or_default();
        self.not_before + life * 2 / 3
    }

    /// Reads `validity` out of an X.509 certificate's DER: Certificate → tbsCertificate →
    /// (version, serial, signature, issuer) → validity { notBefore, notAfter }.
    pub fn of(cert: &[u8]) -> Option<Self> {
        let (_, certificate, _) = der(cert)?;
        let (_, tbs, _) = der(certificate)?;
        let mut rest = tbs;
        // `[0] version` is there in every v3 certificate.
        let (tag, _, after) = der(rest)?;
        if tag == 0xa0 {
            rest = after;
        }
        for _ in 0..3 {
            rest = der(rest)?.2; // serial, signature algorithm, issuer
        }
        let (_, validity, _) = der(rest)?;
        let (t1, before, after) = der(validity)?;
        let (t2, not_after, _) = der(after)?;
        Some(Self {
            not_before: time(t1, before)?,
            not_after: time(t2, not_after)?,
        })
    }
}

/// One DER element: its tag, contents, and what follows it.
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let len = b[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        b = &b[n..];
        len
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, tag 0x18).
fn time(tag: u8, v: &[u8]) -> Option<SystemTime> {
    let s = std::str::from_utf8(v).ok()?.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if s.len() == 12 => {
            let yy: i64 = s[..2].parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &s[2..])
        }
        0x18 if s.len() == 14 => (s[..4].parse().ok()?, &s[4..]),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2)?.parse::<i64>().ok();
    let (month, day, h, m, sec) = (n(0)?, n(2)?, n(4)?, n(6)?, n(8)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + sec;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{Validity, time};

    #[test]
    fn reads_utc_and_generalized_times() {
        assert_eq!(time(0x17, b"700101000000Z"), Some(UNIX_EPOCH), "the epoch");
        assert_eq!(
            time(0x17, b"261206143000Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_796_567_400))
        );
        assert_eq!(
            time(0x18, b"20500301000000Z"),
            Some(UNIX_EPOCH + Duration::from_secs(2_529_705_600))
        );
        assert_eq!(time(0x17, b"2612061430Z"), None);
    }

    #[test]
    fn reads_a_certificates_validity_and_renews_two_thirds_through() {
        let mut params = rcgen::CertificateParams::new(vec!["ambisonia.test".into()])
            .unwrap_or_else(|e| panic!("{e}"));
        params.not_before = rcgen::date_time_ymd(2026, 12, 1);
        params.not_after = rcgen::date_time_ymd(2027, 3, 1);
        let key = rcgen::KeyPair::generate().unwrap_or_else(|e| panic!("{e}"));
        let cert = params.self_signed(&key).unwrap_or_else(|e| panic!("{e}"));
        let v = Validity::of(cert.der()).unwrap_or_else(|| panic!("readable"));
        assert_eq!(
            v.not_before,
            UNIX_EPOCH + Duration::from_secs(1_796_083_200)
        );
        assert_eq!(v.not_after, UNIX_EPOCH + Duration::from_secs(1_803_859_200));
        assert_eq!(
            v.renew_at(),
            UNIX_EPOCH + Duration::from_secs(1_796_083_200 + (90 * 86_400) * 2 / 3)
        );
        assert!(Validity::of(b"\x30\x03\x02\x01").is_none(), "truncated");
    }
}
