//! Outbox delivery against a hub stand-in that fails on demand (500 mid-stream, 429, refused
//! connections, a stalled answer, 413, 401): faults a real hub cannot produce when asked.
//! In order, none lost, none duplicated, retried with backoff, never dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use fogwhisk_site::outbox::spawn_delivery_with;
use fogwhisk_site::{DeliveryConfig, HubTarget, SiteStore};
use fogwhisk_wire::{AggregateBatch, AggregateRecord, ErrorBody, IngestResponse};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Accept the batch.
    Accept,
    /// Answer this status (with `Retry-After: 0`) without storing.
    Status(u16),
    /// Store the batch, then answer only after this long (past the client's time limit).
    Stall(Duration),
}

#[derive(Default, Clone)]
struct HubState {
    script: VecDeque<Fault>,
    /// Answer every request with this status until cleared.
    refuse: Option<u16>,
    /// Answer 413 to batches larger than this.
    max_batch: Option<usize>,
    /// Answer 400 (a plain `{error, code}`, naming no record) to batches holding a record of this metric.
    poison: Option<String>,
    received: Vec<AggregateRecord>,
    batch_sizes: Vec<usize>,
    requests: usize,
    bad_auth: usize,
}

type Shared = Arc<Mutex<HubState>>;

async fn ingest(
    State(hub): State<Shared>,
    Path(site): Path<String>,
    headers: HeaderMap,
    Json(batch): Json<AggregateBatch>,
) -> Response {
    let fault = {
        let mut h = hub.lock().unwrap();
        h.requests += 1;
        if site != "site-a" || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret-token")
        {
            h.bad_auth += 1;
            return StatusCode::UNAUTHORIZED.into_response();
        }
        if let Some(code) = h.refuse {
            let body = ErrorBody { error: "site token revoked".into(), code: "unauthorized".into() };
            return (StatusCode::from_u16(code).unwrap(), Json(body)).into_response();
        }
        if h.poison.as_ref().is_some_and(|p| batch.records.iter().any(|r| &r.metric == p)) {
            let body = ErrorBody { error: "a record is refused".into(), code: "invalid_record".into() };
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
        if h.max_batch.is_some_and(|m| batch.records.len() > m) {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        }
        match h.script.pop_front() {
            Some(Fault::Status(code)) => {
                let mut r = (StatusCode::from_u16(code).unwrap(), "injected failure").into_response();
                r.headers_mut().insert("retry-after", "0".parse().unwrap());
                return r;
            }
            other => {
                h.batch_sizes.push(batch.records.len());
                h.received.extend(batch.records.iter().cloned());
                other
            }
        }
    };
    if let Some(Fault::Stall(d)) = fault {
        tokio::time::sleep(d).await;
    }
    Json(IngestResponse { accepted: batch.records.len(), replaced: 0, received_at: "2026-11-24T00:00:00Z".into() })
        .into_response()
}

async fn serve_on(listener: tokio::net::TcpListener, hub: Shared, stop: CancellationToken) {
    let app = Router::new().route("/api/v1/sites/{site}/aggregates", post(ingest)).with_state(hub);
    axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned()).await.unwrap();
}

async fn start_hub(hub: Shared, stop: CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_on(listener, hub, stop));
    url
}

fn records(n: usize) -> Vec<AggregateRecord> {
    (0..n)
        .map(|i| AggregateRecord {
            datacenter_id: (i % 3) as u32,
            metric: format!("m{i}"),
            day: "2026-11-23".into(),
            tz: "Europe/Rome".into(),
            count: i as u64 + 1,
            min: 0.0,
            max: 10.0,
            mean: 5.0,
            median: 5.0,
        })
        .collect()
}

fn target(url: &str) -> HubTarget {
    HubTarget { url: url.into(), site_id: "site-a".into(), token: "s3cret-token".to_string().into() }
}

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        batch_size: 8,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(80),
        permanent_retry: Duration::from_millis(100),
        request_timeout: Duration::from_secs(5),
    }
}

async fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    fogwhisk_testkit::until(Duration::from_secs(30), what, cond).await
}

fn store_with(n: usize) -> (tempfile::TempDir, SiteStore, Vec<AggregateRecord>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let recs = records(n);
    store.enqueue("guest", recs.clone()).unwrap();
    (dir, store, recs)
}

