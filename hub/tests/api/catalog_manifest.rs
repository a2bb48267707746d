//! `fogwhisk-hub catalog apply --manifest actions/manifest.yaml` (the real binary, the real site
//! manifest): every package, action, sequence, trigger and rule lands in the catalog once, with code
//! from its file, qualified names, feeds as annotations and `${VAR}` kept for the sites; a second apply
//! changes nothing. On the embedded store (hub stopped) and on CouchDB-protocol (hub running).

use std::path::{Path, PathBuf};
use std::process::Command;

use fogwhisk_testkit::hub::hub_bin;
use reqwest::Method;
use serde_json::{json, Value};

use crate::catalog::{catalog_hub, Backend, CatalogHub};
use crate::helpers::spawn_app_in;

fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions/manifest.yaml")
}

fn apply(data: &Path, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let out = Command::new(hub_bin())
        .args(["--data", data.to_str().unwrap(), "catalog", "apply", "--manifest", manifest().to_str().unwrap()])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
        .lines()
        .filter(|l| !l.starts_with("applied "))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].to_string(), f[2].to_string())
        })
        .collect()
}

fn value_of(kvs: &Value, key: &str) -> Value {
    kvs.as_array().unwrap().iter().find(|kv| kv["key"] == key).map(|kv| kv["value"].clone()).unwrap_or(Value::Null)
}

async fn check_catalog(hub: &CatalogHub) {
    let (status, pkg) = hub.edit(Method::GET, "/namespaces/catalog/packages/fogwhisk", None).await;
    assert_eq!(status, 200, "{pkg}");
    let mut names: Vec<&str> = pkg["actions"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    names.sort_unstable();
    assert_eq!(names, ["daily-aggregates", "daily-report", "record-reading"]);
    let (_, rec) = hub.edit(Method::GET, "/namespaces/catalog/actions/fogwhisk/record-reading", None).await;
    let code =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions/record-reading.js")).unwrap();
    assert_eq!((rec["exec"]["kind"].as_str(), rec["exec"]["code"].as_str()), (Some("nodejs:20"), Some(code.as_str())));
    assert_eq!((rec["limits"]["concurrency"].clone(), rec["limits"]["memory"].clone()), (json!(16), json!(128)));
    assert_eq!(value_of(&rec["annotations"], "provide-api-key"), json!(true));
    let (_, daily) = hub.edit(Method::GET, "/namespaces/catalog/actions/fogwhisk/daily-aggregates", None).await;
    assert_eq!(value_of(&daily["parameters"], "tz"), json!("${SITE_TZ}"), "placeholders stay for the sites");
    let (_, seq) = hub.edit(Method::GET, "/namespaces/catalog/actions/fogwhisk/daily-report", None).await;
    assert_eq!(
        seq["exec"]["components"],
        json!(["/catalog/fogwhisk/daily-aggregates", "/whisk.system/federation/push"])
    );
    let (_, trigger) = hub.edit(Method::GET, "/namespaces/catalog/triggers/telemetry", None).await;
    assert_eq!(value_of(&trigger["annotations"], "feed"), json!("/whisk.system/mqtt/mqtt_feed"));
    assert_eq!(value_of(&trigger["parameters"], "url"), json!("${MQTT_URL}"));
    let (_, rule) = hub.edit(Method::GET, "/namespaces/catalog/rules/daily-report", None).await;
    assert_eq!(rule["action"], json!({"path": "catalog/fogwhisk", "name": "daily-report"}));
    assert_eq!(rule["trigger"], json!({"path": "catalog", "name": "daily"}));
}

fn expect_first_apply(steps: &[(String, String)]) {
    assert_eq!(steps.len(), 8, "{steps:?}");
    assert!(steps.iter().all(|(_, o)| o == "created"), "{steps:?}");
    assert_eq!(steps[0].0, "catalog/fogwhisk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_applies_once_to_the_embedded_catalog() {
    let data = std::sync::Arc::new(tempfile::tempdir().unwrap());
    expect_first_apply(&apply(data.path(), &[]));
    let again = apply(data.path(), &[]);
    assert!(again.iter().all(|(_, o)| o == "unchanged"), "{again:?}");
    let app = spawn_app_in(data, |s| s.anonymous_reads = false).await;
    let editor = app.token("catalog").await;
    let hub = CatalogHub { app, couch: None, editor };
    check_catalog(&hub).await;
    let (_, feed) = hub.edit(Method::GET, "/catalog/_changes", None).await;
    assert_eq!(feed["results"].as_array().map(Vec::len), Some(8), "a second apply wrote nothing");
    hub.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_applies_to_couchdb_while_the_hub_runs() {
    let hub = catalog_hub(Backend::Couch).await;
    let url = hub.couch.as_ref().unwrap().url.clone();
    let scratch = tempfile::tempdir().unwrap();
    let env = [("FOGWHISK_HUB_CATALOG__COUCHDB_URL", url.as_str())];
    expect_first_apply(&apply(scratch.path(), &env));
    check_catalog(&hub).await;
    let again = apply(scratch.path(), &env);
    assert!(again.iter().all(|(_, o)| o == "unchanged"), "{again:?}");
    hub.app.stop().await;
}
