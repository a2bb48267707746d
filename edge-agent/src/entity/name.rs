//! Entity names and paths as OpenWhisk parses them: `name`, `pkg/name`, `/ns/name`, `/ns/pkg/name`.

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

/// The longest entity name OpenWhisk accepts.
pub const MAX_NAME_LEN: usize = 256;

/// Why a name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// The segment does not match OpenWhisk's entity-name pattern.
    #[error("The name '{0}' is not valid: names start with a letter, digit or underscore, may contain letters, digits, spaces and _ @ . & -, and may not end with a space.")]
    Invalid(String),
    /// The segment is too long.
    #[error("The name is longer than {MAX_NAME_LEN} characters.")]
    TooLong,
    /// A fully qualified name has the wrong number of parts.
    #[error("The fully qualified name '{0}' is not valid.")]
    BadPath(String),
}

fn pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(?:\w|\w[\w@ .&-]*[\w@.&-])$").expect("static regex"))
}

/// Checks one name segment (namespace, package or entity name).
pub fn validate_segment(s: &str) -> Result<(), NameError> {
    if s.chars().count() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if !pattern().is_match(s) {
        return Err(NameError::Invalid(s.to_string()));
    }
    Ok(())
}

/// A fully qualified entity name: namespace, optional package, name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FullName {
    /// Namespace; may be `_` before it is resolved against the caller.
    pub namespace: String,
    /// Package holding the entity, if any.
    pub package: Option<String>,
    /// The entity's own name.
    pub name: String,
}

impl FullName {
    /// Builds a name and validates each segment.
    pub fn new(namespace: &str, package: Option<&str>, name: &str) -> Result<Self, NameError> {
        if namespace != "_" {
            validate_segment(namespace)?;
        }
        if let Some(p) = package {
            validate_segment(p)?;
        }
        validate_segment(name)?;
        Ok(Self { namespace: namespace.into(), package: package.map(String::from), name: name.into() })
    }

    /// Parses `/ns/name`, `/ns/pkg/name`, `pkg/name` or `name`; relative names take `default_ns`.
    pub fn parse(s: &str, default_ns: &str) -> Result<Self, NameError> {
        let bad = || NameError::BadPath(s.to_string());
        if let Some(rest) = s.strip_prefix('/') {
            let parts: Vec<&str> = rest.split('/').collect();
            match parts.as_slice() {
                [ns, name] => Self::new(ns, None, name),
                [ns, pkg, name] => Self::new(ns, Some(pkg), name),
                _ => Err(bad()),
            }
        } else {
            let parts: Vec<&str> = s.split('/').collect();
            match parts.as_slice() {
                [name] => Self::new(default_ns, None, name),
                [pkg, name] => Self::new(default_ns, Some(pkg), name),
                _ => Err(bad()),
            }
        }
    }

    /// Replaces a `_` namespace with the caller's.
    pub fn resolve(mut self, caller_ns: &str) -> Self {
        if self.namespace == "_" {
            self.namespace = caller_ns.to_string();
        }
        self
    }

    /// The entity's path as OpenWhisk stores it: `ns` or `ns/pkg`.
    pub fn path(&self) -> String {
        match &self.package {
            Some(p) => format!("{}/{}", self.namespace, p),
            None => self.namespace.clone(),
        }
    }

    /// The store key: `ns/name` or `ns/pkg/name`.
    pub fn doc_id(&self) -> String {
        format!("{}/{}", self.path(), self.name)
    }

    /// The package as a name of its own (`/ns/pkg`), if any.
    pub fn package_name(&self) -> Option<FullName> {
        self.package.as_ref().map(|p| FullName { namespace: self.namespace.clone(), package: None, name: p.clone() })
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.doc_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_openwhisk_names() {
        for ok in ["a", "hello", "_x", "a b", "my-action.v2", "a@b&c", "x_"] {
            assert!(validate_segment(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        for bad in ["", " a", "a ", "-a", "a/b", "a$b", "ä!"] {
            assert!(validate_segment(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_segment(&"a".repeat(257)), Err(NameError::TooLong));
    }

    #[test]
    fn parses_qualified_and_relative() {
        let n = FullName::parse("/guest/pkg/act", "x").unwrap();
        assert_eq!(n.doc_id(), "guest/pkg/act");
        assert_eq!(n.to_string(), "/guest/pkg/act");
        let n = FullName::parse("pkg/act", "guest").unwrap();
        assert_eq!(n.path(), "guest/pkg");
        let n = FullName::parse("/_/t", "ignored").unwrap().resolve("guest");
        assert_eq!(n.doc_id(), "guest/t");
        assert!(FullName::parse("/a/b/c/d", "x").is_err());
        assert!(FullName::parse("a/b/c", "x").is_err());
    }
}
