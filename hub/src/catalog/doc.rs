//! OpenWhisk's entity documents: names and ids (`ns/name`, `ns/pkg/name`), building a document from an
//! entity API request body (and the document it replaces: version bump, kept fields), and the API's
//! views of a document (the full entity and the list summary).

use serde_json::{json, Map, Value};

/// An entity collection of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `actions`.
    Action,
    /// `packages`.
    Package,
    /// `triggers`.
    Trigger,
    /// `rules`.
    Rule,
}

impl Kind {
    /// The document's `entityType`.
    pub fn entity_type(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Package => "package",
            Kind::Trigger => "trigger",
            Kind::Rule => "rule",
        }
    }

    /// The collection's name in paths and in `?count=true` answers.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Action => "actions",
            Kind::Package => "packages",
            Kind::Trigger => "triggers",
            Kind::Rule => "rules",
        }
    }
}

/// A request the entity API refuses with 400.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// A fully qualified entity name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityName {
    /// Namespace.
    pub namespace: String,
    /// Package (actions only).
    pub package: Option<String>,
    /// Name.
    pub name: String,
}

/// OpenWhisk's name rule: word characters, then also `@ . -` and spaces inside, at most 256.
pub fn valid_name(s: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let inner = |c: char| word(c) || matches!(c, '@' | '.' | '-' | ' ');
    !s.is_empty() && s.chars().count() <= 256 && s.starts_with(word) && s.chars().all(inner) && !s.ends_with(' ')
}

impl EntityName {
    /// Parses `name` or (actions) `pkg/name` in `namespace`.
    pub fn parse(namespace: &str, kind: Kind, path: &str) -> Result<EntityName, Invalid> {
        let bad = || Invalid(format!("the name {path:?} is not a valid {}", kind.entity_type()));
        if !valid_name(namespace) {
            return Err(Invalid(format!("the namespace {namespace:?} is not valid")));
        }
        let parts: Vec<&str> = path.split('/').collect();
        let (package, name) = match (kind, parts.as_slice()) {
            (_, [n]) => (None, *n),
            (Kind::Action, [p, n]) => (Some(p.to_string()), *n),
            _ => return Err(bad()),
        };
        if !valid_name(name) || package.as_deref().is_some_and(|p| !valid_name(p)) {
            return Err(bad());
        }
        Ok(EntityName { namespace: namespace.into(), package, name: name.into() })
    }

    /// The document id: `ns/name` or `ns/pkg/name`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.path(), self.name)
    }

    /// The document's `namespace` field: `ns` or `ns/pkg`.
    pub fn path(&self) -> String {
        match &self.package {
            Some(p) => format!("{}/{p}", self.namespace),
            None => self.namespace.clone(),
        }
    }
}

/// `0.0.1` for a new entity, else the old version with its patch number bumped.
pub fn next_version(old: Option<&Value>) -> String {
    let Some(v) = old.and_then(|d| d["version"].as_str()) else { return "0.0.1".into() };
    let mut parts: Vec<u64> = v.split('.').filter_map(|p| p.parse().ok()).collect();
    if parts.len() != 3 {
        return "0.0.1".into();
    }
    parts[2] += 1;
    format!("{}.{}.{}", parts[0], parts[1], parts[2])
}

fn key_values(body: &Map<String, Value>, field: &str, old: Option<&Value>) -> Result<Value, Invalid> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(old.map(|d| d[field].clone()).filter(Value::is_array).unwrap_or(json!([]))),
        Some(Value::Array(items)) => {
            for (i, kv) in items.iter().enumerate() {
                if !kv.get("key").is_some_and(Value::is_string) {
                    return Err(Invalid(format!(
                        "{field}[{i}] must be an object with a string \"key\" and a \"value\""
                    )));
                }
            }
            Ok(Value::Array(items.clone()))
        }
        Some(_) => Err(Invalid(format!("{field} must be an array of {{key, value}}"))),
    }
}

fn action_limits(body: &Map<String, Value>, old: Option<&Value>) -> Result<Value, Invalid> {
    let mut limits = json!({"timeout": 60000, "memory": 256, "logs": 10, "concurrency": 1});
    if let (Some(Value::Object(o)), Some(l)) = (old.map(|d| &d["limits"]), limits.as_object_mut()) {
        l.extend(o.clone());
    }
    match body.get("limits") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            for (k, v) in o {
                if !matches!(k.as_str(), "timeout" | "memory" | "logs" | "concurrency") || !v.is_u64() {
                    return Err(Invalid(format!("limits.{k} is not a known limit with a whole number")));
                }
                limits[k.as_str()] = v.clone();
            }
        }
        Some(_) => return Err(Invalid("limits must be an object".into())),
    }
    Ok(limits)
}

