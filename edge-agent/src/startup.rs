//! Builds a running agent from settings (data folder, keys, store, pool, listener) and runs it until shutdown.

use std::future::{Future, IntoFuture};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use fogwhisk_runtime::{Pool, PoolConfig, RuntimeKind};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::identity::{self, Credentials, Identities, NamespaceMap, GUEST_NAMESPACE, SYSTEM_NAMESPACE};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{ActivationWriter, Store};
use crate::throttle::Throttles;

/// A built agent, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
    /// Stops outbox delivery and the purge (after HTTP, with the writer).
    services_stop: CancellationToken,
    /// Stops the activation writer, last before the pool.
    writer_stop: CancellationToken,
    background: Vec<(&'static str, JoinHandle<()>)>,
    broker: Option<fogwhisk_broker::EmbeddedBroker>,
    _runtime_dir: Option<tempfile::TempDir>,
}

/// Writes the wskprops files for the built-in namespaces.
fn write_wskprops(data: &Path, api_host: &str, map: &NamespaceMap) -> anyhow::Result<()> {
    for (ns, file) in [(GUEST_NAMESPACE, "wskprops"), (SYSTEM_NAMESPACE, "wskprops-whisk.system")] {
        let c = &map[ns];
        let text = format!("APIHOST={api_host}\nAUTH={}\nNAMESPACE={ns}\nAPIVERSION=v1\n", c.to_auth());
        identity::write_private(&data.join(file), text.as_bytes()).with_context(|| format!("writing {file}"))?;
    }
    Ok(())
}

fn parse_key(k: &Option<String>) -> anyhow::Result<Option<Credentials>> {
    k.as_deref().map(Credentials::parse).transpose().context("invalid namespace key")
}

