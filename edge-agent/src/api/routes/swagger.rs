//! The swagger 2.0 documents of API gateway routes, built and edited as OpenWhisk's route management actions do
//! (`core/routemgmt/common/apigw-utils.js`), and the lookup of the operation a gateway request names.

use serde_json::{json, Map, Value};

/// The verbs a route may have (as `wsk api create` accepts them).
pub const VERBS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];
/// Web action response types a route may use.
pub const RESPONSE_TYPES: [&str; 5] = ["json", "http", "html", "svg", "text"];

/// The web action an operation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Namespace of the action.
    pub namespace: String,
    /// Package, `default` for none.
    pub package: String,
    /// Action name.
    pub action: String,
    /// Response type (the web action extension).
    pub response_type: String,
    /// The `require-whisk-auth` value the gateway presents (`X-Require-Whisk-Auth`), if any.
    pub secure_key: Option<String>,
}

/// `/hello/` → `/hello`, `hello` → `/hello`, `` → `/`.
pub fn normalize_path(p: &str) -> String {
    let t = p.trim().trim_matches('/');
    format!("/{t}")
}

/// OpenWhisk's operation id: the verb, then each word of the path camel-cased (`get` + `/books/{id}` → `getBooksId`).
pub fn operation_id(verb: &str, relpath: &str) -> String {
    let mut out = verb.to_ascii_lowercase();
    for word in relpath.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(&chars.as_str().to_lowercase());
        }
    }
    out
}

