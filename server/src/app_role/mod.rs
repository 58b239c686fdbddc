//! `server --role app`: one stateless replica. Leptos renders the pages and runs the server
//! functions; around them sits the request pipeline (`pipeline`: the request id and span,
//! the log line, what writes changed, security headers; for pages the cache policy, the
//! session, the form token); beside them the upload, download and feed handlers, and the
//! job worker.

mod api;
mod assets;
mod cache_policy;
mod changed_pages;
mod collection_zip;
mod conditional;
mod csrf;
mod direct;
mod downloads;
mod embed;
mod feeds;
mod form_errors;
mod forms;
mod health;
mod map;
mod media_state;
mod metrics;
mod page_headers;
mod pipeline;
mod read_your_writes;
mod refusal;
mod request_log;
mod session;
mod stripe_webhook;
mod uploads;
mod worker;
mod zip_stream;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use app::{
    App, shell,
    ssr::state::{AppState, Settings},
};
use axum::{
    Router,
    extract::DefaultBodyLimit,
    routing::{get, post},
};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list, render_app_async_with_context};
use tokio::net::TcpListener;

use crate::config::AppConfig;
use media_state::MediaState;
/// How often an idle job worker looks for a job it was not rung for.
pub use worker::LOOK_EVERY as JOB_LOOK_EVERY;

pub struct Application {
    listener: TcpListener,
    draining: Arc<AtomicBool>,
    drain: Duration,
    statements: Arc<AtomicU64>,
    bus: Arc<domain::bus::Bus>,
    replica_statements: Arc<AtomicU64>,
    router: Router,
    /// `None` on a replica told not to run jobs (`--jobs false`).
    worker: Option<worker::Worker>,
    shutdown_grace: Duration,
    /// Downloads counted in memory, and the connection they are flushed on.
    downloads: (Arc<domain::downloads::Counter>, domain::db::Db),
    renditions: Arc<domain::renditions::Renditions>,
    /// `/metrics`' listener and what it reads, when `--metrics-listen` is set.
    metrics: Option<(
        TcpListener,
        metrics::Sources,
        Option<balancer::token::BearerToken>,
    )>,
}

