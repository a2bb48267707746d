//! `Application::build` binds the listener and opens the store; `run_until_stopped` serves until shutdown,
//! then stops the InfluxDB writer and waits for it. The writer runs supervised: when it fails (a store
//! error, a panic) it is logged, counted in `fogwhisk_hub_task_restarts_total{task="influx writer"}` and
//! restarted with the `influx.retry_min_ms`..`retry_max_ms` backoff; the queue it left stays in the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use fogwhisk_shutdown::{supervise, Restart};

use crate::config::Settings;
use crate::influx::{build_sink, run_writer, Writer, WriterConfig};
use crate::metrics::Metrics;
use crate::state::{resolve_admin_token, AppState};
use crate::store::Store;

/// The InfluxDB writer's name in logs and in `fogwhisk_hub_task_restarts_total{task=...}`.
pub const WRITER_TASK: &str = "influx writer";

/// The whole router; every route passes the access guard ([`crate::access::ROUTES`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(crate::metrics::handler))
        .merge(crate::sites::router())
        .merge(crate::ingest::router())
        .merge(crate::query::router())
        .merge(crate::page::router())
        .merge(crate::charts::router(&state.settings))
        .merge(crate::tokens::router())
        .merge(crate::catalog::router())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), crate::access::guard))
        .fallback(|| async { crate::error::ApiError::NotFound("no such route".into()) })
        .with_state(state)
}

/// A built, not yet running hub.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
}

impl Application {
    /// Opens the store, resolves the admin token and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        use anyhow::Context;
        let (admin_token, token_file) =
            resolve_admin_token(&settings).context("reading or creating the admin token")?;
        if let Some(path) = token_file {
            tracing::info!(path = %path.display(), "admin token file");
        }
        let store = Store::open(&settings.data_dir)
            .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
        let charts_dir = settings.data_dir.join("charts");
        std::fs::create_dir_all(&charts_dir).with_context(|| format!("creating {}", charts_dir.display()))?;
        let catalog = crate::catalog::Catalog::open(&settings.catalog, &store).await.context("opening the catalog")?;
        tracing::info!(backend = %catalog.describe(), "catalog");
        let listener =
            TcpListener::bind(settings.listen).await.with_context(|| format!("binding {}", settings.listen))?;
        let shutdown = CancellationToken::new();
        let state = AppState {
            settings: Arc::new(settings),
            store,
            admin_token: Arc::new(admin_token),
            metrics: Arc::new(Metrics::default()),
            queue_notify: Arc::new(Notify::new()),
            charts_dir: Arc::new(charts_dir),
            catalog,
            stopping: shutdown.clone(),
        };
        Ok(Application { listener, state, shutdown })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Cancelling this token stops the application (same as the `shutdown` future finishing).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Shared state (tests and the bench read metrics and the store through it).
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes or the token is cancelled; then drains requests and stops
    /// the writer, each within `shutdown_timeout_secs`.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Application { listener, state, shutdown: token } = self;
        let limit = Duration::from_secs(state.settings.shutdown_timeout_secs);
        let writer = build_sink(&state.settings.influx).map(|sink| {
            let (store, metrics, notify) = (state.store.clone(), state.metrics.clone(), state.queue_notify.clone());
            let config = WriterConfig::from_settings(&state.settings.influx);
            let policy = Restart { min: config.retry_min, max: config.retry_max.max(config.retry_min) };
            let stop = token.child_token();
            tokio::spawn(async move {
                let on_restart = {
                    let metrics = metrics.clone();
                    move |_: &fogwhisk_shutdown::Failure| metrics.task_restarted(WRITER_TASK)
                };
                supervise(WRITER_TASK, policy, stop.clone(), on_restart, move || {
                    let w = Writer {
                        store: store.clone(),
                        sink: sink.clone(),
                        config: config.clone(),
                        metrics: metrics.clone(),
                        notify: notify.clone(),
                    };
                    run_writer(w, stop.clone())
                })
                .await
            })
        });
        let watcher = {
            let token = token.clone();
            tokio::spawn(async move {
                tokio::select! { _ = shutdown => token.cancel(), _ = token.cancelled() => {} }
            })
        };
        tracing::info!(addr = %listener.local_addr()?, "hub listening");
        let app = router(state);
        let serve_token = token.clone();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move { serve_token.cancelled().await });
        let mut served = tokio::spawn(async move { server.await });
        tokio::select! {
            _ = token.cancelled() => {}
            r = &mut served => {
                token.cancel();
                r??;
            }
        }
        tracing::info!("shutting down");
        if !served.is_finished() {
            match tokio::time::timeout(limit, &mut served).await {
                Ok(r) => r??,
                Err(_) => {
                    tracing::warn!("HTTP connections still open after {limit:?}; closing them");
                    served.abort();
                }
            }
        }
        if let Some(handle) = writer {
            match tokio::time::timeout(limit, handle).await {
                Ok(r) => {
                    r?;
                }
                Err(_) => tracing::warn!("InfluxDB writer did not stop within {limit:?}"),
            }
        }
        watcher.await?;
        tracing::info!("stopped");
        Ok(())
    }
}
