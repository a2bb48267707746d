//! Shapes and statuses checked against OpenWhisk's controller: lists and counts, GETs, overwrite, flags, limits.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::Agent;

const CODE: &str = "function main(p){return p}";

fn keys(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn lists_counts_and_query_flags() {
    let a = Agent::spawn(None, &[]).await;
    for n in ["a", "b", "c"] {
        a.node_action(n, CODE).await;
    }
    assert_eq!(a.get("actions?count=true").await, (200, json!({"actions": 3})));
    assert_eq!(a.get("actions?count=true&skip=2").await, (200, json!({"actions": 1})), "count after skip");
    assert_eq!(a.get("actions?count=true&skip=9").await, (200, json!({"actions": 0})));
    assert_eq!(
        a.get("triggers?count=yes").await,
        (200, json!({"triggers": 0})),
        "booleans as the HTTP layer reads them"
    );
    let (s, l) = a.get("actions?limit=2&skip=1&docs=true").await;
    assert_eq!(s, 200);
    assert_eq!(l.as_array().unwrap().len(), 2);
    assert!(l[0].get("exec").is_some() && l[0]["exec"].get("code").is_none(), "rows are summaries, docs ignored: {l}");
    // overwrite: an existing entity is 409 unless overwrite is true (any spelling the HTTP layer accepts).
    let body = json!({"exec": {"kind": "nodejs:20", "code": CODE}});
    let (s, b) = a.put("actions/a", body.clone()).await;
    assert_eq!((s, &b["error"]), (409, &json!("resource already exists")), "{b}");
    let (s, b) = a.put("actions/a?overwrite=false", body.clone()).await;
    assert_eq!(s, 409, "{b}");
    for yes in ["true", "TRUE", "1", "on", "yes"] {
        let (s, b) = a.put(&format!("actions/a?overwrite={yes}"), body.clone()).await;
        assert_eq!(s, 200, "overwrite={yes}: {b}");
    }
    let (s, b) = a.put("actions/a?overwrite=maybe", body.clone()).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"].as_str().unwrap().contains("'maybe' is not a valid Boolean value"), "{b}");
    // ?code=false drops the code, not the rest of exec.
    let (s, g) = a.get("actions/a?code=false").await;
    assert_eq!(s, 200);
    assert!(g["exec"].get("code").is_none() && g["exec"]["kind"] == "nodejs:20", "{g}");
    assert_eq!(a.get("actions/a?code=true").await.1["exec"]["code"], CODE);
    // Activating a package is not a route of OpenWhisk: 405.
    a.put("packages/p", json!({})).await;
    let (s, b) = a.call(Method::POST, "packages/p", Some(json!({}))).await;
    assert_eq!(s, 405, "{b}");
}

#[tokio::test]
async fn action_get_merges_package_parameters_and_names_where_it_lives() {
    let a = Agent::spawn(None, &[]).await;
    a.put("packages/tools", json!({"parameters": [{"key": "pkg", "value": 1}, {"key": "both", "value": "pkg"}]})).await;
    let (s, b) = a
        .put(
            "actions/tools/hello",
            json!({"exec": {"kind": "nodejs:20", "code": CODE},
            "parameters": [{"key": "both", "value": "action"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(keys(&b["parameters"]), ["both"], "PUT answers the stored action");
    let (_, g) = a.get("actions/tools/hello").await;
    assert_eq!(g["namespace"], "guest/tools");
    let params: Value = g["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["key"].as_str().unwrap().to_string(), p["value"].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    assert_eq!(params, json!({"pkg": 1, "both": "action"}), "package parameters under the action's: {g}");
    a.put(
        "packages/mine",
        json!({"binding": {"namespace": "guest", "name": "tools"}, "parameters": [{"key": "bind", "value": true}]}),
    )
    .await;
    let (s, g) = a.get("actions/mine/hello").await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["namespace"], "guest/tools", "a binding resolves to the package the action lives in");
    assert_eq!(keys(&g["parameters"]), ["pkg", "both", "bind"], "{g}");
}

#[tokio::test]
async fn trigger_and_rule_annotations_are_replaced_on_update() {
    let a = Agent::spawn(None, &[]).await;
    a.node_action("act", CODE).await;
    a.put("triggers/t", json!({"annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm"}]})).await;
    let (_, t) = a.put("triggers/t?overwrite=true", json!({"parameters": [{"key": "p", "value": 1}]})).await;
    assert_eq!(keys(&t["annotations"]), ["feed"], "no annotations given: kept");
    let (_, t) = a.put("triggers/t?overwrite=true", json!({"annotations": [{"key": "x", "value": 1}]})).await;
    assert_eq!(keys(&t["annotations"]), ["x"], "given annotations replace: {t}");
    a.put("rules/r", json!({"trigger": "t", "action": "act", "annotations": [{"key": "a", "value": 1}]})).await;
    let (s, r) = a.put("rules/r?overwrite=true", json!({"annotations": [{"key": "b", "value": 2}]})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(keys(&r["annotations"]), ["b"]);
    assert_eq!(r["status"], "active");
}

#[tokio::test]
async fn limits_answer_in_openwhisk_units() {
    let a = Agent::spawn(None, &[]).await;
    let (s, l) = a.get("limits").await;
    assert_eq!(s, 200);
    assert_eq!(l["maxActionMemory"], 512, "MB: {l}");
    assert_eq!(l["minActionMemory"], 128);
    assert_eq!(l["maxActionLogs"], 10);
    assert_eq!(l["maxActionTimeout"], 300_000);
    assert_eq!(l["maxParameterSize"], "1 MB");
    assert_eq!(l["maxActionInstances"], l["concurrentInvocations"]);
    let (s, l) = a.call(Method::GET, "../%2Fguest/limits", None).await;
    assert_eq!(s, 200, "{l}");
}
