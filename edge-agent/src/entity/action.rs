//! Actions: their document, exec, limits, and the PUT body a client sends.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::KeyVal;

/// What an action runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Exec {
    /// Runtime kind (`nodejs:20`), `sequence` or `blackbox`.
    pub kind: String,
    /// Source code, or a base64 archive when `binary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Computed by the server: whether `code` is a base64 archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<bool>,
    /// Entry point name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
    /// Sequence components, fully qualified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
    /// Container image (blackbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Exec {
    /// Whether this is a sequence.
    pub fn is_sequence(&self) -> bool {
        self.kind == "sequence"
    }
}

/// Per-action limits as the API shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Milliseconds.
    pub timeout: u64,
    /// Megabytes.
    pub memory: u64,
    /// Megabytes of logs.
    pub logs: u64,
    /// Activations one runtime process may serve at once.
    pub concurrency: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: 60_000, memory: 256, logs: 10, concurrency: 1 }
    }
}

/// Limits as a client may send them: every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitsPut {
    /// Milliseconds.
    pub timeout: Option<u64>,
    /// Megabytes.
    pub memory: Option<u64>,
    /// Megabytes of logs.
    pub logs: Option<u64>,
    /// Intra-process concurrency.
    pub concurrency: Option<u32>,
    /// Accepted for compatibility; not enforced.
    pub instances: Option<u32>,
}

/// An action document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// `ns` or `ns/pkg`.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Semver string.
    pub version: String,
    /// Shared.
    pub publish: bool,
    /// What it runs.
    pub exec: Exec,
    /// Default parameters.
    pub parameters: Vec<KeyVal>,
    /// Limits.
    pub limits: Limits,
    /// Annotations.
    pub annotations: Vec<KeyVal>,
    /// Epoch ms of the last change.
    pub updated: u64,
}

/// An exec as a client sends it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExecPut {
    /// Kind.
    pub kind: String,
    /// Code.
    #[serde(default)]
    pub code: Option<String>,
    /// Ignored: the server computes it.
    #[serde(default)]
    pub binary: Option<bool>,
    /// Entry point.
    #[serde(default)]
    pub main: Option<String>,
    /// Sequence components.
    #[serde(default)]
    pub components: Option<Vec<String>>,
    /// Blackbox image.
    #[serde(default)]
    pub image: Option<String>,
}

/// The body of `PUT /actions/{name}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ActionPut {
    /// Ignored: the path decides.
    pub namespace: Option<Value>,
    /// Ignored: the path decides.
    pub name: Option<Value>,
    /// Explicit version.
    pub version: Option<String>,
    /// Shared.
    pub publish: Option<bool>,
    /// What it runs.
    pub exec: Option<ExecPut>,
    /// Parameters (replace the old list wholesale).
    pub parameters: Option<Vec<KeyVal>>,
    /// Limits (missing fields keep old values).
    pub limits: Option<LimitsPut>,
    /// Annotations (merged onto the old ones).
    pub annotations: Option<Vec<KeyVal>>,
    /// Annotation keys to drop.
    #[serde(rename = "delAnnotations")]
    pub del_annotations: Option<Vec<String>>,
    /// Ignored.
    pub updated: Option<Value>,
}

/// Whether trimmed code is a base64 archive, by OpenWhisk's rule.
pub fn is_binary_code(code: &str) -> bool {
    let t = code.trim();
    !t.is_empty()
        && t.len().is_multiple_of(4)
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        && t.trim_end_matches('=').len() + 2 >= t.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_detection_follows_openwhisk() {
        assert!(is_binary_code("UEsDBAoAAAAAAA=="));
        assert!(!is_binary_code("function main() { return {} }"));
        assert!(!is_binary_code(""));
        assert!(!is_binary_code("abc"));
    }
}