impl Application {
    /// Opens the database (migrating it), builds the routes and binds the listener, so the
    /// address is known before serving (port 0 in tests).
    pub async fn build(config: &AppConfig) -> Result<Self, String> {
        pipeline::carry_spans_into_leptos_tasks();
        let mut db = config.db.connect().await?;
        let counters = Arc::new(metrics::Counters::default());
        // The bus follower and the job worker use their own handle: what is counted is
        // what serving requests sends (a warm cache sends nothing for an anonymous page).
        // `/metrics` times every statement, theirs too.
        let mut background = db.clone();
        {
            let counters = Arc::clone(&counters);
            background.set_metric_callback(move |s| counters.statement(s.elapsed, s.failed));
        }
        let statements = Arc::new(AtomicU64::new(0));
        let replica_statements = Arc::new(AtomicU64::new(0));
        let count = |db: &mut domain::db::Db, also: Option<&Arc<AtomicU64>>| {
            let (counter, also) = (Arc::clone(&statements), also.cloned());
            let counters = Arc::clone(&counters);
            db.set_metric_callback(move |s| {
                counter.fetch_add(1, Ordering::Relaxed);
                if let Some(also) = &also {
                    also.fetch_add(1, Ordering::Relaxed);
                }
                counters.statement(s.elapsed, s.failed);
            });
        };
        count(&mut db, None);
        let mut replica_db = None;
        let reads = Arc::new(match config.db.connect_replica().await? {
            Some(mut replica) => {
                replica_db = Some(replica.clone());
                let watch = replica.clone();
                count(&mut replica, Some(&replica_statements));
                domain::replica::Reads::with_replica(db.clone(), replica, background.clone(), watch)
                    .await
                    .map_err(|e| format!("cannot read from the replica: {e}"))?
            }
            None => domain::replica::Reads::primary_only(db.clone()),
        });
        let bus = domain::bus::Bus::start(
            background.clone(),
            domain::bus::ReadCache::new(
                config.read_cache_mb.saturating_mul(1024 * 1024),
                Duration::from_secs(u64::from(config.page_ttl_s.max(1))),
            ),
            config.bus.transport()?,
        )
        .await
        .map_err(|e| format!("cannot follow the invalidation log: {e}"))?;
        std::fs::create_dir_all(&config.media_dir).map_err(|e| {
            format!(
                "cannot create the media folder {}: {e}",
                config.media_dir.display()
            )
        })?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let store = config.s3.store(&config.media_dir);
        tracing::info!(store = %store.describe(), "media store");
        let media_origin = store.link_origin().await;
        let form_error_key = domain::signing::form_error_key(&db)
            .await
            .map_err(|e| format!("cannot read the site's signing key: {}", e.for_operator()))?;
        let background_for_metrics = background.clone();
        let payments = Arc::new(config.stripe.payments()?);
        tracing::info!(payments = ?payments, "payments");
        let state = AppState {
            db,
            payments,
            bus: Arc::clone(&bus),
            reads,
            limits: Arc::default(),
            settings: Arc::new(Settings {
                public_url: config.public_url.trim_end_matches('/').to_string(),
                page_ttl_s: config.page_ttl_s,
                direct_upload_from: config
                    .s3
                    .settings()
                    .map(|_| config.direct_upload_from_mb.saturating_mul(1024 * 1024)),
                media_origin,
                form_error_key,
                payment_origins: config.stripe.payment_origins(),
                feed_email: config.feed_email.clone().filter(|e| !e.trim().is_empty()),
                torrent_trackers: config
                    .torrent_trackers
                    .iter()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
                    .collect(),
                map_tiles: domain::model::MapTiles {
                    url: config.map_tiles.trim().to_owned(),
                    attribution: config.map_attribution.trim().to_owned(),
                },
            }),
        };
        let store = Arc::new(store);
        let wake = Arc::new(tokio::sync::Notify::new());
        let job_runs = Arc::new(metrics::JobRuns::default());
        let worker = config.jobs.then(|| worker::Worker {
            runs: Arc::clone(&job_runs),
            db: background,
            store: Arc::clone(&store),
            scratch: config.media_dir.join(".work"),
            wake: Arc::clone(&wake),
            lease: Duration::from_secs(config.job_lease_s.max(1)),
        });
        let downloads = Arc::new(domain::downloads::Counter::default());
        let renditions = Arc::new(domain::renditions::Renditions::default());
        let flush_db = worker
            .as_ref()
            .map_or_else(|| state.db.clone(), |w| w.db.clone());
        let media = MediaState {
            db: state.db.clone(),
            wake,
            store,
            incoming: config.media_dir.join(".incoming"),
            max_upload_bytes: config.max_upload_mb.saturating_mul(1024 * 1024),
            downloads: Arc::clone(&downloads),
            renditions: Arc::clone(&renditions),
            excerpts: Arc::default(),
            settings: Arc::clone(&state.settings),
        };
        let metrics = match config.metrics_listen {
            Some(addr) => Some((
                metrics::bind(addr, config.admin_token.as_ref()).await?,
                metrics::Sources {
                    counters: Arc::clone(&counters),
                    primary: state.db.clone(),
                    replica: replica_db,
                    background: background_for_metrics,
                    bus: Arc::clone(&bus),
                    payments: Arc::clone(&state.payments),
                    renditions: Arc::clone(&renditions),
                    job_runs,
                    started: std::time::Instant::now(),
                },
                config.admin_token.clone(),
            )),
            None => None,
        };
        let draining = Arc::new(AtomicBool::new(false));
        let per_minute = |max| domain::quota::Allowance {
            max,
            window: Duration::from_secs(60),
        };
        let quota = Arc::new(domain::quota::Quota::new(
            per_minute(config.api_token_per_minute),
            per_minute(config.api_address_per_minute),
            config.bus.redis_url.as_deref(),
        )?);
        let router = router(state, media, config, Arc::clone(&draining), counters, quota);
        Ok(Self {
            listener,
            draining,
            drain: Duration::from_secs(config.drain_s),
            statements,
            bus,
            replica_statements,
            router,
            worker,
            shutdown_grace: Duration::from_secs(config.shutdown_grace_s),
            downloads: (downloads, flush_db),
            renditions,
            metrics,
        })
    }

    /// The download counts this replica keeps until it writes them.
    pub fn downloads(&self) -> Arc<domain::downloads::Counter> {
        Arc::clone(&self.downloads.0)
    }

