//! Applies a manifest to an agent through the OpenWhisk REST API, the way `wsk`/wskdeploy do:
//! packages, actions and sequences with `overwrite=true`; triggers with their feed annotation
//! and a feed `CREATE` (only when new) or `UPDATE` (only when the feed inputs changed); rules.
//! Applying the same manifest twice changes nothing but the versions of overwritten entities.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::client::Client;
use super::{parse, ActionSpec, ManifestError, TriggerSpec};

/// Annotation holding a hash of a trigger's feed and feed inputs, to detect changes on re-apply
/// (OpenWhisk does not store feed parameters on the trigger).
pub const FEED_HASH_ANNOTATION: &str = "fogwhisk-feed-inputs";

/// What happened to one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did not exist.
    Created,
    /// It existed and was overwritten (or its feed updated).
    Updated,
    /// It existed as declared; nothing was sent.
    Unchanged,
}

/// One applied entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `package`, `action`, `sequence`, `trigger` or `rule`.
    pub kind: &'static str,
    /// Its name (`pkg/name` for actions).
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

/// The result of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplySummary {
    /// The namespace the credentials resolve to.
    pub namespace: String,
    /// Every entity, in the order applied.
    pub steps: Vec<Step>,
}

/// Applies `manifest_yaml` (whose `function` paths are relative to `base_dir`) to the agent at
/// `api_host` with credentials `auth` (`uuid:key`), filling `${VAR}` placeholders from `vars`.
pub async fn apply(
    api_host: &str,
    auth: &str,
    manifest_yaml: &str,
    base_dir: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<ApplySummary, ManifestError> {
    let manifest = parse(manifest_yaml, vars)?;
    // Read every file before changing anything.
    let mut code: BTreeMap<(String, String), String> = BTreeMap::new();
    for (pname, p) in &manifest.packages {
        for (aname, a) in &p.actions {
            let path = base_dir.join(&a.function);
            let text = std::fs::read_to_string(&path).map_err(|source| ManifestError::ReadFunction { path, source })?;
            code.insert((pname.clone(), aname.clone()), text);
        }
    }
    let client = Client::new(api_host, auth)?;
    let namespace = client
        .must(Method::GET, "/namespaces", None)
        .await?
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ManifestError::Invalid("GET /namespaces returned no namespace".into()))?;
    let mut summary = ApplySummary { namespace: namespace.clone(), steps: Vec::new() };
    for (pname, p) in &manifest.packages {
        let body =
            json!({ "publish": false, "parameters": key_values(&p.inputs), "annotations": key_values(&p.annotations) });
        let v =
            client.must(Method::PUT, &format!("/namespaces/_/packages/{pname}?overwrite=true"), Some(&body)).await?;
        summary.steps.push(Step { kind: "package", name: pname.clone(), outcome: put_outcome(&v) });
        for (aname, a) in &p.actions {
            let body = action_body(a, &code[&(pname.clone(), aname.clone())]);
            let v = client
                .must(Method::PUT, &format!("/namespaces/_/actions/{pname}/{aname}?overwrite=true"), Some(&body))
                .await?;
            summary.steps.push(Step { kind: "action", name: format!("{pname}/{aname}"), outcome: put_outcome(&v) });
        }
        for (sname, s) in &p.sequences {
            let components: Vec<String> = s.actions.split(',').map(|c| qualify(&namespace, pname, c.trim())).collect();
            let body = json!({
                "exec": { "kind": "sequence", "components": components },
                "annotations": key_values(&s.annotations),
            });
            let v = client
                .must(Method::PUT, &format!("/namespaces/_/actions/{pname}/{sname}?overwrite=true"), Some(&body))
                .await?;
            summary.steps.push(Step { kind: "sequence", name: format!("{pname}/{sname}"), outcome: put_outcome(&v) });
        }
    }
    for p in manifest.packages.values() {
        for (tname, t) in &p.triggers {
            let outcome = apply_trigger(&client, &namespace, auth, tname, t).await?;
            summary.steps.push(Step { kind: "trigger", name: tname.clone(), outcome });
        }
    }
    for (pname, p) in &manifest.packages {
        for (rname, r) in &p.rules {
            let outcome = apply_rule(&client, &namespace, pname, rname, &r.trigger, &r.action).await?;
            summary.steps.push(Step { kind: "rule", name: rname.clone(), outcome });
        }
    }
    Ok(summary)
}

