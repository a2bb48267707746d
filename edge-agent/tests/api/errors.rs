//! Bad input gets OpenWhisk's `{error, code}` with the right status, and the agent stays up.

use serde_json::{json, Value};

use crate::helpers::Agent;

fn assert_error(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert!(body["error"].is_string() && body["code"].is_string(), "not an OpenWhisk error: {body}");
}

#[tokio::test]
async fn bad_requests_are_rejected_precisely() {
    let a = Agent::spawn(None, &[]).await;
    let raw = |path: &str, body: &'static str| {
        a.http
            .put(a.url(path))
            .basic_auth(&a.auth.0, Some(&a.auth.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = raw("actions/x", "{not json").await.unwrap();
    let s = r.status().as_u16();
    assert_error(s, &r.json().await.unwrap(), 400);
    let r = raw("actions/x", r#"{"exec":{"kind":"nodejs:20","code":5}}"#).await.unwrap();
    let s = r.status().as_u16();
    assert_error(s, &r.json().await.unwrap(), 400);
    let r = raw("actions/x", r#"{"exec":{"kind":"nodejs:20","code":"x"},"publish":"yes"}"#).await.unwrap();
    let s = r.status().as_u16();
    assert_error(s, &r.json().await.unwrap(), 400);
    let (s, b) = a.put("actions/x", json!({"exec":{"kind":"cobol:1","code":"x"}})).await;
    assert_error(s, &b, 400);
    assert!(b["error"].as_str().unwrap().contains("cobol:1"));
    let (s, b) = a.put("actions/x", json!({})).await;
    assert_error(s, &b, 400);
    assert_eq!(b["error"], "exec undefined");
    let (s, b) = a.put("actions/x", json!({"exec":{"kind":"nodejs:20","code":"x"},"limits":{"memory":4}})).await;
    assert_error(s, &b, 400);
    let (s, b) = a.put("actions/%20bad", json!({"exec":{"kind":"nodejs:20","code":"x"}})).await;
    assert_error(s, &b, 400);
    let (s, b) = a.put("triggers/t", json!({"annotations":[{"key":"feed","value":"/a/b/c/d"}]})).await;
    assert_error(s, &b, 400);
    assert_eq!(b["error"], "Feed name is not valid");
    let (s, b) = a.get("activations/nothex").await;
    assert_error(s, &b, 400);
    let (s, b) = a.get("actions?limit=500").await;
    assert_error(s, &b, 400);
    let r = a.http.get(a.url("actions")).basic_auth(&a.auth.0, Some("wrong")).send().await.unwrap();
    assert_error(r.status().as_u16(), &r.json().await.unwrap(), 401);
    let r = a.http.get(a.url("actions")).send().await.unwrap();
    assert_error(r.status().as_u16(), &r.json().await.unwrap(), 401);
    let (s, b) = a.get("actions/missing").await;
    assert_error(s, &b, 404);
    let (s, b) = a.call(reqwest::Method::GET, "../whisk.system/actions", None).await;
    assert!(s == 403 || s == 404, "{s} {b}");
    a.node_action("big", "function main(p){ return {} }").await;
    let huge = "x".repeat(1024 * 1024 + 10);
    let (s, b) = a.post("actions/big?blocking=true", json!({"p": huge})).await;
    assert_error(s, &b, 413);
    // Still up, nothing half-written.
    assert_eq!(a.http.get(format!("{}/api/v1", a.api)).send().await.unwrap().status().as_u16(), 200);
    let (s, b) = a.get("actions").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = b.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["big"]);
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let a = Agent::spawn(
        None,
        &[("FOGWHISK_EDGE_LIMITS__MAX_BODY_BYTES", "4096"), ("FOGWHISK_EDGE_LIMITS__MAX_PAYLOAD_BYTES", "2048")],
    )
    .await;
    let code = format!("function main(){{ return {{}} }} // {}", "x".repeat(5000));
    let (s, b) = a.put("actions/huge", json!({"exec":{"kind":"nodejs:20","code":code}})).await;
    assert_error(s, &b, 413);
    a.node_action("small", "function main(){ return {} }").await;
    let (s, b) = a.post("actions/small?blocking=true", json!({"p": "y".repeat(3000)})).await;
    assert_error(s, &b, 413);
    assert_eq!(a.get("actions/huge").await.0, 404);
}
