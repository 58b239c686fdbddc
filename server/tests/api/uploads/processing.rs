//! The processing job after an upload: preview, waveform and direction picture, a job left by
//! a dead replica, and how long a page is shared while its preview is being made.

use domain::{JobState, Processing, Role};
use reqwest::StatusCode;
use sea_orm::EntityTrait;

use super::{fuma_file, processed, uploader};
use crate::{
    both_backends,
    helpers::{Backend, Browser, TestApp, header_of},
};

async fn processing_makes_a_preview_a_waveform_and_a_direction_picture(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    let res = app
        .upload(
            &marta,
            &[("title", "Circling Bee")],
            "bee.amb",
            fuma_file(48_000),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let row = processed(&app, "circling-bee").await;
    assert_eq!(
        (row.processing, row.processing_error.as_str()),
        (Processing::Done, "")
    );
    assert!(
        row.preview_key
            .as_deref()
            .is_some_and(|k| k.starts_with("previews/") && k.ends_with(".ogg"))
    );

    // Pending: the uploader hears it, the public does not.
    let preview = app
        .get("/recordings/circling-bee/preview.ogg", &marta)
        .await;
    assert_eq!(preview.status(), StatusCode::OK);
    assert_eq!(header_of(&preview, "content-type"), "audio/ogg");
    assert_eq!(header_of(&preview, "cache-control"), "private, no-store");
    let ogg = preview.bytes().await.unwrap_or_default();
    assert_eq!(&ogg[..4], b"OggS");
    assert_eq!(
        app.get("/recordings/circling-bee/preview.ogg", &Browser::default())
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    for picture in ["waveform.svg", "doa.svg"] {
        let res = app
            .get(&format!("/recordings/circling-bee/{picture}"), &marta)
            .await;
        assert_eq!(
            (res.status(), header_of(&res, "content-type")),
            (StatusCode::OK, "image/svg+xml".to_owned()),
            "{picture}"
        );
        assert!(res.text().await.unwrap_or_default().starts_with("<svg"));
    }
    let (_, html) = app.get_text("/recordings/circling-bee", &marta).await;
    assert!(
        html.contains("<audio") && html.contains("preview.ogg") && html.contains("doa.svg"),
        "the page plays and shows it"
    );

    // A failure is shown to the uploader, who can run it again.
    {
        use sea_orm::{ActiveModelTrait, Set};
        domain::entities::recordings::ActiveModel {
            id: Set(row.id),
            processing: Set(Processing::Failed),
            processing_error: Set("the preview encoder failed: test".into()),
            preview_key: Set(None),
            ..Default::default()
        }
        .update(&app.db)
        .await
        .expect("fail it");
    }
    let (_, html) = app.get_text("/recordings/circling-bee", &marta).await;
    assert!(
        html.contains("Making the preview failed")
            && html.contains("the preview encoder failed: test"),
        "the reason is shown"
    );
    assert!(
        html.contains("/api/retry-processing"),
        "with a way to try again"
    );
    let mut b = marta.clone();
    let token = app.form_token("/recordings/circling-bee", &mut b).await;
    let res = app
        .post_form(
            "/api/retry-processing",
            "/recordings/circling-bee",
            &[("csrf", &token), ("slug", "circling-bee")],
            &mut b,
        )
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let row = processed(&app, "circling-bee").await;
    assert_eq!(row.processing, Processing::Done);
    assert!(row.preview_key.is_some());
    let jobs = domain::entities::jobs::Entity::find()
        .all(&app.db)
        .await
        .expect("jobs");
    assert_eq!(
        jobs.iter().map(|j| j.state).collect::<Vec<_>>(),
        [JobState::Done, JobState::Done]
    );
}

async fn a_job_left_running_by_a_replica_that_died_is_done_by_another(backend: Backend) {
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(backend).await;
    let marta = uploader(&app, "marta", Role::Uploader).await;
    assert_eq!(
        app.upload(
            &marta,
            &[("title", "Night Rain")],
            "rain.amb",
            fuma_file(9600)
        )
        .await
        .status(),
        StatusCode::SEE_OTHER
    );
    let row = processed(&app, "night-rain").await;
    assert_eq!(row.processing, Processing::Done);
    // A replica claimed a second job and died: the job is `running`, its lock ran out.
    domain::entities::recordings::ActiveModel {
        id: Set(row.id),
        preview_key: Set(None),
        processing: Set(Processing::Running),
        ..Default::default()
    }
    .update(&app.db)
    .await
    .expect("row");
    let now = chrono::Utc::now();
    domain::entities::jobs::ActiveModel {
        kind: Set(domain::JobKind::Process),
        subject_id: Set(row.id),
        state: Set(JobState::Running),
        attempts: Set(1),
        locked_until: Set(Some(now - chrono::Duration::seconds(1))),
        last_error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .expect("job");
    let row = processed(&app, "night-rain").await;
    assert_eq!(row.processing, Processing::Done);
    assert!(
        row.preview_key.is_some(),
        "the abandoned job was claimed and finished"
    );
    let jobs = domain::entities::jobs::Entity::find()
        .all(&app.db)
        .await
        .expect("jobs");
    assert!(
        jobs.iter().all(|j| j.state == JobState::Done),
        "{:?}",
        jobs.iter().map(|j| &j.state).collect::<Vec<_>>()
    );
}

both_backends!(
    a_job_left_running_by_a_replica_that_died_is_done_by_another,
    processing_makes_a_preview_a_waveform_and_a_direction_picture,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_preview_is_being_made_is_shared_only_briefly() {
    use sea_orm::{ActiveModelTrait, Set};
    let app = TestApp::spawn(Backend::Sqlite).await;
    let owner = app.user("paul", Role::Uploader).await;
    let (id, slug) = app
        .recording(crate::helpers::sample("Gulls at the Pier", owner))
        .await;
    let set = |processing: Processing, preview: Option<&'static str>| {
        domain::entities::recordings::ActiveModel {
            id: Set(id),
            media_key: Set(Some("originals/00/gulls.amb".into())),
            preview_key: Set(preview.map(Into::into)),
            processing: Set(processing),
            ..Default::default()
        }
    };
    let cache_control = |slug: String| {
        let app = &app;
        async move {
            header_of(
                &app.get(&format!("/recordings/{slug}"), &Browser::default())
                    .await,
                "cache-control",
            )
        }
    };
    // Each change as the worker makes it: written, and logged for the read cache.
    let save = |row: domain::entities::recordings::ActiveModel| {
        let app = &app;
        async move {
            let w = domain::write::Write::begin(&app.db).await.expect("write");
            row.update(&w).await.expect("row");
            w.commit(domain::write::Changed::keys([domain::key::recording(id)]))
                .await
                .expect("commit");
            app.bus.catch_up().await.expect("caught up");
        }
    };
    save(set(Processing::Running, None)).await;
    assert!(
        cache_control(slug.clone()).await.contains("s-maxage=5,"),
        "the player is about to appear"
    );
    save(set(Processing::Done, Some("previews/00/gulls.ogg"))).await;
    assert!(cache_control(slug.clone()).await.contains("s-maxage=60,"));
    save(set(Processing::Failed, None)).await;
    assert!(
        cache_control(slug).await.contains("s-maxage=60,"),
        "a failure does not change by itself"
    );
}
