//! Where recordings live: one interface, two real backends — a local folder (the embedded
//! default) and S3 or an S3-compatible store. Objects go in from a file on disk (an upload
//! lands in a temporary file first, to be inspected) and come out as a stream, whole or a
//! byte range, so memory never grows with a recording's size.

use std::{
    io::SeekFrom,
    path::{Path, PathBuf},
    pin::Pin,
    time::Duration,
};

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
    presigning::PresigningConfig,
    primitives::ByteStream,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such object: {0}")]
    NotFound(String),
    #[error("`{0}` is not a valid object key")]
    BadKey(String),
    #[error("the requested range is outside the object")]
    BadRange,
    #[error("this media store takes no direct uploads (only S3 does)")]
    Unsupported,
    #[error("media store: {0}")]
    Io(String),
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound(String::new())
        } else {
            Self::Io(e.to_string())
        }
    }
}

/// A scratch file (an upload arriving, an original being processed) removed however the
/// work that uses it ends.
pub struct TempFile(PathBuf);

impl TempFile {
    /// A fresh name in `dir` ending in `.ext`; nothing is created until someone writes it.
    pub fn new(dir: &Path, ext: &str) -> Self {
        Self(dir.join(format!("{:016x}.{ext}", rand::random::<u64>())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.0.display(), error = %e, "a scratch file could not be removed")
            }
        }
    }
}

/// How to reach an S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible stores (MinIO, Ceph, moto …): their URL.
    pub endpoint_url: Option<String>,
    /// `https://host/bucket/key` instead of `https://bucket.host/key`.
    pub path_style: bool,
    pub access_key_id: String,
    pub secret_access_key: crate::Secret,
}

/// A stream of an object's bytes, with what was asked and what there is.
pub struct ObjectStream {
    pub body: Pin<Box<dyn AsyncRead + Send>>,
    /// Bytes in `body`.
    pub len: u64,
    /// Bytes in the whole object.
    pub total: u64,
}

pub enum MediaStore {
    Local(LocalStore),
    S3(S3Store),
}

impl MediaStore {
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::Local(LocalStore { root: root.into() })
    }

    pub fn s3(settings: &S3Settings) -> Self {
        Self::S3(S3Store::new(settings))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Local(l) => format!("folder {}", l.root.display()),
            Self::S3(s) => format!("bucket {}", s.bucket),
        }
    }

    /// Stores the file at `path` under `key` (replacing any object there). The object
    /// appears whole or not at all.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, StoreError> {
        check_key(key)?;
        match self {
            Self::Local(l) => l.put_file(key, path).await,
            Self::S3(s) => s.put_file(key, path).await,
        }
    }

    /// The object's bytes from `start` to `end` inclusive (`None`: to the end).
    pub async fn get(
        &self,
        key: &str,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<ObjectStream, StoreError> {
        check_key(key)?;
        match self {
            Self::Local(l) => l.get(key, range).await,
            Self::S3(s) => s.get(key, range).await,
        }
    }

    /// Copies the object to a file on local disk (streamed), for code that needs a file:
    /// inspection, rendering. Returns its size.
    pub async fn download_to(&self, key: &str, path: &Path) -> Result<u64, StoreError> {
        use tokio::io::AsyncWriteExt;
        let mut object = self.get(key, None).await?;
        let mut file = tokio::fs::File::create(path).await?;
        let n = tokio::io::copy(&mut object.body, &mut file).await?;
        file.flush().await?;
        Ok(n)
    }

    /// The object's size, or `None` when there is no such object.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        check_key(key)?;
        match self {
            Self::Local(l) => match tokio::fs::metadata(l.path(key)).await {
                Ok(m) => Ok(Some(m.len())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            },
            Self::S3(s) => s.size(key).await,
        }
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        match self {
            Self::Local(l) => match tokio::fs::remove_file(l.path(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            },
            Self::S3(s) => s.delete(key).await,
        }
    }

    /// A URL that lets its holder download the object for `ttl`, when the backend can make
    /// one (S3); `None` means the app streams the object itself (local folder).
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<Option<String>, StoreError> {
        check_key(key)?;
        match self {
            Self::Local(_) => Ok(None),
            Self::S3(s) => s.presigned_get(key, ttl, filename).await.map(Some),
        }
    }

    /// Where browsers are sent for objects (`scheme://host[:port]` of a presigned link),
    /// for the pages' Content-Security-Policy; `None` when this site serves them itself.
    /// Presigning is local work: this asks nothing of the store.
    pub async fn link_origin(&self) -> Option<String> {
        let url = self
            .presigned_get("originals/origin-probe", Duration::from_secs(60), "")
            .await
            .ok()??;
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?']).next()?;
        Some(format!("{scheme}://{authority}"))
    }

    fn s3_backend(&self) -> Result<&S3Store, StoreError> {
        match self {
            Self::S3(s) => Ok(s),
            Self::Local(_) => Err(StoreError::Unsupported),
        }
    }

    /// Direct upload, step 1: a multipart upload the browser sends parts to; its id.
    pub async fn start_multipart(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
        let s = self.s3_backend()?;
        let out = s
            .client
            .create_multipart_upload()
            .bucket(&s.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::Io("no upload id".into()))
    }

    /// A URL the browser PUTs part `n` to, valid for `ttl`.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        n: i32,
        ttl: Duration,
    ) -> Result<String, StoreError> {
        let s = self.s3_backend()?;
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| StoreError::Io(e.to_string()))?;
        let req = s
            .client
            .upload_part()
            .bucket(&s.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(n)
            .presigned(config)
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(req.uri().to_owned())
    }

    /// Joins the parts into one object.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String, u64)],
    ) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let s = self.s3_backend()?;
        let parts = parts
            .iter()
            .map(|(n, etag, _)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
            .collect();
        s.client
            .complete_multipart_upload()
            .bucket(&s.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        let s = self.s3_backend()?;
        s.client
            .abort_multipart_upload()
            .bucket(&s.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    /// Every object: key and size, in key order.
    pub async fn list(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        self.list_pages(|page| out.extend(page.into_iter().map(|o| (o.key, o.size))))
            .await?;
        out.sort();
        Ok(out)
    }

    /// Every object, handed to `each` a page (up to [`LIST_PAGE`]) at a time, so that a
    /// store of millions is never held in memory.
    pub async fn list_pages(
        &self,
        mut each: impl FnMut(Vec<Listed>) + Send,
    ) -> Result<(), StoreError> {
        match self {
            Self::Local(l) => l.list_pages(&mut each).await,
            Self::S3(s) => s.list_pages(&mut each).await,
        }
    }

    /// Copies the object at `from` to `to` inside the store (S3's server-side copy: no byte
    /// goes through this replica), replacing any object at `to`.
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        check_key(from)?;
        check_key(to)?;
        match self {
            Self::Local(l) => l.put_file(to, &l.path(from)).await.map(|_| ()),
            Self::S3(s) => s.copy(from, to).await,
        }
    }
}

/// Objects listed at a time.
pub const LIST_PAGE: usize = 1000;

/// An object as listed: its key, its size, and when it was last written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
}

