//! Feed lifecycle requests: the OpenWhisk `lifecycleEvent` values and typed access to parameters.

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::error::FeedError;

/// The OpenWhisk feed lifecycle events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// `CREATE`: validate, persist and start.
    Create,
    /// `READ`: configuration and status.
    Read,
    /// `UPDATE`: change the updatable parameters.
    Update,
    /// `DELETE`: stop and forget.
    Delete,
    /// `PAUSE`: keep, but stop firing.
    Pause,
    /// `UNPAUSE`: fire again.
    Unpause,
}

impl FromStr for Lifecycle {
    type Err = FeedError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "CREATE" => Lifecycle::Create,
            "READ" => Lifecycle::Read,
            "UPDATE" => Lifecycle::Update,
            "DELETE" => Lifecycle::Delete,
            "PAUSE" => Lifecycle::Pause,
            "UNPAUSE" => Lifecycle::Unpause,
            _ => {
                return Err(FeedError::BadRequest(format!(
                    "unknown lifecycleEvent '{s}': expected CREATE, READ, UPDATE, DELETE, PAUSE or UNPAUSE"
                )))
            }
        })
    }
}

/// One invocation of a feed action, as the agent hands it over. Its `Debug` shows parameter names
/// only (values may hold `authKey` or broker passwords).
#[derive(Clone)]
pub struct FeedRequest {
    /// The lifecycle event.
    pub event: Lifecycle,
    /// The trigger, fully qualified (`/ns/name`) with the namespace already resolved.
    pub trigger: String,
    /// The feed's parameters (user and package parameters; `authKey` and `lifecycleEvent` are ignored).
    pub params: Map<String, Value>,
}

impl std::fmt::Debug for FeedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedRequest")
            .field("event", &self.event)
            .field("trigger", &self.trigger)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FeedRequest {
    /// Builds a request, parsing `event` from its OpenWhisk string.
    pub fn new(event: &str, trigger: &str, params: Map<String, Value>) -> Result<Self, FeedError> {
        Ok(FeedRequest { event: event.parse()?, trigger: trigger.to_string(), params })
    }

    /// The trigger's namespace and name, checked to be of the form `/ns/name`.
    pub(crate) fn trigger_parts(&self) -> Result<(&str, &str), FeedError> {
        let bad =
            || FeedError::BadRequest(format!("triggerName '{}' must be of the form /namespace/name", self.trigger));
        let rest = self.trigger.strip_prefix('/').ok_or_else(bad)?;
        let (ns, name) = rest.split_once('/').ok_or_else(bad)?;
        if ns.is_empty() || name.is_empty() || name.contains('/') {
            return Err(bad());
        }
        Ok((ns, name))
    }

    /// A parameter, treating JSON null and the empty string as absent.
    pub(crate) fn param(&self, key: &str) -> Option<&Value> {
        match self.params.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(v) => Some(v),
        }
    }

    /// A string parameter (numbers and booleans are accepted in their text form).
    pub(crate) fn str_param(&self, key: &str) -> Result<Option<String>, FeedError> {
        match self.param(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(FeedError::BadRequest(format!("parameter '{key}' must be a string"))),
        }
    }

    /// A non-negative integer parameter (a JSON number or a decimal string).
    pub(crate) fn uint_param(&self, key: &str) -> Result<Option<u64>, FeedError> {
        let bad = || FeedError::BadRequest(format!("parameter '{key}' must be a non-negative integer"));
        match self.param(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad()),
            Some(_) => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_parameter_values() {
        let params = serde_json::json!({"authKey": "uuid:secret", "url": "mqtt://u:pw@h"});
        let r = FeedRequest::new("create", "/ns/t", params.as_object().unwrap().clone()).unwrap();
        let shown = format!("{r:?}");
        assert!(shown.contains("authKey") && !shown.contains("secret") && !shown.contains("pw@"));
        assert_eq!(r.event, Lifecycle::Create);
        assert_eq!(r.trigger_parts().unwrap(), ("ns", "t"));
    }
}
