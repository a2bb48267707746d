//! The quickstart: a hub, two sites (each an edge agent with its embedded MQTT broker), the site actions
//! deployed on both, simulated sensors, a few backfilled days reported to the hub, then live data.
//!
//! # Layout
//! - [`plan`]: the sites, ports and the state kept between runs; [`procs`]: child processes;
//! - [`charts`]: packages `deploy/charts` and publishes them to the hub's chart repository;
//! - [`federation`]: starts everything in order and stops it cleanly.

pub mod charts;
pub mod federation;
pub mod plan;
pub mod procs;

pub use federation::run;
pub use plan::Options;