impl Application {
    /// Prepares the data folder, store, keys, runtime pool and listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let data = settings.data_dir.clone();
        std::fs::create_dir_all(&data).with_context(|| format!("creating data folder {}", data.display()))?;
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("securing data folder {}", data.display()))?;
        let map =
            identity::ensure_builtin(&data, parse_key(&settings.keys.guest)?, parse_key(&settings.keys.whisk_system)?)?;
        let store = Store::open(&data.join("store.redb"))?;
        crate::system::install(&store).context("installing system packages")?;
        // the built-in packages go in before the quotas apply (they still count for whisk.system's own writes)
        let store = store.with_quotas(settings.quotas());
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding the API to {}", settings.listen))?;
        let addr = listener.local_addr()?;
        let api_host = settings.api_host.clone().unwrap_or_else(|| format!("http://{addr}"));
        write_wskprops(&data, &api_host, &map)?;

        let (runtime_dir, temp) = match &settings.pool.runtime_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new().prefix("fogwhisk-runtime-").tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(&runtime_dir)?;
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o755))?;
        let mut pc = PoolConfig::new(runtime_dir);
        pc.api_host = api_host.clone();
        pc.user_memory_mb = settings.pool.user_memory_mb;
        pc.idle_timeout = Duration::from_secs(settings.pool.idle_timeout_secs);
        pc.prewarm = vec![
            (RuntimeKind::Nodejs20, settings.pool.prewarm_nodejs),
            (RuntimeKind::Python311, settings.pool.prewarm_python),
        ];
        if let Some(n) = &settings.pool.node {
            pc.node_bin = n.clone();
        }
        if let Some(p) = &settings.pool.python {
            pc.python_bin = p.clone();
        }
        pc.max_result_bytes = settings.limits.max_payload_bytes;
        pc.namespace_memory_share = settings.pool.namespace_memory_share;
        pc.max_scratch_bytes = settings.pool.max_scratch_mb * 1024 * 1024;
        let pool = Pool::start(pc).await.context("starting the runtime pool")?;

        let broker = match settings.mqtt.embedded_broker {
            Some(addr) => {
                let anonymous = settings.mqtt.allow_anonymous;
                let access = match anonymous {
                    true => fogwhisk_broker::Access::Anonymous,
                    false => fogwhisk_broker::Access::Users(fogwhisk_broker::users::Users::in_dir(&data)),
                };
                let b = tokio::task::spawn_blocking(move || fogwhisk_broker::EmbeddedBroker::start_with(addr, access))
                    .await?
                    .context("starting the embedded MQTT broker")?;
                if anonymous {
                    tracing::warn!(mqtt = %b.addr(), "embedded MQTT broker listening: ANONYMOUS, any client may publish on any topic");
                } else {
                    crate::devices::ensure_feed(&data, b.addr())?;
                    tracing::info!(mqtt = %b.addr(), "embedded MQTT broker listening (users of mqtt-users.json)");
                }
                Some(b)
            }
            None => None,
        };
        let site = fogwhisk_site::SiteStore::open(&data).context("opening the site store")?;
        // `stop` starts the drain; the other tokens end what must outlive the activations being drained.
        let stop = CancellationToken::new();
        let services_stop = CancellationToken::new();
        let writer_stop = CancellationToken::new();
        let feeds_stop = CancellationToken::new();
        let (activations, writer) = ActivationWriter::start(store.clone(), writer_stop.clone());
        let metrics = Metrics::new();
        let purge = spawn_purge(store.clone(), site.clone(), &settings, metrics.clone(), services_stop.clone());
        let delivery = spawn_delivery(&site, &settings, services_stop.clone());
        let state = Arc::new(AppState {
            api_host,
            store,
            activations,
            identities: Identities::new(&data)?,
            pool,
            throttles: Throttles::default(),
            metrics,
            tasks: TaskTracker::new(),
            stop,
            settings,
            site,
            feeds: std::sync::OnceLock::new(),
        });
        // The feeds stop first on shutdown (`run_until_stopped`), before the activations they started drain.
        let sink = Arc::new(crate::builtin::AgentSink::new(&state));
        // Direct firing: with an empty inbox a message is acknowledged once the agent recorded its fire
        // (trigger activation and rule invocations, one durable commit) without the inbox's own commit.
        let options = fogwhisk_feeds::FeedsOptions { direct_fire: true, ..Default::default() };
        let feeds = fogwhisk_feeds::Feeds::start_with(&data, sink, feeds_stop, options)
            .await
            .map_err(|e| anyhow::anyhow!("starting the feeds: {e}"))?;
        let _ = state.feeds.set(feeds);
        let mut background = vec![("activation writer", writer), ("activation purge", purge)];
        if let Some(d) = delivery {
            background.push(("hub delivery", d));
        }
        Ok(Self { listener, state, services_stop, writer_stop, background, broker, _runtime_dir: temp })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The URL clients use.
    pub fn api_host(&self) -> &str {
        &self.state.api_host
    }

    /// The embedded MQTT broker's address, when one runs.
    pub fn mqtt_addr(&self) -> Option<std::net::SocketAddr> {
        self.broker.as_ref().map(|b| b.addr())
    }

    /// The shared state (for tests and embedding).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves (or `state.stop` is cancelled), then drains in dependency order, all
    /// within one deadline of `shutdown_grace_secs`:
    /// 1. new work from outside stops: the feeds stop firing and acknowledging (unacknowledged QoS 1 messages
    ///    stay on the broker for the persistent session; the inbox keeps what it holds), and new invokes, fires
    ///    and web actions get 503 (`api::drain`);
    /// 2. activations in flight (background ones and blocking invokes in progress) finish while the API still
    ///    serves everything else, their own calls to the telemetry API above all;
    /// 3. HTTP stops (open requests finish), then the background tasks and the activation writer (it commits
    ///    what is queued), then the runtime pool.
    ///
    /// Whatever was acknowledged is finished, or is redone at the next start: an activation still running
    /// when the deadline passes is abandoned before the pool is stopped, so the writer never records the
    /// failure that stopping its process would cause, and its rule invocation (recorded with its fire) is
    /// resumed at the next start.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let state = self.state.clone();
        let grace = Duration::from_secs(state.settings.shutdown_grace_secs);
        state.resume_pending().await.context("resuming interrupted rule invocations")?;
        tracing::info!(api = %state.api_host, site = %state.settings.site_id, "edge agent serving");
        let app = crate::api::router(state.clone());
        let stop = state.stop.clone();
        let http_stop = CancellationToken::new();
        // Answers go out at once: no Nagle delay on small responses.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let mut server = tokio::spawn(
            axum::serve(listener, app).with_graceful_shutdown(http_stop.clone().cancelled_owned()).into_future(),
        );
        tokio::pin!(shutdown);
        let ended = tokio::select! {
            r = &mut server => Some(r),
            _ = &mut shutdown => None,
            _ = stop.cancelled() => None,
        };
        if let Some(r) = ended {
            r.context("API server task")?.context("API server")?;
            anyhow::bail!("the API server stopped on its own");
        }
        // 1. No new work from outside.
        stop.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: feeds stopped, new invokes and fires refused, draining activations"
        );
        if let Some(f) = state.feeds.get() {
            if tokio::time::timeout_at(deadline, f.shutdown()).await.is_err() {
                tracing::warn!("the feeds did not stop within the grace period");
            }
        }
        // 2. Activations in flight finish; the API still serves their calls.
        state.tasks.close();
        let drained = tokio::time::timeout_at(deadline, state.tasks.wait()).await.is_ok();
        if !drained {
            tracing::warn!(
                running = state.tasks.len(),
                "activations still running after the grace period are abandoned (rule invocations run again at the next start)"
            );
        }
        // 3. HTTP, the background tasks and the writer, the pool.
        http_stop.cancel();
        if tokio::time::timeout_at(deadline, &mut server).await.is_err() {
            tracing::warn!("open requests did not finish within the grace period");
            server.abort();
        }
        self.services_stop.cancel();
        self.writer_stop.cancel();
        for (name, h) in self.background {
            if let Err(e) = h.await {
                tracing::error!(task = name, error = %e, "background task failed");
            }
        }
        state.pool.shutdown().await;
        if let Some(b) = self.broker {
            tokio::task::spawn_blocking(move || b.shutdown()).await.ok();
        }
        tracing::info!(drained, "edge agent stopped");
        Ok(())
    }
}

