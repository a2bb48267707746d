//! Integration tests of the edge agent: one test binary, each module drives a real agent over HTTP.

mod chart_caps;
mod compat_audit;
mod compat_fields;
mod compat_packages;
mod compat_paths;
mod compat_routes;
mod dead_letter_cli;
mod errors;
mod helpers;
mod lifecycle;
mod push_trust;
mod quota_activations;
mod quota_concurrency;
mod quota_entities;
mod revocation;
mod secrets;
mod shared_packages;
mod web_limits;