/// Names of the `{param}` segments of a path.
pub fn path_params(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// An empty API (`generateBaseSwaggerApi`).
pub fn base(base_path: &str, title: Option<&str>) -> Value {
    json!({
        "swagger": "2.0",
        "info": {"title": title.unwrap_or(base_path), "version": "1.0.0"},
        "basePath": base_path,
        "paths": {},
        "x-ibm-configuration": {"assembly": {}, "cors": {"enabled": true}},
    })
}

/// Adds (or replaces) one operation (`addEndpointToSwaggerApi` and its invocation details).
pub fn add_endpoint(doc: &mut Value, relpath: &str, verb: &str, t: &Target, url: &str, parameters: Option<&Value>) {
    let op = verb.to_ascii_lowercase();
    let id = operation_id(&op, relpath);
    let mut entry = json!({
        "operationId": id,
        "x-openwhisk": {"url": url, "namespace": t.namespace, "package": if t.package == "default" { "" } else { &t.package }, "action": t.action},
        "responses": {"default": {"description": "Default response"}},
    });
    if let Some(p) = parameters {
        entry["parameters"] = p.clone();
    }
    if !doc["paths"].is_object() {
        doc["paths"] = json!({});
    }
    let paths = doc["paths"].as_object_mut().expect("paths is an object");
    let path = paths.entry(relpath.to_string()).or_insert_with(|| json!({}));
    path[op.as_str()] = entry;
    let target_url = if t.response_type == "http" { format!("{url}$(request.path)") } else { url.to_string() };
    let mut execute = vec![json!({"invoke": {"target-url": target_url, "verb": "keep"}})];
    if let Some(k) = &t.secure_key {
        execute
            .push(json!({"set-variable": {"actions": [{"set": "message.headers.X-Require-Whisk-Auth", "value": k}]}}));
    }
    let cases = cases_mut(doc);
    cases.retain(|c| c["operations"][0] != json!(id));
    cases.push(json!({"operations": [id], "execute": execute}));
}

fn cases_mut(doc: &mut Value) -> &mut Vec<Value> {
    let asm = &mut doc["x-ibm-configuration"]["assembly"];
    if !asm["execute"].is_array() {
        *asm = json!({"execute": [{"operation-switch": {"case": []}}]});
    }
    let case = &mut asm["execute"][0]["operation-switch"]["case"];
    if !case.is_array() {
        *case = json!([]);
    }
    case.as_array_mut().expect("case is an array")
}

/// Removes a path, or one operation of it (`removeEndpointFromSwaggerApi`); the message when there is none.
pub fn remove_endpoint(doc: &mut Value, relpath: &str, verb: Option<&str>) -> Result<(), String> {
    let ops: Vec<String> = match doc["paths"].get(relpath).and_then(Value::as_object) {
        None => return Err(format!("path '{relpath}' does not exist in the API")),
        Some(path) => match verb.map(str::to_ascii_lowercase) {
            None => path.keys().cloned().collect(),
            Some(v) if path.contains_key(&v) => vec![v],
            Some(v) => return Err(format!("path '{relpath}' with operation '{v}' does not exist in the API")),
        },
    };
    let paths = doc["paths"].as_object_mut().expect("paths is an object");
    if let Some(path) = paths.get_mut(relpath).and_then(Value::as_object_mut) {
        for op in &ops {
            path.remove(op);
        }
        if path.keys().all(|k| k == "parameters") {
            paths.remove(relpath);
        }
    }
    let ids: Vec<Value> = ops.iter().map(|op| json!(operation_id(op, relpath))).collect();
    if doc["x-ibm-configuration"]["assembly"]["execute"].is_array() {
        cases_mut(doc).retain(|c| !ids.contains(&c["operations"][0]));
    }
    Ok(())
}

/// The checks of `validateFinalSwagger`: no parameters in the base path; a path's parameters declared, and served
/// by a `.http` action.
pub fn validate(doc: &Value) -> Result<(), String> {
    let bp = doc["basePath"].as_str().unwrap_or("/");
    if !path_params(bp).is_empty() {
        return Err(format!(
            "The base path ({bp}) cannot have parameters. Only the relative path supports path parameters."
        ));
    }
    for (path, ops) in doc["paths"].as_object().into_iter().flatten() {
        let names = path_params(path);
        if names.is_empty() {
            continue;
        }
        let shared = ops["parameters"].as_array().cloned().unwrap_or_default();
        for (verb, op) in ops.as_object().into_iter().flatten().filter(|(k, _)| *k != "parameters") {
            if let Some(url) = op["x-openwhisk"]["url"].as_str() {
                if !url.ends_with(".http") {
                    return Err(
                        "The action must use a response type of '.http' in order to receive the path parameters."
                            .into(),
                    );
                }
            }
            let mut declared = shared.clone();
            declared.extend(op["parameters"].as_array().cloned().unwrap_or_default());
            for n in &names {
                if !declared.iter().any(|p| p["name"] == json!(n)) {
                    return Err(format!("The parameter '{n}' defined in path '{path}' does not match any of the parameters defined for the path in the swagger file."));
                }
            }
            let _ = verb;
        }
    }
    Ok(())
}

/// Whether a request path (`/books/42`) matches a route path (`/books/{id}`); literal paths win over templates.
fn path_score(template: &str, path: &str) -> Option<usize> {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    if t.len() != p.len() {
        return None;
    }
    let mut literal = 0;
    for (a, b) in t.iter().zip(&p) {
        if a.starts_with('{') && a.ends_with('}') && a.len() > 2 {
            if b.is_empty() {
                return None;
            }
        } else if a == b {
            literal += 1;
        } else {
            return None;
        }
    }
    Some(literal)
}

/// What a gateway request found: no such path, a path without this verb, or the operation.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// No route has this path.
    NoPath,
    /// The path exists, not with this verb.
    NoVerb,
    /// The operation's target.
    Found(Target),
}

