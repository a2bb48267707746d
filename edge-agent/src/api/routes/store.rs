//! Durable storage of API gateway routes: one redb table in the agent's store file, an API (swagger document) per
//! namespace and base path, committed before the management call answers, so routes survive a restart.

use std::sync::{Arc, Mutex, Weak};

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Store, StoreError};

/// `<namespace>\0<base path>` → an [`ApiRecord`] as JSON.
const API_ROUTES: TableDefinition<&str, &[u8]> = TableDefinition::new("api_routes");

/// One API: a base path of a namespace, its routes as a swagger 2.0 document, and the tenant id in its URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiRecord {
    /// The owning namespace.
    pub namespace: String,
    /// The id in the API's URL (`/api/<tenant>/<base path>`): the namespace's uuid when the API was created.
    pub tenant: String,
    /// Normalized base path (`/hello`, or `/`).
    pub base_path: String,
    /// The swagger document the management API returns (`apidoc`).
    pub swagger: Value,
}

fn key(namespace: &str, base_path: &str) -> String {
    format!("{namespace}\0{base_path}")
}

fn decode(k: &str, v: &[u8]) -> Result<ApiRecord, StoreError> {
    serde_json::from_slice(v).map_err(|source| StoreError::Corrupt { key: k.replace('\0', " "), source })
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// The APIs of each open store, read once and kept until a write: every gateway call looks them up. Writers and
/// readers that fill it hold the lock, so a fill never keeps what a concurrent write replaced.
static CACHE: Mutex<Vec<Cached>> = Mutex::new(Vec::new());

/// One store's APIs, while that store is open.
type Cached = (Weak<Database>, Arc<Vec<ApiRecord>>);

fn with_cache<R>(f: impl FnOnce(&mut Vec<Cached>) -> R) -> R {
    let mut c = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    c.retain(|(w, _)| w.strong_count() > 0);
    f(&mut c)
}

fn is_this(w: &Weak<Database>, store: &Store) -> bool {
    w.upgrade().is_some_and(|db| Arc::ptr_eq(&db, &store.db))
}

/// Every API of the store (a table the agent never wrote yet holds none).
pub fn all(store: &Store) -> Result<Arc<Vec<ApiRecord>>, StoreError> {
    with_cache(|c| {
        if let Some((_, apis)) = c.iter().find(|(w, _)| is_this(w, store)) {
            return Ok(apis.clone());
        }
        let apis = Arc::new(read_all(store)?);
        c.push((Arc::downgrade(&store.db), apis.clone()));
        Ok(apis)
    })
}

fn read_all(store: &Store) -> Result<Vec<ApiRecord>, StoreError> {
    let tx = store.db.begin_read()?;
    let t = match tx.open_table(API_ROUTES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![]),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for row in t.iter()? {
        let (k, v) = row?;
        out.push(decode(k.value(), v.value())?);
    }
    Ok(out)
}

/// Runs a write with the cache locked, and forgets this store's cached APIs.
fn write<R>(store: &Store, f: impl FnOnce() -> Result<R, StoreError>) -> Result<R, StoreError> {
    with_cache(|c| {
        c.retain(|(w, _)| !is_this(w, store));
        f()
    })
}

/// The APIs of one namespace, by base path.
pub fn of_namespace(store: &Store, namespace: &str) -> Result<Vec<ApiRecord>, StoreError> {
    let mut v: Vec<ApiRecord> = all(store)?.iter().filter(|r| r.namespace == namespace).cloned().collect();
    v.sort_by(|a, b| a.base_path.cmp(&b.base_path));
    Ok(v)
}

/// Writes (or replaces) an API, durably.
pub fn put(store: &Store, r: &ApiRecord) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(r).map_err(db_err)?;
    write(store, || {
        let tx = store.db.begin_write()?;
        {
            let mut t = tx.open_table(API_ROUTES)?;
            t.insert(key(&r.namespace, &r.base_path).as_str(), bytes.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    })
}

/// Deletes an API, durably; whether it existed.
pub fn delete(store: &Store, namespace: &str, base_path: &str) -> Result<bool, StoreError> {
    write(store, || {
        let tx = store.db.begin_write()?;
        let existed = {
            let mut t = tx.open_table(API_ROUTES)?;
            let old = t.remove(key(namespace, base_path).as_str())?;
            old.is_some()
        };
        tx.commit()?;
        Ok(existed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apis_survive_reopen_and_are_kept_per_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let rec = |ns: &str, bp: &str| ApiRecord {
            namespace: ns.into(),
            tenant: "t".into(),
            base_path: bp.into(),
            swagger: serde_json::json!({"basePath": bp}),
        };
        {
            let s = Store::open(&path).unwrap();
            assert!(all(&s).unwrap().is_empty(), "no table yet");
            put(&s, &rec("guest", "/b")).unwrap();
            put(&s, &rec("guest", "/a")).unwrap();
            put(&s, &rec("other", "/a")).unwrap();
        }
        let s = Store::open(&path).unwrap();
        let mine: Vec<String> = of_namespace(&s, "guest").unwrap().into_iter().map(|r| r.base_path).collect();
        assert_eq!(mine, ["/a", "/b"]);
        assert_eq!(all(&s).unwrap().len(), 3);
        assert!(delete(&s, "guest", "/a").unwrap());
        assert!(!delete(&s, "guest", "/a").unwrap());
        assert_eq!(all(&s).unwrap().len(), 2, "a write is seen by the next read");
    }
}
