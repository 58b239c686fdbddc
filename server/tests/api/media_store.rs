//! The media store's one interface on both real backends: a local folder and an
//! S3-compatible server (moto, started by `scripts/test`; `TEST_S3_URL` points at it).

use std::{path::PathBuf, time::Duration};

use domain::store::{MediaStore, S3Settings, StoreError};
use tokio::io::AsyncReadExt;

pub fn s3_url() -> String {
    std::env::var("TEST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// A fresh bucket on the test S3 server.
pub async fn s3_store() -> MediaStore {
    s3_store_with(&s3_settings()).await
}

pub fn s3_settings() -> S3Settings {
    S3Settings {
        bucket: format!("ambisonia-test-{:08x}", rand::random::<u32>()),
        region: "us-east-1".into(),
        endpoint_url: Some(s3_url()),
        path_style: true,
        access_key_id: "test".into(),
        secret_access_key: domain::Secret::new("test-secret"),
    }
}

pub async fn s3_store_with(settings: &S3Settings) -> MediaStore {
    let store = MediaStore::s3(settings);
    if let MediaStore::S3(s) = &store {
        s.ensure_bucket()
            .await
            .expect("the test S3 server answers (scripts/test starts moto)");
    }
    store
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ambisonia-{tag}-{:08x}", rand::random::<u32>()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

async fn read_all(
    store: &MediaStore,
    key: &str,
    range: Option<(u64, Option<u64>)>,
) -> Result<(Vec<u8>, u64), StoreError> {
    let mut o = store.get(key, range).await?;
    let mut buf = Vec::new();
    o.body
        .read_to_end(&mut buf)
        .await
        .map_err(|e| StoreError::Io(e.to_string()))?;
    assert_eq!(buf.len() as u64, o.len, "the stream is as long as it says");
    Ok((buf, o.total))
}

async fn the_same_interface_works(store: MediaStore) {
    let dir = temp_dir("store");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let file = dir.join("rec.amb");
    std::fs::write(&file, &content).expect("write");

    assert_eq!(store.size("originals/ab/rec.amb").await.ok(), Some(None));
    assert_eq!(
        store.put_file("originals/ab/rec.amb", &file).await.ok(),
        Some(200_000)
    );
    assert_eq!(
        store.size("originals/ab/rec.amb").await.ok(),
        Some(Some(200_000))
    );

    let (whole, total) = read_all(&store, "originals/ab/rec.amb", None)
        .await
        .expect("whole");
    assert_eq!((whole == content, total), (true, 200_000));
    let (part, total) = read_all(&store, "originals/ab/rec.amb", Some((1000, Some(1999))))
        .await
        .expect("range");
    assert_eq!((part.as_slice(), total), (&content[1000..2000], 200_000));
    let (tail, _) = read_all(&store, "originals/ab/rec.amb", Some((199_990, None)))
        .await
        .expect("open range");
    assert_eq!(tail.as_slice(), &content[199_990..]);
    assert!(matches!(
        read_all(&store, "originals/ab/rec.amb", Some((300_000, None))).await,
        Err(StoreError::BadRange)
    ));
    assert!(matches!(
        read_all(&store, "originals/ab/none.amb", None).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.put_file("../escape", &file).await,
        Err(StoreError::BadKey(_))
    ));

    store
        .put_file("previews/ab/rec.ogg", &file)
        .await
        .expect("second object");
    let listed = store.list().await.expect("list");
    assert_eq!(
        listed,
        vec![
            ("originals/ab/rec.amb".to_owned(), 200_000),
            ("previews/ab/rec.ogg".to_owned(), 200_000)
        ]
    );

    match store
        .presigned_get(
            "originals/ab/rec.amb",
            Duration::from_secs(60),
            "Dawn Chorus.amb",
        )
        .await
        .expect("presign")
    {
        None => assert!(
            matches!(store, MediaStore::Local(_)),
            "only the folder streams itself"
        ),
        Some(url) => {
            let r = reqwest::get(&url).await.expect("presigned URL answers");
            assert_eq!(r.status(), 200, "{url}");
            let disposition = r
                .headers()
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            assert_eq!(r.bytes().await.ok().map(|b| b == content), Some(true));
            assert_eq!(
                disposition.as_deref(),
                Some("attachment; filename=\"Dawn_Chorus.amb\"")
            );
        }
    }

    store.delete("originals/ab/rec.amb").await.expect("delete");
    store
        .delete("originals/ab/rec.amb")
        .await
        .expect("deleting twice is fine");
    assert_eq!(store.size("originals/ab/rec.amb").await.ok(), Some(None));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_local_folder_is_a_media_store() {
    the_same_interface_works(MediaStore::local(temp_dir("local"))).await;
}

#[tokio::test]
async fn an_s3_bucket_is_the_same_media_store() {
    the_same_interface_works(s3_store().await).await;
}

fn migrate(dir: &std::path::Path, s: &S3Settings) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["media", "migrate", "--to", "s3", "--media-dir"])
        .arg(dir)
        .env("AMBISONIA_S3_BUCKET", &s.bucket)
        .env("AMBISONIA_S3_ENDPOINT", s3_url())
        .env("AMBISONIA_S3_PATH_STYLE", "true")
        .env("AWS_ACCESS_KEY_ID", &s.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", s.secret_access_key.expose())
        .output()
        .expect("server runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn migration_copies_the_folder_to_the_bucket_verified_and_resumes() {
    let dir = temp_dir("migrate");
    let files = [
        ("originals/aa/one.amb", 70_000usize),
        ("originals/bb/two.wav", 1),
        ("previews/aa/one.ogg", 12_345),
    ];
    for (key, size) in files {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        std::fs::write(
            &path,
            (0..size).map(|i| (i * 7 % 256) as u8).collect::<Vec<u8>>(),
        )
        .expect("write");
    }
    std::fs::write(
        dir.join("originals/aa/half.partial-0000beef"),
        b"half-copied",
    )
    .expect("write");
    let settings = s3_settings();
    let bucket = s3_store_with(&settings).await;

    let (ok, stdout, stderr) = migrate(&dir, &settings);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("All 3 objects") && stdout.contains("3 copied"),
        "{stdout}"
    );
    assert!(
        stderr.contains("[3/3] 100.0%"),
        "progress is shown: {stderr}"
    );
    let listed = bucket.list().await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|(k, s)| (k.as_str(), *s as usize))
            .collect::<Vec<_>>(),
        files.to_vec()
    );

    // Again: nothing to copy, everything verified.
    let (ok, stdout, _) = migrate(&dir, &settings);
    assert!(
        ok && stdout.contains("0 copied, 3 already there"),
        "{stdout}"
    );

    // A damaged copy in the bucket (same size, other bytes) is found and copied again.
    let damaged = dir.join("damaged");
    std::fs::write(&damaged, vec![0u8; 12_345]).expect("write");
    bucket
        .put_file("previews/aa/one.ogg", &damaged)
        .await
        .expect("put");
    std::fs::remove_file(&damaged).expect("rm");
    let (ok, stdout, _) = migrate(&dir, &settings);
    assert!(
        ok && stdout.contains("1 copied, 2 already there"),
        "{stdout}"
    );

    // Without a bucket it says what is missing, and copies nothing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["media", "migrate", "--to", "s3", "--media-dir"])
        .arg(&dir)
        .env_remove("AMBISONIA_S3_BUCKET")
        .output()
        .expect("server runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AMBISONIA_S3_BUCKET"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The balancers' ACME store on the bucket (`[acme] store = "bucket:acme"`): what one
/// balancer saves, another reads; what nobody saved is `None`, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acme_store_on_the_bucket_is_shared_by_every_balancer() {
    use balancer::acme::{Prefixed, Store};
    let settings = s3_settings();
    s3_store_with(&settings).await;
    let on = |_: ()| -> std::sync::Arc<dyn Store> {
        std::sync::Arc::new(Prefixed {
            inner: std::sync::Arc::new(server::balancer_role::BucketStore(MediaStore::s3(
                &settings,
            ))),
            prefix: "acme".into(),
        })
    };
    let (one, other) = (on(()), on(()));
    assert_eq!(one.load("certificate.pem").await, Ok(None));
    one.save("certificate.pem", b"-----BEGIN PRIVATE KEY-----".to_vec())
        .await
        .expect("saved");
    one.save("challenges/tok-EN_1", b"tok-EN_1.thumbprint".to_vec())
        .await
        .expect("saved");
    assert_eq!(
        other.load("certificate.pem").await,
        Ok(Some(b"-----BEGIN PRIVATE KEY-----".to_vec()))
    );
    assert_eq!(
        other.load("challenges/tok-EN_1").await,
        Ok(Some(b"tok-EN_1.thumbprint".to_vec()))
    );
    // Under the prefix the balancers' IAM policy allows, nowhere else.
    let bucket = MediaStore::s3(&settings);
    assert_eq!(
        bucket.size("acme/certificate.pem").await.ok().flatten(),
        Some(27)
    );
}
