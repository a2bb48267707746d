//! Namespace and name path forms as OpenWhisk's controller resolves them (`_`, `/ns`, `ns%2Fpkg`) and refuses them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::Agent;

async fn raw(a: &Agent, method: Method, path: &str) -> (u16, Value) {
    let r = a
        .http
        .request(method, format!("{}/api/v1/namespaces/{path}", a.api))
        .basic_auth(&a.auth.0, Some(&a.auth.1))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn names(list: &Value) -> Vec<String> {
    list.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn leading_slash_and_underscore_namespaces_resolve() {
    let a = Agent::spawn(None, &[]).await;
    let (s, plain) = raw(&a, Method::GET, "whisk.system/packages").await;
    assert_eq!(s, 200, "{plain}");
    assert!(names(&plain).contains(&"utils".to_string()), "{plain}");
    let (s, slashed) = raw(&a, Method::GET, "%2Fwhisk.system/packages").await;
    assert_eq!((s, names(&slashed)), (200, names(&plain)), "/whisk.system lists the same packages");
    let (s, b) = raw(&a, Method::GET, "%2Fwhisk.system/packages/utils").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["namespace"], "whisk.system");
    let (s, b) = raw(&a, Method::GET, "%2Fwhisk.system/actions/utils/echo").await;
    assert_eq!(s, 200, "{b}");
    a.put("triggers/t", json!({})).await;
    for ns in ["_", "guest", "%2Fguest", "guest%2F", "%2F_"] {
        let (s, b) = raw(&a, Method::GET, &format!("{ns}/triggers/t")).await;
        assert_eq!((s, &b["name"]), (200, &json!("t")), "{ns}: {b}");
    }
    let (s, b) = raw(&a, Method::GET, "%2Fwhisk.system/triggers").await;
    assert_eq!(s, 403, "another namespace's triggers: {b}");
}

#[tokio::test]
async fn a_package_in_the_namespace_segment_is_resolved_for_actions() {
    let a = Agent::spawn(None, &[]).await;
    assert_eq!(a.put("packages/tools", json!({})).await.0, 200);
    for n in ["hello", "bye"] {
        a.node_action(&format!("tools/{n}"), "function main(){return {ok: true}}").await;
    }
    let (s, listed) = a.get("actions/tools/").await;
    assert_eq!(s, 200);
    assert!(listed.as_array().unwrap().iter().all(|x| x["namespace"] == "guest/tools"), "{listed}");
    // The namespace as the listing shows it, put back into the path: namespace guest, package tools.
    let (s, b) = raw(&a, Method::GET, "guest%2Ftools/actions").await;
    assert_eq!(s, 200, "{b}");
    let mut got = names(&b);
    got.sort();
    assert_eq!(got, ["bye", "hello"]);
    let (s, b) = raw(&a, Method::GET, "guest%2Ftools/actions/hello").await;
    assert_eq!((s, &b["namespace"]), (200, &json!("guest/tools")), "{b}");
    let (s, b) = raw(&a, Method::POST, "guest%2Ftools/actions/hello?blocking=true&result=true").await;
    assert_eq!((s, b), (200, json!({"ok": true})));
    // Recursive delete, as a CLI does it: every listed action by its `namespace` field, then the package.
    for row in listed.as_array().unwrap() {
        let ns = row["namespace"].as_str().unwrap().replace('/', "%2F");
        let (s, b) = raw(&a, Method::DELETE, &format!("{ns}/actions/{}", row["name"].as_str().unwrap())).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = raw(&a, Method::DELETE, "_/packages/tools").await;
    assert_eq!(s, 200, "the package is empty now: {b}");
}

#[tokio::test]
async fn what_openwhisk_refuses_stays_refused() {
    let a = Agent::spawn(None, &[]).await;
    assert_eq!(a.put("packages/tools", json!({})).await.0, 200);
    a.node_action("tools/hello", "function main(){return {}}").await;
    // An encoded slash in the entity name: OpenWhisk's entity name may not hold a '/' (400, not resolved).
    let (s, b) = raw(&a, Method::GET, "_/actions/tools%2Fhello").await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"].as_str().unwrap().contains("tools/hello"), "{b}");
    // `_` is resolved only on its own, not as the root of a package path.
    let (s, b) = raw(&a, Method::GET, "_%2Ftools/actions/hello").await;
    assert_eq!(s, 403, "{b}");
    // A package twice, or a path deeper than ns/pkg, names nothing.
    let (s, b) = raw(&a, Method::GET, "guest%2Ftools/actions/tools/hello").await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = raw(&a, Method::GET, "guest%2Ftools%2Fx/actions/hello").await;
    assert_eq!(s, 404, "{b}");
    // Packages hold only actions.
    let (s, b) = raw(&a, Method::GET, "guest%2Ftools/triggers").await;
    assert_eq!(s, 404, "{b}");
    // Invalid namespace names are 400 with OpenWhisk's error shape.
    for ns in ["bad%24ns", "%2F", "guest%2F%20x"] {
        let (s, b) = raw(&a, Method::GET, &format!("{ns}/actions")).await;
        assert_eq!(s, 400, "{ns}: {b}");
        assert!(b["code"].is_string(), "{b}");
    }
    // Writes into another namespace through the package form are forbidden.
    let (s, b) = raw(&a, Method::DELETE, "whisk.system%2Futils/actions/echo").await;
    assert_eq!(s, 403, "{b}");
}
