//! Scoped credentials (admin, publisher, reader tokens) by id with a token-hash index, site-token
//! rotation and revocation, and the append-only audit log.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::{SiteRecord, Store, StoreError, AUDIT, CREDENTIALS, CREDENTIAL_HASHES, SITES, TOKENS};

/// A scoped token as stored (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialRecord {
    /// Id, e.g. `publisher-3fa9c2d1`; what logs and the audit name.
    pub id: String,
    /// `admin`, `publisher` or `reader`.
    pub role: String,
    /// Free text for people.
    pub label: Option<String>,
    /// SHA-256 (hex) of the token.
    pub token_hash: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last rotation.
    pub rotated_at: Option<DateTime<Utc>>,
}

/// One audit entry: who did what to which object, and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Sequence number (assigned by the store).
    #[serde(default)]
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Credential id (`admin`, `publisher-…`, `site:torino`, `cli`), never the token.
    pub credential: String,
    /// e.g. `chart.upload`, `chart.delete`, `token.create`, `site.add`.
    pub action: String,
    /// The object, e.g. `fogwhisk-edge 0.1.0`.
    pub target: String,
    /// `ok`, `conflict`, `refused`, `not_found`.
    pub outcome: String,
}

impl Store {
    /// Adds a scoped credential; `Exists` if its id is taken.
    pub fn insert_credential(&self, c: &CredentialRecord) -> Result<(), StoreError> {
        let txn = self.db().begin_write()?;
        {
            let mut creds = txn.open_table(CREDENTIALS)?;
            if creds.get(c.id.as_str())?.is_some() {
                return Err(StoreError::Exists(format!("credential {:?}", c.id)));
            }
            creds.insert(c.id.as_str(), serde_json::to_vec(c)?.as_slice())?;
            txn.open_table(CREDENTIAL_HASHES)?.insert(c.token_hash.as_str(), c.id.as_str())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The scoped credential whose token hashes to `hash`.
    pub fn credential_for_hash(&self, hash: &str) -> Result<Option<CredentialRecord>, StoreError> {
        let txn = self.db().begin_read()?;
        let Some(id) = txn.open_table(CREDENTIAL_HASHES)?.get(hash)?.map(|v| v.value().to_string()) else {
            return Ok(None);
        };
        let creds = txn.open_table(CREDENTIALS)?;
        let row = creds.get(id.as_str())?;
        Ok(match row {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    /// Every scoped credential, ordered by id.
    pub fn list_credentials(&self) -> Result<Vec<CredentialRecord>, StoreError> {
        let txn = self.db().begin_read()?;
        let creds = txn.open_table(CREDENTIALS)?;
        let mut out = Vec::new();
        for row in creds.iter()? {
            out.push(serde_json::from_slice(row?.1.value())?);
        }
        Ok(out)
    }

    /// Replaces a scoped credential's hash (the old token stops working in the same commit).
    pub fn rotate_credential(&self, id: &str, new_hash: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let txn = self.db().begin_write()?;
        let found = {
            let mut creds = txn.open_table(CREDENTIALS)?;
            let old: Option<CredentialRecord> = match creds.get(id)? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            };
            match old {
                Some(mut c) => {
                    let mut hashes = txn.open_table(CREDENTIAL_HASHES)?;
                    hashes.remove(c.token_hash.as_str())?;
                    hashes.insert(new_hash, id)?;
                    c.token_hash = new_hash.to_string();
                    c.rotated_at = Some(at);
                    creds.insert(id, serde_json::to_vec(&c)?.as_slice())?;
                    true
                }
                None => false,
            }
        };
        txn.commit()?;
        Ok(found)
    }

    /// Deletes a scoped credential; returns whether it existed.
    pub fn revoke_credential(&self, id: &str) -> Result<bool, StoreError> {
        let txn = self.db().begin_write()?;
        let found = {
            let mut creds = txn.open_table(CREDENTIALS)?;
            let old: Option<CredentialRecord> = match creds.remove(id)? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            };
            if let Some(c) = &old {
                txn.open_table(CREDENTIAL_HASHES)?.remove(c.token_hash.as_str())?;
            }
            old.is_some()
        };
        txn.commit()?;
        Ok(found)
    }

    /// Sets a site's token hash (`None` revokes it: the site stays, its token is gone); false for an unknown site.
    pub fn set_site_token(&self, site: &str, new_hash: Option<&str>) -> Result<bool, StoreError> {
        let txn = self.db().begin_write()?;
        let found = {
            let mut sites = txn.open_table(SITES)?;
            let old: Option<SiteRecord> = match sites.get(site)? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            };
            match old {
                Some(mut rec) => {
                    let mut tokens = txn.open_table(TOKENS)?;
                    if !rec.token_hash.is_empty() {
                        tokens.remove(rec.token_hash.as_str())?;
                    }
                    if let Some(h) = new_hash {
                        tokens.insert(h, site)?;
                    }
                    rec.token_hash = new_hash.unwrap_or_default().to_string();
                    sites.insert(site, serde_json::to_vec(&rec)?.as_slice())?;
                    true
                }
                None => false,
            }
        };
        txn.commit()?;
        Ok(found)
    }

    /// Appends an audit entry; returns its sequence number.
    pub fn audit_append(&self, entry: &AuditEntry) -> Result<u64, StoreError> {
        let txn = self.db().begin_write()?;
        let seq = {
            let mut audit = txn.open_table(AUDIT)?;
            let seq = audit.last()?.map_or(1, |(k, _)| k.value() + 1);
            let mut e = entry.clone();
            e.seq = seq;
            audit.insert(seq, serde_json::to_vec(&e)?.as_slice())?;
            seq
        };
        txn.commit()?;
        Ok(seq)
    }

    /// The newest `limit` audit entries, newest first.
    pub fn audit_recent(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let txn = self.db().begin_read()?;
        let audit = txn.open_table(AUDIT)?;
        let mut out = Vec::with_capacity(limit.min(audit.len()? as usize));
        for row in audit.iter()?.rev().take(limit) {
            out.push(serde_json::from_slice(row?.1.value())?);
        }
        Ok(out)
    }
}
