//! The wskdeploy manifest of `actions/`: parsing, `${VAR}` substitution and validation. Applying it
//! to an agent through the OpenWhisk REST API is in [`apply`].
//!
//! Supported subset of wskdeploy's format: `packages.<pkg>` with `inputs`, `annotations`,
//! `actions` (`function`, `runtime`, `main`, `inputs`, `annotations`, `limits`), `sequences`
//! (`actions`: comma-separated names), `triggers` (`feed`, `inputs`, `annotations`) and `rules`
//! (`trigger`, `action`). Unknown keys are refused.

pub mod apply;
mod client;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

pub use apply::{apply, ApplySummary, Outcome, Step};

/// What can go wrong reading or applying a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The YAML does not parse or does not have the manifest's shape.
    #[error("manifest: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// A `${VAR}` placeholder has no value.
    #[error("manifest: {at} uses ${{{name}}}, which was not given (pass it as a variable)")]
    UnknownVariable {
        /// Variable name.
        name: String,
        /// Where it is used, e.g. `packages.fogwhisk.triggers.daily.inputs.timezone`.
        at: String,
    },
    /// The manifest parses but is inconsistent (e.g. a rule names a missing action).
    #[error("manifest: {0}")]
    Invalid(String),
    /// An action's `function` file cannot be read.
    #[error("manifest: cannot read {path}: {source}")]
    ReadFunction {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The agent could not be reached.
    #[error("{method} {path}: {source}")]
    Http {
        /// HTTP method.
        method: &'static str,
        /// API path.
        path: String,
        /// Transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The agent refused a request.
    #[error("{method} {path}: the API answered {status}: {message}")]
    Api {
        /// HTTP method.
        method: &'static str,
        /// API path.
        path: String,
        /// Status code.
        status: u16,
        /// The API's error text.
        message: String,
    },
    /// A feed action failed for a trigger (the trigger was removed again when it was new).
    #[error("feed {feed} failed to {event} trigger {trigger}: {message}")]
    Feed {
        /// Trigger name.
        trigger: String,
        /// Feed action.
        feed: String,
        /// Lifecycle event.
        event: &'static str,
        /// The feed's error.
        message: String,
    },
}

/// A parsed manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Packages by name.
    pub packages: BTreeMap<String, PackageSpec>,
}

/// One package and everything declared in it.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    /// Informational version (wskdeploy).
    #[serde(default)]
    pub version: Option<String>,
    /// Informational license (wskdeploy).
    #[serde(default)]
    pub license: Option<String>,
    /// Package parameters.
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
    /// Package annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, Value>,
    /// Actions by name.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionSpec>,
    /// Sequences by name.
    #[serde(default)]
    pub sequences: BTreeMap<String, SequenceSpec>,
    /// Triggers by name (triggers are namespace-level in OpenWhisk).
    #[serde(default)]
    pub triggers: BTreeMap<String, TriggerSpec>,
    /// Rules by name.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSpec>,
}

/// An action with code from a file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// Source file, relative to the manifest's folder.
    pub function: String,
    /// Runtime kind, e.g. `nodejs:20`.
    pub runtime: String,
    /// Entry point (default `main`).
    #[serde(default)]
    pub main: Option<String>,
    /// Default parameters.
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
    /// Annotations, e.g. `provide-api-key: true`.
    #[serde(default)]
    pub annotations: BTreeMap<String, Value>,
    /// Limits (`timeout` ms, `memorySize` MB, `logSize` MB, `concurrency`).
    #[serde(default)]
    pub limits: Option<BTreeMap<String, Value>>,
}

/// A sequence of actions.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    /// Comma-separated components: names in this package, `pkg/name`, or `/ns/[pkg/]name`.
    pub actions: String,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, Value>,
}

/// A trigger, optionally fed by a feed action.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TriggerSpec {
    /// Fully qualified feed action, e.g. `/whisk.system/alarms/alarm`.
    #[serde(default)]
    pub feed: Option<String>,
    /// Feed parameters (with a feed) or trigger parameters (without).
    #[serde(default)]
    pub inputs: BTreeMap<String, Value>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, Value>,
}

/// A rule linking a trigger to an action or sequence of the package.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Trigger name.
    pub trigger: String,
    /// Action or sequence name (in this package, or qualified).
    pub action: String,
}

/// Parses manifest text and fills every `${VAR}` from `vars`.
pub fn parse(text: &str, vars: &BTreeMap<String, String>) -> Result<Manifest, ManifestError> {
    let raw: Value = serde_norway::from_str(text)?;
    let filled = substitute(raw, vars, "")?;
    let manifest: Manifest = serde_json::from_value(filled).map_err(|e| ManifestError::Invalid(e.to_string()))?;
    manifest.check()?;
    Ok(manifest)
}

fn substitute(v: Value, vars: &BTreeMap<String, String>, at: &str) -> Result<Value, ManifestError> {
    Ok(match v {
        Value::String(s) => Value::String(fill(&s, vars, at)?),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .enumerate()
                .map(|(i, x)| substitute(x, vars, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| {
                    let here = if at.is_empty() { k.clone() } else { format!("{at}.{k}") };
                    substitute(x, vars, &here).map(|x| (k, x))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

/// Replaces each `${NAME}` in `s`.
fn fill(s: &str, vars: &BTreeMap<String, String>, at: &str) -> Result<String, ManifestError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| ManifestError::Invalid(format!("{at}: unclosed ${{ in {s:?}")))?;
        let name = &after[..end];
        let value = vars
            .get(name)
            .ok_or_else(|| ManifestError::UnknownVariable { name: name.to_string(), at: at.to_string() })?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Manifest {
    /// Cross-checks names: rules name declared triggers, sequences and rules name declared actions.
    fn check(&self) -> Result<(), ManifestError> {
        let bad = |m: String| Err(ManifestError::Invalid(m));
        for (pname, p) in &self.packages {
            let local = |n: &str| p.actions.contains_key(n) || p.sequences.contains_key(n);
            for (name, a) in &p.actions {
                if p.sequences.contains_key(name) {
                    return bad(format!("packages.{pname}: {name:?} is both an action and a sequence"));
                }
                if a.function.is_empty() || a.runtime.is_empty() {
                    return bad(format!("packages.{pname}.actions.{name}: function and runtime are required"));
                }
            }
            for (name, s) in &p.sequences {
                let comps: Vec<&str> = s.actions.split(',').map(str::trim).collect();
                if comps.iter().any(|c| c.is_empty()) {
                    return bad(format!(
                        "packages.{pname}.sequences.{name}.actions: empty component in {:?}",
                        s.actions
                    ));
                }
                for c in comps {
                    if !c.contains('/') && !local(c) {
                        return bad(format!(
                            "packages.{pname}.sequences.{name}: component {c:?} is not an action of the package"
                        ));
                    }
                }
            }
            for (name, t) in &p.triggers {
                if let Some(f) = &t.feed {
                    if !f.starts_with('/') || f.split('/').count() < 3 {
                        return bad(format!(
                            "packages.{pname}.triggers.{name}.feed: {f:?} must be fully qualified, /namespace/[package/]action"
                        ));
                    }
                }
            }
            for (name, r) in &p.rules {
                if !self.packages.values().any(|q| q.triggers.contains_key(&r.trigger)) {
                    return bad(format!("packages.{pname}.rules.{name}: trigger {:?} is not declared", r.trigger));
                }
                if !r.action.contains('/') && !local(&r.action) {
                    return bad(format!(
                        "packages.{pname}.rules.{name}: action {:?} is not an action or sequence of the package",
                        r.action
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
