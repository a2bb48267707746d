//! Site pipeline tests against real peers: Mosquitto → MQTT feed → record-reading → telemetry store;
//! the daily alarm → daily-aggregates → federation/push → outbox → the real hub → real InfluxDB.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod hub_e2e;
mod mqtt;
mod peers;
mod sigterm;
mod sigterm_delivery;
