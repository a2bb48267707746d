//! The runtime kinds this platform supports and their OpenWhisk names.

use std::fmt;
use std::str::FromStr;

use crate::error::RuntimeError;

/// A runtime family and version, as named in an action's `exec.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuntimeKind {
    /// `nodejs:20` (also `nodejs:default`).
    Nodejs20,
    /// `python:3.11` (also `python:default`).
    Python311,
}

const KINDS: &[&str] = &["nodejs:20", "python:3.11"];

/// The kind names accepted by [`RuntimeKind::from_str`] in their canonical spelling.
pub fn supported_kinds() -> &'static [&'static str] {
    KINDS
}

impl RuntimeKind {
    /// Every supported kind.
    pub fn all() -> &'static [RuntimeKind] {
        &[RuntimeKind::Nodejs20, RuntimeKind::Python311]
    }

    /// The canonical OpenWhisk name, e.g. `nodejs:20`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuntimeKind::Nodejs20 => "nodejs:20",
            RuntimeKind::Python311 => "python:3.11",
        }
    }

    /// The file name of the embedded runner program.
    pub(crate) fn runner_file(self) -> &'static str {
        match self {
            RuntimeKind::Nodejs20 => "runner.js",
            RuntimeKind::Python311 => "runner.py",
        }
    }
}

impl fmt::Display for RuntimeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RuntimeKind {
    type Err = RuntimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "nodejs:20" | "nodejs:default" => Ok(RuntimeKind::Nodejs20),
            "python:3.11" | "python:default" => Ok(RuntimeKind::Python311),
            other => Err(RuntimeError::UnsupportedKind { kind: other.to_string(), valid: KINDS.join(", ") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_and_default_names() {
        assert_eq!("nodejs:20".parse::<RuntimeKind>().unwrap(), RuntimeKind::Nodejs20);
        assert_eq!("nodejs:default".parse::<RuntimeKind>().unwrap(), RuntimeKind::Nodejs20);
        assert_eq!("python:default".parse::<RuntimeKind>().unwrap(), RuntimeKind::Python311);
        assert_eq!(RuntimeKind::Python311.to_string(), "python:3.11");
        for k in RuntimeKind::all() {
            assert_eq!(k.to_string().parse::<RuntimeKind>().unwrap(), *k);
        }
    }

    #[test]
    fn rejects_unknown_kind_with_valid_list() {
        let err = "java:8".parse::<RuntimeKind>().unwrap_err().to_string();
        assert!(err.contains("'java:8'"), "{err}");
        assert!(err.contains("nodejs:20, python:3.11"), "{err}");
    }
}
