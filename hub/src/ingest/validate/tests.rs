//! Unit tests of batch validation.

use super::*;
use serde_json::json;

fn good() -> Value {
    json!({"datacenter_id": 7, "metric": "temperature", "day": "2026-11-23", "tz": "Europe/Rome",
           "count": 96, "min": 18.5, "max": 23.0, "mean": 21.2, "median": 21.0})
}

fn batch(records: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "records": records })).unwrap()
}

fn errors_of(body: &[u8]) -> Vec<RecordError> {
    match parse_batch(body, "Europe/Rome", 100) {
        Err(BatchError::Records(e)) => e,
        other => panic!("expected record errors, got {other:?}"),
    }
}

#[test]
fn accepts_a_good_record() {
    let recs = parse_batch(&batch(vec![good()]), "Europe/Rome", 100).unwrap();
    assert_eq!(recs[0].datacenter_id, 7);
    assert_eq!(recs[0].median, 21.0);
}

#[test]
fn names_index_and_field() {
    let mut bad = good();
    bad["max"] = json!("NaN");
    let e = errors_of(&batch(vec![good(), bad]));
    assert_eq!((e[0].index, e[0].field.as_str(), e[0].reason), (1, "max", "not_finite"));
    let mut bad = good();
    bad["count"] = json!("96");
    let e = errors_of(&batch(vec![bad]));
    assert_eq!((e[0].field.as_str(), e[0].reason), ("count", "wrong_type"));
}

#[test]
fn rejects_each_rule() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("day", json!("2026-02-30"), "invalid_day"),
        ("count", json!(0), "zero_count"),
        ("min", json!(30.0), "min_gt_max"),
        ("mean", json!(99.0), "out_of_range"),
        ("median", json!(-5.0), "out_of_range"),
        ("tz", json!("Mars/Base"), "invalid_tz"),
        ("tz", json!("Europe/Paris"), "tz_mismatch"),
        ("metric", json!("a b"), "invalid_metric"),
        ("datacenter_id", json!(-1), "wrong_type"),
        ("datacenter_id", json!(4_294_967_296u64), "wrong_type"),
        ("count", json!(1.5), "wrong_type"),
        ("min", json!("-Infinity"), "not_finite"),
    ];
    for (field, value, reason) in cases {
        let mut r = good();
        r[field] = value.clone();
        let e = errors_of(&batch(vec![r]));
        assert!(e.iter().any(|e| e.field == field && e.reason == reason), "{field}={value}: {e:?}");
    }
}

#[test]
fn missing_unknown_and_duplicates() {
    let mut r = good();
    r.as_object_mut().unwrap().remove("median");
    r["colour"] = json!("red");
    let e = errors_of(&batch(vec![r]));
    assert!(e.iter().any(|e| e.field == "median" && e.reason == "missing_field"));
    assert!(e.iter().any(|e| e.field == "colour" && e.reason == "unknown_field"));
    let e = errors_of(&batch(vec![good(), good()]));
    assert_eq!((e[0].index, e[0].reason), (1, "duplicate_key"));
}

#[test]
fn body_level_errors() {
    assert!(matches!(parse_batch(b"{\"records\": [", "UTC", 10), Err(BatchError::Malformed(_))));
    // 1e400 is outside f64: serde_json refuses it while parsing.
    let huge = br#"{"records":[{"min": 1e400}]}"#;
    assert!(matches!(parse_batch(huge, "UTC", 10), Err(BatchError::Malformed(m)) if m.contains("out of range")));
    assert!(matches!(parse_batch(b"[]", "UTC", 10), Err(BatchError::Shape(_))));
    assert!(matches!(parse_batch(b"{\"rec\":[]}", "UTC", 10), Err(BatchError::Shape(_))));
    let many = batch(vec![good(); 3]);
    assert!(matches!(parse_batch(&many, "Europe/Rome", 2), Err(BatchError::TooMany { count: 3, max: 2 })));
}

#[test]
fn shared_rules_of_the_wire_crate_apply() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("count", json!(i64::MAX as u64 + 1), "count_too_large"),
        ("count", json!(u64::MAX), "count_too_large"),
        ("day", json!("1999-12-31"), "day_out_of_range"),
        ("day", json!("9999-12-31"), "day_out_of_range"),
        ("metric", json!("t,site=other"), "invalid_metric"),
    ];
    for (field, value, reason) in cases {
        let mut r = good();
        r[field] = value.clone();
        let e = errors_of(&batch(vec![good(), r]));
        assert!(e.iter().any(|e| e.index == 1 && e.field == field && e.reason == reason), "{field}={value}: {e:?}");
    }
}
