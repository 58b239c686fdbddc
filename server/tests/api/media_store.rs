//! The media store's one interface on both real backends: a local folder and an
//! S3-compatible server (moto, started by `scripts/test`; `TEST_S3_URL` points at it).

use std::{path::PathBuf, time::Duration};

use server::media::store::{MediaStore, S3Settings, StoreError};
use tokio::io::AsyncReadExt;

pub fn s3_url() -> String {
    std::env::var("TEST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// A fresh bucket on the test S3 server.
pub async fn s3_store() -> MediaStore {
    let settings = S3Settings {
        bucket: format!("ambisonia-test-{:08x}", rand::random::<u32>()),
        region: "us-east-1".into(),
        endpoint_url: Some(s3_url()),
        path_style: true,
        access_key_id: "test".into(),
        secret_access_key: "test-secret".into(),
    };
    let store = MediaStore::s3(&settings);
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
