//! Real peer servers for the hub's tests and its bench: InfluxDB 1.x and VictoriaMetrics, from the shared testkit.

#[allow(unused_imports)] // the bench includes this file and uses only Influxd
pub use fogwhisk_testkit::{free_port, Influxd, Victoria};
