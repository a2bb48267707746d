//! Benchmark: the shared catalog at the hub, on the embedded store and on a CouchDB-protocol server
//! (pouchdb-server, installed by `scripts/install-test-deps.sh`). Prints, for each backend: 1,000 actions
//! written through the entity API (8 at a time), a new site reading all of them from the changes feed, and
//! change at the hub → answered longpoll, p50/p99 over 40 changes. Reports, never asserts timings.
//!
//! Run: `cargo bench -p fogwhisk-hub --bench catalog_sync`.

#[path = "../tests/api/catalog.rs"]
#[allow(dead_code, unused_imports)]
mod catalog;
#[path = "../tests/api/catalog_feed.rs"]
#[allow(dead_code, unused_imports)]
mod catalog_feed;
#[path = "../tests/api/helpers.rs"]
#[allow(dead_code, unused_imports)]
mod helpers;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    catalog_feed::sync_figures(catalog::Backend::Embedded).await;
    catalog_feed::sync_figures(catalog::Backend::Couch).await;
}