fn exec(body: &Map<String, Value>, old: Option<&Value>) -> Result<Value, Invalid> {
    let Some(given) = body.get("exec").filter(|e| !e.is_null()) else {
        return old.map(|d| d["exec"].clone()).filter(Value::is_object).ok_or_else(|| Invalid("exec undefined".into()));
    };
    let mut e = given.as_object().cloned().ok_or_else(|| Invalid("exec must be an object".into()))?;
    let kind = e.get("kind").and_then(Value::as_str).ok_or_else(|| Invalid("exec.kind undefined".into()))?;
    match kind {
        "sequence" if !e.get("components").is_some_and(Value::is_array) => {
            return Err(Invalid("a sequence needs exec.components".into()))
        }
        "blackbox" if !e.get("image").is_some_and(Value::is_string) => {
            return Err(Invalid("a blackbox action needs exec.image".into()))
        }
        "sequence" | "blackbox" => {}
        _ if !e.get("code").is_some_and(Value::is_string) => return Err(Invalid("exec.code undefined".into())),
        _ => {}
    }
    if !e.get("binary").is_some_and(Value::is_boolean) {
        e.insert("binary".into(), json!(false));
    }
    Ok(Value::Object(e))
}

/// A `{path, name}` reference from a rule's `trigger` or `action` (`name`, `/ns/name`, `/ns/pkg/name`).
fn reference(body: &Map<String, Value>, field: &str, namespace: &str, old: Option<&Value>) -> Result<Value, Invalid> {
    let Some(given) = body.get(field).filter(|v| !v.is_null()) else {
        return old
            .map(|d| d[field].clone())
            .filter(Value::is_object)
            .ok_or_else(|| Invalid(format!("{field} undefined")));
    };
    let s = given.as_str().ok_or_else(|| Invalid(format!("{field} must be a name")))?;
    let parts: Vec<&str> = s.trim_start_matches('/').split('/').collect();
    let (path, name) = match (s.starts_with('/'), parts.as_slice()) {
        (false, [n]) => (namespace.to_string(), *n),
        (true, [ns, n]) => (if *ns == "_" { namespace.to_string() } else { ns.to_string() }, *n),
        (true, [ns, p, n]) => (format!("{}/{p}", if *ns == "_" { namespace } else { ns }), *n),
        _ => return Err(Invalid(format!("{field} {s:?} is not a fully qualified name"))),
    };
    if !valid_name(name) {
        return Err(Invalid(format!("{field} {s:?} is not a valid name")));
    }
    Ok(json!({"path": path, "name": name}))
}

/// The document for a PUT of `body` as `name`, replacing `old` (its version bumped, fields not given kept).
pub fn build(kind: Kind, name: &EntityName, body: &Value, old: Option<&Value>, now_ms: i64) -> Result<Value, Invalid> {
    let empty = Map::new();
    let body = match body {
        Value::Object(o) => o,
        Value::Null => &empty,
        _ => return Err(Invalid("the request body must be a JSON object".into())),
    };
    let publish = match body.get("publish") {
        None | Some(Value::Null) => old.and_then(|d| d["publish"].as_bool()).unwrap_or(false),
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Invalid("publish must be a boolean".into())),
    };
    let mut doc = json!({
        "entityType": kind.entity_type(),
        "namespace": name.path(),
        "name": name.name,
        "version": next_version(old),
        "publish": publish,
        "annotations": key_values(body, "annotations", old)?,
        "updated": now_ms,
    });
    let d = doc.as_object_mut().expect("object");
    match kind {
        Kind::Action => {
            d.insert("exec".into(), exec(body, old)?);
            d.insert("parameters".into(), key_values(body, "parameters", old)?);
            d.insert("limits".into(), action_limits(body, old)?);
        }
        Kind::Package => {
            d.insert("parameters".into(), key_values(body, "parameters", old)?);
            let binding = match body.get("binding") {
                None | Some(Value::Null) => {
                    old.map(|o| o["binding"].clone()).filter(Value::is_object).unwrap_or(json!({}))
                }
                Some(Value::Object(b)) if b.is_empty() => json!({}),
                Some(Value::Object(b)) => {
                    match (b.get("namespace").and_then(Value::as_str), b.get("name").and_then(Value::as_str)) {
                        (Some(ns), Some(n)) if valid_name(ns) && valid_name(n) => json!({"namespace": ns, "name": n}),
                        _ => return Err(Invalid("binding must be {namespace, name}".into())),
                    }
                }
                Some(_) => return Err(Invalid("binding must be an object".into())),
            };
            d.insert("binding".into(), binding);
        }
        Kind::Trigger => {
            d.insert("parameters".into(), key_values(body, "parameters", old)?);
            d.insert("limits".into(), json!({}));
            d.insert("rules".into(), old.map(|o| o["rules"].clone()).filter(Value::is_object).unwrap_or(json!({})));
        }
        Kind::Rule => {
            d.insert("trigger".into(), reference(body, "trigger", &name.namespace, old)?);
            d.insert("action".into(), reference(body, "action", &name.namespace, old)?);
        }
    }
    Ok(doc)
}

