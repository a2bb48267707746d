//! Alarms through the running feeds: a 6-field cron firing in real time, once and interval,
//! restart, validation and lifecycle errors.

mod common;

use std::sync::Arc;

use chrono::{Duration, Utc};
use common::{data_dir, req, wait_until, RecordingSink};
use fogwhisk_feeds::{AlarmKind, FeedError, Feeds};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn start(dir: &tempfile::TempDir, sink: Arc<RecordingSink>) -> Feeds {
    Feeds::start(dir.path(), sink, CancellationToken::new()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_field_cron_fires_in_real_time() {
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    let r = feeds
        .alarm(
            AlarmKind::Alarm,
            req("CREATE", "/guest/tick", json!({"cron": "*/2 * * * * *", "trigger_payload": {"hello": "world"}})),
        )
        .await
        .unwrap();
    assert_eq!(r, json!({"status": "success"}));
    sink.wait("three fires", |s| s.of("/guest/tick").len() >= 3).await;
    for p in sink.of("/guest/tick") {
        assert_eq!(p, json!({"hello": "world"}));
    }
    assert!(feeds.stats().alarm_fires >= 3);
    let read = feeds.alarm(AlarmKind::Alarm, req("READ", "/guest/tick", json!({}))).await.unwrap();
    assert_eq!(read["config"]["cron"], "*/2 * * * * *");
    assert_eq!(read["config"]["name"], "tick");
    assert_eq!(read["config"]["namespace"], "guest");
    assert_eq!(read["config"]["payload"], json!({"hello": "world"}));
    assert_eq!(read["status"]["active"], true);
    assert!(read["status"]["dateChangedISO"].as_str().unwrap().ends_with('Z'));
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_interval_string_payload_and_restart() {
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    let date = (Utc::now() + Duration::seconds(2)).to_rfc3339();
    feeds
        .alarm(
            AlarmKind::Once,
            req("CREATE", "/guest/once", json!({"date": date, "trigger_payload": "ping", "deleteAfterFire": "false"})),
        )
        .await
        .unwrap();
    let start_ms = (Utc::now() + Duration::seconds(1)).timestamp_millis();
    feeds
        .alarm(AlarmKind::Interval, req("CREATE", "/guest/every", json!({"minutes": 1, "startDate": start_ms})))
        .await
        .unwrap();
    sink.wait("once and interval fired", |s| s.of("/guest/once").len() == 1 && s.of("/guest/every").len() == 1).await;
    assert_eq!(sink.of("/guest/once")[0], json!({"payload": "ping"}));
    assert_eq!(sink.of("/guest/every")[0], json!({}));
    let read = feeds.alarm(AlarmKind::Once, req("READ", "/guest/once", json!({}))).await.unwrap();
    assert_eq!(read["status"]["active"], false);
    assert_eq!(read["status"]["reason"]["kind"], "AUTO");
    assert_eq!(read["config"]["date"], json!(date));
    // A cron schedule survives a restart.
    feeds
        .alarm(
            AlarmKind::Alarm,
            req("CREATE", "/guest/cron", json!({"cron": "* * * * * *", "timezone": "Europe/Rome"})),
        )
        .await
        .unwrap();
    feeds.shutdown().await;
    drop(feeds);
    let before = sink.of("/guest/cron").len();
    let feeds = start(&dir, sink.clone()).await;
    sink.wait("cron fires after restart", |s| s.of("/guest/cron").len() >= before + 2).await;
    let read = feeds.alarm(AlarmKind::Interval, req("READ", "/guest/every", json!({}))).await.unwrap();
    assert_eq!(read["config"]["minutes"], 1);
    assert_eq!(read["config"]["startDate"], json!(start_ms));
    // The once alarm does not fire again after the restart.
    assert_eq!(sink.of("/guest/once").len(), 1);
    assert_eq!(feeds.stats().alarms_scheduled, 3);
    feeds.shutdown().await;
}

fn bad(r: Result<serde_json::Value, FeedError>) -> String {
    match r {
        Err(FeedError::BadRequest(m)) => m,
        other => panic!("expected BadRequest, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_and_lifecycle_errors() {
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;
    let a = |p| feeds.alarm(AlarmKind::Alarm, req("CREATE", "/guest/a", p));
    assert_eq!(bad(a(json!({"cron": "not a cron"})).await), "cron pattern 'not a cron' is not valid");
    assert_eq!(bad(a(json!({"cron": "* * * *"})).await), "cron pattern '* * * *' is not valid");
    assert_eq!(bad(a(json!({"cron": "0 0 * * *", "timezone": "Mars/Olympus"})).await), "Invalid timezone.");
    assert!(bad(a(json!({})).await).contains("cron"));
    let past = (Utc::now() - Duration::hours(1)).timestamp_millis();
    assert!(bad(a(json!({"cron": "* * * * *", "startDate": past})).await).contains("must be in the future"));
    let s1 = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let s0 = (Utc::now() + Duration::hours(1)).to_rfc3339();
    assert!(bad(a(json!({"cron": "* * * * *", "startDate": s1, "stopDate": s0})).await)
        .contains("greater than the startDate"));
    // The first fire of a daily alarm comes after a stopDate one minute away.
    let soon = (Utc::now() + Duration::minutes(1)).timestamp_millis();
    let next_day = Utc::now() + Duration::hours(12);
    let pattern = format!("0 {} * * *", next_day.format("%H"));
    assert!(bad(a(json!({"cron": pattern, "stopDate": soon})).await).contains("stopDate"));
    assert!(bad(a(json!({"cron": "* * * * *", "stopDate": "yesterday"})).await).contains("not a valid Date"));
    let o = |p| feeds.alarm(AlarmKind::Once, req("CREATE", "/guest/o", p));
    assert!(bad(o(json!({})).await).contains("date"));
    assert!(bad(o(json!({"date": past})).await).contains("must be in the future"));
    let future = (Utc::now() + Duration::hours(1)).timestamp_millis();
    assert!(bad(o(json!({"date": future, "deleteAfterFire": "maybe"})).await).contains("deleteAfterFire"));
    let i = |p| feeds.alarm(AlarmKind::Interval, req("CREATE", "/guest/i", p));
    assert!(bad(i(json!({})).await).contains("minutes"));
    assert!(bad(i(json!({"minutes": 0})).await).contains("minutes"));
    assert!(bad(i(json!({"minutes": "x"})).await).contains("minutes"));
    // READ/DELETE/UPDATE of an unknown trigger, and a wrong trigger name.
    assert!(matches!(
        feeds.alarm(AlarmKind::Alarm, req("READ", "/guest/none", json!({}))).await,
        Err(FeedError::NotFound(_))
    ));
    assert!(matches!(
        feeds.alarm(AlarmKind::Alarm, req("DELETE", "/guest/none", json!({}))).await,
        Err(FeedError::NotFound(_))
    ));
    assert!(matches!(
        feeds.alarm(AlarmKind::Alarm, req("CREATE", "noslash", json!({"cron": "* * * * *"}))).await,
        Err(FeedError::BadRequest(_))
    ));
    assert!(fogwhisk_feeds::FeedRequest::new("EXPLODE", "/guest/x", Default::default()).is_err());
    // UPDATE: nothing to change, then a real change; PAUSE/UNPAUSE; DELETE.
    feeds
        .alarm(
            AlarmKind::Alarm,
            req("CREATE", "/guest/d", json!({"cron": "0 0 1 1 *", "timezone": "America/New_York"})),
        )
        .await
        .unwrap();
    assert_eq!(
        bad(feeds.alarm(AlarmKind::Alarm, req("UPDATE", "/guest/d", json!({"unrelated": 1}))).await),
        "no updatable parameters were specified"
    );
    assert!(bad(feeds.alarm(AlarmKind::Alarm, req("UPDATE", "/guest/d", json!({"cron": "bad"}))).await)
        .contains("not valid"));
    feeds.alarm(AlarmKind::Alarm, req("UPDATE", "/guest/d", json!({"cron": "0 5 * * *"}))).await.unwrap();
    let r = feeds.alarm(AlarmKind::Alarm, req("READ", "/guest/d", json!({}))).await.unwrap();
    assert_eq!(
        (r["config"]["cron"].as_str(), r["config"]["timezone"].as_str()),
        (Some("0 5 * * *"), Some("America/New_York"))
    );
    feeds.alarm(AlarmKind::Alarm, req("PAUSE", "/guest/d", json!({}))).await.unwrap();
    let r = feeds.alarm(AlarmKind::Alarm, req("READ", "/guest/d", json!({}))).await.unwrap();
    assert_eq!(
        (r["status"]["active"].as_bool(), r["status"]["reason"]["kind"].as_str()),
        (Some(false), Some("MANUAL"))
    );
    feeds.alarm(AlarmKind::Alarm, req("UNPAUSE", "/guest/d", json!({}))).await.unwrap();
    let r = feeds.alarm(AlarmKind::Alarm, req("READ", "/guest/d", json!({}))).await.unwrap();
    assert_eq!(r["status"]["active"], true);
    // A schedule of another kind is not visible through this feed.
    assert!(matches!(
        feeds.alarm(AlarmKind::Once, req("READ", "/guest/d", json!({}))).await,
        Err(FeedError::NotFound(_))
    ));
    feeds.alarm(AlarmKind::Alarm, req("DELETE", "/guest/d", json!({}))).await.unwrap();
    assert!(matches!(
        feeds.alarm(AlarmKind::Alarm, req("READ", "/guest/d", json!({}))).await,
        Err(FeedError::NotFound(_))
    ));
    assert_eq!(feeds.stats().alarms_scheduled, 0);
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanished_trigger_stops_its_alarm() {
    let dir = data_dir();
    let sink = RecordingSink::new();
    sink.missing.lock().unwrap().push("/guest/gone".into());
    let feeds = start(&dir, sink.clone()).await;
    feeds.alarm(AlarmKind::Alarm, req("CREATE", "/guest/gone", json!({"cron": "* * * * * *"}))).await.unwrap();
    wait_until("schedule dropped", || feeds.stats().alarms_scheduled == 0).await;
    assert!(sink.of("/guest/gone").is_empty());
    assert!(feeds.stats().fires_failed >= 1);
    feeds.shutdown().await;
}