#[tokio::test]
async fn failures_mid_stream_are_retried_in_order_without_loss_or_duplicates() {
    let (_dir, store, recs) = store_with(50);
    let hub: Shared = Default::default();
    hub.lock().unwrap().script = [
        Fault::Accept,
        Fault::Status(500),
        Fault::Accept,
        Fault::Status(503),
        Fault::Status(429),
        Fault::Accept,
        Fault::Status(502),
    ]
    .into();
    let stop = CancellationToken::new();
    let url = start_hub(hub.clone(), stop.clone()).await;
    let task = spawn_delivery_with(store.clone(), target(&url), fast(), stop.clone());
    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    let h = hub.lock().unwrap().clone();
    assert_eq!(h.received, recs, "every record once, in order");
    assert!(h.batch_sizes.iter().all(|&n| n <= 8));
    assert_eq!(h.requests, 7 + 4, "7 batches of at most 8, plus 4 failed attempts");
    assert_eq!(h.bad_auth, 0);
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.delivered, stats.delivered_batches, stats.failures), (50, 7, 4));
    assert!(stats.last_error.as_deref().unwrap().contains("502"), "{stats:?}");
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn refused_connections_back_off_until_the_hub_appears() {
    let (_dir, store, recs) = store_with(20);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let stop = CancellationToken::new();
    let task = spawn_delivery_with(store.clone(), target(&format!("http://{addr}")), fast(), stop.clone());
    wait_for("three refused attempts", || store.outbox_stats().unwrap().failures >= 3).await;
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.depth, 20, "nothing dropped while the hub is down");
    assert!(stats.last_error.as_deref().unwrap().contains("unreachable"), "{stats:?}");
    let hub: Shared = Default::default();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(serve_on(listener, hub.clone(), stop.clone()));
    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    assert_eq!(hub.lock().unwrap().received, recs);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_stalled_answer_is_retried_and_the_resend_is_the_same_batch() {
    let (_dir, store, recs) = store_with(12);
    let hub: Shared = Default::default();
    hub.lock().unwrap().script = [Fault::Stall(Duration::from_secs(3))].into();
    let stop = CancellationToken::new();
    let url = start_hub(hub.clone(), stop.clone()).await;
    let config = DeliveryConfig { request_timeout: Duration::from_millis(500), ..fast() };
    let task = spawn_delivery_with(store.clone(), target(&url), config, stop.clone());
    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    let h = hub.lock().unwrap().clone();
    // The hub stored the first batch but its answer never arrived: it is sent again (the hub
    // replaces records by key), then the rest follows in order.
    assert_eq!(h.batch_sizes, vec![8, 8, 4]);
    let mut expected = recs[..8].to_vec();
    expected.extend(recs.iter().cloned());
    assert_eq!(h.received, expected);
    assert_eq!(store.outbox_stats().unwrap().failures, 1);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn permanent_refusals_keep_the_records_and_too_large_batches_are_split() {
    let (_dir, store, recs) = store_with(10);
    let hub: Shared = Default::default();
    hub.lock().unwrap().refuse = Some(403);
    hub.lock().unwrap().max_batch = Some(3);
    let stop = CancellationToken::new();
    let url = start_hub(hub.clone(), stop.clone()).await;
    let task = spawn_delivery_with(store.clone(), target(&url), fast(), stop.clone());
    wait_for("two refusals", || store.outbox_stats().unwrap().failures >= 2).await;
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.depth, 10, "a refused batch is never dropped");
    assert!(stats.last_error.as_deref().unwrap().contains("site token revoked (unauthorized)"), "{stats:?}");
    hub.lock().unwrap().refuse = None;
    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    let h = hub.lock().unwrap().clone();
    assert_eq!(h.received, recs);
    assert!(h.batch_sizes.iter().all(|&n| n <= 3), "{:?}", h.batch_sizes);
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn stopping_leaves_undelivered_records_queued_and_the_token_stays_hidden() {
    let (_dir, store, _recs) = store_with(5);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let t = target(&format!("http://{addr}"));
    assert!(!format!("{t:?}").contains("s3cret-token"));
    let stop = CancellationToken::new();
    let task = spawn_delivery_with(store.clone(), t, fast(), stop.clone());
    wait_for("a failed attempt", || store.outbox_stats().unwrap().failures >= 1).await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("task stops on cancel").unwrap();
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.depth, 5);
    assert!(!format!("{stats:?}").contains("s3cret-token"));
}

#[tokio::test]
async fn a_batch_never_repeats_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let mut first = records(3);
    store.enqueue("guest", first.clone()).unwrap();
    // The same day re-reported (late readings) while the first report is still queued.
    let mut again = records(3);
    again[1].count = 99;
    store.enqueue("guest", again.clone()).unwrap();
    let hub: Shared = Default::default();
    let stop = CancellationToken::new();
    let url = start_hub(hub.clone(), stop.clone()).await;
    let task = spawn_delivery_with(store.clone(), target(&url), fast(), stop.clone());
    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    let h = hub.lock().unwrap().clone();
    assert_eq!(h.batch_sizes, vec![3, 3]);
    first.extend(again);
    assert_eq!(h.received, first, "the newer report arrives last and wins at the hub");
    stop.cancel();
    task.await.unwrap();
}

#[test]
fn backoff_grows_exponentially_with_jitter_up_to_the_cap() {
    let c = DeliveryConfig {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        ..DeliveryConfig::default()
    };
    for attempt in 1..=10u32 {
        let full = Duration::from_millis(100 * (1u64 << (attempt - 1))).min(Duration::from_secs(2));
        for _ in 0..50 {
            let d = fogwhisk_site::outbox::delivery::backoff(&c, attempt);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} not in [{:?}, {full:?}]", full / 2);
        }
    }
}

#[tokio::test]
async fn a_refused_record_the_hub_does_not_name_is_found_by_splitting_and_set_aside() {
    let (_dir, store, recs) = store_with(20);
    let hub: Shared = Arc::new(Mutex::new(HubState { poison: Some("m7".into()), ..Default::default() }));
    let stop = CancellationToken::new();
    let url = start_hub(hub.clone(), stop.clone()).await;
    let mut config = fast();
    config.permanent_retry = Duration::from_secs(3600); // retrying the batch as it was would stall the test
    let task = spawn_delivery_with(store.clone(), target(&url), config, stop.clone());
    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    let dead = store.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].record, recs[7]);
    assert!(dead[0].reason.contains("400") && dead[0].reason.contains("a record is refused"), "{}", dead[0].reason);
    let expected: Vec<AggregateRecord> = recs.iter().filter(|r| r.metric != "m7").cloned().collect();
    assert_eq!(hub.lock().unwrap().received, expected, "the others arrive once each, in order");
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.delivered, stats.dead_letters, stats.dead_lettered), (19, 1, 1), "{stats:?}");
    stop.cancel();
    task.await.unwrap();
}
