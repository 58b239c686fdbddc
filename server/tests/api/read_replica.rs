//! Read replicas with read-your-writes, against a real streaming replica (scripts/test
//! starts the pair with scripts/pg-pair): a logged-in visitor's own pages are read from the
//! replica; a comment posted and the page reloaded at once shows the comment even while
//! the replica's replay is paused (that reload reads the primary); once replay resumes,
//! their reads go back to the replica.

use std::time::{Duration, Instant};

use domain::Role;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::helpers::{Browser, TestApp, replica_pair_urls, sample};

async fn on_replica(sql: &str) {
    let admin = Database::connect(replica_pair_urls().1)
        .await
        .expect("the replica answers");
    admin.execute_unprepared(sql).await.expect(sql);
}

/// Resumes the replica's replay however the test ends (the pair serves the whole run).
struct ResumeOnDrop;

impl Drop for ResumeOnDrop {
    fn drop(&mut self) {
        let _ = std::thread::spawn(|| {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(on_replica("SELECT pg_wal_replay_resume()"));
            }
        })
        .join();
    }
}

fn replica_count(app: &TestApp) -> u64 {
    app.replica_statements
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// Views `page` as `who`; whether any of its reads went to the replica.
async fn read_from_replica(app: &TestApp, page: &str, who: &Browser) -> (bool, String) {
    let before = replica_count(app);
    let (status, body) = app.get_text(page, who).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    (replica_count(app) > before, body)
}

async fn comments_on_replica(db: &DatabaseConnection, text: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM comments WHERE body = $1",
            [text.into()],
        ))
        .await
        .expect("count on the replica")
        .expect("a row");
    row.try_get("", "n").expect("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_writes_show_at_once_even_while_the_replica_is_paused() {
    let app = TestApp::spawn_with_replica().await;
    let paul = app.user("paul", Role::Uploader).await;
    let slug = app.recording(sample("Harbour at dawn", paul)).await.1;
    let page = format!("/recordings/{slug}");
    app.user("lena", Role::Listener).await;
    let mut lena = app.login("lena").await;

    // Lena's pages are read from the replica (once it has replayed her log-in).
    let start = Instant::now();
    while !read_from_replica(&app, &page, &lena).await.0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "reads never went to the replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(read_from_replica(&app, "/account", &lena).await.0);

    on_replica("SELECT pg_wal_replay_pause()").await;
    let _resume = ResumeOnDrop;
    let replica_db = Database::connect(format!(
        "{}/{}",
        replica_pair_urls().1.rsplit_once('/').expect("a URL").0,
        app.database_url().rsplit_once('/').expect("a URL").1
    ))
    .await
    .expect("the replica's copy");
    let text = "Written while the replica sleeps.";
    crate::bus::comment(&app, &mut lena, &slug, text).await;
    assert!(
        lena.cookie("ambisonia_wrote_at").is_some(),
        "the write's log position is remembered"
    );
    let (from_replica, body) = read_from_replica(&app, &page, &lena).await;
    assert!(body.contains(text), "the comment shows at once");
    assert!(!from_replica, "read from the primary");
    assert_eq!(
        comments_on_replica(&replica_db, text).await,
        0,
        "the replica really has not replayed it"
    );
    on_replica("SELECT pg_wal_replay_resume()").await;
    let start = Instant::now();
    loop {
        let (from_replica, body) = read_from_replica(&app, &page, &lena).await;
        assert!(body.contains(text), "never without her comment");
        if from_replica {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "reads never went back to the replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(comments_on_replica(&replica_db, text).await, 1);
}

/// A read URL that names a primary (a mistake in the settings) is refused at start: its
/// data would never lag, so the position checks could not protect anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_url_that_is_not_a_replica_is_refused() {
    let primary = replica_pair_urls().0;
    let db = domain::db::open(&primary).await.expect("the primary");
    let refused =
        domain::replica::Reads::with_replica(db.clone(), db.clone(), db.clone(), db).await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("not a streaming replica")),
        "refused with the reason"
    );
}
