//! The catalog in the hub's own redb store: documents by id (deleted ones kept as tombstones, as CouchDB
//! does), revisions `N-<hash>`, and a sequence: every write takes the next number and moves its id to it,
//! so the changes feed is a range read. A `watch` channel wakes longpolls when the sequence moves.

use std::time::Duration;

use redb::{ReadableTable, TableDefinition};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{CatalogError, CatalogStore, Change, ChangesPage, Rev};
use crate::store::{Store, StoreError};

/// `_id` → document JSON (with `_rev`; a tombstone `{_id, _rev, _deleted: true}` once deleted).
const DOCS: TableDefinition<&str, &[u8]> = TableDefinition::new("catalog_docs");
/// Sequence → `_id`: the changes feed, one entry per document (its latest change).
const SEQ: TableDefinition<u64, &str> = TableDefinition::new("catalog_seq");
/// `_id` → its entry in [`SEQ`].
const SEQ_OF: TableDefinition<&str, u64> = TableDefinition::new("catalog_seq_of");
/// `seq` (the last sequence number) and `epoch` (random, set when the catalog is created).
const META: TableDefinition<&str, u64> = TableDefinition::new("catalog_meta");

/// The embedded backend; cheap to clone.
#[derive(Debug, Clone)]
pub struct EmbeddedCatalog {
    store: Store,
    seq: watch::Sender<u64>,
    epoch: u64,
}

fn db_err(e: impl Into<redb::Error>) -> CatalogError {
    CatalogError::Store(StoreError::Db(Box::new(e.into())))
}

/// The revision after `previous` for `doc` (its body without `_id`/`_rev`): `N-<32 hex of SHA-256>`.
pub fn next_rev(previous: Option<&str>, doc: &Value) -> String {
    let n = previous.and_then(|r| r.split_once('-')).and_then(|(n, _)| n.parse::<u64>().ok()).unwrap_or(0);
    let mut body = doc.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("_id");
        o.remove("_rev");
    }
    let digest = Sha256::digest(serde_json::to_vec(&body).unwrap_or_default());
    format!("{}-{}", n + 1, &hex::encode(digest)[..32])
}

impl EmbeddedCatalog {
    /// Creates the catalog tables (and its epoch) when missing. Blocking.
    pub fn open(store: Store) -> Result<EmbeddedCatalog, CatalogError> {
        let txn = store.db().begin_write().map_err(db_err)?;
        let (seq, epoch) = {
            txn.open_table(DOCS).map_err(db_err)?;
            txn.open_table(SEQ).map_err(db_err)?;
            txn.open_table(SEQ_OF).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let seq = meta.get("seq").map_err(db_err)?.map_or(0, |v| v.value());
            let stored = meta.get("epoch").map_err(db_err)?.map(|v| v.value());
            let epoch = match stored {
                Some(e) => e,
                None => {
                    let e = rand::random::<u64>() >> 1;
                    meta.insert("epoch", e).map_err(db_err)?;
                    e
                }
            };
            (seq, epoch)
        };
        txn.commit().map_err(db_err)?;
        Ok(EmbeddedCatalog { store, seq: watch::Sender::new(seq), epoch })
    }

    fn read(&self, id: &str) -> Result<Option<Value>, CatalogError> {
        let txn = self.store.db().begin_read().map_err(db_err)?;
        let t = txn.open_table(DOCS).map_err(db_err)?;
        let Some(v) = t.get(id).map_err(db_err)? else { return Ok(None) };
        Ok(Some(serde_json::from_slice(v.value()).map_err(StoreError::from)?))
    }

    /// One write: checks `rev` against the stored revision, stores `doc` (or a tombstone when `None`)
    /// under the next revision and moves the id to the next sequence number, in one transaction.
    fn write(&self, id: &str, doc: Option<Value>, rev: Option<&str>) -> Result<String, CatalogError> {
        let txn = self.store.db().begin_write().map_err(db_err)?;
        let (new_rev, seq) = {
            let mut docs = txn.open_table(DOCS).map_err(db_err)?;
            let old: Option<Value> = match docs.get(id).map_err(db_err)? {
                Some(v) => Some(serde_json::from_slice(v.value()).map_err(StoreError::from)?),
                None => None,
            };
            let old_rev = old.as_ref().and_then(|d| d["_rev"].as_str()).map(String::from);
            let live = old.as_ref().is_some_and(|d| d["_deleted"] != json!(true));
            match (live, rev, doc.is_some()) {
                (true, Some(r), _) if Some(r) == old_rev.as_deref() => {}
                (false, None, true) => {}
                (false, _, false) => return Err(CatalogError::NotFound),
                _ => return Err(CatalogError::Conflict),
            }
            let body = doc.unwrap_or_else(|| json!({"_deleted": true}));
            let new_rev = next_rev(old_rev.as_deref(), &body);
            let mut stored = body;
            if let Some(o) = stored.as_object_mut() {
                o.insert("_id".into(), json!(id));
                o.insert("_rev".into(), json!(new_rev));
            }
            docs.insert(id, serde_json::to_vec(&stored).map_err(StoreError::from)?.as_slice()).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let seq = meta.get("seq").map_err(db_err)?.map_or(0, |v| v.value()) + 1;
            meta.insert("seq", seq).map_err(db_err)?;
            let mut seq_of = txn.open_table(SEQ_OF).map_err(db_err)?;
            let previous = seq_of.insert(id, seq).map_err(db_err)?.map(|v| v.value());
            let mut log = txn.open_table(SEQ).map_err(db_err)?;
            if let Some(p) = previous {
                log.remove(p).map_err(db_err)?;
            }
            log.insert(seq, id).map_err(db_err)?;
            (new_rev, seq)
        };
        txn.commit().map_err(db_err)?;
        self.seq.send_replace(seq);
        Ok(new_rev)
    }