fn put_outcome(v: &Value) -> Outcome {
    if v.get("version").and_then(Value::as_str) == Some("0.0.1") {
        Outcome::Created
    } else {
        Outcome::Updated
    }
}

/// `{k: v}` → `[{key, value}]`.
fn key_values(m: &BTreeMap<String, Value>) -> Value {
    Value::Array(m.iter().map(|(k, v)| json!({ "key": k, "value": input_value(v) })).collect())
}

/// wskdeploy inputs are plain values or `{type, value|default, description}`.
fn input_value(v: &Value) -> Value {
    match v.as_object() {
        Some(o) if o.contains_key("type") || o.contains_key("description") => {
            o.get("value").or_else(|| o.get("default")).cloned().unwrap_or(Value::Null)
        }
        _ => v.clone(),
    }
}

fn action_body(a: &ActionSpec, code: &str) -> Value {
    let mut exec = json!({ "kind": a.runtime, "code": code });
    if let Some(m) = &a.main {
        exec["main"] = json!(m);
    }
    let mut body =
        json!({ "exec": exec, "parameters": key_values(&a.inputs), "annotations": key_values(&a.annotations) });
    if let Some(l) = &a.limits {
        let mut limits = Map::new();
        for (k, v) in l {
            let key = match k.as_str() {
                "memorySize" => "memory",
                "logSize" => "logs",
                other => other,
            };
            limits.insert(key.to_string(), v.clone());
        }
        body["limits"] = Value::Object(limits);
    }
    body
}

/// `name` → `/ns/pkg/name`; `pkg/name` → `/ns/pkg/name`; `/x/y[/z]` unchanged.
fn qualify(ns: &str, pkg: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else if name.contains('/') {
        format!("/{ns}/{name}")
    } else {
        format!("/{ns}/{pkg}/{name}")
    }
}

fn feed_hash(feed: &str, inputs: &BTreeMap<String, Value>) -> String {
    let canonical = json!({ "feed": feed, "inputs": inputs.iter().map(|(k, v)| (k.clone(), input_value(v))).collect::<BTreeMap<_, _>>() });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

fn annotation<'a>(entity: &'a Value, key: &str) -> Option<&'a Value> {
    entity
        .get("annotations")?
        .as_array()?
        .iter()
        .find(|a| a.get("key").and_then(Value::as_str) == Some(key))?
        .get("value")
}

async fn apply_trigger(
    client: &Client,
    ns: &str,
    auth: &str,
    name: &str,
    t: &TriggerSpec,
) -> Result<Outcome, ManifestError> {
    let path = format!("/namespaces/_/triggers/{name}");
    let existing = client.call(Method::GET, &path, None).await?.map(|(_, v)| v);
    let Some(feed) = &t.feed else {
        let body = json!({ "parameters": key_values(&t.inputs), "annotations": key_values(&t.annotations) });
        client.must(Method::PUT, &format!("{path}?overwrite=true"), Some(&body)).await?;
        return Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Created });
    };
    let hash = feed_hash(feed, &t.inputs);
    let mut annotations = t.annotations.clone();
    annotations.insert("feed".into(), json!(feed));
    annotations.insert(FEED_HASH_ANNOTATION.into(), json!(hash));
    let body = json!({ "annotations": key_values(&annotations) });
    let trigger_name = format!("/{ns}/{name}");
    match existing {
        None => {
            client.must(Method::PUT, &format!("{path}?overwrite=false"), Some(&body)).await?;
            if let Err(e) = invoke_feed(client, feed, "CREATE", &trigger_name, auth, &t.inputs).await {
                // As `wsk trigger create` does: a trigger whose feed failed is removed again.
                let _ = client.call(Method::DELETE, &path, None).await;
                return Err(e);
            }
            Ok(Outcome::Created)
        }
        Some(old) => {
            if annotation(&old, FEED_HASH_ANNOTATION).and_then(Value::as_str) == Some(hash.as_str()) {
                return Ok(Outcome::Unchanged);
            }
            match annotation(&old, "feed").and_then(Value::as_str) {
                Some(old_feed) if old_feed == feed => {
                    invoke_feed(client, feed, "UPDATE", &trigger_name, auth, &t.inputs).await?;
                }
                old_feed => {
                    if let Some(f) = old_feed {
                        // A different feed: release the old one (a failure there is only logged, as in wsk).
                        if let Err(e) = invoke_feed(client, f, "DELETE", &trigger_name, auth, &BTreeMap::new()).await {
                            tracing::warn!(error = %e, trigger = name, "old feed did not release the trigger");
                        }
                    }
                    client.must(Method::PUT, &format!("{path}?overwrite=true"), Some(&body)).await?;
                    invoke_feed(client, feed, "CREATE", &trigger_name, auth, &t.inputs).await?;
                    return Ok(Outcome::Updated);
                }
            }
            client.must(Method::PUT, &format!("{path}?overwrite=true"), Some(&body)).await?;
            Ok(Outcome::Updated)
        }
    }
}

