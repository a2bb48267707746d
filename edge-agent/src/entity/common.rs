//! Pieces every entity shares: key/value lists (parameters, annotations), versions, timestamps.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One `{key, value}` pair of a parameter or annotation list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyVal {
    /// The key.
    pub key: String,
    /// Any JSON value; required, as OpenWhisk refuses a parameter without one ("parameters malformed").
    pub value: Value,
    /// Parameter passed to `/init` as an environment value instead of to `/run`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
    /// Encryption marker OpenWhisk may carry; kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Value>,
}

impl KeyVal {
    /// A plain pair.
    pub fn new(key: &str, value: Value) -> Self {
        Self { key: key.to_string(), value, init: false, encryption: None }
    }
}

/// Helpers over `Vec<KeyVal>`.
pub trait KeyValues {
    /// The value for `key`, if present.
    fn get_value(&self, key: &str) -> Option<&Value>;
    /// Whether `key` is present with a truthy value (true, non-empty string, non-zero number).
    fn is_truthy(&self, key: &str) -> bool;
    /// Sets `key` (replacing an old value).
    fn set(&mut self, key: &str, value: Value);
    /// Merges `other` onto `self`: keys of `other` win.
    fn merge(&mut self, other: &[KeyVal]);
    /// As a JSON object (later keys win).
    fn to_object(&self) -> Map<String, Value>;
}

impl KeyValues for Vec<KeyVal> {
    fn get_value(&self, key: &str) -> Option<&Value> {
        self.iter().rev().find(|kv| kv.key == key).map(|kv| &kv.value)
    }

    fn is_truthy(&self, key: &str) -> bool {
        self.get_value(key).is_some_and(truthy)
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = value,
            None => self.push(KeyVal::new(key, value)),
        }
    }

    fn merge(&mut self, other: &[KeyVal]) {
        for kv in other {
            match self.iter_mut().find(|old| old.key == kv.key) {
                Some(old) => *old = kv.clone(),
                None => self.push(kv.clone()),
            }
        }
    }

    fn to_object(&self) -> Map<String, Value> {
        self.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect()
    }
}

/// JavaScript-like truthiness, as OpenWhisk applies it to annotations.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Bumps the patch part of a `major.minor.patch` version.
pub fn bump_patch(version: &str) -> String {
    let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(3, 0);
    parts[2] += 1;
    format!("{}.{}.{}", parts[0], parts[1], parts[2])
}

/// Checks a `major.minor.patch` version given by a client.
pub fn valid_version(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.parse::<u64>().is_ok())
}

/// The first version of every entity.
pub const FIRST_VERSION: &str = "0.0.1";

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_bump_patch() {
        assert_eq!(bump_patch("0.0.1"), "0.0.2");
        assert_eq!(bump_patch("1.2.9"), "1.2.10");
        assert!(valid_version("0.0.1"));
        assert!(!valid_version("1.0"));
        assert!(!valid_version("a.b.c"));
    }

    #[test]
    fn merge_replaces_and_appends() {
        let mut a = vec![KeyVal::new("x", json!(1)), KeyVal::new("y", json!(2))];
        a.merge(&[KeyVal::new("y", json!(3)), KeyVal::new("z", json!(4))]);
        assert_eq!(a.to_object(), json!({"x":1,"y":3,"z":4}).as_object().unwrap().clone());
        assert!(a.is_truthy("x"));
        assert!(!a.is_truthy("missing"));
    }
}
