//! The agent side of the feeds: fires a trigger for its owner and answers once the fire is durably recorded.

use std::sync::{Arc, Weak};

use fogwhisk_feeds::{FireError, Retire, TriggerSink};
use serde_json::{Map, Value};

use crate::entity::{Entity, FullName, RuleStatus};
use crate::invoke::InvokeError;
use crate::state::AppState;

/// Fires triggers for the feeds through [`AppState::fire`].
pub struct AgentSink {
    state: Weak<AppState>,
}

impl AgentSink {
    /// A sink on `state` (weak, so the feeds do not keep the agent alive).
    pub fn new(state: &Arc<AppState>) -> Self {
        Self { state: Arc::downgrade(state) }
    }

    fn state(&self) -> Result<Arc<AppState>, FireError> {
        self.state.upgrade().ok_or_else(|| FireError::Unavailable("the agent is stopping".into()))
    }
}

fn doc_id(trigger: &str) -> Result<String, FireError> {
    FullName::parse(trigger, "_").map(|n| n.doc_id()).map_err(|_| FireError::NotFound(trigger.to_string()))
}

#[async_trait::async_trait]
impl TriggerSink for AgentSink {
    async fn fire(&self, trigger: &str, payload: Value) -> Result<(), FireError> {
        let state = self.state()?;
        let id = doc_id(trigger)?;
        let t = match state.store.get(&id) {
            Ok(Some(Entity::Trigger(t))) => t,
            Ok(_) => return Err(FireError::NotFound(trigger.to_string())),
            Err(e) => return Err(FireError::Unavailable(e.to_string())),
        };
        let args = match payload {
            Value::Object(m) => m,
            other => Map::from_iter([("payload".to_string(), other)]),
        };
        match state.fire(&t, args, Map::new()).await {
            Ok(_) => Ok(()),
            Err(InvokeError::Throttled(_)) => Err(FireError::Throttled),
            Err(e) => Err(FireError::Unavailable(e.to_string())),
        }
    }

    async fn retire(&self, trigger: &str, how: Retire) -> Result<(), FireError> {
        let state = self.state()?;
        let id = doc_id(trigger)?;
        let result = state.store.write(|tx| {
            let Some(Entity::Trigger(mut t)) = tx.get(&id)? else { return Ok(()) };
            match how {
                Retire::Disable => {
                    if let Some(rules) = t.rules.as_mut() {
                        rules.values_mut().for_each(|l| l.status = RuleStatus::Inactive);
                    }
                    tx.put(&id, &Entity::Trigger(t))?;
                }
                Retire::Delete | Retire::DeleteWithRules => {
                    if how == Retire::DeleteWithRules {
                        for rule in t.rules.take().unwrap_or_default().keys() {
                            tx.delete(rule)?;
                        }
                    }
                    tx.delete(&id)?;
                }
            }
            Ok::<_, crate::store::StoreError>(())
        });
        result.map_err(|e| FireError::Unavailable(e.to_string()))
    }
}
