//! Ingest: authentication, idempotent upsert, precise 400s, 413s, all-or-nothing batches.

use serde_json::{json, Value};

use crate::helpers::{record, spawn_app, spawn_app_with, TestApp, ADMIN};

const TZ: &str = "Europe/Rome";

async fn stored(app: &TestApp, site: &str) -> Vec<Value> {
    let v = app.get_json(&format!("/api/v1/aggregates?site={site}")).await;
    v["records"].as_array().unwrap().clone()
}

#[tokio::test]
async fn site_tokens_only_write_as_themselves() {
    let app = spawn_app().await;
    let torino = app.add_site("torino", TZ).await;
    let milano = app.add_site("milano", TZ).await;
    let batch = json!({"records": [record(7, "temperature", "2026-11-23", TZ, 21.0)]});

    let r = app.client.post(format!("{}/api/v1/sites/torino/aggregates", app.base)).json(&batch).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unauthorized");
    assert_eq!(app.post_batch("torino", "not-a-token", &batch).await.status(), 401);
    // The admin token is a valid credential, but pushing is not its job.
    assert_eq!(app.post_batch("torino", ADMIN, &batch).await.status(), 403);
    let r = app.post_batch("torino", &milano, &batch).await;
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("torino") && !msg.contains("milano"), "the 403 must not name the token's real site: {msg}");
    // An unknown site: a bad token gets the same 401 as for a known one (no probing for site ids),
    // a token of another site the same 403 (it learns nothing about which sites exist).
    let r = app.post_batch("napoli", "not-a-token", &batch).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid credentials");
    let r = app.post_batch("napoli", &torino, &batch).await;
    assert_eq!(r.status(), 403);
    let msg = r.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_string();
    assert!(!msg.contains("torino"), "{msg}");
    assert!(stored(&app, "torino").await.is_empty());

    let r = app.post_batch("torino", &torino, &batch).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!((body["accepted"].as_u64(), body["replaced"].as_u64()), (Some(1), Some(0)));
    let sites = app.get_json("/api/v1/sites").await;
    let t = sites.as_array().unwrap().iter().find(|s| s["id"] == "torino").unwrap();
    assert_eq!(t["last_report"], body["received_at"]);
    app.stop().await;
}

#[tokio::test]
async fn resending_replaces_instead_of_duplicating() {
    let app = spawn_app().await;
    let token = app.add_site("torino", TZ).await;
    let first = json!({"records": [
        record(7, "temperature", "2026-11-22", TZ, 20.0),
        record(7, "temperature", "2026-11-23", TZ, 21.0),
        record(8, "humidity", "2026-11-23", TZ, 45.0),
    ]});
    assert_eq!(app.post_batch("torino", &token, &first).await.status(), 200);
    let again = json!({"records": [record(7, "temperature", "2026-11-23", TZ, 22.5)]});
    let body: Value = app.post_batch("torino", &token, &again).await.json().await.unwrap();
    assert_eq!((body["accepted"].as_u64(), body["replaced"].as_u64()), (Some(1), Some(1)));
    let rows = stored(&app, "torino").await;
    assert_eq!(rows.len(), 3);
    let replaced =
        rows.iter().find(|r| r["record"]["day"] == "2026-11-23" && r["record"]["metric"] == "temperature").unwrap();
    assert_eq!(replaced["record"]["mean"], 22.5);
    let metrics = app.metrics().await;
    assert!(metrics.contains("fogwhisk_hub_ingest_records_total{site=\"torino\"} 4"), "{metrics}");
    app.stop().await;
}

