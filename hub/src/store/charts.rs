//! Chart index entries keyed by (name, version), and the versions ever released (kept after a delete, so
//! a released version is never replaced unless overwriting is allowed); the archives live in the charts folder.

use redb::ReadableTable;

use super::{Store, StoreError, CHARTS, RELEASED};

fn key(name: &str, version: &str) -> String {
    format!("{name}\u{0}{version}")
}

impl Store {
    /// Stores a chart's index entry (JSON) and marks the version released; with `overwrite` false a version
    /// stored now or ever before is an `Exists` error.
    pub fn chart_put(
        &self,
        name: &str,
        version: &str,
        entry: &serde_json::Value,
        overwrite: bool,
    ) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        {
            let mut charts = txn.open_table(CHARTS)?;
            let k = key(name, version);
            let mut released = txn.open_table(RELEASED)?;
            if !overwrite && (charts.get(k.as_str())?.is_some() || released.get(k.as_str())?.is_some()) {
                return Err(StoreError::Exists(format!("chart {name} version {version}")));
            }
            charts.insert(k.as_str(), serde_json::to_vec(entry)?.as_slice())?;
            let digest = entry.get("digest").and_then(|d| d.as_str()).unwrap_or_default();
            released.insert(k.as_str(), digest)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Whether a chart version is stored.
    pub fn chart_exists(&self, name: &str, version: &str) -> Result<bool, StoreError> {
        let txn = self.db().begin_read()?;
        Ok(txn.open_table(CHARTS)?.get(key(name, version).as_str())?.is_some())
    }

    /// Whether a chart version was ever released (stored now, or stored and deleted).
    pub fn chart_released(&self, name: &str, version: &str) -> Result<bool, StoreError> {
        let txn = self.db().begin_read()?;
        let k = key(name, version);
        Ok(txn.open_table(CHARTS)?.get(k.as_str())?.is_some() || txn.open_table(RELEASED)?.get(k.as_str())?.is_some())
    }

    /// Every chart entry, as (name, version, entry), ordered by name then version text.
    pub fn chart_list(&self) -> Result<Vec<(String, String, serde_json::Value)>, StoreError> {
        let txn = self.db().begin_read()?;
        let charts = txn.open_table(CHARTS)?;
        let mut out = Vec::new();
        for row in charts.iter()? {
            let (k, v) = row?;
            let (name, version) = k.value().split_once('\u{0}').unwrap_or((k.value(), ""));
            out.push((name.to_string(), version.to_string(), serde_json::from_slice(v.value())?));
        }
        Ok(out)
    }

    /// Removes a chart entry; returns whether it existed.
    pub fn chart_delete(&self, name: &str, version: &str) -> Result<bool, StoreError> {
        let txn = self.db().begin_write()?;
        let existed = txn.open_table(CHARTS)?.remove(key(name, version).as_str())?.is_some();
        txn.commit()?;
        Ok(existed)
    }
}