    fn scan(&self, prefix: &str) -> Result<Vec<Value>, CatalogError> {
        let txn = self.store.db().begin_read().map_err(db_err)?;
        let t = txn.open_table(DOCS).map_err(db_err)?;
        let mut out = Vec::new();
        for row in t.range(prefix..).map_err(db_err)? {
            let (k, v) = row.map_err(db_err)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            let doc: Value = serde_json::from_slice(v.value()).map_err(StoreError::from)?;
            if doc["_deleted"] != json!(true) {
                out.push(doc);
            }
        }
        Ok(out)
    }

    fn read_changes(&self, after: u64, limit: usize) -> Result<ChangesPage, CatalogError> {
        let txn = self.store.db().begin_read().map_err(db_err)?;
        let log = txn.open_table(SEQ).map_err(db_err)?;
        let docs = txn.open_table(DOCS).map_err(db_err)?;
        let mut results = Vec::new();
        let mut last = after;
        for row in log.range(after + 1..).map_err(db_err)?.take(limit) {
            let (seq, id) = row.map_err(db_err)?;
            let (seq, id) = (seq.value(), id.value().to_string());
            let doc: Value = match docs.get(id.as_str()).map_err(db_err)? {
                Some(v) => serde_json::from_slice(v.value()).map_err(StoreError::from)?,
                None => return Err(StoreError::Corrupt(format!("catalog sequence {seq} names missing {id}")).into()),
            };
            let rev = doc["_rev"].as_str().unwrap_or_default().to_string();
            let deleted = doc["_deleted"] == json!(true);
            results.push(Change { seq: json!(seq), id, changes: vec![Rev { rev }], deleted, doc: Some(doc) });
            last = seq;
        }
        Ok(ChangesPage { results, last_seq: json!(last) })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(EmbeddedCatalog) -> Result<T, CatalogError> + Send + 'static,
    ) -> Result<T, CatalogError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(me))
            .await
            .map_err(|e| CatalogError::Backend(format!("blocking task failed: {e}")))?
    }
}

/// A position of this backend: the sequence number (`0` or absent: the start).
fn parse_since(since: Option<&str>) -> u64 {
    since.and_then(|s| s.trim_matches('"').parse().ok()).unwrap_or(0)
}

impl CatalogStore for EmbeddedCatalog {
    async fn get(&self, id: &str) -> Result<Option<Value>, CatalogError> {
        let id = id.to_string();
        let doc = self.blocking(move |c| c.read(&id)).await?;
        Ok(doc.filter(|d| d["_deleted"] != json!(true)))
    }

    async fn put(&self, id: &str, doc: Value, rev: Option<&str>) -> Result<String, CatalogError> {
        let (id, rev) = (id.to_string(), rev.map(String::from));
        self.blocking(move |c| c.write(&id, Some(doc), rev.as_deref())).await
    }

    async fn delete(&self, id: &str, rev: &str) -> Result<(), CatalogError> {
        let (id, rev) = (id.to_string(), rev.to_string());
        self.blocking(move |c| c.write(&id, None, Some(&rev))).await.map(drop)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Value>, CatalogError> {
        let prefix = prefix.to_string();
        self.blocking(move |c| c.scan(&prefix)).await
    }

    async fn changes(&self, since: Option<&str>, limit: usize, wait: Duration) -> Result<ChangesPage, CatalogError> {
        let after = parse_since(since);
        let mut rx = self.seq.subscribe();
        let page = self.blocking(move |c| c.read_changes(after, limit)).await?;
        if !page.results.is_empty() || wait.is_zero() {
            return Ok(page);
        }
        // Nothing yet: wait for the sequence to pass `after`, then read again.
        let moved = tokio::time::timeout(wait, async { rx.wait_for(|s| *s > after).await.is_ok() }).await;
        if moved.unwrap_or(false) {
            return self.blocking(move |c| c.read_changes(after, limit)).await;
        }
        Ok(page)
    }

    async fn epoch(&self) -> Result<String, CatalogError> {
        Ok(format!("e{:x}", self.epoch))
    }
}