/// Posts a raw body and returns (status, error code, error text).
async fn raw(app: &TestApp, token: &str, body: &str) -> (u16, String, String) {
    let r = app
        .client
        .post(format!("{}/api/v1/sites/torino/aggregates", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    (status, v["code"].as_str().unwrap_or_default().into(), v["error"].as_str().unwrap_or_default().into())
}

#[tokio::test]
async fn bad_records_get_precise_400s_and_nothing_is_half_written() {
    let app = spawn_app().await;
    let token = app.add_site("torino", TZ).await;
    let good = record(7, "temperature", "2026-11-23", TZ, 21.0);
    let with = |field: &str, v: Value| {
        let mut r = good.clone();
        r[field] = v;
        json!({"records": [good.clone(), r]}).to_string()
    };
    let cases: Vec<(String, &str, &str)> = vec![
        ("{\"records\": [".to_string(), "invalid_json", "not valid JSON"),
        ("[1,2]".to_string(), "invalid_batch", "JSON object"),
        (with("mean", json!("21.0")), "invalid_record", "records[1].mean: must be a number"),
        (with("max", json!("NaN")), "invalid_record", "records[1].max: must be a finite number"),
        (with("min", json!("-Infinity")), "invalid_record", "records[1].min: must be a finite number"),
        (with("day", json!("2026-02-30")), "invalid_record", "records[1].day:"),
        (with("min", json!(99.0)), "invalid_record", "records[1].min: must be <= max"),
        (with("mean", json!(-40.0)), "invalid_record", "records[1].mean: must lie within"),
        (with("count", json!(0)), "invalid_record", "records[1].count: must be at least 1"),
        (with("datacenter_id", json!("seven")), "invalid_record", "records[1].datacenter_id"),
        (with("tz", json!("Europe/Paris")), "invalid_record", "records[1].tz"),
        (
            r#"{"records":[{"datacenter_id":7,"metric":"t","day":"2026-11-23","tz":"Europe/Rome","count":1,"min":1e400,"max":2,"mean":1,"median":1}]}"#.to_string(),
            "invalid_json",
            "out of range",
        ),
    ];
    for (body, code, text) in cases {
        let (status, got_code, msg) = raw(&app, &token, &body).await;
        assert_eq!((status, got_code.as_str()), (400, code), "{body}: {msg}");
        assert!(msg.contains(text), "expected {text:?} in {msg:?}");
    }
    // The good record in each mixed batch was not stored.
    assert!(stored(&app, "torino").await.is_empty());
    let metrics = app.metrics().await;
    assert!(metrics.contains("fogwhisk_hub_ingest_rejected_total{reason=\"not_finite\"} 2"), "{metrics}");
    assert!(metrics.contains("fogwhisk_hub_ingest_rejected_total{reason=\"invalid_day\"} 1"), "{metrics}");
    // Still up and accepting good batches.
    assert_eq!(app.post_batch("torino", &token, &json!({"records": [good]})).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn oversize_batches_get_413() {
    let app = spawn_app_with(|s| {
        s.ingest.max_records = 3;
        s.ingest.max_bytes = 2_000;
    })
    .await;
    let token = app.add_site("torino", TZ).await;
    let recs: Vec<Value> = (1..=4).map(|d| record(1, "humidity", &format!("2026-11-0{d}"), TZ, 40.0)).collect();
    let r = app.post_batch("torino", &token, &json!({ "records": recs })).await;
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("at most 3"));
    let big = format!("{{\"records\": [], \"pad\": \"{}\"}}", "x".repeat(3_000));
    let (status, code, _) = raw(&app, &token, &big).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));
    // Chunked body without Content-Length is limited too.
    let stream = futures_stream(big.into_bytes());
    let r = app
        .client
        .post(format!("{}/api/v1/sites/torino/aggregates", app.base))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(stored(&app, "torino").await.is_empty());
    app.stop().await;
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = bytes.chunks(500).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn refused_batches_name_each_bad_record_by_index() {
    let app = spawn_app().await;
    let token = app.add_site("torino", TZ).await;
    let good = record(7, "temperature", "2026-11-23", TZ, 21.0);
    let mut huge = record(7, "humidity", "2026-11-23", TZ, 40.0);
    huge["count"] = json!(i64::MAX as u64 + 1);
    let mut inverted = record(8, "temperature", "2026-11-23", TZ, 21.0);
    inverted["min"] = json!(30.0);
    let body = json!({"records": [good.clone(), huge, good.tap_metric("gas_perc"), inverted]});
    let r = app.post_batch("torino", &token, &body).await;
    assert_eq!(r.status().as_u16(), 400);
    let refused: fogwhisk_wire::RefusedBatch = r.json().await.unwrap();
    assert_eq!(refused.code, "invalid_record");
    let got: Vec<(usize, &str, &str)> =
        refused.records.iter().map(|r| (r.index, r.field.as_str(), r.reason.as_str())).collect();
    assert_eq!(got, vec![(1, "count", "count_too_large"), (3, "min", "min_gt_max")]);
    assert!(stored(&app, "torino").await.is_empty());
    app.stop().await;
}

trait TapMetric {
    fn tap_metric(self, m: &str) -> Value;
}

impl TapMetric for Value {
    fn tap_metric(mut self, m: &str) -> Value {
        self["metric"] = json!(m);
        self
    }
}
