//! Typed errors of the site store, the telemetry validation and the outbox.

use std::path::PathBuf;

/// A field of a [`crate::Reading`], named in validation errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingField {
    /// `device`
    Device,
    /// `metric`
    Metric,
    /// `value`
    Value,
    /// `ts`
    Ts,
}

impl std::fmt::Display for ReadingField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReadingField::Device => "device",
            ReadingField::Metric => "metric",
            ReadingField::Value => "value",
            ReadingField::Ts => "ts",
        })
    }
}

/// Everything that can go wrong in this crate's store operations.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The redb file could not be created or opened.
    #[error("cannot open the site store {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<redb::Error>,
    },
    /// A reading of a write batch is invalid; nothing of the batch was written.
    #[error("reading {index}: invalid {field}: {reason}")]
    InvalidReading {
        /// Position of the reading in the batch (0-based).
        index: usize,
        /// Which field is wrong.
        field: ReadingField,
        /// What is wrong with it.
        reason: String,
    },
    /// A namespace name is empty or too long.
    #[error("invalid namespace {0:?}: must be 1 to 256 bytes")]
    InvalidNamespace(String),
    /// A day range is reversed or too long.
    #[error("invalid day range {from}..={to}: {reason}")]
    InvalidRange {
        /// First day asked.
        from: chrono::NaiveDate,
        /// Last day asked.
        to: chrono::NaiveDate,
        /// What is wrong.
        reason: &'static str,
    },
    /// An aggregate record given to `enqueue` is invalid; nothing was enqueued.
    #[error("record {index}: {reason}")]
    InvalidRecord {
        /// Position of the record (0-based).
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The underlying database failed.
    #[error("site store: {0}")]
    Storage(Box<redb::Error>),
    /// A stored outbox entry is not a valid record (the file was damaged or written by a newer version).
    #[error("outbox entry {seq} is unreadable: {source}")]
    CorruptEntry {
        /// Sequence number of the entry.
        seq: u64,
        /// Decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// A blocking store task panicked or was cancelled.
    #[error("site store task failed: {0}")]
    Task(String),
}

macro_rules! storage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for SiteError {
            fn from(e: $t) -> Self {
                SiteError::Storage(Box::new(e.into()))
            }
        }
    )*};
}
storage_from!(redb::Error, redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// Result alias of this crate.
pub type Result<T, E = SiteError> = std::result::Result<T, E>;
