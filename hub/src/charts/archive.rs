//! Reads a chart archive (`.tgz`) without extracting it: validates entry paths and takes metadata from `Chart.yaml`.

use std::io::Read;

use flate2::read::GzDecoder;
use serde_json::{Map, Value};

/// Largest total uncompressed size we read (guards against gzip bombs).
const MAX_UNPACKED: u64 = 256 * 1024 * 1024;
/// Largest `Chart.yaml`.
const MAX_CHART_YAML: u64 = 1024 * 1024;

/// Why an archive was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchiveError {
    /// Not gzip data.
    #[error("chart archive is not gzip-compressed (expected a .tgz made by `helm package`)")]
    NotGzip,
    /// Gzip, but not a readable tar archive.
    #[error("chart archive is corrupt: {0}")]
    Corrupt(String),
    /// An entry would land outside the chart folder.
    #[error("chart archive entry {0:?} has an absolute path or '..': refused")]
    UnsafePath(String),
    /// Links are not allowed in chart archives.
    #[error("chart archive entry {0:?} is a link: refused")]
    Link(String),
    /// Files outside a single top-level folder.
    #[error("chart archive must hold exactly one top-level chart folder, found {0}")]
    Layout(String),
    /// No `<chart>/Chart.yaml`.
    #[error("chart archive has no Chart.yaml in its top-level folder")]
    NoChartYaml,
    /// `Chart.yaml` is not valid.
    #[error("Chart.yaml: {0}")]
    BadChartYaml(String),
    /// The folder name differs from the chart name.
    #[error("chart folder {folder:?} does not match the name {name:?} in Chart.yaml")]
    NameMismatch {
        /// Top-level folder.
        folder: String,
        /// `name` in Chart.yaml.
        name: String,
    },
    /// Name or version fails validation.
    #[error("{0}")]
    Invalid(String),
    /// Too large once unpacked.
    #[error("chart archive unpacks to more than {MAX_UNPACKED} bytes")]
    TooBig,
}

/// A chart's identity and its `Chart.yaml` as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartMeta {
    /// Chart name.
    pub name: String,
    /// Semantic version, as written in Chart.yaml.
    pub version: String,
    /// All of Chart.yaml.
    pub metadata: Map<String, Value>,
}

/// Checks a chart name: 1–250 characters of letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<(), ArchiveError> {
    let ok_first = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let ok = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty() || name.len() > 250 || !ok_first || !ok || name.contains("..") {
        return Err(ArchiveError::Invalid(format!("invalid chart name {name:?}")));
    }
    Ok(())
}

/// Checks a chart version is semantic versioning 2.0 (`1.2.3`, `1.2.3-rc.1+build`).
pub fn check_version(version: &str) -> Result<semver::Version, ArchiveError> {
    semver::Version::parse(version)
        .map_err(|e| ArchiveError::Invalid(format!("chart version {version:?} is not a semantic version: {e}")))
}

fn unsafe_path(raw: &[u8]) -> bool {
    let s = String::from_utf8_lossy(raw);
    s.starts_with('/') || s.starts_with('\\') || s.split(['/', '\\']).any(|c| c == "..") || s.contains(':')
}

/// Validates an archive and returns its metadata.
pub fn inspect(bytes: &[u8]) -> Result<ChartMeta, ArchiveError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(ArchiveError::NotGzip);
    }
    let corrupt = |e: std::io::Error| ArchiveError::Corrupt(e.to_string());
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut top: Option<String> = None;
    let mut chart_yaml: Option<Vec<u8>> = None;
    let mut total = 0u64;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        if unsafe_path(&raw) {
            return Err(ArchiveError::UnsafePath(shown));
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(ArchiveError::Link(shown));
        }
        total += entry.size();
        if total > MAX_UNPACKED {
            return Err(ArchiveError::TooBig);
        }
        let trimmed = shown.trim_start_matches("./");
        let (first, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
        if first.is_empty() {
            continue;
        }
        match &top {
            Some(t) if t != first => return Err(ArchiveError::Layout(format!("{t:?} and {first:?}"))),
            Some(_) => {}
            None => top = Some(first.to_string()),
        }
        if rest == "Chart.yaml" && kind.is_file() {
            if entry.size() > MAX_CHART_YAML {
                return Err(ArchiveError::BadChartYaml("larger than 1 MiB".into()));
            }
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(corrupt)?;
            chart_yaml = Some(buf);
        }
    }
    let (Some(folder), Some(yaml)) = (top, chart_yaml) else {
        return Err(ArchiveError::NoChartYaml);
    };
    let value: Value = serde_norway::from_slice(&yaml).map_err(|e| ArchiveError::BadChartYaml(e.to_string()))?;
    let Value::Object(metadata) = value else {
        return Err(ArchiveError::BadChartYaml("must be a YAML mapping".into()));
    };
    let field = |k: &str| match metadata.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) if k == "version" => Ok(n.to_string()),
        _ => Err(ArchiveError::BadChartYaml(format!("field {k:?} is required and must be a string"))),
    };
    let name = field("name")?;
    let version = field("version")?;
    check_name(&name)?;
    check_version(&version)?;
    if folder != name {
        return Err(ArchiveError::NameMismatch { folder, name });
    }
    Ok(ChartMeta { name, version, metadata })
}

#[cfg(test)]
mod tests;
