//! Turns an ingest body into validated records, or into precise errors naming each bad record and field.

use std::collections::HashMap;

use fogwhisk_wire::{AggregateBatch, AggregateRecord};
use serde_json::{Map, Value};

use crate::domain::parse_tz;

/// One problem with one record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// Index of the record in `records`.
    pub index: usize,
    /// Field name (empty when the record as a whole is wrong).
    pub field: String,
    /// Stable reason code, used as a metrics label.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "records[{}]: {}", self.index, self.message)
        } else {
            write!(f, "records[{}].{}: {}", self.index, self.field, self.message)
        }
    }
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// The body is not JSON (this includes numbers outside the f64 range).
    #[error("body is not valid JSON: {0}")]
    Malformed(String),
    /// The body is JSON but not `{"records": [...]}`.
    #[error("{0}")]
    Shape(String),
    /// More records than allowed.
    #[error("batch has {count} records; at most {max} are accepted per request")]
    TooMany {
        /// Records sent.
        count: usize,
        /// Configured maximum.
        max: usize,
    },
    /// Some records are invalid; nothing of the batch is stored.
    #[error("{} invalid record(s), nothing stored: {}", .0.len(), summarize(.0))]
    Records(Vec<RecordError>),
}

fn summarize(errors: &[RecordError]) -> String {
    let mut parts: Vec<String> = errors.iter().take(20).map(ToString::to_string).collect();
    if errors.len() > 20 {
        parts.push(format!("and {} more", errors.len() - 20));
    }
    parts.join("; ")
}

const FIELDS: [&str; 9] = ["datacenter_id", "metric", "day", "tz", "count", "min", "max", "mean", "median"];