/// Starts delivery of the outbox to the hub, when a hub is configured.
fn spawn_delivery(
    site: &fogwhisk_site::SiteStore,
    settings: &Settings,
    stop: CancellationToken,
) -> Option<JoinHandle<()>> {
    let url = settings.hub.url.clone()?;
    let token = settings.hub.token.clone().unwrap_or_default();
    let target = fogwhisk_site::HubTarget { url, site_id: settings.site_id.clone(), token: token.into() };
    let config = fogwhisk_site::DeliveryConfig {
        batch_size: settings.hub.batch_size,
        base_delay: Duration::from_millis(settings.hub.retry_base_ms),
        ..Default::default()
    };
    Some(fogwhisk_site::outbox::spawn_delivery_with(site.clone(), target, config, stop))
}

/// The purge's name in logs and in `fogwhisk_edge_task_restarts_total{task=...}`.
pub const PURGE_TASK: &str = "purge";

/// Starts the purge of old activations and readings (every minute), supervised: a panic is logged, counted
/// and the loop started again after a backoff.
fn spawn_purge(
    store: Store,
    site: fogwhisk_site::SiteStore,
    settings: &Settings,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> JoinHandle<()> {
    let keep = settings.activations.keep_count;
    let age = Duration::from_secs(settings.activations.keep_hours * 3600);
    let retention_days = settings.telemetry.retention_days;
    let on_restart = move |_: &fogwhisk_shutdown::Failure| metrics.task_restarted(PURGE_TASK);
    let supervisor_stop = stop.clone();
    let run = move || purge_loop(store.clone(), site.clone(), keep, age, retention_days, stop.clone());
    tokio::spawn(async move {
        fogwhisk_shutdown::supervise(
            PURGE_TASK,
            fogwhisk_shutdown::Restart::default(),
            supervisor_stop,
            on_restart,
            run,
        )
        .await;
    })
}

/// One run of the purge: every minute until `stop`.
async fn purge_loop(
    store: Store,
    site: fogwhisk_site::SiteStore,
    keep: usize,
    age: Duration,
    retention_days: u32,
    stop: CancellationToken,
) -> Result<(), std::convert::Infallible> {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {
                let s = store.clone();
                match tokio::task::spawn_blocking(move || s.purge_activations(keep, age)).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "old activations purged"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "activation purge failed"),
                    _ => {}
                }
                match site.run_blocking(move |s| s.purge_older_than(retention_days)).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "old readings purged"),
                    Err(e) => tracing::warn!(error = %e, "telemetry purge failed"),
                    _ => {}
                }
            }
        }
    }
}

pub use fogwhisk_shutdown::shutdown_signal;
