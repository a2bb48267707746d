//! Entity PUT bodies as OpenWhisk reads them: fields it does not know are ignored, known fields of the wrong type are 400.

use serde_json::{json, Value};

use crate::helpers::Agent;

fn malformed(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 400, "{what}: {body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(msg.starts_with("The request content was malformed"), "{what}: {body}");
    assert!(body["code"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn unknown_fields_are_ignored_on_every_entity_put() {
    let a = Agent::spawn(None, &[]).await;
    // A third-party deployer's trigger body: `feed` (and more) next to the fields OpenWhisk knows.
    let (s, t) = a
        .put(
            "triggers/clock",
            json!({"feed": "/whisk.system/alarms/alarm", "trigger": "clock", "colour": "red",
                   "annotations": [{"key": "feed", "value": "/whisk.system/alarms/alarm", "extra": 1}],
                   "parameters": [{"key": "cron", "value": "* * * * *", "description": "every minute"}]}),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["annotations"][0]["value"], "/whisk.system/alarms/alarm");
    assert_eq!(
        t["parameters"][0],
        json!({"key": "cron", "value": "* * * * *"}),
        "unknown parameter fields are not kept"
    );
    assert!(t.get("feed").is_none() && t.get("colour").is_none(), "{t}");

    let (s, b) = a
        .put(
            "actions/hello",
            json!({"exec": {"kind": "nodejs:20", "code": "function main(){return {}}", "runtime": "x"},
                   "limits": {"timeout": 1000, "gpu": 2}, "colour": "red", "docs": "none",
                   "parameters": [{"key": "p", "value": 1, "label": "x"}]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["limits"]["timeout"], 1000);
    assert!(b.get("colour").is_none() && b["exec"].get("runtime").is_none(), "{b}");

    let (s, b) = a.put("packages/tools", json!({"colour": "red", "binding": {}, "description": "x"})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = a
        .put("packages/mine", json!({"binding": {"namespace": "_", "name": "tools", "version": "1"}, "colour": "red"}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["binding"], json!({"namespace": "guest", "name": "tools"}));

    let (s, b) = a.put("rules/r", json!({"trigger": "clock", "action": "hello", "colour": "red"})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) =
        a.post("rules/r", json!({"status": "inactive", "trigger": null, "action": null, "colour": "red"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "inactive");
}

#[tokio::test]
async fn known_fields_of_the_wrong_type_are_400() {
    let a = Agent::spawn(None, &[]).await;
    let exec = json!({"kind": "nodejs:20", "code": "function main(){return {}}"});
    let cases: Vec<(&str, Value)> = vec![
        ("actions/a", json!({"exec": {"kind": "nodejs:20", "code": 5}})),
        ("actions/a", json!({"exec": exec, "publish": "yes"})),
        ("actions/a", json!({"exec": exec, "limits": {"timeout": "long"}})),
        ("actions/a", json!({"exec": exec, "parameters": {"p": 1}})),
        ("actions/a", json!({"exec": exec, "parameters": [{"key": "p"}]})),
        ("actions/a", json!({"exec": exec, "annotations": [{"key": 1, "value": 1}]})),
        ("actions/a", json!({"exec": exec, "version": 3})),
        ("triggers/t", json!({"parameters": "p=1"})),
        ("triggers/t", json!({"limits": []})),
        ("packages/p", json!({"publish": 1})),
        ("packages/p", json!({"binding": "guest/tools"})),
        ("rules/r", json!({"trigger": 5, "action": "a"})),
    ];
    for (path, body) in cases {
        let (s, b) = a.put(path, body.clone()).await;
        malformed(s, &b, &format!("PUT {path} {body}"));
    }
    let (s, b) = a.put("triggers/t", json!({"parameters": [{"key": "p", "value": 1, "init": "yes"}]})).await;
    malformed(s, &b, "init must be a boolean");
    // Nothing was half-created.
    let (s, b) = a.get("actions").await;
    assert_eq!((s, b), (200, json!([])));
}
