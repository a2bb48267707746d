//! A shared package's action invoked from two other namespaces runs in processes of each caller: module state
//! and `__OW_API_KEY` never cross from one namespace to another.

use serde_json::json;

use crate::helpers::Agent;

#[tokio::test]
async fn shared_package_actions_run_in_the_callers_own_processes() {
    let a = Agent::spawn(None, &[]).await;
    let (s, b) = a.put("packages/tools?overwrite=true", json!({"publish": true})).await;
    assert_eq!(s, 200, "{b}");
    let code = "let calls = 0;\nfunction main() { calls += 1; return { pid: process.pid, calls, key: process.env.__OW_API_KEY || null }; }";
    let (s, b) = a
        .put(
            "actions/tools/counter?overwrite=true",
            json!({"exec": {"kind": "nodejs:20", "code": code}, "annotations": [{"key": "provide-api-key", "value": true}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let callers = [a.create_namespace("bee"), a.create_namespace("cee")];
    let mut seen = Vec::new();
    for (u, k) in &callers {
        for round in 1..=2 {
            let r = a
                .http
                .post(format!("{}/api/v1/namespaces/guest/actions/tools/counter?blocking=true&result=true", a.api))
                .basic_auth(u, Some(k))
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let out: serde_json::Value = r.json().await.unwrap();
            assert_eq!(out["key"], json!(format!("{u}:{k}")), "each caller sees its own key: {out}");
            assert_eq!(out["calls"], json!(round), "module state is the caller's own: {out}");
            seen.push(out["pid"].clone());
        }
    }
    assert_eq!(seen[0], seen[1], "warm reuse within one caller");
    assert_ne!(seen[0], seen[2], "another caller gets another process");
}
