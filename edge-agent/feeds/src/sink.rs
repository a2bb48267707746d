//! The trait through which the feeds fire triggers; the edge agent implements it.

use serde_json::Value;

use crate::error::FireError;

/// What to do with a trigger after an `alarms/once` feed has fired it (`deleteAfterFire`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Retire {
    /// `deleteAfterFire: false` (default): disable the trigger.
    Disable,
    /// `deleteAfterFire: true`: delete the trigger.
    Delete,
    /// `deleteAfterFire: "rules"`: delete the trigger and the rules attached to it.
    DeleteWithRules,
}

/// Fires triggers on behalf of the feeds. Implemented by the edge agent.
#[async_trait::async_trait]
pub trait TriggerSink: Send + Sync + 'static {
    /// Fires `trigger` (`/ns/name`) with `payload` (a JSON object).
    ///
    /// Must return only once the fire is durably recorded: the feed deletes its own durable copy of
    /// the event after `Ok`. `NotFound`/`Disabled` make the feed forget/pause the subscription;
    /// `Throttled`/`Unavailable` make it retry the same event later; `Rejected` drops that one event.
    async fn fire(&self, trigger: &str, payload: Value) -> Result<(), FireError>;

    /// Called after an `alarms/once` trigger has fired (OpenWhisk disables the trigger, or deletes
    /// it and optionally its rules). The default keeps the trigger as it is: agents that can delete
    /// or disable triggers override it. An error is logged, never retried.
    async fn retire(&self, trigger: &str, how: Retire) -> Result<(), FireError> {
        let _ = (trigger, how);
        Ok(())
    }
}