/// The operation of `doc` for `relpath` and `verb`.
pub fn lookup(doc: &Value, relpath: &str, verb: &str, secure_keys: &Map<String, Value>) -> Lookup {
    let relpath = normalize_path(relpath);
    let best = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(tpl, ops)| path_score(&normalize_path(tpl), &relpath).map(|s| (s, tpl, ops)))
        .max_by_key(|(s, _, _)| *s);
    let Some((_, tpl, ops)) = best else { return Lookup::NoPath };
    let Some(op) = ops.get(verb.to_ascii_lowercase().as_str()) else { return Lookup::NoVerb };
    let ow = &op["x-openwhisk"];
    let (Some(ns), Some(action)) = (ow["namespace"].as_str(), ow["action"].as_str()) else { return Lookup::NoVerb };
    let url = ow["url"].as_str().unwrap_or("");
    let response_type = url.rsplit_once('.').map(|(_, e)| e).filter(|e| RESPONSE_TYPES.contains(e)).unwrap_or("json");
    let package = ow["package"].as_str().filter(|p| !p.is_empty()).unwrap_or("default");
    let id = operation_id(verb, tpl);
    Lookup::Found(Target {
        namespace: ns.into(),
        package: package.into(),
        action: action.into(),
        response_type: response_type.into(),
        secure_key: secure_keys.get(&id).and_then(|v| v.as_str()).map(String::from),
    })
}

/// The `X-Require-Whisk-Auth` values the document's invocation details set, by operation id.
pub fn secure_keys(doc: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let cases = doc["x-ibm-configuration"]["assembly"]["execute"][0]["operation-switch"]["case"].as_array();
    for c in cases.into_iter().flatten() {
        let Some(id) = c["operations"][0].as_str() else { continue };
        for step in c["execute"].as_array().into_iter().flatten() {
            for a in step["set-variable"]["actions"].as_array().into_iter().flatten() {
                if a["set"] == json!("message.headers.X-Require-Whisk-Auth") {
                    out.insert(id.to_string(), a["value"].clone());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(rt: &str) -> Target {
        Target {
            namespace: "guest".into(),
            package: "default".into(),
            action: "hi".into(),
            response_type: rt.into(),
            secure_key: Some("k".into()),
        }
    }

    #[test]
    fn operation_ids_follow_openwhisk() {
        assert_eq!(operation_id("GET", "/books/{id}"), "getBooksId");
        assert_eq!(operation_id("post", "/a_b/c-d"), "postA_bC-d");
        assert_eq!(operation_id("get", "/"), "get");
    }

    #[test]
    fn endpoints_are_added_found_and_removed() {
        let mut d = base("/lib", Some("Library"));
        let p = json!([{"name": "id", "in": "path", "required": true, "type": "string"}]);
        add_endpoint(
            &mut d,
            "/books/{id}",
            "GET",
            &target("http"),
            "http://h/api/v1/web/guest/default/hi.http",
            Some(&p),
        );
        add_endpoint(&mut d, "/books/all", "get", &target("json"), "http://h/api/v1/web/guest/default/hi.json", None);
        assert!(validate(&d).is_ok());
        let keys = secure_keys(&d);
        let Lookup::Found(t) = lookup(&d, "/books/42", "GET", &keys) else { panic!() };
        assert_eq!((t.response_type.as_str(), t.secure_key.as_deref()), ("http", Some("k")));
        let Lookup::Found(t) = lookup(&d, "/books/all", "get", &keys) else { panic!() };
        assert_eq!(t.response_type, "json", "a literal path wins over a template");
        assert_eq!(lookup(&d, "/books/42", "post", &keys), Lookup::NoVerb);
        assert_eq!(lookup(&d, "/nothing", "get", &keys), Lookup::NoPath);
        assert!(remove_endpoint(&mut d, "/books/all", Some("post")).is_err());
        remove_endpoint(&mut d, "/books/all", Some("GET")).unwrap();
        assert!(d["paths"].get("/books/all").is_none());
        assert_eq!(secure_keys(&d).len(), 1);
        let mut bad = base("/lib", None);
        add_endpoint(&mut bad, "/books/{id}", "get", &target("json"), "http://h/x.json", Some(&p));
        assert!(validate(&bad).unwrap_err().contains(".http"));
    }
}
