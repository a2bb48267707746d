//! The system packages every site has from its first start, shared with all namespaces: `utils` (Node.js),
//! and the built-in `mqtt`, `alarms` and `federation` packages.

use serde_json::json;

use crate::entity::common::{bump_patch, now_ms, FIRST_VERSION};
use crate::entity::{Action, Entity, Exec, KeyVal, Limits, Package};
use crate::identity::SYSTEM_NAMESPACE;
use crate::store::{Store, StoreError};

/// The `utils` actions: name, description, Node.js source.
const UTILS: [(&str, &str, &str); 6] = [
    ("echo", "Returns the input arguments, unchanged", include_str!("../system/utils/echo.js")),
    ("cat", "Concatenates input into a string", include_str!("../system/utils/cat.js")),
    ("sort", "Sorts an array", include_str!("../system/utils/sort.js")),
    ("head", "Extract prefix of an array", include_str!("../system/utils/head.js")),
    ("split", "Split a string into an array", include_str!("../system/utils/split.js")),
    ("date", "Current date and time", include_str!("../system/utils/date.js")),
];

/// A built-in action: name, description, whether it is a feed.
type BuiltinAction = (&'static str, &'static str, bool);

/// Built-in packages: package, description, and actions.
const BUILTINS: [(&str, &str, &[BuiltinAction]); 3] = [
    (
        "mqtt",
        "MQTT feed: fires a trigger for every message on a topic",
        &[("mqtt_feed", "Subscribe a trigger to an MQTT topic", true)],
    ),
    (
        "alarms",
        "Alarms and periodic utility",
        &[
            ("alarm", "Fire trigger when alarm occurs (cron)", true),
            ("once", "Fire trigger once when alarm occurs", true),
            ("interval", "Fire trigger at specified interval", true),
        ],
    ),
    (
        "federation",
        "Delivery of daily aggregates to the hub",
        &[("push", "Queue aggregate records for the hub", false)],
    ),
];

fn desc(text: &str) -> Vec<KeyVal> {
    vec![KeyVal::new("description", json!(text))]
}

fn package(name: &str, description: &str) -> Package {
    Package {
        namespace: SYSTEM_NAMESPACE.into(),
        name: name.into(),
        version: FIRST_VERSION.into(),
        publish: true,
        parameters: vec![],
        annotations: desc(description),
        binding: None,
        updated: now_ms(),
    }
}

/// Writes the system packages, updating an action whose code changed; leaves them alone otherwise.
pub fn install(store: &Store) -> Result<(), StoreError> {
    store.write(|tx| {
        let pkg_id = format!("{SYSTEM_NAMESPACE}/utils");
        if tx.get(&pkg_id)?.is_none() {
            tx.put(&pkg_id, &Entity::Package(package("utils", "Building blocks that format and assemble data")))?;
        }
        for (pkg, pdesc, actions) in BUILTINS {
            let pid = format!("{SYSTEM_NAMESPACE}/{pkg}");
            if tx.get(&pid)?.is_none() {
                tx.put(&pid, &Entity::Package(package(pkg, pdesc)))?;
            }
            for (name, adesc, feed) in actions {
                let id = format!("{pid}/{name}");
                if tx.get(&id)?.is_some() {
                    continue;
                }
                let mut annotations = desc(adesc);
                if *feed {
                    annotations.push(KeyVal::new("feed", json!(true)));
                }
                annotations.push(KeyVal::new("exec", json!(crate::builtin::BUILTIN_KIND)));
                annotations.push(KeyVal::new("provide-api-key", json!(false)));
                let a = Action {
                    namespace: pid.clone(),
                    name: (*name).into(),
                    version: FIRST_VERSION.into(),
                    publish: false,
                    exec: Exec {
                        kind: crate::builtin::BUILTIN_KIND.into(),
                        main: Some((*name).into()),
                        ..Default::default()
                    },
                    parameters: vec![],
                    limits: Limits::default(),
                    annotations,
                    updated: now_ms(),
                };
                tx.put(&id, &Entity::Action(a))?;
            }
        }
        for (name, description, code) in UTILS {
            let id = format!("{pkg_id}/{name}");
            let old = match tx.get(&id)? {
                Some(Entity::Action(a)) => Some(a),
                _ => None,
            };
            if old.as_ref().is_some_and(|a| a.exec.code.as_deref() == Some(code)) {
                continue;
            }
            let mut annotations = desc(description);
            annotations.push(KeyVal::new("exec", json!("nodejs:20")));
            annotations.push(KeyVal::new("provide-api-key", json!(false)));
            let a = Action {
                namespace: pkg_id.clone(),
                name: name.into(),
                version: old.map(|o| bump_patch(&o.version)).unwrap_or_else(|| FIRST_VERSION.into()),
                publish: false,
                exec: Exec {
                    kind: "nodejs:20".into(),
                    code: Some(code.into()),
                    binary: Some(false),
                    ..Default::default()
                },
                parameters: vec![],
                limits: Limits::default(),
                annotations,
                updated: now_ms(),
            };
            tx.put(&id, &Entity::Action(a))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_once_and_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        install(&store).unwrap();
        install(&store).unwrap();
        let all = store.list("whisk.system/").unwrap();
        assert_eq!(all.len(), 7 + 3 + 5);
        match store.get("whisk.system/utils/echo").unwrap() {
            Some(Entity::Action(a)) => assert_eq!(a.version, "0.0.1"),
            other => panic!("echo missing: {other:?}"),
        }
    }
}
