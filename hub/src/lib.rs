//! The Fogwhisk hub: the central service every site reports to.
//!
//! # Layout
//! - [`config`]: the layered `Settings` tree (file, `FOGWHISK_HUB_*` env, flags).
//! - [`store`]: the durable embedded store (redb): sites, aggregates, the InfluxDB queue, charts.
//! - [`sites`]: site registration, tokens and the admin site API.
//! - [`auth`]: who a request's token belongs to (bootstrap admin, scoped tokens, site tokens).
//! - [`access`]: the route → role table and the guard that applies it.
//! - [`tokens`]: creating, rotating, revoking tokens; the audit log.
//! - [`ingest`]: `POST /api/v1/sites/{site}/aggregates`, record validation.
//! - [`influx`]: line protocol, the v1 and v2 backends and the background writer.
//! - [`query`]: `GET /api/v1/aggregates`.
//! - [`page`]: the server-rendered web page at `/`.
//! - [`catalog`]: the shared catalog of OpenWhisk entities (CouchDB or embedded), its API and changes feed.
//! - [`charts`]: the Helm chart repository (chartmuseum API).
//! - [`metrics`], [`telemetry`]: `/metrics` and logs.
//! - [`startup`]: `Application::build`, the router, graceful shutdown.
//! - [`cli`]: the `fogwhisk-hub` commands.

pub mod access;
pub mod auth;
pub mod catalog;
pub mod charts;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod influx;
pub mod ingest;
pub mod metrics;
pub mod page;
pub mod query;
pub mod sites;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tokens;
