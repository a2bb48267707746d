//! `AppState`: what every handler shares (settings, store, admin token, metrics, the writer's wake-up).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

/// Shared handler state; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Validated settings.
    pub settings: Arc<Settings>,
    /// The durable store.
    pub store: Store,
    /// The admin token (from settings or the data folder).
    pub admin_token: Arc<SecretString>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Woken after lines are queued for InfluxDB.
    pub queue_notify: Arc<Notify>,
    /// Folder holding chart archives and provenance files.
    pub charts_dir: Arc<PathBuf>,
    /// The shared catalog (CouchDB or the embedded store).
    pub catalog: crate::catalog::Catalog,
    /// Cancelled when the hub stops: waiting longpolls answer at once instead of holding the shutdown.
    pub stopping: tokio_util::sync::CancellationToken,
}

/// Where the generated admin token is kept.
pub fn admin_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-token")
}

/// The admin token: the configured one, else the one stored in the data folder, else a new one
/// written there (mode 0600). The second value is the file's path when the token came from it.
pub fn resolve_admin_token(settings: &Settings) -> std::io::Result<(SecretString, Option<PathBuf>)> {
    if let Some(t) = &settings.admin_token {
        return Ok((SecretString::from(t.expose_secret().to_string()), None));
    }
    let path = admin_token_path(&settings.data_dir);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok((SecretString::from(s.trim().to_string()), Some(path))),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(&settings.data_dir)?;
    let token = crate::auth::new_token();
    write_private(&path, &token)?;
    Ok((SecretString::from(token), Some(path)))
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}
