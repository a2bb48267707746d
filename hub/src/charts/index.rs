//! Builds `index.yaml` and the JSON listings from the stored entries, versions newest first.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Groups entries by name, each list sorted newest semantic version first.
pub fn by_name(entries: Vec<(String, String, Value)>) -> BTreeMap<String, Vec<Value>> {
    let mut map: BTreeMap<String, Vec<(semver::Version, Value)>> = BTreeMap::new();
    for (name, version, entry) in entries {
        let v = semver::Version::parse(&version).unwrap_or_else(|_| semver::Version::new(0, 0, 0));
        map.entry(name).or_default().push((v, entry));
    }
    map.into_iter()
        .map(|(name, mut list)| {
            list.sort_by(|a, b| b.0.cmp(&a.0));
            (name, list.into_iter().map(|(_, e)| e).collect())
        })
        .collect()
}

/// The repository index as YAML (Helm's `index.yaml` format).
pub fn index_yaml(entries: Vec<(String, String, Value)>) -> String {
    let doc = json!({
        "apiVersion": "v1",
        "entries": by_name(entries),
        "generated": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "serverInfo": {},
    });
    serde_norway::to_string(&doc).unwrap_or_else(|_| "apiVersion: v1\nentries: {}\n".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_version_first() {
        let e = |v: &str| ("edge".to_string(), v.to_string(), json!({ "version": v }));
        let grouped = by_name(vec![e("0.9.0"), e("0.10.0"), e("0.10.0-rc.1"), e("0.2.0")]);
        let versions: Vec<&str> = grouped["edge"].iter().map(|x| x["version"].as_str().unwrap()).collect();
        assert_eq!(versions, ["0.10.0", "0.10.0-rc.1", "0.9.0", "0.2.0"]);
        let yaml = index_yaml(vec![e("1.0.0")]);
        assert!(yaml.contains("apiVersion: v1") && yaml.contains("edge:"), "{yaml}");
    }
}
