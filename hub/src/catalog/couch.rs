//! The catalog in CouchDB over HTTP (reqwest): documents in `<url>/<database>`, ids percent-encoded as one
//! path segment (`ns%2Fname`), CouchDB's own revisions and `_changes`. The hub times a longpoll out itself
//! (some CouchDB-protocol servers ignore `timeout=`). The catalog's epoch is the `_local/fogwhisk-catalog`
//! document (never replicated nor in `_changes`, gone when the database is recreated).

use std::time::Duration;

use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};

use super::{CatalogError, CatalogStore, Change, ChangesPage};
use crate::config::CatalogSettings;

/// Id of the local document holding the epoch.
const EPOCH_DOC: &str = "_local/fogwhisk-catalog";

/// The CouchDB backend; cheap to clone.
#[derive(Clone)]
pub struct CouchCatalog {
    http: reqwest::Client,
    /// `<url>/<database>/` (trailing slash).
    db: Url,
    auth: Option<(String, String)>,
    timeout: Duration,
}

impl std::fmt::Debug for CouchCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CouchCatalog({})", self.db)
    }
}

fn backend(what: &str, e: impl std::fmt::Display) -> CatalogError {
    CatalogError::Backend(format!("{what}: {e}"))
}

impl CouchCatalog {
    /// Reads the credentials file, checks CouchDB answers and creates the database when missing.
    pub async fn connect(settings: &CatalogSettings) -> anyhow::Result<CouchCatalog> {
        use anyhow::Context;
        let url = settings.couchdb_url.as_deref().context("catalog.couchdb_url is not set")?;
        let mut base = Url::parse(url).context("catalog.couchdb_url")?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let db = base.join(&format!("{}/", settings.database)).context("catalog.database")?;
        let auth = match &settings.couchdb_credentials_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading catalog.couchdb_credentials_file {}", path.display()))?;
                let (user, pass) = text
                    .trim()
                    .split_once(':')
                    .with_context(|| format!("{} must hold user:password", path.display()))?;
                Some((user.to_string(), pass.to_string()))
            }
            None => None,
        };
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build()?;
        let c = CouchCatalog { http, db, auth, timeout: Duration::from_secs(settings.timeout_secs) };
        c.ensure_database().await.with_context(|| format!("catalog database {}", c.db))?;
        Ok(c)
    }

    /// `<url>/<database>` without credentials, for logs.
    pub fn describe(&self) -> String {
        self.db.as_str().trim_end_matches('/').to_string()
    }

    fn doc_url(&self, id: &str) -> Url {
        let mut u = self.db.clone();
        if let Some(local) = id.strip_prefix("_local/") {
            u.path_segments_mut().map(|mut s| {
                s.pop_if_empty().push("_local").push(local);
            })
        } else {
            u.path_segments_mut().map(|mut s| {
                s.pop_if_empty().push(id);
            })
        }
        .ok();
        u
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let r = self.http.request(method, url);
        match &self.auth {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    async fn send(&self, r: reqwest::RequestBuilder, what: &str) -> Result<(StatusCode, Value), CatalogError> {
        let resp = r.timeout(self.timeout).send().await.map_err(|e| backend(what, e))?;
        let status = resp.status();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(backend(what, format!("{status} (check catalog.couchdb_credentials_file)")));
        }
        Ok((status, body))
    }

    /// Creates the database unless it exists (an authorized request: some servers misbehave on
    /// unauthorized database-level requests).
    async fn ensure_database(&self) -> Result<(), CatalogError> {
        let (status, body) = self.send(self.request(Method::PUT, self.db.clone()), "creating the database").await?;
        match status {
            s if s.is_success() || s == StatusCode::PRECONDITION_FAILED => Ok(()),
            s => Err(backend("creating the database", format!("{s} {body}"))),
        }
    }
}

fn unexpected(what: &str, status: StatusCode, body: &Value) -> CatalogError {
    backend(what, format!("unexpected {status}: {body}"))
}

impl CatalogStore for CouchCatalog {
    async fn get(&self, id: &str) -> Result<Option<Value>, CatalogError> {
        let (status, body) = self.send(self.request(Method::GET, self.doc_url(id)), "reading a document").await?;
        match status {
            StatusCode::OK => Ok(Some(body)),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(unexpected("reading a document", s, &body)),
        }
    }

