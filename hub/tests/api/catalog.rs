//! The shared catalog's entity API on both backends (the embedded store and a real CouchDB-protocol
//! server, pouchdb-server): OpenWhisk's shapes and status codes, versions, packages, who may edit, and
//! `_rev` conflicts (of two writers of one revision, one gets 409).

use std::sync::Arc;

use fogwhisk_hub::catalog::{Catalog, CatalogError, CatalogStore};
use fogwhisk_hub::config::CatalogSettings;
use fogwhisk_testkit::couch::PouchDb;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

/// Which catalog backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Couch,
}

/// A hub with its catalog on `backend` (the CouchDB-protocol server lives as long as the hub).
pub struct CatalogHub {
    pub app: TestApp,
    pub couch: Option<PouchDb>,
    /// A catalog token.
    pub editor: String,
}

pub async fn catalog_hub(backend: Backend) -> CatalogHub {
    let couch = (backend == Backend::Couch).then(PouchDb::start);
    let url = couch.as_ref().map(|c| c.url.clone());
    let app = spawn_app_with(move |s| {
        s.anonymous_reads = false;
        s.catalog.couchdb_url = url;
        s.catalog.longpoll_secs = 10;
    })
    .await;
    let editor = app.token("catalog").await;
    CatalogHub { app, couch, editor }
}

impl CatalogHub {
    /// A request with `token` (Basic `uuid:key`, as the openwhisk npm client sends it) and a JSON body.
    pub async fn call(&self, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.app.client.request(method, format!("{}/api/v1{path}", self.app.base));
        if let Some(t) = token {
            r = r.basic_auth("23bc46b1-71f6-4ed5-8c54-816aa4f8c502", Some(t));
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn edit(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Some(&self.editor), method, path, body).await
    }
}

fn hello(code: &str) -> Value {
    json!({"exec": {"kind": "nodejs:20", "code": code}, "parameters": [{"key": "greeting", "value": "ciao"}]})
}

async fn entity_api(backend: Backend) {
    let hub = catalog_hub(backend).await;
    let reader = hub.app.token("reader").await;
    let site = hub.app.add_site("torino", "Europe/Rome").await;
    let path = "/namespaces/_/actions/hello";

    // Who may edit: a catalog token only.
    assert_eq!(hub.call(None, Method::GET, path, None).await.0, 401);
    assert_eq!(hub.call(Some("not-a-token-at-all-000000000000"), Method::GET, path, None).await.0, 401);
    for other in [&reader, &site] {
        let (status, body) = hub.call(Some(other), Method::PUT, path, Some(hello("x"))).await;
        assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    }

    // Create, then OpenWhisk's 409 without overwrite, then an update that bumps the version.
    let (status, created) = hub.edit(Method::PUT, path, Some(hello("function main() { return {a: 1} }"))).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!((created["namespace"].as_str(), created["version"].as_str()), (Some("catalog"), Some("0.0.1")));
    assert_eq!(created["limits"], json!({"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1}));
    assert!(created.get("_rev").is_none() && created.get("entityType").is_none(), "{created}");
    let (status, body) = hub.edit(Method::PUT, path, Some(hello("y"))).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("resource already exists")), "{body}");
    let (status, updated) =
        hub.edit(Method::PUT, &format!("{path}?overwrite=true"), Some(json!({"limits": {"timeout": 3000}}))).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], "0.0.2");
    assert_eq!(updated["exec"]["code"], created["exec"]["code"], "an update without exec keeps the code");
    assert_eq!(updated["limits"]["timeout"], 3000);

    // Get (with and without code), list, count; the explicit namespace is the same entity.
    let (status, got) = hub.edit(Method::GET, "/namespaces/catalog/actions/hello", None).await;
    assert_eq!((status, got.clone()), (200, updated.clone()));
    let (_, no_code) = hub.edit(Method::GET, &format!("{path}?code=false"), None).await;
    assert!(no_code["exec"].get("code").is_none() && no_code["exec"]["kind"] == "nodejs:20", "{no_code}");
    let (_, list) = hub.edit(Method::GET, "/namespaces/_/actions", None).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!((list[0]["name"].as_str(), list[0]["version"].as_str()), (Some("hello"), Some("0.0.2")));
    assert!(list[0]["exec"].get("code").is_none());
    assert_eq!(hub.edit(Method::GET, "/namespaces/_/actions?count=true", None).await.1, json!({"actions": 1}));