/// Parses and validates a batch for a site whose time zone is `site_tz`.
///
/// Well-typed bodies take a fast path (serde straight into the wire types); anything else is
/// re-read as generic JSON so every type error can be reported with its record and field.
pub fn parse_batch(body: &[u8], site_tz: &str, max_records: usize) -> Result<Vec<AggregateRecord>, BatchError> {
    if let Ok(batch) = serde_json::from_slice::<AggregateBatch>(body) {
        if batch.records.len() > max_records {
            return Err(BatchError::TooMany { count: batch.records.len(), max: max_records });
        }
        let errors: Vec<RecordError> =
            batch.records.iter().enumerate().flat_map(|(i, r)| semantic(i, r, site_tz)).collect();
        return finish(batch.records, errors);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| BatchError::Malformed(e.to_string()))?;
    let Value::Object(mut top) = value else {
        return Err(BatchError::Shape(r#"body must be a JSON object {"records": [...]}"#.into()));
    };
    if let Some(k) = top.keys().find(|k| k.as_str() != "records") {
        return Err(BatchError::Shape(format!("unknown field {k:?} in batch (only \"records\" is allowed)")));
    }
    let Some(Value::Array(items)) = top.remove("records") else {
        return Err(BatchError::Shape("field \"records\" must be present and be an array".into()));
    };
    if items.len() > max_records {
        return Err(BatchError::TooMany { count: items.len(), max: max_records });
    }
    let mut errors = Vec::new();
    let mut records = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match typed(index, item) {
            Ok(r) => {
                errors.extend(semantic(index, &r, site_tz));
                records.push(r);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    finish(records, errors)
}

/// Adds duplicate-key errors and returns the records when nothing is wrong.
fn finish(records: Vec<AggregateRecord>, mut errors: Vec<RecordError>) -> Result<Vec<AggregateRecord>, BatchError> {
    let mut seen: HashMap<(u32, &str, &str), usize> = HashMap::with_capacity(records.len());
    for (index, r) in records.iter().enumerate() {
        if let Some(first) = seen.insert((r.datacenter_id, &r.metric, &r.day), index) {
            errors.push(err(
                index,
                "",
                "duplicate_key",
                format!("same datacenter_id, metric and day as records[{first}]"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(records)
    } else {
        errors.sort_by_key(|e| e.index);
        Err(BatchError::Records(errors))
    }
}

fn err(index: usize, field: &str, reason: &'static str, message: impl Into<String>) -> RecordError {
    RecordError { index, field: field.to_string(), reason, message: message.into() }
}

fn type_name(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Field readers that record an error and return `None` on failure.
struct Fields<'a> {
    index: usize,
    obj: &'a Map<String, Value>,
    errors: Vec<RecordError>,
}

impl<'a> Fields<'a> {
    fn get(&mut self, field: &str) -> Option<&'a Value> {
        let obj: &'a Map<String, Value> = self.obj;
        let v = obj.get(field);
        if v.is_none() {
            self.errors.push(err(self.index, field, "missing_field", "is required"));
        }
        v
    }

    fn string(&mut self, field: &str) -> Option<String> {
        let index = self.index;
        match self.get(field)? {
            Value::String(s) => Some(s.clone()),
            other => {
                let m = format!("must be a string, got {}", type_name(other));
                self.errors.push(err(index, field, "wrong_type", m));
                None
            }
        }
    }

    fn uint(&mut self, field: &str, max: u64) -> Option<u64> {
        let index = self.index;
        let v = self.get(field)?;
        match v.as_u64().filter(|n| *n <= max) {
            Some(n) => Some(n),
            None => {
                let m = format!("must be an integer from 0 to {max}, got {}", type_name(v));
                self.errors.push(err(index, field, "wrong_type", m));
                None
            }
        }
    }

    fn float(&mut self, field: &str) -> Option<f64> {
        let index = self.index;
        let v = self.get(field)?;
        match v {
            Value::Number(n) => match n.as_f64().filter(|f| f.is_finite()) {
                Some(f) => Some(f),
                None => {
                    self.errors.push(err(index, field, "not_finite", format!("must be a finite number, got {n}")));
                    None
                }
            },
            other => {
                let (reason, m) = match other.as_str().map(str::to_ascii_lowercase) {
                    Some(s)
                        if ["nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"]
                            .contains(&s.as_str()) =>
                    {
                        ("not_finite", format!("must be a finite number, got {}", type_name(other)))
                    }
                    _ => ("wrong_type", format!("must be a number, got {}", type_name(other))),
                };
                self.errors.push(err(index, field, reason, m));
                None
            }
        }
    }
}

/// Reads one record's fields, reporting missing, unknown and wrongly typed ones.
fn typed(index: usize, item: &Value) -> Result<AggregateRecord, Vec<RecordError>> {
    let Value::Object(obj) = item else {
        return Err(vec![err(index, "", "wrong_type", format!("must be a JSON object, got {}", type_name(item)))]);
    };
    let mut f = Fields { index, obj, errors: Vec::new() };
    for k in obj.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        f.errors.push(err(index, k, "unknown_field", "is not a field of an aggregate record"));
    }
    let datacenter_id = f.uint("datacenter_id", u64::from(u32::MAX));
    let metric = f.string("metric");
    let day = f.string("day");
    let tz = f.string("tz");
    let count = f.uint("count", u64::MAX);
    let (min, max, mean, median) = (f.float("min"), f.float("max"), f.float("mean"), f.float("median"));
    match (datacenter_id, metric, day, tz, count, min, max, mean, median) {
        (Some(dc), Some(metric), Some(day), Some(tz), Some(count), Some(min), Some(max), Some(mean), Some(median))
            if f.errors.is_empty() =>
        {
            Ok(AggregateRecord { datacenter_id: dc as u32, metric, day, tz, count, min, max, mean, median })
        }
        _ => Err(f.errors),
    }
}

/// Checks one well-typed record's values: the shared rules of [`fogwhisk_wire::validate`], then the
/// site's own (the zone must exist and be the site's).
fn semantic(index: usize, r: &AggregateRecord, site_tz: &str) -> Vec<RecordError> {
    let mut errors: Vec<RecordError> =
        r.problems().into_iter().map(|p| err(index, p.field, p.reason, p.message)).collect();
    if r.tz != site_tz && !errors.iter().any(|e| e.field == "tz") {
        match parse_tz(&r.tz) {
            Err(e) => errors.push(err(index, "tz", "invalid_tz", e.0)),
            Ok(z) => errors.push(err(
                index,
                "tz",
                "tz_mismatch",
                format!("{:?} differs from the site's time zone {site_tz:?}", z.name()),
            )),
        }
    }
    errors
}

#[cfg(test)]
mod tests;
