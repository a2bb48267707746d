//! The site's durable store (redb in the data folder): entities and activations, crash-safe on every commit,
//! within storage quotas per namespace.

mod activations;
mod cache;
mod quota;
mod writer;

pub use activations::{ActivationFilter, PendingInvocation};
pub use quota::{QuotaExceeded, Quotas};
pub use writer::{ActivationWriter, Commit};

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use crate::entity::Entity;

pub(crate) const ENTITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entities");
pub(crate) const ACTIVATIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("activations");
/// Activation id → a rule invocation accepted with its trigger's fire and not finished yet.
pub(crate) const PENDING: TableDefinition<&str, &[u8]> = TableDefinition::new("pending_invocations");
/// (namespace, start ms, activation id) → (); lists activations newest-first.
pub(crate) const ACTIVATION_INDEX: TableDefinition<(&str, u64, &str), ()> = TableDefinition::new("activation_index");

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// File path.
        path: String,
        /// Cause.
        source: redb::DatabaseError,
    },
    /// A read or write failed.
    #[error("store operation failed: {0}")]
    Db(String),
    /// A stored document could not be decoded.
    #[error("stored document {key} is corrupt: {source}")]
    Corrupt {
        /// Key.
        key: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// A namespace's storage quota refused a write.
    #[error("{0}")]
    Quota(#[from] QuotaExceeded),
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.to_string()) }
        }
    )*};
}
db_err!(redb::TransactionError, redb::TableError, redb::StorageError, redb::CommitError);

/// Handle on the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Arc<Database>,
    cache: Arc<cache::EntityCache>,
    quotas: Quotas,
    activation_usage: quota::ActivationUsage,
}

/// Entity reads and writes inside one write transaction.
pub struct EntityTx<'a> {
    table: redb::Table<'a, &'static str, &'static [u8]>,
    quotas: Quotas,
}

