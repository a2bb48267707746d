//! Entity quotas per namespace: past its count or bytes a namespace's write is refused with 403 and OpenWhisk's
//! `{error, code}`, updates that do not grow it still pass, and another namespace is not affected.

use serde_json::{json, Value};

use crate::helpers::Agent;

/// PUT `path` (under `/namespaces/_/`) as the namespace of `auth`.
async fn put_as(a: &Agent, auth: &(String, String), path: &str, body: Value) -> (u16, Value) {
    let r = a.http.put(a.url(path)).basic_auth(&auth.0, Some(&auth.1)).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn action(code: &str) -> Value {
    json!({"exec": {"kind": "nodejs:20", "code": code}})
}

fn assert_quota_error(status: u16, body: &Value, says: &str) {
    assert_eq!(status, 403, "{body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(msg.contains(says), "{body}");
    assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
}

#[tokio::test]
async fn entities_past_the_namespace_quota_get_403() {
    let a = Agent::spawn(
        None,
        &[
            ("FOGWHISK_EDGE_LIMITS__ENTITIES_PER_NAMESPACE", "3"),
            ("FOGWHISK_EDGE_LIMITS__ENTITY_MB_PER_NAMESPACE", "1"),
        ],
    )
    .await;
    let guest = a.auth.clone();
    // count: three entities of any kind, the fourth is refused
    assert_eq!(put_as(&a, &guest, "actions/one", action("function main(){return {}}")).await.0, 200);
    assert_eq!(put_as(&a, &guest, "triggers/two", json!({})).await.0, 200);
    assert_eq!(put_as(&a, &guest, "packages/three", json!({})).await.0, 200);
    let (s, b) = put_as(&a, &guest, "actions/four", action("function main(){return {}}")).await;
    assert_quota_error(s, &b, "quota of 3 entities");
    let (s, b) = put_as(&a, &guest, "actions/three/four", action("function main(){return {}}")).await;
    assert_quota_error(s, &b, "quota of 3 entities");
    // updating what exists does not add an entity
    let (s, b) = put_as(&a, &guest, "actions/one?overwrite=true", action("function main(){return {v: 2}}")).await;
    assert_eq!(s, 200, "{b}");
    // a delete makes room again
    assert_eq!(a.call(reqwest::Method::DELETE, "triggers/two", None).await.0, 200);
    assert_eq!(put_as(&a, &guest, "actions/four", action("function main(){return {}}")).await.0, 200);
    assert_eq!(a.get("actions/four").await.0, 200);

    // bytes: another namespace, unaffected by guest being full, holds at most 1 MB of entities
    let other = a.create_namespace("other");
    let big = format!("// {}\nfunction main(){{return {{}}}}", "x".repeat(600 * 1024));
    assert_eq!(put_as(&a, &other, "actions/big1", action(&big)).await.0, 200);
    let (s, b) = put_as(&a, &other, "actions/big2", action(&big)).await;
    assert_quota_error(s, &b, "past its quota of 1 MB of entities");
    let (s, b) = put_as(&a, &other, "actions/small", action("function main(){return {}}")).await;
    assert_eq!(s, 200, "{b}");
    // nothing of the refused writes was stored
    let r = a.http.get(a.url("actions/big2")).basic_auth(&other.0, Some(&other.1)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // guest is still at its count
    let (s, b) = put_as(&a, &guest, "triggers/five", json!({})).await;
    assert_quota_error(s, &b, "quota of 3 entities");
}
