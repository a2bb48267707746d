//! System actions built into the agent (exec kind `builtin`): the MQTT and alarms feeds and `federation/push`.

mod sink;

pub use sink::AgentSink;

use std::str::FromStr;
use std::sync::Arc;

use fogwhisk_feeds::{AlarmKind, FeedError, FeedRequest};
use fogwhisk_runtime::{RunOutcome, RunStatus};
use serde_json::{json, Map, Value};

use crate::entity::common::now_ms;
use crate::entity::{Entity, FullName};
use crate::state::AppState;

/// The exec kind of built-in actions.
pub const BUILTIN_KIND: &str = "builtin";

/// What a built-in action call produced.
type Answer = Result<Value, (RunStatus, String)>;

/// Namespaces whose activations may queue records for the hub through `/whisk.system/federation/push`.
///
/// The default is the namespace the site manifest (`actions/manifest.yaml`) deploys into: its `daily`
/// rule runs the sequence `[daily-aggregates, /whisk.system/federation/push]` as `guest`. Every other
/// namespace — including `whisk.system` — is refused with 403: a push replaces the site's records at
/// the hub, so only the site's own pipeline may do it.
///
/// The setting is `federation.push_namespaces` (default `["guest"]`); [`AppState::push_namespaces`] reads it.
///
/// A refusal of `federation/push`, in the activation result as OpenWhisk's `{error, code}` with an
/// HTTP-like numeric code: 403 (namespace not allowed) or 400 (the records are not valid aggregates).
/// The activation ends as an application error (the caller's request is wrong, not the platform).
fn push_refusal(code: u16, message: String) -> (RunStatus, Value) {
    (RunStatus::ApplicationError, json!({ "error": message, "code": code }))
}

fn feed_error(e: FeedError) -> (RunStatus, String) {
    match e {
        FeedError::BadRequest(m) | FeedError::NotFound(m) => (RunStatus::ApplicationError, m),
        FeedError::Internal(m) => {
            tracing::error!(error = %m, "feed failed");
            (RunStatus::WhiskError, "The feed failed internally.".into())
        }
    }
}

impl AppState {
    /// Runs built-in action `main` for `caller` with `args`, shaped like a runtime outcome.
    pub(crate) async fn run_builtin(
        self: &Arc<Self>,
        caller: &str,
        main: &str,
        args: Map<String, Value>,
    ) -> RunOutcome {
        let start = now_ms();
        let answer = match main {
            "mqtt_feed" => self.feed_call(caller, None, args).await,
            "alarm" | "once" | "interval" => match AlarmKind::from_str(main) {
                Ok(kind) => self.feed_call(caller, Some(kind), args).await,
                Err(e) => Err(feed_error(e)),
            },
            "push" => return self.finish(start, self.push(caller, args).await),
            other => Err((RunStatus::WhiskError, format!("unknown built-in action '{other}'"))),
        };
        self.finish(start, answer.map_err(|(s, m)| (s, json!({ "error": m }))))
    }

    fn finish(&self, start: u64, answer: Result<Value, (RunStatus, Value)>) -> RunOutcome {
        let (status, result) = match answer {
            Ok(v) => (RunStatus::Success, v),
            Err((s, v)) => (s, v),
        };
        let size = result.to_string().len();
        RunOutcome {
            status,
            result,
            logs: vec![],
            start_ms: start,
            end_ms: now_ms(),
            init_time_ms: None,
            wait_time_ms: 0,
            timed_out: false,
            result_size: size,
        }
    }

    async fn feed_call(
        self: &Arc<Self>,
        caller: &str,
        alarm: Option<AlarmKind>,
        mut args: Map<String, Value>,
    ) -> Answer {
        let bad = |m: String| (RunStatus::ApplicationError, m);
        let event = args.remove("lifecycleEvent").and_then(|v| v.as_str().map(String::from));
        let event = event.ok_or_else(|| bad("The parameter 'lifecycleEvent' is required.".into()))?;
        let trigger = args.remove("triggerName").and_then(|v| v.as_str().map(String::from));
        let trigger = trigger.ok_or_else(|| bad("The parameter 'triggerName' is required.".into()))?;
        args.remove("authKey");
        let name = FullName::parse(&trigger, caller).map_err(|e| bad(e.to_string()))?.resolve(caller);
        if name.namespace != caller || name.package.is_some() {
            return Err(bad(format!("The trigger '{trigger}' is not in namespace '{caller}'.")));
        }
        let exists = matches!(self.store.get(&name.doc_id()), Ok(Some(Entity::Trigger(_))));
        if !exists && !event.eq_ignore_ascii_case("DELETE") {
            return Err(bad(format!("The trigger '{name}' does not exist.")));
        }
        let req = FeedRequest::new(&event, &name.to_string(), args).map_err(feed_error)?;
        let feeds = self.feeds.get().ok_or_else(|| (RunStatus::WhiskError, "feeds are not running".to_string()))?;
        match alarm {
            None => feeds.mqtt(req).await,
            Some(kind) => feeds.alarm(kind, req).await,
        }
        .map_err(feed_error)
    }

    /// The namespaces that may push (`federation.push_namespaces`).
    pub(crate) fn push_namespaces(&self) -> Vec<String> {
        self.settings.federation.push_namespaces.clone()
    }

    async fn push(self: &Arc<Self>, caller: &str, mut args: Map<String, Value>) -> Result<Value, (RunStatus, Value)> {
        let allowed = self.push_namespaces();
        if !allowed.iter().any(|n| n == caller) {
            tracing::warn!(namespace = caller, "federation/push refused: namespace not allowed to push");
            return Err(push_refusal(
                403,
                format!(
                    "The namespace '{caller}' is not allowed to push aggregates to the hub (allowed: {}).",
                    allowed.join(", ")
                ),
            ));
        }
        let bad = |m: String| push_refusal(400, m);
        let records = args.remove("records").ok_or_else(|| bad("The parameter 'records' is required.".into()))?;
        let records: Vec<fogwhisk_wire::AggregateRecord> = serde_json::from_value(records)
            .map_err(|e| bad(format!("'records' is not a list of aggregate records: {e}")))?;
        // The one definition of a valid record (fogwhisk-wire, the hub applies the same), and the
        // site's own zone: what the hub would refuse is refused here, with the reason, before queueing.
        let tz = &self.settings.timezone;
        let mut problems = Vec::new();
        for (i, r) in records.iter().enumerate() {
            if let Err(m) = r.validate() {
                problems.push(format!("records[{i}]: {m}"));
            }
            if &r.tz != tz {
                problems.push(format!("records[{i}]: tz: {:?} is not the site's time zone {tz:?}", r.tz));
            }
        }
        if !problems.is_empty() {
            return Err(bad(format!("Invalid aggregate records, nothing queued: {}", problems.join("; "))));
        }
        let n = records.len();
        let ns = caller.to_string();
        let queued = self.site.run_blocking(move |s| s.enqueue(&ns, records)).await.map_err(|e| bad(e.to_string()))?;
        Ok(json!({ "queued": queued, "received": n }))
    }
}
