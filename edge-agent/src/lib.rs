//! The Fogwhisk edge agent: an Apache OpenWhisk-compatible serverless platform for one site.
//!
//! # Layout
//! - [`config`]: layered settings; [`cli`]: the command line; [`startup`]: building and running the agent.
//! - [`api`]: the OpenWhisk REST API v1 (one module per resource, web actions, errors, extractors).
//! - [`entity`]: actions, packages, triggers, rules, activations; [`store`]: the durable redb store.
//! - [`invoke`]: throttled invocation, primitives in the runtime pool, sequences, trigger fires.
//! - [`builtin`]: the feeds and `federation/push` built into the agent.
//! - [`hardening`]: non-dumpable agent, the action-isolation check at start.
//! - [`identity`]: namespaces and keys; [`throttle`]: per-namespace limits; [`metrics`]; [`system`]: `/whisk.system` packages.

pub mod api;
pub mod builtin;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod devices;
pub mod entity;
pub mod hardening;
pub mod identity;
pub mod invoke;
pub mod metrics;
pub mod startup;
pub mod state;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod throttle;
