//! Site rows and the token-hash index.

use chrono::{DateTime, Utc};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, SITES, TOKENS};

/// A registered site as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRecord {
    /// Site id.
    pub id: String,
    /// Name shown to people.
    pub display_name: String,
    /// IANA time zone.
    pub tz: String,
    /// SHA-256 (hex) of the site's bearer token; the token itself is never stored.
    pub token_hash: String,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Time of the last accepted batch.
    pub last_report: Option<DateTime<Utc>>,
}

impl Store {
    /// Adds a site; fails with `Exists` if the id is taken.
    pub fn insert_site(&self, site: &SiteRecord) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        {
            let mut sites = txn.open_table(SITES)?;
            if sites.get(site.id.as_str())?.is_some() {
                return Err(StoreError::Exists(format!("site {:?}", site.id)));
            }
            sites.insert(site.id.as_str(), serde_json::to_vec(site)?.as_slice())?;
            txn.open_table(TOKENS)?.insert(site.token_hash.as_str(), site.id.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// One site by id.
    pub fn get_site(&self, id: &str) -> Result<Option<SiteRecord>, StoreError> {
        let txn = self.db().begin_read()?;
        let sites = txn.open_table(SITES)?;
        let row = sites.get(id)?;
        Ok(match row {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    /// Every site, ordered by id.
    pub fn list_sites(&self) -> Result<Vec<SiteRecord>, StoreError> {
        let txn = self.db().begin_read()?;
        let sites = txn.open_table(SITES)?;
        let mut out = Vec::new();
        for row in sites.iter()? {
            let (_, v) = row?;
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    /// Removes a site and its token; its aggregates stay. Returns whether it existed.
    pub fn remove_site(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.db().begin_write()?;
        let existed = {
            let mut sites = txn.open_table(SITES)?;
            let old: Option<SiteRecord> = match sites.remove(id)? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            };
            if let Some(site) = &old {
                txn.open_table(TOKENS)?.remove(site.token_hash.as_str())?;
            }
            old.is_some()
        };
        txn.commit()?;
        Ok(existed)
    }

    /// The id of the site whose token hashes to `token_hash`.
    pub fn site_for_token(&self, token_hash: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db().begin_read()?;
        let tokens = txn.open_table(TOKENS)?;
        let row = tokens.get(token_hash)?;
        Ok(row.map(|v| v.value().to_string()))
    }
}
