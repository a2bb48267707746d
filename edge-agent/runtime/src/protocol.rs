//! The OpenWhisk action-runtime protocol on our side: `/init` and `/run` bodies, and how replies become statuses.

use serde_json::{json, Map, Value};

use crate::error::RuntimeError;
use crate::process::HttpReply;
use crate::types::{ActionSpec, RunContext, RunStatus};

pub const MSG_BAD_RESPONSE: &str = "The action did not produce a valid JSON or JSON Array response";
pub const MSG_EXITED: &str = "The action did not produce a valid response and exited unexpectedly.";

pub fn timeout_message(ms: u64) -> String {
    format!("The action exceeded its time limits of {ms} milliseconds.")
}

pub fn init_timeout_message(ms: u64) -> String {
    format!("The action exceeded its time limits of {ms} milliseconds during initialization.")
}

pub fn memory_message(mb: u64) -> String {
    format!("The action exceeded its memory limit of {mb} MB.")
}

pub fn truncated_message(size: usize, limit: usize) -> String {
    format!("The action produced a response that exceeded the allowed length: {size} > {limit} bytes.")
}

/// `{"error": text}`.
pub fn error_value(text: impl Into<String>) -> Value {
    json!({ "error": text.into() })
}

/// The `/init` body: code, entry point and the activation env (`__OW_*` plus init parameters).
pub fn init_body(spec: &ActionSpec, ctx: &RunContext) -> Value {
    let mut env = Map::new();
    if let Some(key) = &ctx.api_key {
        env.insert("__OW_API_KEY".into(), key.clone().into());
    }
    env.insert("__OW_NAMESPACE".into(), ctx.namespace.clone().into());
    env.insert("__OW_ACTION_NAME".into(), ctx.action_name.clone().into());
    env.insert("__OW_ACTION_VERSION".into(), ctx.action_version.clone().into());
    env.insert("__OW_ACTIVATION_ID".into(), ctx.activation_id.clone().into());
    env.insert("__OW_TRANSACTION_ID".into(), ctx.transaction_id.clone().into());
    env.insert("__OW_DEADLINE".into(), ctx.deadline_ms.to_string().into());
    if spec.concurrency > 1 {
        env.insert("__OW_ALLOW_CONCURRENT".into(), "true".into());
    }
    for (k, v) in &spec.init_env {
        env.insert(k.clone(), v.clone().into());
    }
    let main = if spec.main.is_empty() { "main" } else { spec.main.as_str() };
    json!({ "value": { "name": spec.name, "main": main, "code": spec.code, "binary": spec.binary, "env": env } })
}

/// The `/run` body: the parameters and the activation context as string fields.
pub fn run_body(ctx: &RunContext) -> Value {
    let params = if ctx.params.is_object() { ctx.params.clone() } else { json!({}) };
    let mut body = json!({
        "value": params,
        "namespace": ctx.namespace,
        "action_name": ctx.action_name,
        "action_version": ctx.action_version,
        "activation_id": ctx.activation_id,
        "transaction_id": ctx.transaction_id,
        "deadline": ctx.deadline_ms.to_string(),
    });
    if let Some(key) = &ctx.api_key {
        body["api_key"] = key.clone().into();
    }
    body
}

/// The `/run` body of [`run_body`] for the wire, serialized into `buf` straight from `ctx` (no copy of the
/// parameters).
pub fn write_run_body(ctx: &RunContext, buf: &mut Vec<u8>) {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        value: &'a Value,
        namespace: &'a str,
        action_name: &'a str,
        action_version: &'a str,
        activation_id: &'a str,
        transaction_id: &'a str,
        deadline: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        api_key: Option<&'a str>,
    }
    let empty = Value::Object(Map::new());
    let body = Body {
        value: if ctx.params.is_object() { &ctx.params } else { &empty },
        namespace: &ctx.namespace,
        action_name: &ctx.action_name,
        action_version: &ctx.action_version,
        activation_id: &ctx.activation_id,
        transaction_id: &ctx.transaction_id,
        deadline: ctx.deadline_ms.to_string(),
        api_key: ctx.api_key.as_deref(),
    };
    // serializing borrowed strings and a Value into a Vec cannot fail
    let _ = serde_json::to_writer(buf, &body);
}

