//! Packages and bindings: their document and PUT body.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::KeyVal;

/// What a binding points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingRef {
    /// Namespace of the bound package.
    pub namespace: String,
    /// Name of the bound package.
    pub name: String,
}

/// A package document; `binding` is `Some` for a binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Semver string.
    pub version: String,
    /// Shared with every namespace.
    pub publish: bool,
    /// Parameters inherited by its actions.
    pub parameters: Vec<KeyVal>,
    /// Annotations.
    pub annotations: Vec<KeyVal>,
    /// The bound package, for a binding.
    pub binding: Option<BindingRef>,
    /// Epoch ms of the last change.
    pub updated: u64,
}

impl Package {
    /// The `binding` field as the API shows it: `{}` or `{namespace, name}`.
    pub fn binding_json(&self) -> Value {
        match &self.binding {
            Some(b) => serde_json::json!({"namespace": b.namespace, "name": b.name}),
            None => serde_json::json!({}),
        }
    }
}

/// A binding as a client sends it: `{}` means no binding.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BindingPut {
    /// Namespace of the bound package.
    pub namespace: Option<String>,
    /// Name of the bound package.
    pub name: Option<String>,
}

/// The body of `PUT /packages/{name}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PackagePut {
    /// Ignored.
    pub namespace: Option<Value>,
    /// Ignored.
    pub name: Option<Value>,
    /// Explicit version.
    pub version: Option<String>,
    /// Shared.
    pub publish: Option<bool>,
    /// Parameters.
    pub parameters: Option<Vec<KeyVal>>,
    /// Annotations.
    pub annotations: Option<Vec<KeyVal>>,
    /// Binding.
    pub binding: Option<BindingPut>,
    /// Ignored (GET output the CLI may echo back).
    pub actions: Option<Value>,
    /// Ignored (GET output the CLI may echo back).
    pub feeds: Option<Value>,
    /// Ignored.
    pub updated: Option<Value>,
}
