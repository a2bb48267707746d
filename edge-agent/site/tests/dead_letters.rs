//! Dead letters against the REAL hub (`target/debug/fogwhisk-hub`, `cargo build -p fogwhisk-hub`): a
//! record the hub refuses (here: a time zone that is not the site's, which only the hub can know) is
//! set aside with the hub's reason, and the records behind it arrive; the operator re-queues or drops
//! it. Also: records the shared rules refuse never enter the outbox.

use std::path::Path;
use std::time::Duration;

use fogwhisk_site::outbox::spawn_delivery_with;
use fogwhisk_site::{DeliveryConfig, HubTarget, SiteError, SiteStore};
use fogwhisk_testkit::hub::Hub;
use fogwhisk_wire::hub::AggregateList;
use fogwhisk_wire::AggregateRecord;
use tokio_util::sync::CancellationToken;

fn add_site(data: &Path) -> String {
    fogwhisk_testkit::hub::add_site(data, "site-a", "Europe/Rome")
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("gave up waiting for: {what}");
}

fn rec(dc: u32, metric: &str, day: &str, tz: &str, mean: f64) -> AggregateRecord {
    AggregateRecord {
        datacenter_id: dc,
        metric: metric.into(),
        day: day.into(),
        tz: tz.into(),
        count: 96,
        min: mean - 3.0,
        max: mean + 3.0,
        mean,
        median: mean,
    }
}

async fn stored(url: &str) -> Vec<AggregateRecord> {
    let list: AggregateList =
        reqwest::get(format!("{url}/api/v1/aggregates?site=site-a&limit=100000")).await.unwrap().json().await.unwrap();
    list.records.into_iter().map(|s| s.record).collect()
}

#[test]
fn records_the_shared_rules_refuse_never_enter_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(dir.path()).unwrap();
    let mut inverted = rec(1, "temperature", "2026-11-01", "Europe/Rome", 20.0);
    inverted.min = 99.0;
    let mut huge = rec(1, "humidity", "2026-11-01", "Europe/Rome", 40.0);
    huge.count = i64::MAX as u64 + 1;
    let mut ancient = rec(1, "gas_perc", "1970-01-01", "Europe/Rome", 3.0);
    ancient.count = 1;
    for (bad, words) in
        [(inverted, "min: must be <= max"), (huge, "count: must be at most"), (ancient, "before 2000-01-01")]
    {
        let good = rec(2, "temperature", "2026-11-01", "Europe/Rome", 20.0);
        match store.enqueue("guest", vec![good, bad]) {
            Err(SiteError::InvalidRecord { index: 1, reason }) => assert!(reason.contains(words), "{reason}"),
            other => panic!("expected record 1 refused, got {other:?}"),
        }
    }
    assert_eq!(store.outbox_stats().unwrap().depth, 0, "nothing of a refused push is queued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_record_is_set_aside_and_the_rest_arrive() {
    let hub_dir = tempfile::tempdir().unwrap();
    let token = add_site(hub_dir.path());
    let hub = Hub::start(hub_dir.path(), "127.0.0.1:0");
    let site_dir = tempfile::tempdir().unwrap();
    let store = SiteStore::open(site_dir.path()).unwrap();
    // Valid by the shared rules, but the hub knows site-a is in Europe/Rome: records 1 and 3 are refused.
    let queued = vec![
        rec(1, "temperature", "2026-11-01", "Europe/Rome", 20.0),
        rec(1, "humidity", "2026-11-01", "Europe/Paris", 40.0),
        rec(1, "gas_perc", "2026-11-01", "Europe/Rome", 3.0),
        rec(2, "temperature", "2026-11-01", "America/New_York", 21.0),
        rec(2, "humidity", "2026-11-01", "Europe/Rome", 41.0),
    ];
    store.enqueue("guest", queued.clone()).unwrap();
    // Then more, in a later batch: they must not wait behind the refused ones.
    let later: Vec<AggregateRecord> =
        (2..=9).map(|d| rec(1, "temperature", &format!("2026-11-0{d}"), "Europe/Rome", 20.0 + d as f64)).collect();
    store.enqueue("guest", later.clone()).unwrap();

    let config = DeliveryConfig {
        batch_size: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        // Were the refused records retried instead of set aside, nothing would move within the test.
        permanent_retry: Duration::from_secs(3600),
        request_timeout: Duration::from_secs(5),
    };
    let target = HubTarget { url: hub.url.clone(), site_id: "site-a".into(), token: token.into() };
    let stop = CancellationToken::new();
    let task = spawn_delivery_with(store.clone(), target, config, stop.clone());

    wait_for("outbox drained", || store.outbox_stats().unwrap().depth == 0).await;
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.dead_letters, stats.dead_lettered, stats.delivered), (2, 2, 11), "{stats:?}");
    let dead = store.dead_letters().unwrap();
    assert_eq!(dead.iter().map(|d| d.record.clone()).collect::<Vec<_>>(), vec![queued[1].clone(), queued[3].clone()]);
    for d in &dead {
        assert!(
            d.reason.contains("400") && d.reason.contains("tz_mismatch") && d.reason.contains("Europe/Rome"),
            "{}",
            d.reason
        );
    }
    let mut at_hub = stored(&hub.url).await;
    let mut expected: Vec<AggregateRecord> =
        [&queued[0], &queued[2], &queued[4]].into_iter().cloned().chain(later.iter().cloned()).collect();
    let key = |r: &AggregateRecord| (r.datacenter_id, r.metric.clone(), r.day.clone());
    at_hub.sort_by_key(key);
    expected.sort_by_key(key);
    assert_eq!(at_hub, expected, "every good record arrived, none of the refused");

    // The operator re-queues them: still refused, so set aside again (not stuck at the head).
    assert_eq!(store.dead_letters_requeue(None).unwrap(), 2);
    wait_for("set aside again", || store.outbox_stats().unwrap().dead_lettered == 4).await;
    let stats = store.outbox_stats().unwrap();
    assert_eq!((stats.depth, stats.dead_letters), (0, 2), "{stats:?}");
    // And drops one, then the other.
    let first = store.dead_letters().unwrap()[0].seq;
    assert_eq!(store.dead_letters_drop(Some(&[first])).unwrap(), 1);
    assert_eq!(store.dead_letters_drop(None).unwrap(), 1);
    assert_eq!(store.outbox_stats().unwrap().dead_letters, 0);
    stop.cancel();
    task.await.unwrap();
}