    /// This replica's renditions in the making (and how many it has made).
    pub fn renditions(&self) -> Arc<domain::renditions::Renditions> {
        Arc::clone(&self.renditions)
    }

    /// How many statements serving requests has sent to the database (primary and read
    /// replica) so far.
    pub fn statements(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.statements)
    }

    /// How many of those went to the read replica.
    pub fn replica_statements(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.replica_statements)
    }

    /// This replica's place on the invalidation bus.
    pub fn bus(&self) -> Arc<domain::bus::Bus> {
        Arc::clone(&self.bus)
    }

    /// Where `/metrics` listens, when it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
            .as_ref()
            .and_then(|(listener, ..)| listener.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves until `shutdown` resolves; then drains (fails `/readyz`, closes each
    /// connection after its answer, for the drain period), stops accepting and lets
    /// requests in flight finish, for at most the grace period.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let (draining, drain) = (Arc::clone(&self.draining), self.drain);
        let shutdown = async move {
            shutdown.await;
            draining.store(true, Ordering::Relaxed);
            tracing::info!(
                drain_s = drain.as_secs(),
                "draining: /readyz fails while balancers notice"
            );
            tokio::time::sleep(drain).await;
        };
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let grace = self.shutdown_grace;
        // The job worker runs beside the server and stops with it; a job it leaves half done
        // is claimed again when its lock runs out.
        let _stop_worker = self.worker.map(|w| AbortOnDrop(tokio::spawn(w.run())));
        let _stop_metrics = self.metrics.map(|(listener, sources, token)| {
            AbortOnDrop(tokio::spawn(metrics::serve(listener, sources, token)))
        });
        // Downloads counted in memory reach the database every few seconds, and at the end.
        let (counter, db) = self.downloads;
        let flushing = {
            let (counter, db) = (Arc::clone(&counter), db.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(DOWNLOADS_FLUSHED_EVERY).await;
                    if let Err(e) = counter.flush(&db).await {
                        tracing::warn!(error = %e.for_operator(), "download counts not written yet");
                    }
                }
            })
        };
        let _stop_flushing = AbortOnDrop(flushing);
        tokio::select! {
            result = serve => {
                if let Err(e) = result {
                    tracing::error!(error = %e, "server stopped with an error");
                }
            }
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(grace_s = grace.as_secs(), "requests still in flight after the grace period; stopping");
            }
        }
        if let Err(e) = counter.flush(&db).await {
            tracing::warn!(error = %e.for_operator(), "the last download counts were not written");
        }
    }
}

