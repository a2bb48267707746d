//! The hub's durable embedded store (redb, one file in the data folder): the source of truth.
//!
//! Tables: sites, site-token hashes, scoped credentials and their hashes, the audit log, aggregates, the
//! InfluxDB write queue (one row per accepted batch, with a line counter in `meta`), chart index entries and
//! every chart version ever released (so a deleted version cannot come back with other content).
//! Every multi-row change is one transaction, so nothing is ever half-written.

mod aggregates;
mod charts;
mod credentials;
mod queue;
mod sites;

pub use aggregates::{AggregateFilter, StoredRecord};
pub use credentials::{AuditEntry, CredentialRecord};
pub use queue::QueuedLine;
pub use sites::SiteRecord;

use std::path::Path;
use std::sync::Arc;

use redb::{Database, TableDefinition};

pub(crate) const SITES: TableDefinition<&str, &[u8]> = TableDefinition::new("sites");
pub(crate) const TOKENS: TableDefinition<&str, &str> = TableDefinition::new("site_tokens");
pub(crate) const AGGREGATES: TableDefinition<&str, &[u8]> = TableDefinition::new("aggregates");
pub(crate) const QUEUE: TableDefinition<u64, &[u8]> = TableDefinition::new("influx_queue");
pub(crate) const CHARTS: TableDefinition<&str, &[u8]> = TableDefinition::new("charts");
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(crate) const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");
pub(crate) const CREDENTIAL_HASHES: TableDefinition<&str, &str> = TableDefinition::new("credential_hashes");
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const RELEASED: TableDefinition<&str, &str> = TableDefinition::new("chart_releases");

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (a running hub, or a CLI command) has the store open.
    #[error("the store {path} is in use by another process (stop the running hub first)")]
    Locked {
        /// Store file.
        path: String,
    },
    /// The database engine failed.
    #[error("store: {0}")]
    Db(Box<redb::Error>),
    /// A stored value could not be decoded or encoded.
    #[error("store: bad stored value: {0}")]
    Codec(#[from] serde_json::Error),
    /// A row that must be unique already exists.
    #[error("{0} already exists")]
    Exists(String),
    /// A stored row cannot be decoded.
    #[error("store: corrupt {0}")]
    Corrupt(String),
    /// A row the operation needs does not exist.
    #[error("{0} does not exist")]
    Missing(String),
}

macro_rules! via_redb_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(Box::new(e.into()))
            }
        }
    )*};
}
via_redb_error!(redb::Error, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// Handle to the store; cheap to clone. Its methods block: call them from `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (or creates) `<data_dir>/hub.redb` and makes sure every table exists.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(redb::StorageError::Io)?;
        let path = data_dir.join("hub.redb");
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Locked { path: path.display().to_string() })
            }
            Err(e) => return Err(redb::Error::from(e).into()),
        };
        let txn = db.begin_write()?;
        txn.open_table(SITES)?;
        txn.open_table(TOKENS)?;
        txn.open_table(AGGREGATES)?;
        txn.open_table(QUEUE)?;
        txn.open_table(CHARTS)?;
        txn.open_table(META)?;
        txn.open_table(CREDENTIALS)?;
        txn.open_table(CREDENTIAL_HASHES)?;
        txn.open_table(AUDIT)?;
        txn.open_table(RELEASED)?;
        txn.commit()?;
        Ok(Store { db: Arc::new(db) })
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }
}