impl EntityTx<'_> {
    /// Reads a document.
    pub fn get(&self, id: &str) -> Result<Option<Entity>, StoreError> {
        match self.table.get(id)? {
            Some(v) => decode(id, v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Writes a document, within its namespace's entity quota ([`StoreError::Quota`] otherwise).
    pub fn put(&mut self, id: &str, e: &Entity) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(e).map_err(|e| StoreError::Db(e.to_string()))?;
        quota::check_entity(&self.table, &self.quotas, id, bytes.len() as u64)?;
        self.table.insert(id, bytes.as_slice())?;
        Ok(())
    }

    /// Deletes a document, returning it.
    pub fn delete(&mut self, id: &str) -> Result<Option<Entity>, StoreError> {
        let old = self.table.remove(id)?.map(|v| decode(id, v.value()));
        old.transpose()
    }
}

/// Runs blocking storage work so that it does not stall a tokio worker: on a multi-threaded runtime the
/// worker hands its other tasks to the rest of the pool first (`block_in_place`); elsewhere (plain threads,
/// current-thread runtimes in tests) it simply runs.
fn off_async<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn decode(key: &str, bytes: &[u8]) -> Result<Entity, StoreError> {
    serde_json::from_slice(bytes).map_err(|source| StoreError::Corrupt { key: key.to_string(), source })
}

impl Store {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db =
            Database::create(path).map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        let tx = db.begin_write()?;
        {
            tx.open_table(ENTITIES)?;
            tx.open_table(ACTIVATIONS)?;
            tx.open_table(ACTIVATION_INDEX)?;
            tx.open_table(PENDING)?;
        }
        tx.commit()?;
        Ok(Self {
            db: Arc::new(db),
            cache: Arc::default(),
            quotas: Quotas::default(),
            activation_usage: Default::default(),
        })
    }

    /// The same store with these quotas per namespace (set before the store is shared).
    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// The quotas per namespace.
    pub fn quotas(&self) -> Quotas {
        self.quotas
    }

    /// Reads one entity (from memory when no write happened since it was last read).
    pub fn get(&self, id: &str) -> Result<Option<Entity>, StoreError> {
        if let Some(hit) = self.cache.get(id) {
            return Ok(hit);
        }
        let generation = self.cache.generation();
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ENTITIES)?;
        let (found, size) = match t.get(id)? {
            Some(v) => (Some(decode(id, v.value())?), v.value().len()),
            None => (None, 0),
        };
        if size <= cache::MAX_CACHED_BYTES {
            self.cache.put(id, generation, found.clone());
        }
        Ok(found)
    }

    /// Runs `f` in one durable write transaction; nothing is written if it fails. Called from an async
    /// handler, the commit (an fsync) runs with [`off_async`], so it does not hold up other tasks.
    pub fn write<R, E: From<StoreError>>(&self, f: impl FnOnce(&mut EntityTx<'_>) -> Result<R, E>) -> Result<R, E> {
        off_async(|| self.write_now(f))
    }

    fn write_now<R, E: From<StoreError>>(&self, f: impl FnOnce(&mut EntityTx<'_>) -> Result<R, E>) -> Result<R, E> {
        let tx = self.db.begin_write().map_err(StoreError::from)?;
        let r = {
            let table = tx.open_table(ENTITIES).map_err(StoreError::from)?;
            let mut etx = EntityTx { table, quotas: self.quotas };
            f(&mut etx)?
        };
        let committed = tx.commit().map_err(StoreError::from);
        self.cache.invalidate();
        committed?;
        Ok(r)
    }

    /// Every entity whose id starts with `prefix` (e.g. `guest/`); decoding a namespace runs [`off_async`].
    pub fn list(&self, prefix: &str) -> Result<Vec<Entity>, StoreError> {
        off_async(|| self.list_now(prefix))
    }

    fn list_now(&self, prefix: &str) -> Result<Vec<Entity>, StoreError> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(ENTITIES)?;
        let mut out = Vec::new();
        for row in t.range(prefix..)? {
            let (k, v) = row?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::{KeyVal, Trigger};

    fn trigger(name: &str) -> Entity {
        Entity::Trigger(Trigger {
            namespace: "guest".into(),
            name: name.into(),
            version: "0.0.1".into(),
            publish: false,
            annotations: vec![KeyVal::new("a", serde_json::json!(1))],
            parameters: vec![],
            limits: Default::default(),
            rules: None,
            updated: 1,
        })
    }

    #[test]
    fn entities_survive_reopen_and_failed_writes_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            s.write::<_, StoreError>(|tx| tx.put("guest/t1", &trigger("t1"))).unwrap();
            let r: Result<(), StoreError> = s.write(|tx| {
                tx.put("guest/t2", &trigger("t2"))?;
                Err(StoreError::Db("abort".into()))
            });
            assert!(r.is_err());
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.get("guest/t1").unwrap(), Some(trigger("t1")));
        assert_eq!(s.get("guest/t2").unwrap(), None);
        assert_eq!(s.list("guest/").unwrap().len(), 1);
        assert_eq!(s.list("gue/").unwrap().len(), 0);
    }

    #[test]
    fn reads_after_a_write_see_it() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb")).unwrap();
        assert_eq!(s.get("guest/t").unwrap(), None);
        s.write::<_, StoreError>(|tx| tx.put("guest/t", &trigger("t"))).unwrap();
        assert_eq!(s.get("guest/t").unwrap(), Some(trigger("t")));
        let Entity::Trigger(mut t) = trigger("t") else { unreachable!() };
        t.version = "0.0.2".into();
        let changed = Entity::Trigger(t);
        s.write::<_, StoreError>(|tx| tx.put("guest/t", &changed)).unwrap();
        assert_eq!(s.get("guest/t").unwrap(), Some(changed.clone()));
        assert_eq!(s.get("guest/t").unwrap(), Some(changed));
        s.write::<_, StoreError>(|tx| tx.delete("guest/t").map(drop)).unwrap();
        assert_eq!(s.get("guest/t").unwrap(), None);
        // A document too large to keep in memory is still read correctly, every time.
        let Entity::Trigger(mut big) = trigger("big") else { unreachable!() };
        big.annotations = vec![KeyVal::new("blob", serde_json::json!("x".repeat(cache::MAX_CACHED_BYTES)))];
        let big = Entity::Trigger(big);
        s.write::<_, StoreError>(|tx| tx.put("guest/big", &big)).unwrap();
        assert_eq!(s.get("guest/big").unwrap(), Some(big.clone()));
        assert!(s.cache.get("guest/big").is_none(), "large documents are not cached");
        assert_eq!(s.get("guest/big").unwrap(), Some(big));
    }
}