/// Interprets a `/run` reply: status, result value and result size.
pub fn interpret_run(reply: &HttpReply, max_result_bytes: usize) -> (RunStatus, Value) {
    if reply.size > max_result_bytes {
        return (RunStatus::ApplicationError, error_value(truncated_message(reply.size, max_result_bytes)));
    }
    let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
    match parsed {
        Some(v @ (Value::Object(_) | Value::Array(_))) if reply.status == 200 => {
            let is_error = v.as_object().is_some_and(|o| o.contains_key("error"));
            let status = if is_error { RunStatus::ApplicationError } else { RunStatus::Success };
            (status, v)
        }
        Some(Value::Object(o)) if o.contains_key("error") => {
            (RunStatus::DeveloperError, json!({ "error": o["error"].clone() }))
        }
        _ => (RunStatus::DeveloperError, error_value(MSG_BAD_RESPONSE)),
    }
}

/// Interprets an `/init` reply: `Ok` on 200, else the error value to report.
pub fn interpret_init(reply: &HttpReply) -> Result<(), Value> {
    if reply.status == 200 {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(&reply.body) {
        Ok(Value::Object(o)) if o.contains_key("error") => Err(json!({ "error": o["error"].clone() })),
        _ => {
            let text = String::from_utf8_lossy(&reply.body);
            Err(error_value(format!("The action failed during initialization: {text}")))
        }
    }
}

/// The error value for a failed exchange with the process.
pub fn failure_value(err: &RuntimeError, during_init: bool) -> Value {
    match err {
        RuntimeError::Timeout(ms) if during_init => error_value(init_timeout_message(*ms)),
        RuntimeError::Timeout(ms) => error_value(timeout_message(*ms)),
        RuntimeError::MemoryExceeded(mb) => error_value(memory_message(*mb)),
        RuntimeError::Exited | RuntimeError::Connection(_) => error_value(MSG_EXITED),
        other => error_value(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> HttpReply {
        HttpReply { status, body: body.as_bytes().to_vec(), size: body.len() }
    }

    #[test]
    fn maps_run_replies() {
        assert_eq!(interpret_run(&reply(200, r#"{"a":1}"#), 100).0, RunStatus::Success);
        assert_eq!(interpret_run(&reply(200, "[1]"), 100).0, RunStatus::Success);
        assert_eq!(interpret_run(&reply(200, r#"{"error":"x"}"#), 100).0, RunStatus::ApplicationError);
        let (s, v) = interpret_run(&reply(502, r#"{"error":"boom"}"#), 100);
        assert_eq!((s, v), (RunStatus::DeveloperError, json!({"error":"boom"})));
        let (s, v) = interpret_run(&reply(200, "3"), 100);
        assert_eq!((s, v), (RunStatus::DeveloperError, error_value(MSG_BAD_RESPONSE)));
        let (s, v) = interpret_run(&HttpReply { status: 200, body: b"{}".to_vec(), size: 500 }, 100);
        assert_eq!(s, RunStatus::ApplicationError);
        assert_eq!(v["error"], truncated_message(500, 100));
    }

    #[test]
    fn the_wire_run_body_is_the_run_body() {
        let mut ctx = RunContext {
            params: json!({"a": [1, 2]}),
            namespace: "guest".into(),
            action_name: "/guest/x".into(),
            action_version: "0.0.1".into(),
            activation_id: "id".into(),
            transaction_id: "tid".into(),
            deadline_ms: 42,
            api_key: None,
        };
        for key in [None, Some("k:v".to_string())] {
            ctx.api_key = key;
            let mut buf = Vec::new();
            write_run_body(&ctx, &mut buf);
            assert_eq!(serde_json::from_slice::<Value>(&buf).unwrap(), run_body(&ctx));
        }
        ctx.params = json!("not an object");
        let mut buf = Vec::new();
        write_run_body(&ctx, &mut buf);
        assert_eq!(serde_json::from_slice::<Value>(&buf).unwrap()["value"], json!({}));
    }

    #[test]
    fn maps_init_replies() {
        assert!(interpret_init(&reply(200, "{}")).is_ok());
        assert_eq!(interpret_init(&reply(502, r#"{"error":"bad"}"#)).unwrap_err(), json!({"error":"bad"}));
        let e = interpret_init(&reply(500, "oops")).unwrap_err();
        assert_eq!(e["error"], "The action failed during initialization: oops");
    }
}
