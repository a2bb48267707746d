//! Triggers and rules: their documents and PUT bodies. A rule's status lives on its trigger.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::KeyVal;

/// A `{path, name}` reference, as rules show their trigger and action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathName {
    /// `ns` or `ns/pkg`.
    pub path: String,
    /// Name.
    pub name: String,
}

impl PathName {
    /// `ns/name` or `ns/pkg/name`.
    pub fn doc_id(&self) -> String {
        format!("{}/{}", self.path, self.name)
    }
}

/// Active or inactive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Fires its action.
    Active,
    /// Does not.
    Inactive,
}

/// A rule's link as its trigger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleLink {
    /// The rule's action.
    pub action: PathName,
    /// Whether the rule fires.
    pub status: RuleStatus,
}

/// A trigger document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Semver string.
    pub version: String,
    /// Shared.
    pub publish: bool,
    /// Annotations (a `feed` annotation names its feed).
    pub annotations: Vec<KeyVal>,
    /// Parameters merged into every fire.
    pub parameters: Vec<KeyVal>,
    /// Always `{}`.
    pub limits: serde_json::Map<String, Value>,
    /// Linked rules keyed `ns/rule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<BTreeMap<String, RuleLink>>,
    /// Epoch ms of the last change.
    pub updated: u64,
}

/// The body of `PUT /triggers/{name}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TriggerPut {
    /// Ignored.
    pub namespace: Option<Value>,
    /// Ignored.
    pub name: Option<Value>,
    /// Explicit version.
    pub version: Option<String>,
    /// Shared.
    pub publish: Option<bool>,
    /// Annotations.
    pub annotations: Option<Vec<KeyVal>>,
    /// Parameters.
    pub parameters: Option<Vec<KeyVal>>,
    /// Must be an object if given; ignored.
    pub limits: Option<serde_json::Map<String, Value>>,
    /// Ignored: rules link themselves.
    pub rules: Option<Value>,
    /// Ignored.
    pub updated: Option<Value>,
}

/// A rule document as stored (its status is read from the trigger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Semver string.
    pub version: String,
    /// Shared.
    pub publish: bool,
    /// Annotations.
    pub annotations: Vec<KeyVal>,
    /// The trigger.
    pub trigger: PathName,
    /// The action.
    pub action: PathName,
    /// Epoch ms of the last change.
    pub updated: u64,
}

/// A trigger or action reference in a rule PUT: a name string or `{path, name}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RefPut {
    /// `/ns/name`, `name`, `/_/pkg/name`...
    Name(String),
    /// `{path, name}`.
    PathName(PathName),
}

/// The body of `PUT /rules/{name}` and `POST /rules/{name}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RulePut {
    /// Ignored.
    pub namespace: Option<Value>,
    /// Ignored.
    pub name: Option<Value>,
    /// Explicit version.
    pub version: Option<String>,
    /// Shared.
    pub publish: Option<bool>,
    /// Annotations.
    pub annotations: Option<Vec<KeyVal>>,
    /// Desired status.
    pub status: Option<String>,
    /// The trigger.
    pub trigger: Option<RefPut>,
    /// The action.
    pub action: Option<RefPut>,
    /// Ignored.
    pub updated: Option<Value>,
}
