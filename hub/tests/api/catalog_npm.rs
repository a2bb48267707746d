//! The real `openwhisk` npm client (tests/client/node_modules) edits the catalog at the hub, on both
//! backends: `catalog_npm.mjs` creates, updates, gets, lists and deletes an action and sees OpenWhisk's
//! 409 and 404; the hub's store and changes feed then show what it did.

use std::path::Path;

use reqwest::Method;
use serde_json::Value;

use crate::catalog::{catalog_hub, Backend};

async fn npm_client_edits(backend: Backend) {
    let hub = catalog_hub(backend).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/catalog_npm.mjs");
    let out = tokio::process::Command::new("node")
        .arg(&script)
        .env("HUB_URL", &hub.app.base)
        .env("HUB_API_KEY", format!("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:{}", hub.editor))
        .env("CLIENT_DIR", root.join("tests/client"))
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{backend:?}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!((seen["created"].as_str(), seen["updated"].as_str()), (Some("0.0.1"), Some("0.0.2")), "{seen}");

    // What the client did is in the catalog: the package and its action stay, the deleted action is gone.
    let (status, _) = hub.edit(Method::GET, "/namespaces/catalog/actions/npm-hello", None).await;
    assert_eq!(status, 404);
    let (status, inner) = hub.edit(Method::GET, "/namespaces/catalog/actions/shared/inside", None).await;
    assert_eq!((status, inner["version"].as_str()), (200, Some("0.0.1")));
    let (_, feed) = hub.edit(Method::GET, "/catalog/_changes", None).await;
    let ids: Vec<(&str, bool)> = feed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["deleted"].as_bool().unwrap_or(false)))
        .collect();
    assert!(ids.contains(&("catalog/npm-hello", true)), "{ids:?}");
    assert!(ids.contains(&("catalog/shared/inside", false)), "{ids:?}");
    hub.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openwhisk_npm_client_edits_the_embedded_catalog() {
    npm_client_edits(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openwhisk_npm_client_edits_the_couchdb_catalog() {
    npm_client_edits(Backend::Couch).await;
}
