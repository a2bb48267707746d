//! Integration tests of the hub against real peers: one test binary, one module per area.

mod helpers;
mod peers;

mod catalog;
mod catalog_feed;
mod catalog_manifest;
mod catalog_npm;
mod charts;
mod dashboards;
mod influx;
mod ingest;
mod operations;
mod query;
mod sites;
mod supervised;
mod tokens;