/// The entity as the API shows it (the document without its storage fields); `code: false` drops
/// an action's code.
pub fn view(doc: &Value, code: bool) -> Value {
    let mut v = doc.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["_id", "_rev", "entityType", "_attachments", "_deleted"] {
            o.remove(k);
        }
        if o.get("trigger").is_some() && o.get("action").is_some() {
            o.entry("status").or_insert(json!("active"));
        }
        if !code {
            if let Some(Value::Object(e)) = o.get_mut("exec") {
                e.remove("code");
            }
        }
    }
    v
}

/// The list summary of an entity (OpenWhisk's `summaryAsJson`).
pub fn summary(doc: &Value) -> Value {
    let mut s = json!({
        "namespace": doc["namespace"],
        "name": doc["name"],
        "version": doc["version"],
        "publish": doc["publish"],
        "annotations": doc["annotations"],
        "updated": doc["updated"],
    });
    match doc["entityType"].as_str() {
        Some("action") => {
            s["exec"] = json!({"binary": doc["exec"]["binary"]});
            s["limits"] = doc["limits"].clone();
        }
        Some("package") => s["binding"] = doc["binding"].clone(),
        Some("rule") => {
            s["trigger"] = doc["trigger"].clone();
            s["action"] = doc["action"].clone();
            s["status"] = json!("active");
        }
        _ => {}
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ids_and_versions() {
        let n = EntityName::parse("cat", Kind::Action, "pkg/hello").unwrap();
        assert_eq!((n.id(), n.path()), ("cat/pkg/hello".into(), "cat/pkg".into()));
        assert!(EntityName::parse("cat", Kind::Trigger, "a/b").is_err());
        assert!(EntityName::parse("cat", Kind::Action, "a/b/c").is_err());
        assert!(EntityName::parse("cat", Kind::Action, " x").is_err());
        assert_eq!(next_version(Some(&json!({"version": "0.0.9"}))), "0.0.10");
        assert_eq!(next_version(None), "0.0.1");
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let n = EntityName::parse("cat", Kind::Action, "a").unwrap();
        let body = json!({"exec": {"kind": "nodejs:20", "code": "x"}, "parameters": [{"key": "k", "value": 1}]});
        let first = build(Kind::Action, &n, &body, None, 1).unwrap();
        let second = build(Kind::Action, &n, &json!({"limits": {"timeout": 5000}}), Some(&first), 2).unwrap();
        assert_eq!(second["exec"]["code"], "x");
        assert_eq!(second["parameters"][0]["key"], "k");
        assert_eq!(
            (second["limits"]["timeout"].clone(), second["limits"]["memory"].clone()),
            (json!(5000), json!(256))
        );
        assert_eq!(second["version"], "0.0.2");
        assert_eq!(build(Kind::Action, &n, &json!({}), None, 1).unwrap_err().0, "exec undefined");
        let r = EntityName::parse("cat", Kind::Rule, "r").unwrap();
        let rule = build(Kind::Rule, &r, &json!({"trigger": "/_/t", "action": "/cat/pkg/a"}), None, 1).unwrap();
        assert_eq!(rule["trigger"], json!({"path": "cat", "name": "t"}));
        assert_eq!(rule["action"], json!({"path": "cat/pkg", "name": "a"}));
    }
}
