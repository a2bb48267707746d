//! `fogwhisk-hub catalog apply --manifest actions/manifest.yaml`: the site manifest (wskdeploy's format,
//! the subset `fogwhisk-edge deploy` reads) written once into the catalog for every site. Packages,
//! actions (code read from `function`), sequences (components fully qualified), triggers and rules
//! become entity documents in one namespace; an entity already stored as declared is left alone, so
//! applying twice changes nothing. `${VAR}` placeholders stay as written: each site fills them from its
//! own values when it mirrors the catalog. A trigger's `feed` is kept as its `feed` annotation and its
//! inputs as parameters, so each site creates the feed on its own broker or clock.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::doc::{build, EntityName, Kind};
use super::{CatalogError, CatalogStore};

/// Why a manifest was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not YAML, or not the manifest's shape.
    #[error("manifest: {0}")]
    Invalid(String),
    /// A `function` file cannot be read.
    #[error("manifest: cannot read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The catalog refused a write.
    #[error("catalog: {0}")]
    Catalog(#[from] CatalogError),
}

/// What happened to one entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `package`, `action`, `sequence`, `trigger` or `rule`.
    pub kind: &'static str,
    /// Document id.
    pub id: String,
    /// `created`, `updated` or `unchanged`.
    pub outcome: &'static str,
}

fn invalid(m: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(m.into())
}

fn table(v: &Value, key: &str, at: &str) -> Result<Map<String, Value>, ManifestError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(o)) => Ok(o.clone()),
        Some(_) => Err(invalid(format!("{at}.{key} must be a mapping"))),
    }
}

fn key_values(m: &Map<String, Value>) -> Value {
    Value::Array(m.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

fn text<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, ManifestError> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| invalid(format!("{at}.{key} is required")))
}

/// `name` (in the package), `pkg/name` or `/ns/[pkg/]name` as a fully qualified name.
fn qualify(ns: &str, pkg: &str, name: &str) -> String {
    match name.matches('/').count() {
        _ if name.starts_with('/') => name.to_string(),
        0 => format!("/{ns}/{pkg}/{name}"),
        _ => format!("/{ns}/{name}"),
    }
}

/// The entity bodies the manifest declares, in the order they are applied.
pub fn entities(ns: &str, yaml: &str, base: &Path) -> Result<Vec<(Kind, &'static str, String, Value)>, ManifestError> {
    let root: Value = serde_norway::from_str(yaml).map_err(|e| invalid(e.to_string()))?;
    let packages = table(&root, "packages", "manifest")?;
    let (mut pkgs, mut actions, mut triggers, mut rules) = (vec![], vec![], vec![], vec![]);
    for (pname, p) in &packages {
        let at = format!("packages.{pname}");
        let body = json!({"parameters": key_values(&table(p, "inputs", &at)?), "annotations": key_values(&table(p, "annotations", &at)?)});
        pkgs.push((Kind::Package, "package", pname.clone(), body));
        for (aname, a) in table(p, "actions", &at)? {
            let at = format!("{at}.actions.{aname}");
            let file = base.join(text(&a, "function", &at)?);
            let code = std::fs::read_to_string(&file).map_err(|source| ManifestError::Read { path: file, source })?;
            let mut exec = json!({"kind": text(&a, "runtime", &at)?, "code": code});
            if let Some(main) = a.get("main").and_then(Value::as_str) {
                exec["main"] = json!(main);
            }
            let mut limits = Map::new();
            for (k, v) in table(&a, "limits", &at)? {
                let key = match k.as_str() {
                    "memorySize" => "memory",
                    "logSize" => "logs",
                    "timeout" | "concurrency" => k.as_str(),
                    other => return Err(invalid(format!("{at}.limits.{other} is not a limit"))),
                };
                limits.insert(key.into(), v);
            }
            let body = json!({"exec": exec, "limits": limits,
                "parameters": key_values(&table(&a, "inputs", &at)?), "annotations": key_values(&table(&a, "annotations", &at)?)});
            actions.push((Kind::Action, "action", format!("{pname}/{aname}"), body));
        }
        for (sname, s) in table(p, "sequences", &at)? {
            let at = format!("{at}.sequences.{sname}");
            let components: Vec<String> =
                text(&s, "actions", &at)?.split(',').map(|c| qualify(ns, pname, c.trim())).collect();
            let body = json!({"exec": {"kind": "sequence", "components": components},
                "annotations": key_values(&table(&s, "annotations", &at)?)});
            actions.push((Kind::Action, "sequence", format!("{pname}/{sname}"), body));
        }
        for (tname, t) in table(p, "triggers", &at)? {
            let at = format!("{at}.triggers.{tname}");
            let mut annotations = table(&t, "annotations", &at)?;
            if let Some(feed) = t.get("feed") {
                annotations.insert("feed".into(), feed.clone());
            }
            let body =
                json!({"parameters": key_values(&table(&t, "inputs", &at)?), "annotations": key_values(&annotations)});
            triggers.push((Kind::Trigger, "trigger", tname, body));
        }
        for (rname, r) in table(p, "rules", &at)? {
            let at = format!("{at}.rules.{rname}");
            let trigger = format!("/{ns}/{}", text(&r, "trigger", &at)?);
            let body = json!({"trigger": trigger, "action": qualify(ns, pname, text(&r, "action", &at)?)});
            rules.push((Kind::Rule, "rule", rname, body));
        }
    }
    Ok([pkgs, actions, triggers, rules].concat())
}

/// Everything that makes two documents differ for the user (not version, time or revision).
fn essence(doc: &Value) -> Value {
    let mut d = doc.clone();
    if let Some(o) = d.as_object_mut() {
        for k in ["_id", "_rev", "version", "updated"] {
            o.remove(k);
        }
    }
    d
}

/// Applies the manifest `yaml` (its `function` paths relative to `base`) to namespace `ns`.
pub async fn apply(catalog: &impl CatalogStore, ns: &str, yaml: &str, base: &Path) -> Result<Vec<Step>, ManifestError> {
    let declared = entities(ns, yaml, base)?;
    let mut steps = Vec::new();
    for (kind, label, path, body) in declared {
        let name = EntityName::parse(ns, kind, &path).map_err(|e| invalid(e.0))?;
        let id = name.id();
        let old = catalog.get(&id).await?;
        if old.as_ref().is_some_and(|o| o["entityType"] != kind.entity_type()) {
            return Err(invalid(format!("{id} exists as another kind of entity")));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let doc = build(kind, &name, &body, old.as_ref(), now).map_err(|e| invalid(format!("{id}: {}", e.0)))?;
        let outcome = match &old {
            Some(o) if essence(o) == essence(&doc) => "unchanged",
            Some(o) => {
                catalog.put(&id, doc, o["_rev"].as_str()).await?;
                "updated"
            }
            None => {
                catalog.put(&id, doc, None).await?;
                "created"
            }
        };
        steps.push(Step { kind: label, id, outcome });
    }
    Ok(steps)
}
