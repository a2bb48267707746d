//! The shared catalog: OpenWhisk entities (actions, packages, triggers, rules) defined once at the hub and
//! mirrored by every site. Documents are OpenWhisk's own (`whisks` database: `_id` `ns/name` or
//! `ns/pkg/name`, `entityType`, `exec`, `parameters`, `annotations`, `limits`, `publish`, `version`,
//! `updated`, `_rev`), kept behind one trait ([`CatalogStore`]) with two backends: CouchDB over HTTP
//! ([`couch`]) and the hub's embedded redb store ([`embedded`]). [`api`] serves OpenWhisk's entity API,
//! [`changes`] the changes feed sites pull with their site token.

pub mod api;
pub mod changes;
pub mod couch;
pub mod doc;
pub mod embedded;
pub mod manifest;

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::CatalogSettings;
use crate::store::{Store, StoreError};

pub use api::router;

/// A catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The document's `_rev` is not the one given (or it exists and no `_rev` was given).
    #[error("document update conflict")]
    Conflict,
    /// No such document.
    #[error("document not found")]
    NotFound,
    /// CouchDB answered something the hub cannot use, or could not be reached.
    #[error("catalog database: {0}")]
    Backend(String),
    /// The embedded store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One entry of the changes feed, in CouchDB's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Opaque position; give it as `since` to resume after this change.
    pub seq: Value,
    /// Document id.
    pub id: String,
    /// The winning revision: `[{"rev": "..."}]`.
    pub changes: Vec<Rev>,
    /// True for a deleted document.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
    /// The document (a tombstone `{_id, _rev, _deleted}` for a deleted one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<Value>,
}

/// `{"rev": "..."}` in a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rev {
    /// Revision.
    pub rev: String,
}

/// A page of the changes feed from one backend (positions are the backend's own).
#[derive(Debug, Clone, PartialEq)]
pub struct ChangesPage {
    /// Changes after `since`, oldest first.
    pub results: Vec<Change>,
    /// Position after the last change (or `since` when nothing changed).
    pub last_seq: Value,
}

/// What a catalog backend does. Documents are JSON objects with `_id` and `_rev`; revisions are
/// CouchDB's (`N-<hash>`), and a write names the revision it replaces.
pub trait CatalogStore: Send + Sync {
    /// The document `id`, or `None`.
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Value>, CatalogError>> + Send;
    /// Writes `doc` as `id`, replacing revision `rev` (`None`: it must not exist); the new revision.
    fn put(&self, id: &str, doc: Value, rev: Option<&str>)
        -> impl Future<Output = Result<String, CatalogError>> + Send;
    /// Deletes revision `rev` of `id`.
    fn delete(&self, id: &str, rev: &str) -> impl Future<Output = Result<(), CatalogError>> + Send;
    /// Every live document whose id starts with `prefix`, in id order.
    fn list(&self, prefix: &str) -> impl Future<Output = Result<Vec<Value>, CatalogError>> + Send;
    /// Changes after `since` (`None`: from the start), at most `limit`; when there are none, waits up to
    /// `wait` for one.
    fn changes(
        &self,
        since: Option<&str>,
        limit: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<ChangesPage, CatalogError>> + Send;
    /// An identifier of this catalog's lifetime: it changes when the database is recreated, so a site
    /// holding a position of the old one resyncs.
    fn epoch(&self) -> impl Future<Output = Result<String, CatalogError>> + Send;
}

/// The configured backend.
#[derive(Debug, Clone)]
pub enum Catalog {
    /// The hub's own redb store.
    Embedded(embedded::EmbeddedCatalog),
    /// A CouchDB (or CouchDB-protocol) server.
    Couch(couch::CouchCatalog),
}

impl Catalog {
    /// The backend the settings name: CouchDB when `catalog.couchdb_url` is set (its database is created
    /// when missing), else the embedded store.
    pub async fn open(settings: &CatalogSettings, store: &Store) -> anyhow::Result<Catalog> {
        match &settings.couchdb_url {
            Some(_) => Ok(Catalog::Couch(couch::CouchCatalog::connect(settings).await?)),
            None => {
                let store = store.clone();
                let c = tokio::task::spawn_blocking(move || embedded::EmbeddedCatalog::open(store)).await??;
                Ok(Catalog::Embedded(c))
            }
        }
    }

    /// `couchdb <url>/<db>` or `embedded`, for logs.
    pub fn describe(&self) -> String {
        match self {
            Catalog::Embedded(_) => "embedded".into(),
            Catalog::Couch(c) => format!("couchdb {}", c.describe()),
        }
    }
}

impl CatalogStore for Catalog {
    async fn get(&self, id: &str) -> Result<Option<Value>, CatalogError> {
        match self {
            Catalog::Embedded(c) => c.get(id).await,
            Catalog::Couch(c) => c.get(id).await,
        }
    }
    async fn put(&self, id: &str, doc: Value, rev: Option<&str>) -> Result<String, CatalogError> {
        match self {
            Catalog::Embedded(c) => c.put(id, doc, rev).await,
            Catalog::Couch(c) => c.put(id, doc, rev).await,
        }
    }
    async fn delete(&self, id: &str, rev: &str) -> Result<(), CatalogError> {
        match self {
            Catalog::Embedded(c) => c.delete(id, rev).await,
            Catalog::Couch(c) => c.delete(id, rev).await,
        }
    }
    async fn list(&self, prefix: &str) -> Result<Vec<Value>, CatalogError> {
        match self {
            Catalog::Embedded(c) => c.list(prefix).await,
            Catalog::Couch(c) => c.list(prefix).await,
        }
    }
    async fn changes(&self, since: Option<&str>, limit: usize, wait: Duration) -> Result<ChangesPage, CatalogError> {
        match self {
            Catalog::Embedded(c) => c.changes(since, limit, wait).await,
            Catalog::Couch(c) => c.changes(since, limit, wait).await,
        }
    }
    async fn epoch(&self) -> Result<String, CatalogError> {
        match self {
            Catalog::Embedded(c) => c.epoch().await,
            Catalog::Couch(c) => c.epoch().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn catalog_settings_are_checked() {
        let with = |url: &str, db: &str| {
            let mut s = Settings::default();
            s.catalog.couchdb_url = Some(url.into());
            s.catalog.database = db.into();
            s.validate().map_err(|e| e.to_string())
        };
        assert!(with("http://couchdb:5984", "whisks").is_ok());
        let err = with("http://admin:secret@couchdb:5984", "whisks").unwrap_err();
        assert!(err.contains("couchdb_credentials_file") && !err.contains("secret"), "{err}");
        assert!(with("ftp://couchdb", "whisks").is_err());
        assert!(with("http://couchdb:5984", "Whisks").is_err());
        assert_eq!(Settings::default().catalog.database, "whisks");
    }
}