    // Errors in OpenWhisk's shape.
    let (status, body) = hub.edit(Method::GET, "/namespaces/_/actions/nope", None).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("The requested resource does not exist.")));
    let (status, body) = hub.edit(Method::PUT, "/namespaces/_/actions/noexec", Some(json!({}))).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("exec undefined")), "{body}");
    assert_eq!(
        hub.edit(Method::PUT, "/namespaces/_/triggers/hello", Some(json!({}))).await.0,
        409,
        "id taken by an action"
    );
    assert_eq!(hub.edit(Method::POST, path, Some(json!({}))).await.0, 405, "no invocation at the hub");

    // Packages: actions inside, a non-empty package cannot go, an action needs its package.
    assert_eq!(hub.edit(Method::PUT, "/namespaces/_/actions/missing/a", Some(hello("x"))).await.0, 404);
    let (status, pkg) =
        hub.edit(Method::PUT, "/namespaces/_/packages/monitoring", Some(json!({"publish": true}))).await;
    assert_eq!((status, pkg["binding"].clone()), (200, json!({})), "{pkg}");
    let (status, inner) = hub.edit(Method::PUT, "/namespaces/_/actions/monitoring/alarm", Some(hello("z"))).await;
    assert_eq!((status, inner["namespace"].as_str()), (200, Some("catalog/monitoring")), "{inner}");
    let (_, pkg) = hub.edit(Method::GET, "/namespaces/_/packages/monitoring", None).await;
    assert_eq!(pkg["actions"][0]["name"], "alarm", "{pkg}");
    let (status, body) = hub.edit(Method::DELETE, "/namespaces/_/packages/monitoring", None).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("Package not empty (contains 1 entities)")));
    assert_eq!(hub.edit(Method::DELETE, "/namespaces/_/actions/monitoring/alarm", None).await.0, 200);
    assert_eq!(hub.edit(Method::DELETE, "/namespaces/_/packages/monitoring", None).await.0, 200);

    // Triggers and rules.
    assert_eq!(hub.edit(Method::PUT, "/namespaces/_/triggers/every-minute", Some(json!({}))).await.0, 200);
    let rule = json!({"trigger": "/_/every-minute", "action": "hello"});
    let (status, r) = hub.edit(Method::PUT, "/namespaces/_/rules/tick", Some(rule)).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["trigger"].clone(), r["action"].clone()),
        (json!({"path": "catalog", "name": "every-minute"}), json!({"path": "catalog", "name": "hello"}))
    );

    // Delete answers with the entity; afterwards it is gone, and a new one starts at 0.0.1 again.
    let (status, deleted) = hub.edit(Method::DELETE, path, None).await;
    assert_eq!((status, deleted["version"].as_str()), (200, Some("0.0.2")));
    assert_eq!(hub.edit(Method::GET, path, None).await.0, 404);
    assert_eq!(hub.edit(Method::DELETE, path, None).await.0, 404);
    let (status, again) = hub.edit(Method::PUT, path, Some(hello("again"))).await;
    assert_eq!((status, again["version"].as_str()), (200, Some("0.0.1")));

    // Concurrent updates: each answers 200 or 409, and the version counts exactly the successes.
    let overwrite = format!("{path}?overwrite=true");
    let puts = (0..8).map(|i| hub.edit(Method::PUT, &overwrite, Some(hello(&format!("v{i}")))));
    let answers = futures_util::future::join_all(puts).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    for (s, b) in &answers {
        assert!(*s == 200 || (*s == 409 && b["error"] == "Concurrent modification to resource detected."), "{s} {b}");
    }
    let (_, last) = hub.edit(Method::GET, path, None).await;
    assert_eq!(last["version"], format!("0.0.{}", 1 + ok), "{ok} of 8 concurrent updates succeeded");
    println!("{backend:?}: {ok} of 8 concurrent updates succeeded, {} got 409", 8 - ok);
    hub.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_api_on_the_embedded_store() {
    entity_api(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_api_on_couchdb_protocol() {
    entity_api(Backend::Couch).await;
}

/// Two writers of one revision straight at the backend: exactly one wins.
async fn same_rev_conflicts(catalog: Catalog) {
    let rev = catalog.put("catalog/race", json!({"n": 0}), None).await.unwrap();
    assert!(rev.starts_with("1-"), "{rev}");
    assert!(matches!(catalog.put("catalog/race", json!({"n": 9}), None).await, Err(CatalogError::Conflict)));
    let c = Arc::new(catalog);
    let writers = (1..=2).map(|n| {
        let (c, rev) = (c.clone(), rev.clone());
        tokio::spawn(async move { c.put("catalog/race", json!({"n": n}), Some(&rev)).await })
    });
    let results: Vec<_> = futures_util::future::join_all(writers).await.into_iter().map(Result::unwrap).collect();
    let wins: Vec<&String> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(wins.len(), 1, "{results:?}");
    assert!(results.iter().any(|r| matches!(r, Err(CatalogError::Conflict))), "{results:?}");
    assert!(wins[0].starts_with("2-"));
    let doc = c.get("catalog/race").await.unwrap().unwrap();
    assert_eq!(doc["_rev"].as_str(), Some(wins[0].as_str()));
    assert!(matches!(c.delete("catalog/race", &rev).await, Err(CatalogError::Conflict)), "a stale delete");
    c.delete("catalog/race", wins[0]).await.unwrap();
    assert_eq!(c.get("catalog/race").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_writers_of_one_rev_get_one_success_and_one_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = fogwhisk_hub::store::Store::open(dir.path()).unwrap();
    same_rev_conflicts(Catalog::open(&CatalogSettings::default(), &store).await.unwrap()).await;
    let couch = PouchDb::start();
    let settings = CatalogSettings { couchdb_url: Some(couch.url.clone()), ..Default::default() };
    same_rev_conflicts(Catalog::open(&settings, &store).await.unwrap()).await;
}

/// With a CouchDB admin, the hub reads `user:password` from `catalog.couchdb_credentials_file` and sends
/// it on every request: it can create the database (which needs the admin) and serve the catalog; the
/// settings printout names the file, never the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn couchdb_credentials_come_from_a_file() {
    let couch = PouchDb::start();
    couch.add_admin("fogwhisk-hub", "s3cret-Pa55");
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("couchdb");
    std::fs::write(&file, "fogwhisk-hub:s3cret-Pa55\n").unwrap();
    let (url, path) = (couch.url.clone(), file.clone());
    let app = spawn_app_with(move |s| {
        s.catalog.couchdb_url = Some(url);
        s.catalog.couchdb_credentials_file = Some(path);
        s.catalog.database = "fogwhisk-catalog".into();
    })
    .await;
    let editor = app.token("catalog").await;
    let hub = CatalogHub { app, couch: None, editor };
    assert_eq!(hub.edit(Method::PUT, "/namespaces/_/actions/a", Some(hello("x"))).await.0, 200);
    let db: Value = reqwest::Client::new()
        .get(format!("{}/fogwhisk-catalog/catalog%2Fa", couch.url))
        .basic_auth("fogwhisk-hub", Some("s3cret-Pa55"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((db["entityType"].as_str(), db["exec"]["code"].as_str()), (Some("action"), Some("x")), "{db}");
    let mut settings = CatalogSettings { couchdb_url: Some(couch.url.clone()), ..Default::default() };
    settings.couchdb_credentials_file = Some(file);
    assert!(!format!("{settings:?}").contains("s3cret"));
    hub.app.stop().await;
}
