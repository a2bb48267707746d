//! Activation records: the stored document and the summary and full shapes the API returns.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::common::KeyVal;

/// The outcome classes of OpenWhisk, with their numeric codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// 0.
    #[serde(rename = "success")]
    Success,
    /// 1: the action returned `{error}`.
    #[serde(rename = "application error")]
    ApplicationError,
    /// 2: the action failed (exception, timeout, bad init).
    #[serde(rename = "action developer error")]
    DeveloperError,
    /// 3: the platform failed.
    #[serde(rename = "whisk internal error")]
    WhiskError,
}

impl Outcome {
    /// OpenWhisk's numeric status code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::ApplicationError => 1,
            Outcome::DeveloperError => 2,
            Outcome::WhiskError => 3,
        }
    }
}

/// `response` of an activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Outcome class.
    pub status: Outcome,
    /// The result object (or `{error}`).
    pub result: Value,
    /// Result size in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<usize>,
}

impl Response {
    /// The `/result` shape: `{status, success, result[, size]}`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "status": self.status,
            "statusCode": self.status.code(),
            "success": self.status == Outcome::Success,
            "result": self.result,
        });
        if let Some(size) = self.size {
            v["size"] = json!(size);
        }
        v
    }
}

/// A stored activation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    /// 32 lowercase hex.
    #[serde(rename = "activationId")]
    pub activation_id: String,
    /// The caller's namespace.
    pub namespace: String,
    /// Action or trigger name.
    pub name: String,
    /// Version of what ran.
    pub version: String,
    /// Always false.
    pub publish: bool,
    /// The caller.
    pub subject: String,
    /// Epoch ms.
    pub start: u64,
    /// Epoch ms; 0 for trigger activations.
    pub end: u64,
    /// Parent sequence activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Duration when it differs from end - start (sequences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Outcome.
    pub response: Response,
    /// Log lines (or component ids for sequences).
    pub logs: Vec<String>,
    /// Annotations (`path`, `kind`, `limits`, `waitTime`, `initTime`...).
    pub annotations: Vec<KeyVal>,
}

/// Makes a fresh activation id.
pub fn new_activation_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `s` looks like an activation id.
pub fn valid_activation_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Activation {
    fn duration_value(&self) -> Option<u64> {
        if self.end == 0 {
            None
        } else {
            Some(self.duration.unwrap_or(self.end.saturating_sub(self.start)))
        }
    }

    /// The full record the API returns.
    pub fn to_full_json(&self) -> Value {
        let mut response = self.response.to_json();
        if let Some(o) = response.as_object_mut() {
            o.remove("statusCode");
        }
        let mut v = json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "subject": self.subject,
            "activationId": self.activation_id,
            "start": self.start,
            "response": response,
            "logs": self.logs,
            "annotations": self.annotations,
        });
        self.add_end_fields(&mut v);
        v
    }

    /// The list-summary row.
    pub fn to_summary_json(&self) -> Value {
        let mut v = json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "activationId": self.activation_id,
            "start": self.start,
        });
        self.add_end_fields(&mut v);
        if self.end != 0 {
            v["statusCode"] = json!(self.response.status.code());
        }
        v
    }

    fn add_end_fields(&self, v: &mut Value) {
        if let Some(d) = self.duration_value() {
            v["end"] = json!(self.end);
            v["duration"] = json!(d);
        }
        if let Some(c) = &self.cause {
            v["cause"] = json!(c);
        }
    }

    /// The `path` annotation (`ns/pkg/name`), falling back to namespace/name.
    pub fn path(&self) -> String {
        self.annotations
            .iter()
            .find(|kv| kv.key == "path")
            .and_then(|kv| kv.value.as_str().map(String::from))
            .unwrap_or_else(|| format!("{}/{}", self.namespace, self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(end: u64) -> Activation {
        Activation {
            activation_id: new_activation_id(),
            namespace: "guest".into(),
            name: "t".into(),
            version: "0.0.1".into(),
            publish: false,
            subject: "guest".into(),
            start: 100,
            end,
            cause: None,
            duration: None,
            response: Response { status: Outcome::Success, result: json!({}), size: None },
            logs: vec![],
            annotations: vec![],
        }
    }

    #[test]
    fn trigger_activations_have_no_end() {
        let v = sample(0).to_full_json();
        assert!(v.get("end").is_none() && v.get("duration").is_none());
        assert!(sample(0).to_summary_json().get("statusCode").is_none());
    }

    #[test]
    fn action_activations_show_duration_and_code() {
        let a = sample(150);
        assert_eq!(a.to_full_json()["duration"], 50);
        assert!(a.to_full_json()["response"].get("statusCode").is_none());
        assert_eq!(a.to_summary_json()["statusCode"], 0);
        assert!(valid_activation_id(&a.activation_id));
    }
}
