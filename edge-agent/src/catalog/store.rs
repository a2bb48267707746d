//! The mirror's durable state: catalog documents by id and the feed checkpoint, in one redb file, each
//! feed page applied (documents and checkpoint) in one transaction; a reset fills a shadow table swapped in
//! once caught up, so the site keeps its old copy until then.

use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use serde_json::Value;

use crate::store::StoreError;

const DOCS: TableDefinition<&str, &[u8]> = TableDefinition::new("catalog_docs");
const SHADOW: TableDefinition<&str, &[u8]> = TableDefinition::new("catalog_shadow");
const META: TableDefinition<&str, &str> = TableDefinition::new("catalog_meta");
/// The position after the last applied page (`<epoch>~<seq>`).
const CHECKPOINT: &str = "checkpoint";
/// Set while a resync fills the shadow table: its position.
const SHADOW_CHECKPOINT: &str = "shadow_checkpoint";

/// One change of a feed page, as the mirror needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorChange {
    /// Document id (`ns/name` or `ns/pkg/name`).
    pub id: String,
    /// The document (absent or ignored when deleted).
    pub doc: Option<Value>,
    /// True for a deletion.
    pub deleted: bool,
}

/// What one applied page changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Applied {
    /// Ids written or removed (skipped replays are not listed).
    pub changed: Vec<String>,
    /// True when the page completed a resync and the shadow copy was swapped in.
    pub swapped: bool,
}

/// The mirror's redb file.
pub struct CatalogMirror {
    db: Database,
}

fn rev(doc: &Value) -> Option<&str> {
    doc.get("_rev").and_then(Value::as_str)
}

