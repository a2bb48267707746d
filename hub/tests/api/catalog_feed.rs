//! The catalog's changes feed for sites on both backends: a site token reads it (other credentials and
//! none do not), a change appears (a longpoll returns with it), `since` resumes after it, a deleted
//! document shows `deleted: true`, an idle longpoll ends at its timeout, and a position of another epoch
//! (a recreated database) restarts the feed with `reset: true`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::catalog::{catalog_hub, Backend, CatalogHub};

async fn feed(hub: &CatalogHub, token: &str, query: &str) -> Value {
    let (status, body) = hub.call(Some(token), Method::GET, &format!("/catalog/_changes{query}"), None).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

/// A longpoll from `since` with `token`, in its own task: the page and when it was answered.
fn longpoll(hub: &CatalogHub, token: &str, since: &str) -> tokio::task::JoinHandle<(Value, Instant)> {
    let url = format!("{}/api/v1/catalog/_changes?feed=longpoll&since={since}", hub.app.base);
    let token = token.to_string();
    tokio::spawn(async move {
        let page: Value =
            reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        (page, Instant::now())
    })
}

fn ids(page: &Value) -> Vec<String> {
    page["results"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
}

async fn changes_feed(backend: Backend) {
    let hub = catalog_hub(backend).await;
    let site = hub.app.add_site("torino", "Europe/Rome").await;
    let reader = hub.app.token("reader").await;
    assert_eq!(hub.call(None, Method::GET, "/catalog/_changes", None).await.0, 401);
    assert_eq!(hub.call(Some(&reader), Method::GET, "/catalog/_changes", None).await.0, 403);
    assert_eq!(
        hub.call(Some(&site), Method::GET, "/namespaces/_/actions", None).await.0,
        403,
        "sites only read the feed"
    );

    let action = json!({"exec": {"kind": "python:3", "code": "def main(a): return a"}});
    assert_eq!(hub.edit(Method::PUT, "/namespaces/_/actions/probe", Some(action)).await.0, 200);
    let first = feed(&hub, &site, "?since=0").await;
    assert_eq!(ids(&first), ["catalog/probe"]);
    let change = &first["results"][0];
    assert_eq!(change["doc"]["entityType"], "action");
    assert_eq!(change["doc"]["exec"]["code"], "def main(a): return a");
    let rev = change["changes"][0]["rev"].as_str().unwrap();
    assert!(rev.starts_with("1-") && change["doc"]["_rev"] == rev, "{change}");
    let since = first["last_seq"].as_str().unwrap().to_string();
    assert_eq!(first["results"][0]["seq"], since);

    // Nothing after `since`: a normal request answers at once, a longpoll at its timeout.
    assert_eq!(ids(&feed(&hub, &site, &format!("?since={since}")).await), Vec::<String>::new());
    let t = Instant::now();
    let idle = feed(&hub, &site, &format!("?since={since}&feed=longpoll&timeout=400")).await;
    let idle_ms = t.elapsed().as_millis();
    assert!(ids(&idle).is_empty() && idle["last_seq"] == since.as_str(), "{idle}");
    assert!((350..5000).contains(&idle_ms), "an idle longpoll of 400 ms took {idle_ms} ms");

    // A longpoll waiting from `since` returns with the next change.
    let asked = Instant::now();
    let waiting = longpoll(&hub, &site, &since);
    tokio::time::sleep(Duration::from_millis(300)).await; // let the longpoll start waiting first
    let t = Instant::now();
    let update = json!({"parameters": [{"key": "site", "value": "all"}]});
    assert_eq!(hub.edit(Method::PUT, "/namespaces/_/actions/probe?overwrite=true", Some(update)).await.0, 200);
    let (woken, answered) =
        tokio::time::timeout(Duration::from_secs(8), waiting).await.expect("longpoll returns").unwrap();
    let waited = answered.duration_since(asked);
    println!(
        "{backend:?}: change at the hub -> longpoll answered in {} ms (waited {} ms)",
        t.elapsed().as_millis(),
        waited.as_millis()
    );
    assert_eq!(ids(&woken), ["catalog/probe"]);
    assert!(woken["results"][0]["changes"][0]["rev"].as_str().unwrap().starts_with("2-"), "{woken}");
    assert_eq!(woken["results"][0]["doc"]["parameters"][0]["value"], "all");

    // `since` resumes after what was read; a delete shows as deleted with a tombstone.
    let resume = woken["last_seq"].as_str().unwrap().to_string();
    assert_eq!(hub.edit(Method::PUT, "/namespaces/_/triggers/tick", Some(json!({}))).await.0, 200);
    assert_eq!(hub.edit(Method::DELETE, "/namespaces/_/actions/probe", None).await.0, 200);
    let after = feed(&hub, &site, &format!("?since={resume}")).await;
    assert_eq!(ids(&after), ["catalog/tick", "catalog/probe"]);
    let gone = &after["results"][1];
    assert_eq!((gone["deleted"].clone(), gone["doc"]["_deleted"].clone()), (json!(true), json!(true)), "{gone}");
    assert!(gone["changes"][0]["rev"].as_str().unwrap().starts_with("3-"), "{gone}");
    assert!(after.get("reset").is_none());
    let limited = feed(&hub, &site, &format!("?since={resume}&limit=1")).await;
    assert_eq!(ids(&limited), ["catalog/tick"]);
    assert_eq!(
        ids(&feed(&hub, &site, &format!("?since={}", limited["last_seq"].as_str().unwrap())).await),
        ["catalog/probe"]
    );
    let from_start = feed(&hub, &site, "").await;
    assert_eq!(ids(&from_start), ["catalog/tick", "catalog/probe"], "each document once, at its latest change");

    // Bad positions are 400; a position of another epoch restarts the feed with reset.
    let (status, body) = hub.call(Some(&site), Method::GET, "/catalog/_changes?since=12", None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_since")), "{body}");
    let epoch_of = |seq: &str| seq.split_once('~').unwrap().0.to_string();
    let old_epoch = epoch_of(&resume);
    let other = feed(&hub, &site, "?since=zz0~1").await;
    assert_eq!((other["reset"].clone(), ids(&other).len()), (json!(true), 2), "{other}");
    if let Some(couch) = &hub.couch {
        // The catalog database recreated behind the hub: a site's old position resyncs from the new one.
        let http = reqwest::Client::new();
        assert!(http.delete(format!("{}/whisks", couch.url)).send().await.unwrap().status().is_success());
        assert!(http.put(format!("{}/whisks", couch.url)).send().await.unwrap().status().is_success());
        let fresh = json!({"exec": {"kind": "python:3", "code": "x"}});
        assert_eq!(hub.edit(Method::PUT, "/namespaces/_/actions/fresh", Some(fresh)).await.0, 200);
        let reset = feed(&hub, &site, &format!("?since={resume}&feed=longpoll")).await;
        assert_eq!(reset["reset"], true, "{reset}");
        assert_eq!(ids(&reset), ["catalog/fresh"]);
        assert_ne!(epoch_of(reset["last_seq"].as_str().unwrap()), old_epoch);
    }
    hub.app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_feed_on_the_embedded_store() {
    changes_feed(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_feed_on_couchdb_protocol() {
    changes_feed(Backend::Couch).await;
}

/// Figures (printed, not asserted beyond correctness): writing 1,000 actions through the entity API,
/// a new site reading all of them from the feed, and change at the hub → answered longpoll, p50/p99.
#[allow(dead_code)] // run by benches/catalog_sync.rs
pub async fn sync_figures(backend: Backend) {
    let hub = catalog_hub(backend).await;
    let site = hub.app.add_site("torino", "Europe/Rome").await;
    let t = Instant::now();
    let paths: Vec<String> = (0..1000).map(|i| format!("/namespaces/_/actions/a{i:04}")).collect();
    for chunk in paths.chunks(8) {
        let puts = chunk.iter().map(|p| {
            hub.edit(Method::PUT, p, Some(json!({"exec": {"kind": "nodejs:20", "code": "function main(){return {}}"}})))
        });
        for (status, body) in futures_util::future::join_all(puts).await {
            assert_eq!(status, 200, "{body}");
        }
    }
    let write_ms = t.elapsed().as_millis();
    let t = Instant::now();
    let (mut since, mut seen) = ("0".to_string(), std::collections::HashSet::new());
    loop {
        let page = feed(&hub, &site, &format!("?since={since}&limit=500")).await;
        if page["results"].as_array().unwrap().is_empty() {
            break;
        }
        seen.extend(ids(&page));
        since = page["last_seq"].as_str().unwrap().to_string();
    }
    let sync_ms = t.elapsed().as_millis();
    assert_eq!(seen.len(), 1000);
    let mut lat = Vec::new();
    for i in 0..40 {
        let waiting = longpoll(&hub, &site, &since);
        tokio::time::sleep(Duration::from_millis(20)).await; // let the longpoll start waiting first
        let t = Instant::now();
        let body = json!({"parameters": [{"key": "i", "value": i}]});
        assert_eq!(hub.edit(Method::PUT, "/namespaces/_/actions/a0000?overwrite=true", Some(body)).await.0, 200);
        let (page, at) = waiting.await.unwrap();
        assert_eq!(ids(&page), ["catalog/a0000"]);
        lat.push(at.duration_since(t).as_secs_f64() * 1000.0);
        since = page["last_seq"].as_str().unwrap().to_string();
    }
    lat.sort_by(f64::total_cmp);
    let (p50, p99) = (lat[lat.len() / 2], lat[lat.len() * 99 / 100]);
    println!(
        "{backend:?}: 1000 actions written in {write_ms} ms (8 at a time), a new site read them from the feed in {sync_ms} ms; change -> longpoll p50 {p50:.1} ms, p99 {p99:.1} ms (40 changes)"
    );
    hub.app.stop().await;
}

/// A site's longpoll does not hold the hub's shutdown: it answers at once, empty, at its position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_longpoll_ends_when_the_hub_stops() {
    let hub = catalog_hub(Backend::Embedded).await;
    let site = hub.app.add_site("torino", "Europe/Rome").await;
    let since = feed(&hub, &site, "").await["last_seq"].as_str().unwrap().to_string();
    let waiting = {
        let (url, token, since) = (hub.app.base.clone(), site.clone(), since.clone());
        tokio::spawn(async move {
            let url = format!("{url}/api/v1/catalog/_changes?feed=longpoll&timeout=10000&since={since}");
            let resp = reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // let the longpoll start waiting first
    let t = Instant::now();
    hub.app.stop().await;
    let stopped = t.elapsed();
    let (status, page, answered) = waiting.await.unwrap();
    assert_eq!((status, page["results"].clone(), page["last_seq"].as_str()), (200, json!([]), Some(since.as_str())));
    assert!(
        answered.duration_since(t) < Duration::from_secs(3),
        "the longpoll answered {:?} after stop",
        answered.duration_since(t)
    );
    assert!(stopped < Duration::from_secs(4), "the hub took {stopped:?} to stop with a longpoll waiting");
}

/// Two hub replicas on one CouchDB-protocol server share the catalog: an edit through one is in the
/// other's feed (same epoch, same positions), and an entity edited through both stays consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hub_replicas_share_one_couchdb_catalog() {
    let a = catalog_hub(Backend::Couch).await;
    let url = a.couch.as_ref().unwrap().url.clone();
    let app = crate::helpers::spawn_app_with(move |s| {
        s.anonymous_reads = false;
        s.catalog.couchdb_url = Some(url);
    })
    .await;
    let editor = app.token("catalog").await;
    let b = CatalogHub { app, couch: None, editor };
    let site_b = b.app.add_site("milano", "Europe/Rome").await;

    let action = json!({"exec": {"kind": "nodejs:20", "code": "function main(){return {}}"}});
    assert_eq!(a.edit(Method::PUT, "/namespaces/_/actions/shared", Some(action)).await.0, 200);
    let via_b = feed(&b, &site_b, "").await;
    assert_eq!(ids(&via_b), ["catalog/shared"]);
    let via_a = a.edit(Method::GET, "/catalog/_changes", None).await.1;
    assert_eq!(via_a["last_seq"], via_b["last_seq"], "one epoch and one sequence for both replicas");

    // Updates through both replicas: each one 200 or 409, and the version counts the successes.
    let path = "/namespaces/_/actions/shared?overwrite=true";
    let body = |i: i32| Some(json!({"parameters": [{"key": "i", "value": i}]}));
    let mut all = Vec::new();
    for round in 0..4 {
        let (x, y) = tokio::join!(a.edit(Method::PUT, path, body(round)), b.edit(Method::PUT, path, body(-round)));
        all.extend([x, y]);
    }
    let ok = all.iter().filter(|(s, _)| *s == 200).count();
    assert!(all.iter().all(|(s, _)| *s == 200 || *s == 409), "{all:?}");
    let (_, now) = b.edit(Method::GET, "/namespaces/_/actions/shared", None).await;
    assert_eq!(now["version"], format!("0.0.{}", 1 + ok));
    let since = via_b["last_seq"].as_str().unwrap();
    let later = feed(&b, &site_b, &format!("?since={since}")).await;
    assert_eq!(ids(&later), ["catalog/shared"]);
    assert_eq!(later["results"][0]["doc"]["version"], now["version"]);
    println!("two replicas: {ok} of 8 paired updates succeeded");
    b.app.stop().await;
    a.app.stop().await;
}
