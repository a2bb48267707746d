//! The site store: one redb file `<data>/site.redb`, its tables, and the cheap-to-clone handle around it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use crate::error::{Result, SiteError};
use crate::outbox::DeliveryCounters;

/// Readings: [`crate::keys::reading_key`] → value.
pub(crate) const READINGS: TableDefinition<&[u8], f64> = TableDefinition::new("readings");
/// Known series: [`crate::keys::series_prefix`] → nothing.
pub(crate) const SERIES: TableDefinition<&[u8], ()> = TableDefinition::new("series");
/// Readings per 15-minute bucket: [`crate::keys::bucket_key`] → count.
pub(crate) const ACTIVITY: TableDefinition<&[u8], u64> = TableDefinition::new("activity");
/// Reported days: [`crate::keys::day_key`] → number of readings the report covered.
pub(crate) const REPORTED: TableDefinition<&[u8], u64> = TableDefinition::new("reported");
/// The outbox: sequence → (enqueued at, epoch ms; record as JSON).
pub(crate) const OUTBOX: TableDefinition<u64, (i64, &str)> = TableDefinition::new("outbox");
/// Small settings and markers (`next_seq`, `purged_before_ms`).
pub(crate) const META: TableDefinition<&str, i64> = TableDefinition::new("meta");

/// File name of the store inside the data folder.
pub const FILE_NAME: &str = "site.redb";

/// Handle to the site store; clones share the same database.
#[derive(Clone)]
pub struct SiteStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: Arc<Database>,
    /// Group-commit writer of readings; dropping it joins its thread, which holds the last `db` clone.
    pub(crate) writer: crate::telemetry::writer::Writer,
    pub(crate) path: PathBuf,
    /// Woken on every `enqueue` so the delivery task does not poll.
    pub(crate) outbox_notify: tokio::sync::Notify,
    /// Delivery counters for [`crate::OutboxStats`] (since this process started).
    pub(crate) counters: DeliveryCounters,
}

impl std::fmt::Debug for SiteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteStore").field("path", &self.inner.path).finish()
    }
}

impl SiteStore {
    /// Opens (or creates) `<data_dir>/site.redb`. A file left by a crash is recovered by redb.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let path = data_dir.join(FILE_NAME);
        let open_err = |e: redb::Error| SiteError::Open { path: path.clone(), source: Box::new(e) };
        std::fs::create_dir_all(data_dir).map_err(|e| open_err(redb::Error::Io(e)))?;
        let db = Database::create(&path).map_err(|e| open_err(e.into()))?;
        let txn = db.begin_write().map_err(|e| open_err(e.into()))?;
        {
            txn.open_table(READINGS).map_err(|e| open_err(e.into()))?;
            txn.open_table(SERIES).map_err(|e| open_err(e.into()))?;
            txn.open_table(ACTIVITY).map_err(|e| open_err(e.into()))?;
            txn.open_table(REPORTED).map_err(|e| open_err(e.into()))?;
            txn.open_table(OUTBOX).map_err(|e| open_err(e.into()))?;
            txn.open_table(META).map_err(|e| open_err(e.into()))?;
        }
        txn.commit().map_err(|e| open_err(e.into()))?;
        let db = Arc::new(db);
        let writer = crate::telemetry::writer::Writer::start(db.clone()).map_err(|e| open_err(redb::Error::Io(e)))?;
        Ok(SiteStore {
            inner: Arc::new(Inner {
                writer,
                db,
                path,
                outbox_notify: tokio::sync::Notify::new(),
                counters: DeliveryCounters::default(),
            }),
        })
    }

    /// Path of the redb file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub(crate) fn db(&self) -> &Database {
        &self.inner.db
    }

    /// Runs a blocking store operation on tokio's blocking pool.
    pub async fn run_blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&SiteStore) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store)).await.map_err(|e| SiteError::Task(e.to_string()))?
    }
}

/// Reads a META value.
pub(crate) fn meta_get(table: &impl ReadableTable<&'static str, i64>, key: &str) -> Result<Option<i64>> {
    Ok(table.get(key)?.map(|v| v.value()))
}

/// Checks a namespace name.
pub(crate) fn check_ns(ns: &str) -> Result<()> {
    if ns.is_empty() || ns.len() > crate::keys::MAX_NAME {
        return Err(SiteError::InvalidNamespace(ns.to_string()));
    }
    Ok(())
}