/// How often the download counts kept in memory are written.
const DOWNLOADS_FLUSHED_EVERY: Duration = Duration::from_secs(5);

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn router(
    state: AppState,
    media_state: MediaState,
    config: &AppConfig,
    draining: Arc<AtomicBool>,
    counters: Arc<metrics::Counters>,
    quota: Arc<domain::quota::Quota>,
) -> Router {
    let state_bus = Arc::clone(&state.bus);
    let api_state = media_state.clone();
    let public_api = api::routes(
        api::ApiState {
            app: state.clone(),
            media: media_state.clone(),
        },
        api::Meter {
            db: state.db.clone(),
            quota: Arc::clone(&quota),
            proxies: config.proxies.clone(),
        },
    );
    let leptos_options = LeptosOptions::builder()
        .output_name("ambisonia")
        .site_addr(config.listen)
        .build();
    let routes = generate_route_list(App);
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let not_found = render_app_async_with_context(context.clone(), shell);

    let page_headers = page_headers::PageHeaders::new(
        state.settings.secure_cookies(),
        state.settings.media_origin.as_deref(),
        state.settings.payment_origins.as_deref(),
        state.settings.tile_origin().as_deref(),
    );
    let page_steps = pipeline::Pages {
        routing: read_your_writes::Routing {
            reads: Arc::clone(&state.reads),
            secure_cookies: state.settings.secure_cookies(),
        },
        sessions: session::Sessions {
            db: state.db.clone(),
            bus: Arc::clone(&state.bus),
            secure_cookies: state.settings.secure_cookies(),
            proxies: config.proxies.clone(),
            form_key: state.settings.form_error_key.clone(),
        },
        form_tokens: csrf::FormTokens {
            public_url: state.settings.public_url.clone(),
        },
        form_error_key: state.settings.form_error_key.clone(),
    };
    // Multipart framing adds a little to the file's own size.
    let upload_limit = usize::try_from(
        media_state
            .max_upload_bytes
            .saturating_add(contract::uploads::FORM_FRAMING_BYTES),
    )
    .unwrap_or(usize::MAX);
    let pages = Router::new()
        .route(
            "/upload/direct",
            post(direct::start).with_state(media_state.clone()),
        )
        .route(
            "/upload/direct/{id}",
            get(direct::status).with_state(media_state.clone()),
        )
        .route(
            "/upload/direct/{id}/urls",
            post(direct::urls).with_state(media_state.clone()),
        )
        .route(
            "/upload/direct/{id}/complete",
            post(direct::complete).with_state(media_state.clone()),
        )
        .route(
            "/upload/direct/{id}/abort",
            post(direct::abort).with_state(media_state.clone()),
        )
        .route(
            "/upload",
            post(uploads::form)
                .layer(DefaultBodyLimit::max(upload_limit))
                .with_state(media_state.clone()),
        )
        .route(
            "/recordings/{slug}/download",
            get(downloads::download).with_state(media_state.clone()),
        )
        .route(
            "/collections/{slug}/download.zip",
            get(collection_zip::download).with_state(media_state.clone()),
        )
        .route(
            "/recordings/{slug}/download.torrent",
            get(downloads::torrent).with_state(media_state.clone()),
        )
        .route(
            "/recordings/{slug}/{file}",
            get(downloads::derived).with_state(media_state),
        )
        .merge(feeds::routes(state.clone()))
        .leptos_routes_with_context(&leptos_options, routes, context, shell)
        .fallback(not_found);
    let pages = pipeline::pages(pages, page_steps).with_state(leptos_options);

    let routes = Router::new()
        .route("/healthz", get(health::live))
        .route(
            "/readyz",
            get(health::ready).with_state(health::Readiness {
                db: state.db.clone(),
                bus: Arc::clone(&state.bus),
                draining: Arc::clone(&draining),
            }),
        )
        .route("/style/main.css", get(assets::stylesheet))
        .route("/favicon.svg", get(assets::favicon))
        .route("/upload.js", get(assets::upload_js))
        .route("/spatial.js", get(assets::spatial_js))
        .route("/map.js", get(assets::map_js))
        .route("/vendor/{*file}", get(assets::vendor))
        .route("/binaural/{file}", get(assets::binaural_filters))
        .route("/spatial-probe.ogg", get(assets::channel_probe))
        // Token-authenticated, not cookie-authenticated: outside the session and form-token
        // steps, which a bearer token needs neither of.
        .route(
            "/api/v1/recordings",
            post(uploads::api)
                .layer(DefaultBodyLimit::disable())
                .with_state(api_state),
        )
        .merge(public_api)
        .merge(
            // No session or form-token steps: these read and set no cookie.
            Router::new()
                .route("/embed/{slug}", get(embed::page))
                .route("/oembed", get(embed::oembed))
                .route("/map/recordings.geojson", get(map::geojson))
                .with_state(state.clone())
                .layer(axum::middleware::from_fn(conditional::validate))
                .layer(axum::middleware::from_fn(cache_policy::apply)),
        )
        // Signed by Stripe, not by a session: outside the session and form-token steps.
        .route(
            "/stripe/webhook",
            post(stripe_webhook::receive)
                .layer(DefaultBodyLimit::max(stripe_webhook::MAX_EVENT_BYTES))
                .with_state(state.clone()),
        )
        .merge(pages);
    pipeline::every_request(
        routes,
        pipeline::Outer {
            draining,
            counters,
            bus: state_bus,
            page_headers,
        },
    )
}

/// Runs the replica until SIGTERM or Ctrl-C.
pub async fn run(config: AppConfig) -> Result<(), String> {
    let app = Application::build(&config).await?;
    tracing::info!(address = %app.local_addr(), database = %config.db.redacted(), "app replica listening");
    if let Some(addr) = app.metrics_addr() {
        tracing::info!(address = %addr, "metrics listening");
    }
    app.run_until(crate::shutdown::signal()).await;
    tracing::info!("stopped");
    Ok(())
}