impl CatalogMirror {
    /// Opens (creating) `<data>/catalog.redb`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db =
            Database::create(path).map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        let tx = db.begin_write()?;
        tx.open_table(DOCS)?;
        tx.open_table(SHADOW)?;
        tx.open_table(META)?;
        tx.commit()?;
        Ok(Self { db })
    }

    /// The position to resume from: the resync's while one is under way, else the checkpoint (`None`: start).
    pub fn resume_from(&self) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        let shadow = meta.get(SHADOW_CHECKPOINT)?.map(|v| v.value().to_string());
        Ok(shadow.or(meta.get(CHECKPOINT)?.map(|v| v.value().to_string())))
    }

    /// The committed checkpoint of the live copy.
    pub fn checkpoint(&self) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta.get(CHECKPOINT)?.map(|v| v.value().to_string()))
    }

    /// True while a resync is filling the shadow table.
    pub fn resyncing(&self) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(META)?.get(SHADOW_CHECKPOINT)?.is_some())
    }

    /// Starts a resync (the hub said `reset`, or its epoch changed): empties the shadow table. The live copy
    /// and its checkpoint stay until [`apply`](Self::apply) swaps.
    pub fn begin_resync(&self) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.delete_table(SHADOW)?;
        tx.open_table(SHADOW)?;
        tx.open_table(META)?.insert(SHADOW_CHECKPOINT, "0")?;
        tx.commit()?;
        Ok(())
    }

    /// Applies one feed page and its `last_seq` in one transaction: into the shadow table while resyncing
    /// (swapping it in when `caught_up`), else into the live table. A document whose stored `_rev` is the
    /// same is skipped, so replays are harmless.
    pub fn apply(&self, changes: &[MirrorChange], last_seq: &str, caught_up: bool) -> Result<Applied, StoreError> {
        let tx = self.db.begin_write()?;
        let resync = tx.open_table(META)?.get(SHADOW_CHECKPOINT)?.is_some();
        let mut out = Applied::default();
        {
            let mut table = tx.open_table(if resync { SHADOW } else { DOCS })?;
            for c in changes {
                let stored = table.get(c.id.as_str())?.map(|v| v.value().to_vec());
                let stored_rev = stored
                    .as_deref()
                    .and_then(|b| serde_json::from_slice::<Value>(b).ok())
                    .and_then(|d| rev(&d).map(String::from));
                match (&c.doc, c.deleted) {
                    (Some(doc), false) => {
                        if stored_rev.is_some() && stored_rev.as_deref() == rev(doc) {
                            continue;
                        }
                        let bytes = serde_json::to_vec(doc)
                            .map_err(|source| StoreError::Corrupt { key: c.id.clone(), source })?;
                        table.insert(c.id.as_str(), bytes.as_slice())?;
                    }
                    _ => {
                        if stored.is_none() {
                            continue;
                        }
                        table.remove(c.id.as_str())?;
                    }
                }
                out.changed.push(c.id.clone());
            }
        }
        let mut meta = tx.open_table(META)?;
        if resync && caught_up {
            // Swap: the live table becomes the shadow's contents; every id on either side changed.
            let mut live: Vec<(String, Vec<u8>)> = Vec::new();
            for item in tx.open_table(SHADOW)?.iter()? {
                let (k, v) = item?;
                live.push((k.value().to_string(), v.value().to_vec()));
            }
            let mut changed: Vec<String> = Vec::new();
            for item in tx.open_table(DOCS)?.iter()? {
                changed.push(item?.0.value().to_string());
            }
            tx.delete_table(DOCS)?;
            let mut docs = tx.open_table(DOCS)?;
            for (k, v) in &live {
                docs.insert(k.as_str(), v.as_slice())?;
                changed.push(k.clone());
            }
            drop(docs);
            tx.delete_table(SHADOW)?;
            tx.open_table(SHADOW)?;
            changed.sort();
            changed.dedup();
            out = Applied { changed, swapped: true };
            meta.remove(SHADOW_CHECKPOINT)?;
            meta.insert(CHECKPOINT, last_seq)?;
        } else if resync {
            meta.insert(SHADOW_CHECKPOINT, last_seq)?;
            out.changed.clear();
        } else {
            meta.insert(CHECKPOINT, last_seq)?;
        }
        drop(meta);
        tx.commit()?;
        Ok(out)
    }

    /// One live document by id.
    pub fn get(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DOCS)?;
        match table.get(id)? {
            None => Ok(None),
            Some(v) => serde_json::from_slice(v.value())
                .map(Some)
                .map_err(|source| StoreError::Corrupt { key: id.into(), source }),
        }
    }

    /// Every live document id, in order.
    pub fn ids(&self) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(DOCS)?;
        let mut out = Vec::new();
        for item in table.iter()? {
            out.push(item?.0.value().to_string());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(id: &str, rev: &str) -> MirrorChange {
        MirrorChange {
            id: id.into(),
            doc: Some(json!({"_id": id, "_rev": rev, "exec": {"code": rev}})),
            deleted: false,
        }
    }

    fn del(id: &str) -> MirrorChange {
        MirrorChange { id: id.into(), doc: None, deleted: true }
    }

    #[test]
    fn pages_and_checkpoint_commit_together_and_replays_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        let m = CatalogMirror::open(&path).unwrap();
        assert_eq!(m.resume_from().unwrap(), None);
        let a = m.apply(&[put("lib/hello", "1-a"), put("lib/bye", "1-b")], "e~2", true).unwrap();
        assert_eq!(a.changed, vec!["lib/hello", "lib/bye"]);
        let replay = m.apply(&[put("lib/hello", "1-a")], "e~2", true).unwrap();
        assert!(replay.changed.is_empty());
        m.apply(&[put("lib/hello", "2-c"), del("lib/bye")], "e~4", true).unwrap();
        drop(m);
        let m = CatalogMirror::open(&path).unwrap();
        assert_eq!(m.checkpoint().unwrap().as_deref(), Some("e~4"));
        assert_eq!(m.ids().unwrap(), vec!["lib/hello"]);
        assert_eq!(m.get("lib/hello").unwrap().unwrap()["exec"]["code"], "2-c");
        assert!(m.apply(&[del("lib/bye")], "e~4", true).unwrap().changed.is_empty());
    }

    #[test]
    fn a_resync_keeps_the_old_copy_until_caught_up_then_swaps() {
        let dir = tempfile::tempdir().unwrap();
        let m = CatalogMirror::open(&dir.path().join("catalog.redb")).unwrap();
        m.apply(&[put("lib/old", "1-a"), put("lib/kept", "1-k")], "e1~2", true).unwrap();
        m.begin_resync().unwrap();
        assert!(m.resyncing().unwrap());
        assert_eq!(m.resume_from().unwrap().as_deref(), Some("0"));
        let first = m.apply(&[put("lib/kept", "1-k")], "e2~1", false).unwrap();
        assert!(first.changed.is_empty());
        assert_eq!(m.ids().unwrap(), vec!["lib/kept", "lib/old"], "old copy still served");
        assert_eq!(m.resume_from().unwrap().as_deref(), Some("e2~1"));
        let done = m.apply(&[put("lib/new", "1-n")], "e2~2", true).unwrap();
        assert!(done.swapped);
        assert_eq!(done.changed, vec!["lib/kept", "lib/new", "lib/old"]);
        assert_eq!(m.ids().unwrap(), vec!["lib/kept", "lib/new"]);
        assert_eq!(m.checkpoint().unwrap().as_deref(), Some("e2~2"));
        assert!(!m.resyncing().unwrap());
    }
}
