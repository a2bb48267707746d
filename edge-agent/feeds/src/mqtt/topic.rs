//! MQTT topic filters: validation, matching a topic name, and merging the filters of several
//! triggers into a set of non-overlapping filters to subscribe on the wire (so a broker that sends
//! one copy per matching subscription can never make a trigger fire twice).

use std::collections::BTreeMap;

use crate::error::FeedError;

/// A valid MQTT topic filter (`+` and `#` wildcards).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicFilter(String);

impl TopicFilter {
    /// Checks the MQTT 3.1.1 rules: non-empty, no NUL, at most 65535 bytes, `+` and `#` only as a
    /// whole level, `#` only last.
    pub fn parse(s: &str) -> Result<TopicFilter, FeedError> {
        let bad = |why: &str| FeedError::BadRequest(format!("topic '{s}' is not a valid MQTT topic filter: {why}"));
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.len() > 65535 {
            return Err(bad("it is longer than 65535 bytes"));
        }
        if s.contains('\0') {
            return Err(bad("it contains a NUL character"));
        }
        let levels: Vec<&str> = s.split('/').collect();
        for (i, level) in levels.iter().enumerate() {
            if level.contains('#') && (*level != "#" || i != levels.len() - 1) {
                return Err(bad("'#' must be a whole level and the last one"));
            }
            if level.contains('+') && *level != "+" {
                return Err(bad("'+' must be a whole level"));
            }
        }
        Ok(TopicFilter(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn levels(&self) -> Vec<&str> {
        self.0.split('/').collect()
    }

    /// Whether a topic name matches this filter (wildcards do not match topics starting with `$`
    /// at the first level, as the MQTT specification says).
    pub fn matches(&self, topic: &str) -> bool {
        let f = self.levels();
        if topic.starts_with('$') && matches!(f[0], "+" | "#") {
            return false;
        }
        let t: Vec<&str> = topic.split('/').collect();
        for (i, fl) in f.iter().enumerate() {
            match *fl {
                "#" => return true,
                "+" => {
                    if i >= t.len() {
                        return false;
                    }
                }
                lit => {
                    if t.get(i) != Some(&lit) {
                        return false;
                    }
                }
            }
        }
        // "a/#" also matches "a": handled above only when a level exists; check the parent case.
        f.len() == t.len() || (f.len() == t.len() + 1 && f.last() == Some(&"#"))
    }

    /// Whether every topic matched by `other` is also matched by `self`.
    pub fn covers(&self, other: &TopicFilter) -> bool {
        let (a, b) = (self.levels(), other.levels());
        for (i, al) in a.iter().enumerate() {
            match (*al, b.get(i).copied()) {
                ("#", _) => return true,
                (_, None) => return false,
                (_, Some("#")) => return false,
                ("+", Some(_)) => {}
                (lit, Some(bl)) if lit == bl => {}
                _ => return false,
            }
        }
        // `a` exhausted: covers only if `b` has the same length ("a/#" in b matches "a" which a="a" matches,
        // but also "a/x" which it does not).
        a.len() == b.len()
    }

    /// Whether some topic is matched by both filters.
    pub fn overlaps(&self, other: &TopicFilter) -> bool {
        let (a, b) = (self.levels(), other.levels());
        let n = a.len().max(b.len());
        for i in 0..n {
            match (a.get(i).copied(), b.get(i).copied()) {
                (Some("#"), _) | (_, Some("#")) => return true,
                (None, _) | (_, None) => return false,
                (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
                (Some(x), Some(y)) if x == y => {}
                _ => return false,
            }
        }
        true
    }

    /// The narrowest filter of the form `<common literal prefix>/#` covering both.
    fn generalize(&self, other: &TopicFilter) -> TopicFilter {
        if self.covers(other) {
            return self.clone();
        }
        if other.covers(self) {
            return other.clone();
        }
        let (a, b) = (self.levels(), other.levels());
        let mut prefix = Vec::new();
        for (x, y) in a.iter().zip(b.iter()) {
            if x == y && *x != "#" {
                prefix.push(*x);
            } else {
                break;
            }
        }
        prefix.push("#");
        TopicFilter(prefix.join("/"))
    }
}

impl std::fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Merges the triggers' filters (with their QoS) into pairwise non-overlapping wire filters that
/// together cover all of them; each wire filter gets the highest QoS of what it covers.
pub fn wire_filters(filters: &[(TopicFilter, u8)]) -> BTreeMap<TopicFilter, u8> {
    let mut wire: Vec<(TopicFilter, u8)> = Vec::new();
    for (f, q) in filters {
        wire.push((f.clone(), *q));
        // Merge until no two filters overlap; each merge shrinks the set, so this terminates.
        'outer: loop {
            for i in 0..wire.len() {
                for j in (i + 1)..wire.len() {
                    if wire[i].0 == wire[j].0 || wire[i].0.overlaps(&wire[j].0) {
                        let merged = wire[i].0.generalize(&wire[j].0);
                        let qos = wire[i].1.max(wire[j].1);
                        wire.remove(j);
                        wire[i] = (merged, qos);
                        continue 'outer;
                    }
                }
            }
            break;
        }
    }
    wire.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> TopicFilter {
        TopicFilter::parse(s).unwrap()
    }

    #[test]
    fn validation() {
        for ok in ["a", "a/b", "+", "#", "a/+/c", "a/#", "/", "+/+", "sport/tennis/#"] {
            assert!(TopicFilter::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a#", "a/#/b", "a+/b", "a/b+", "#/a", "a\0b"] {
            assert!(TopicFilter::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn matching() {
        assert!(f("a/b").matches("a/b"));
        assert!(!f("a/b").matches("a/b/c"));
        assert!(f("a/+").matches("a/x"));
        assert!(!f("a/+").matches("a"));
        assert!(!f("a/+").matches("a/x/y"));
        assert!(f("a/#").matches("a"));
        assert!(f("a/#").matches("a/x/y"));
        assert!(f("#").matches("x"));
        assert!(!f("#").matches("$SYS/x"));
        assert!(!f("+/x").matches("$SYS/x"));
        assert!(f("$SYS/#").matches("$SYS/x"));
        assert!(f("telemetry/+/+").matches("telemetry/7/9A3F21"));
        assert!(f("+/+").matches("/x"));
    }

    #[test]
    fn covering_and_overlap() {
        assert!(f("a/#").covers(&f("a/b/c")));
        assert!(f("a/#").covers(&f("a/+")));
        assert!(f("a/+").covers(&f("a/b")));
        assert!(!f("a/+").covers(&f("a/#")));
        assert!(!f("a/b").covers(&f("a/+")));
        assert!(f("a/+/c").overlaps(&f("a/b/#")));
        assert!(!f("a/+/c").overlaps(&f("a/b/d")));
        assert!(!f("a/b").overlaps(&f("a/b/c")));
        assert!(f("a/#").overlaps(&f("a")));
    }

    #[test]
    fn wire_filters_never_overlap_and_cover_all() {
        let input = vec![(f("a/+/c"), 0), (f("a/b/#"), 1), (f("x/y"), 0), (f("x/y"), 1), (f("z/+"), 0), (f("z/q"), 0)];
        let wire = wire_filters(&input);
        let keys: Vec<&TopicFilter> = wire.keys().collect();
        for i in 0..keys.len() {
            for j in (i + 1)..keys.len() {
                assert!(!keys[i].overlaps(keys[j]), "{} overlaps {}", keys[i], keys[j]);
            }
        }
        for (fl, q) in &input {
            let (_, wq) = wire.iter().find(|(w, _)| w.covers(fl)).expect("covered");
            assert!(*wq >= *q);
        }
        assert_eq!(wire.get(&f("a/#")), Some(&1));
        assert_eq!(wire.get(&f("x/y")), Some(&1));
        assert_eq!(wire.get(&f("z/+")), Some(&0));
        assert_eq!(wire.len(), 3);
    }
}