async fn invoke_feed(
    client: &Client,
    feed: &str,
    event: &'static str,
    trigger: &str,
    auth: &str,
    inputs: &BTreeMap<String, Value>,
) -> Result<(), ManifestError> {
    let fail =
        |message: String| ManifestError::Feed { trigger: trigger.to_string(), feed: feed.to_string(), event, message };
    let trimmed = feed.trim_start_matches('/');
    let (feed_ns, action) =
        trimmed.split_once('/').ok_or_else(|| fail("feed name must be /namespace/[package/]action".into()))?;
    let mut body: Map<String, Value> = inputs.iter().map(|(k, v)| (k.clone(), input_value(v))).collect();
    body.insert("lifecycleEvent".into(), json!(event));
    body.insert("triggerName".into(), json!(trigger));
    body.insert("authKey".into(), json!(auth));
    let path = format!("/namespaces/{feed_ns}/actions/{action}?blocking=true&result=false");
    let activation =
        client.must(Method::POST, &path, Some(&Value::Object(body))).await.map_err(|e| fail(e.to_string()))?;
    let response = activation.get("response");
    if response.and_then(|r| r.get("success")).and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let message = response.and_then(|r| r.get("result")).and_then(|r| r.get("error")).map_or_else(
        || "the feed did not succeed".to_string(),
        |e| e.as_str().map_or_else(|| e.to_string(), str::to_string),
    );
    Err(fail(message))
}

async fn apply_rule(
    client: &Client,
    ns: &str,
    pkg: &str,
    name: &str,
    trigger: &str,
    action: &str,
) -> Result<Outcome, ManifestError> {
    let action_path = qualify(ns, pkg, action);
    let path = format!("/namespaces/_/rules/{name}");
    let existing = client.call(Method::GET, &path, None).await?.map(|(_, v)| v);
    let want_trigger = format!("/{ns}/{trigger}");
    let body = json!({ "trigger": want_trigger, "action": action_path });
    let outcome = match &existing {
        Some(old) if rule_matches(old, &want_trigger, &action_path) => Outcome::Unchanged,
        Some(_) => {
            client.must(Method::PUT, &format!("{path}?overwrite=true"), Some(&body)).await?;
            Outcome::Updated
        }
        None => {
            client.must(Method::PUT, &format!("{path}?overwrite=false"), Some(&body)).await?;
            Outcome::Created
        }
    };
    if existing.as_ref().and_then(|r| r.get("status")).and_then(Value::as_str).is_some_and(|s| s != "active") {
        client.must(Method::POST, &path, Some(&json!({ "status": "active" }))).await?;
        return Ok(Outcome::Updated);
    }
    Ok(outcome)
}

/// Whether a stored rule (`trigger`/`action` as `{path, name}`) links the wanted entities.
fn rule_matches(rule: &Value, trigger: &str, action: &str) -> bool {
    let full = |v: Option<&Value>| {
        let v = v?;
        Some(format!("/{}/{}", v.get("path")?.as_str()?, v.get("name")?.as_str()?))
    };
    full(rule.get("trigger")).as_deref() == Some(trigger) && full(rule.get("action")).as_deref() == Some(action)
}
