use std::collections::BTreeMap;

use serde_json::json;

use super::*;

const MANIFEST: &str = include_str!("../../../../actions/manifest.yaml");

fn vars() -> BTreeMap<String, String> {
    [("MQTT_URL", "mqtt://127.0.0.1:1883"), ("SITE_TZ", "Europe/Rome")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into()
}

#[test]
fn the_site_manifest_parses_with_its_variables() {
    let m = parse(MANIFEST, &vars()).unwrap();
    let p = &m.packages["fogwhisk"];
    assert_eq!(p.actions.keys().collect::<Vec<_>>(), ["daily-aggregates", "record-reading"]);
    assert!(p.actions.values().all(|a| a.runtime == "nodejs:20" && a.annotations["provide-api-key"] == json!(true)));
    assert_eq!(p.actions["daily-aggregates"].inputs["tz"], json!("Europe/Rome"));
    assert_eq!(p.sequences["daily-report"].actions, "daily-aggregates, /whisk.system/federation/push");
    let t = &p.triggers["telemetry"];
    assert_eq!(t.feed.as_deref(), Some("/whisk.system/mqtt/mqtt_feed"));
    assert_eq!(
        (t.inputs["url"].clone(), t.inputs["topic"].clone(), t.inputs["qos"].clone()),
        (json!("mqtt://127.0.0.1:1883"), json!("telemetry/#"), json!(1))
    );
    let d = &p.triggers["daily"];
    assert_eq!(d.feed.as_deref(), Some("/whisk.system/alarms/alarm"));
    assert_eq!((d.inputs["cron"].clone(), d.inputs["timezone"].clone()), (json!("5 0 * * *"), json!("Europe/Rome")));
    assert_eq!(
        (p.rules["record-telemetry"].trigger.as_str(), p.rules["record-telemetry"].action.as_str()),
        ("telemetry", "record-reading")
    );
    assert_eq!(
        (p.rules["daily-report"].trigger.as_str(), p.rules["daily-report"].action.as_str()),
        ("daily", "daily-report")
    );
}

#[test]
fn missing_variables_and_inconsistent_manifests_are_refused() {
    let mut v = vars();
    v.remove("SITE_TZ");
    match parse(MANIFEST, &v) {
        Err(ManifestError::UnknownVariable { name, at }) => {
            assert_eq!(name, "SITE_TZ");
            assert!(at.starts_with("packages.fogwhisk."), "{at}");
        }
        other => panic!("expected UnknownVariable, got {other:?}"),
    }
    let bad_rule = MANIFEST.replace("action: record-reading", "action: no-such-action");
    assert!(matches!(parse(&bad_rule, &vars()), Err(ManifestError::Invalid(m)) if m.contains("no-such-action")));
    let bad_trigger = MANIFEST.replace("trigger: daily\n", "trigger: nightly\n");
    assert!(matches!(parse(&bad_trigger, &vars()), Err(ManifestError::Invalid(m)) if m.contains("nightly")));
    let unknown_key = MANIFEST
        .replace("runtime: nodejs:20\n        inputs:", "runtime: nodejs:20\n        colour: red\n        inputs:");
    assert!(matches!(parse(&unknown_key, &vars()), Err(ManifestError::Invalid(m)) if m.contains("colour")));
    assert!(matches!(parse("packages: [1, 2", &vars()), Err(ManifestError::Yaml(_))));
    let relative_feed = MANIFEST.replace("feed: /whisk.system/alarms/alarm", "feed: alarms/alarm");
    assert!(matches!(parse(&relative_feed, &vars()), Err(ManifestError::Invalid(m)) if m.contains("fully qualified")));
}

#[test]
fn placeholders_are_filled_inside_values_only() {
    let v: BTreeMap<String, String> = [("A".to_string(), "x: y".to_string())].into();
    assert_eq!(fill("pre-${A}-post", &v, "here").unwrap(), "pre-x: y-post");
    assert!(matches!(fill("${A", &v, "here"), Err(ManifestError::Invalid(_))));
    assert!(matches!(fill("${B}", &v, "here"), Err(ManifestError::UnknownVariable { .. })));
}
