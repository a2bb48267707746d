//! Invocation: throttles, then an activation (primitive or sequence) whose record is stored: run in the blocking
//! caller's own task, or in the background.

mod conductor;
mod detach;
mod error;
pub mod fire;
mod primitive;
pub mod resolve;
mod sequence;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::entity::activation::new_activation_id;
use crate::entity::Activation;
use crate::entity::{FullName, KeyValues};
use crate::state::AppState;
use crate::throttle::{InFlight, RateKind};
use detach::Detachable;
pub use error::InvokeError;
pub use resolve::{check_final, resolve_action, Resolved};

/// How a caller wants an invocation.
#[derive(Debug, Clone)]
pub struct InvokeOptions {
    /// Wait for the result.
    pub blocking: bool,
    /// How long a blocking caller waits.
    pub wait: Duration,
}

/// What the caller gets back.
pub enum Invoked {
    /// The activation finished within the wait.
    Done(Box<Activation>),
    /// Still running (or non-blocking): its id.
    Pending(String),
}

/// Where an activation sits in a sequence.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    /// The parent sequence's activation id.
    pub cause: Option<String>,
    /// A conductor action run as one step of its own composition (not as the composition).
    pub conductor_step: bool,
}

impl AppState {
    /// Checks the caller's throttles and takes an in-flight slot for one activation.
    pub(crate) fn admit(&self, caller: &str) -> Result<InFlight, InvokeError> {
        let limits = &self.settings.limits;
        if let Err(e) = self.throttles.check_rate(RateKind::Invocations, caller, limits.invocations_per_minute) {
            self.metrics.throttle("invocations_per_minute");
            return Err(InvokeError::Throttled(e.0));
        }
        self.throttles.enter(caller, limits.concurrent_invocations).map_err(|e| {
            self.metrics.throttle("concurrent_invocations");
            InvokeError::Throttled(e.0)
        })
    }

    /// Runs an admitted activation in the background.
    pub(crate) fn start(
        self: &Arc<Self>,
        caller: &str,
        r: Resolved,
        payload: Map<String, Value>,
        id: String,
        slot: Option<InFlight>,
    ) {
        self.tasks.spawn(self.clone().activation(caller, r, payload, id, slot));
    }

    /// An admitted activation as a future that owns everything it needs (its in-flight slot too).
    fn activation(
        self: Arc<Self>,
        caller: &str,
        r: Resolved,
        payload: Map<String, Value>,
        id: String,
        slot: Option<InFlight>,
    ) -> impl std::future::Future<Output = Activation> + Send + 'static {
        let caller = caller.to_string();
        async move {
            let _slot = slot;
            self.execute(&caller, &r, payload, id, Lineage::default()).await
        }
    }

    /// Invokes an action for `caller` with throttles, storing its activation record. A blocking caller's
    /// activation runs in its own task (no hand-off); if the wait runs out or the caller goes away, it
    /// continues in the background.
    pub async fn invoke(
        self: &Arc<Self>,
        caller: &str,
        r: Resolved,
        payload: Map<String, Value>,
        opts: InvokeOptions,
    ) -> Result<Invoked, InvokeError> {
        let slot = self.admit(caller)?;
        let id = new_activation_id();
        if !opts.blocking {
            self.start(caller, r, payload, id.clone(), Some(slot));
            return Ok(Invoked::Pending(id));
        }
        let job = Detachable::new(self.clone().activation(caller, r, payload, id.clone(), Some(slot)), &self.tasks);
        match tokio::time::timeout(opts.wait, job).await {
            Ok(record) => Ok(Invoked::Done(Box::new(record))),
            Err(_) => Ok(Invoked::Pending(id)),
        }
    }

    /// Starts again the rule invocations a crash interrupted (recorded with their trigger's fire).
    pub async fn resume_pending(self: &Arc<Self>) -> Result<usize, crate::store::StoreError> {
        let pending = self.store.pending_invocations()?;
        let n = pending.len();
        for p in pending {
            let resolved = FullName::parse(&p.action, &p.caller)
                .map_err(|e| e.to_string())
                .and_then(|name| resolve_action(&self.store, &p.caller, &name).map_err(|e| e.to_string()));
            match resolved {
                Ok(r) => self.start(&p.caller, r, p.args, p.activation_id, None),
                Err(e) => {
                    tracing::warn!(activation = %p.activation_id, action = %p.action, error = %e, "pending invocation dropped");
                    self.activations.forget_pending(p.activation_id).await?;
                }
            }
        }
        if n > 0 {
            tracing::info!(resumed = n, "rule invocations interrupted by a crash started again");
        }
        Ok(n)
    }

    /// Runs an action (primitive or sequence) and returns its record, queued for storage: callers get
    /// their answer before the record is persisted, as in OpenWhisk.
    pub(crate) async fn execute(
        self: &Arc<Self>,
        caller: &str,
        r: &Resolved,
        payload: Map<String, Value>,
        id: String,
        lineage: Lineage,
    ) -> Activation {
        let conductor = !lineage.conductor_step && r.action.annotations.is_truthy("conductor");
        let record = if r.action.exec.is_sequence() {
            Box::pin(self.run_sequence(caller, r, payload, id, lineage)).await
        } else if conductor {
            Box::pin(self.run_conductor(caller, r, payload, id, lineage)).await
        } else {
            self.run_primitive(caller, r, payload, id, lineage).await
        };
        self.metrics
            .invocations
            .get_or_create(&crate::metrics::StatusLabel { status: status_label(&record).into() })
            .inc();
        if let Err(e) = self.activations.record(record.clone()).await {
            tracing::error!(activation = %record.activation_id, error = %e, "activation record not stored");
        }
        record
    }
}

fn status_label(a: &Activation) -> &'static str {
    use crate::entity::Outcome;
    match a.response.status {
        Outcome::Success => "success",
        Outcome::ApplicationError => "application_error",
        Outcome::DeveloperError => "developer_error",
        Outcome::WhiskError => "whisk_error",
    }
}
