//! Package GET and PUT as OpenWhisk's Packages.scala answers them: bindings merged with their package, annotations.

use serde_json::{json, Value};

use crate::helpers::Agent;

fn kv(list: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for p in list.as_array().unwrap() {
        m.insert(p["key"].as_str().unwrap().into(), p["value"].clone());
    }
    Value::Object(m)
}

#[tokio::test]
async fn a_binding_shows_its_package_parameters_under_its_own_and_the_package_actions() {
    let a = Agent::spawn(None, &[]).await;
    let (s, b) = a
        .put("packages/tools", json!({"parameters": [{"key": "host", "value": "pkg"}, {"key": "port", "value": 1}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    a.node_action("tools/hello", "function main(){return {}}").await;
    let (s, b) = a
        .put(
            "actions/tools/feed",
            json!({"exec": {"kind": "nodejs:20", "code": "function main(){return {}}"},
        "annotations": [{"key": "feed", "value": true}], "parameters": [{"key": "secret", "value": "s"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = a
        .put(
            "packages/mine",
            json!({"binding": {"namespace": "_", "name": "tools"},
            "parameters": [{"key": "port", "value": 2}, {"key": "extra", "value": true}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(kv(&b["parameters"]), json!({"port": 2, "extra": true}), "PUT answers the binding's own document");

    let (s, g) = a.get("packages/mine").await;
    assert_eq!(s, 200, "{g}");
    assert_eq!(g["name"], "mine");
    assert_eq!(g["namespace"], "guest");
    assert_eq!(g["binding"], json!({"namespace": "guest", "name": "tools"}));
    assert_eq!(kv(&g["parameters"]), json!({"host": "pkg", "port": 2, "extra": true}), "binding wins: {g}");
    assert_eq!(
        g["actions"],
        json!([{"name": "hello", "version": "0.0.1", "annotations": [
        {"key": "exec", "value": "nodejs:20"}, {"key": "provide-api-key", "value": false}]}])
    );
    assert_eq!(g["feeds"].as_array().unwrap().len(), 1);
    assert!(g["feeds"][0].get("parameters").is_none(), "package actions show no parameters: {g}");
    // The stored binding is unchanged: an update without parameters keeps only its own.
    let (s, u) = a.put("packages/mine?overwrite=true", json!({"binding": {}})).await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["binding"], json!({"namespace": "guest", "name": "tools"}), "binding {{}} keeps the binding");
    assert_eq!(kv(&u["parameters"]), json!({"port": 2, "extra": true}));

    // The bound package gone: the binding's GET is 404, as OpenWhisk's lookup of the bound package fails.
    let (s, _) = a.call(reqwest::Method::DELETE, "packages/tools?force=true", None).await;
    assert_eq!(s, 200);
    let (s, b) = a.get("packages/mine").await;
    assert_eq!(s, 404, "{b}");
}

#[tokio::test]
async fn package_annotations_are_replaced_and_binding_is_the_controllers_own() {
    let a = Agent::spawn(None, &[]).await;
    let (s, b) = a
        .put("packages/p", json!({"annotations": [{"key": "a", "value": 1}, {"key": "binding", "value": "forged"}]}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["annotations"], json!([{"key": "a", "value": 1}]), "a forged binding annotation is dropped");
    let (_, b) = a.put("packages/p?overwrite=true", json!({"annotations": [{"key": "b", "value": 2}]})).await;
    assert_eq!(b["annotations"], json!([{"key": "b", "value": 2}]), "annotations replace, they do not merge");
    let (_, b) = a.put("packages/p?overwrite=true", json!({"publish": true})).await;
    assert_eq!(b["annotations"], json!([{"key": "b", "value": 2}]), "no annotations given: the old ones stay");
    let (_, b) = a.put("packages/bp", json!({"binding": {"namespace": "guest", "name": "p"}, "annotations": []})).await;
    assert_eq!(b["annotations"], json!([{"key": "binding", "value": {"namespace": "guest", "name": "p"}}]));
    // `public` is no parameter of OpenWhisk's package list: the own namespace lists everything.
    let (s, l) = a.get("packages?public=true").await;
    assert_eq!(s, 200);
    assert_eq!(l.as_array().unwrap().len(), 2, "{l}");
}

#[tokio::test]
async fn bindings_to_what_is_not_a_package_and_to_a_package_gone() {
    let a = Agent::spawn(None, &[]).await;
    a.node_action("act", "function main(){return {}}").await;
    let (s, b) = a.put("packages/b", json!({"binding": {"namespace": "guest", "name": "act"}})).await;
    assert_eq!((s, b["error"].as_str().unwrap()), (409, "Cannot bind to a resource that is not a package."), "{b}");
    let (s, b) = a.put("packages/b", json!({"binding": {"namespace": "guest", "name": "nothere"}})).await;
    assert_eq!(s, 400, "{b}");
    // A binding whose package is gone lists nothing: 404, as the bound package's lookup fails.
    a.put("packages/tools", json!({})).await;
    a.put("packages/b", json!({"binding": {"namespace": "guest", "name": "tools"}})).await;
    assert_eq!(a.get("actions/b/").await.0, 200);
    a.call(reqwest::Method::DELETE, "packages/tools", None).await;
    let (s, b) = a.get("actions/b/").await;
    assert_eq!(s, 404, "{b}");
}