/// Keys are ours (`originals/ab/abcdef….amb`), never a visitor's: a narrow alphabet, no way
/// out of the folder.
fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
        && key
            .split('/')
            // No part starts with a dot: `..` cannot climb out, and the media folder's own
            // scratch folders (`.work`, `.incoming`) hold no objects.
            .all(|part| !part.is_empty() && !part.starts_with('.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadKey(key.to_owned()))
    }
}

fn range_header(range: Option<(u64, Option<u64>)>) -> Option<String> {
    range.map(|(start, end)| match end {
        Some(e) => format!("bytes={start}-{e}"),
        None => format!("bytes={start}-"),
    })
}

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    async fn put_file(&self, key: &str, from: &Path) -> Result<u64, StoreError> {
        let to = self.path(key);
        if let Some(dir) = to.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // Copy beside the target, then rename: readers never see half an object.
        let partial = to.with_extension(format!("partial-{:08x}", rand::random::<u32>()));
        let copied = tokio::fs::copy(from, &partial).await;
        match copied {
            Ok(n) => {
                tokio::fs::rename(&partial, &to).await?;
                Ok(n)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&partial).await;
                Err(e.into())
            }
        }
    }

    async fn get(
        &self,
        key: &str,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<ObjectStream, StoreError> {
        let mut file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => StoreError::NotFound(key.to_owned()),
                _ => e.into(),
            })?;
        let total = file.metadata().await?.len();
        let (start, end) = match range {
            None => (0, total.saturating_sub(1)),
            Some((s, e)) => (s, e.unwrap_or(u64::MAX).min(total.saturating_sub(1))),
        };
        if total == 0 && range.is_none() {
            return Ok(ObjectStream {
                body: Box::pin(tokio::io::empty()),
                len: 0,
                total,
            });
        }
        if start > end || start >= total {
            return Err(StoreError::BadRange);
        }
        file.seek(SeekFrom::Start(start)).await?;
        let len = end - start + 1;
        Ok(ObjectStream {
            body: Box::pin(file.take(len)),
            len,
            total,
        })
    }

    async fn list_pages(
        &self,
        each: &mut (impl FnMut(Vec<Listed>) + Send),
    ) -> Result<(), StoreError> {
        let mut page = Vec::with_capacity(LIST_PAGE);
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                let meta = entry.metadata().await?;
                let path = entry.path();
                if meta.is_dir() {
                    dirs.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().replace('\\', "/");
                    // Half-copied objects are not objects (nor the scratch folders').
                    if check_key(&key).is_ok() && !key.contains(".partial-") {
                        let modified = meta.modified().map(chrono::DateTime::from)?;
                        page.push(Listed {
                            key,
                            size: meta.len(),
                            modified,
                        });
                        if page.len() == LIST_PAGE {
                            each(std::mem::take(&mut page));
                        }
                    }
                }
            }
        }
        if !page.is_empty() {
            each(page);
        }
        Ok(())
    }
}

pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    fn new(s: &S3Settings) -> Self {
        use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut config = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(s.region.clone()))
            .credentials_provider(Credentials::new(
                s.access_key_id.clone(),
                s.secret_access_key.expose().to_owned(),
                None,
                None,
                "ambisonia-settings",
            ))
            .force_path_style(s.path_style)
            .http_client(http);
        if let Some(url) = &s.endpoint_url {
            config = config.endpoint_url(url);
        }
        Self {
            client: Client::from_conf(config.build()),
            bucket: s.bucket.clone(),
        }
    }

    /// Lets browsers on `origin` PUT parts straight to the bucket (direct uploads) and read
    /// each part's `ETag`.
    pub async fn allow_browser_uploads(&self, origin: &str) -> Result<(), StoreError> {
        use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
        let rule = CorsRule::builder()
            .allowed_origins(origin)
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()
            .map_err(|e| StoreError::Io(e.to_string()))?;
        let config = CorsConfiguration::builder()
            .cors_rules(rule)
            .build()
            .map_err(|e| StoreError::Io(e.to_string()))?;
        self.client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(config)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    /// Creates the bucket if it is not there (for tests and first runs against a new store).
    pub async fn ensure_bucket(&self) -> Result<(), StoreError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<u64, StoreError> {
        let len = tokio::fs::metadata(path).await?.len();
        // ByteStream::from_path streams the file in chunks; it is never read whole.
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StoreError::Io(e.to_string()))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(i64::try_from(len).unwrap_or(i64::MAX))
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(len)
    }

    async fn get(
        &self,
        key: &str,
        range: Option<(u64, Option<u64>)>,
    ) -> Result<ObjectStream, StoreError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range_header(range))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(s) if s.is_no_such_key() => StoreError::NotFound(key.to_owned()),
                _ if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => {
                    StoreError::BadRange
                }
                _ => s3_error(&e),
            })?;
        let len = out
            .content_length()
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        // "bytes 0-99/1234" gives the whole size; without a range the length is the size.
        let total = out
            .content_range()
            .and_then(|r| r.rsplit('/').next())
            .and_then(|t| t.parse().ok())
            .unwrap_or(len);
        Ok(ObjectStream {
            body: Box::pin(out.body.into_async_read()),
            len,
            total,
        })
    }

    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(h) => Ok(h.content_length().and_then(|l| u64::try_from(l).ok())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_error(&e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }

    async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
        filename: &str,
    ) -> Result<String, StoreError> {
        let config =
            PresigningConfig::expires_in(ttl).map_err(|e| StoreError::Io(e.to_string()))?;
        let safe: String = filename
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_response_content_disposition(
                (!safe.is_empty()).then(|| format!("attachment; filename=\"{safe}\"")),
            )
            .presigned(config)
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(req.uri().to_owned())
    }

    async fn list_pages(
        &self,
        each: &mut (impl FnMut(Vec<Listed>) + Send),
    ) -> Result<(), StoreError> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .max_keys(i32::try_from(LIST_PAGE).unwrap_or(1000))
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| s3_error(&e))?;
            let listed = page
                .contents()
                .iter()
                .filter_map(|o| {
                    let modified = o.last_modified().and_then(|t| {
                        chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
                    })?;
                    Some(Listed {
                        key: o.key()?.to_owned(),
                        size: u64::try_from(o.size()?).unwrap_or(0),
                        modified,
                    })
                })
                .collect::<Vec<_>>();
            if !listed.is_empty() {
                each(listed);
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated().unwrap_or(false) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), StoreError> {
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .copy_source(format!("{}/{from}", self.bucket))
            .key(to)
            .send()
            .await
            .map_err(|e| s3_error(&e))?;
        Ok(())
    }
}

/// One line for the log: the service's code and message, never the credentials.
fn s3_error<E: std::error::Error + 'static>(e: &E) -> StoreError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    StoreError::Io(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_leave_the_store() {
        assert!(check_key("originals/ab/abcdef.amb").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a b",
            "a\\b",
            "ü",
            ".incoming/abc",
            "a/.hidden",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