    async fn put(&self, id: &str, mut doc: Value, rev: Option<&str>) -> Result<String, CatalogError> {
        if let Some(o) = doc.as_object_mut() {
            o.insert("_id".into(), json!(id));
            match rev {
                Some(r) => o.insert("_rev".into(), json!(r)),
                None => o.remove("_rev"),
            };
        }
        let mut answer =
            self.send(self.request(Method::PUT, self.doc_url(id)).json(&doc), "writing a document").await?;
        if answer.0 == StatusCode::NOT_FOUND {
            // The database was deleted under the hub: recreate it (sites see a new epoch and resync).
            self.ensure_database().await?;
            answer = self.send(self.request(Method::PUT, self.doc_url(id)).json(&doc), "writing a document").await?;
        }
        let (status, body) = answer;
        match status {
            StatusCode::CREATED | StatusCode::ACCEPTED | StatusCode::OK => {
                body["rev"].as_str().map(String::from).ok_or_else(|| unexpected("writing a document", status, &body))
            }
            StatusCode::CONFLICT => Err(CatalogError::Conflict),
            s => Err(unexpected("writing a document", s, &body)),
        }
    }

    async fn delete(&self, id: &str, rev: &str) -> Result<(), CatalogError> {
        let r = self.request(Method::DELETE, self.doc_url(id)).query(&[("rev", rev)]);
        let (status, body) = self.send(r, "deleting a document").await?;
        match status {
            StatusCode::OK | StatusCode::ACCEPTED => Ok(()),
            StatusCode::CONFLICT => Err(CatalogError::Conflict),
            StatusCode::NOT_FOUND => Err(CatalogError::NotFound),
            s => Err(unexpected("deleting a document", s, &body)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Value>, CatalogError> {
        let url = self.db.join("_all_docs").map_err(|e| backend("listing", e))?;
        let (start, end) = (json!(prefix).to_string(), json!(format!("{prefix}\u{fff0}")).to_string());
        let q = [("include_docs", "true"), ("startkey", start.as_str()), ("endkey", end.as_str())];
        let (status, body) = self.send(self.request(Method::GET, url).query(&q), "listing documents").await?;
        if status != StatusCode::OK {
            return Err(unexpected("listing documents", status, &body));
        }
        let rows = body["rows"].as_array().cloned().unwrap_or_default();
        Ok(rows.into_iter().filter_map(|mut r| r.get_mut("doc").map(Value::take)).filter(Value::is_object).collect())
    }

    async fn changes(&self, since: Option<&str>, limit: usize, wait: Duration) -> Result<ChangesPage, CatalogError> {
        let url = self.db.join("_changes").map_err(|e| backend("changes", e))?;
        let since = since.unwrap_or("0").to_string();
        let limit = limit.to_string();
        let mut q = vec![("include_docs", "true"), ("since", since.as_str()), ("limit", limit.as_str())];
        let millis = wait.as_millis().to_string();
        if !wait.is_zero() {
            q.extend([("feed", "longpoll"), ("timeout", millis.as_str())]);
        }
        let r = self.request(Method::GET, url).query(&q).timeout(wait + self.timeout);
        let call = async {
            let resp = r.send().await.map_err(|e| backend("reading changes", e))?;
            let status = resp.status();
            let body: Value = resp.json().await.map_err(|e| backend("reading changes", e))?;
            Ok::<_, CatalogError>((status, body))
        };
        // The hub ends a longpoll itself at `wait` (servers may send the headers at once and hold the
        // body, or ignore `timeout=`): an unanswered one means nothing changed.
        let limit = if wait.is_zero() { self.timeout } else { wait + Duration::from_millis(50) };
        let (status, body) = match tokio::time::timeout(limit, call).await {
            Err(_) if !wait.is_zero() => return Ok(ChangesPage { results: vec![], last_seq: json!(since) }),
            Err(_) => return Err(backend("reading changes", "timed out")),
            Ok(r) => r?,
        };
        if status != StatusCode::OK {
            return Err(unexpected("reading changes", status, &body));
        }
        let results: Vec<Change> = serde_json::from_value(body["results"].clone())
            .map_err(|e| backend("reading changes", format!("bad results: {e}")))?;
        let results = results.into_iter().filter(|c| !c.id.starts_with("_design/")).collect();
        Ok(ChangesPage { results, last_seq: body["last_seq"].clone() })
    }

    async fn epoch(&self) -> Result<String, CatalogError> {
        for _ in 0..3 {
            let doc = match self.get(EPOCH_DOC).await {
                Ok(d) => d,
                Err(e) => return Err(e),
            };
            if let Some(e) = doc.as_ref().and_then(|d| d["epoch"].as_str()) {
                return Ok(e.to_string());
            }
            // A new (or recreated) database: make sure it exists, then mint its epoch.
            self.ensure_database().await?;
            let epoch = format!("c{:x}", rand::random::<u64>() >> 1);
            match self.put(EPOCH_DOC, json!({"epoch": epoch}), None).await {
                Ok(_) => return Ok(epoch),
                Err(CatalogError::Conflict) => continue, // another hub replica minted it first
                Err(e) => return Err(e),
            }
        }
        Err(backend("reading the epoch", "kept conflicting"))
    }
}
