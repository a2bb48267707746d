//! Wire types both Fogwhisk services speak: aggregate records and the hub API bodies.
//!
//! The edge agent serializes these when it pushes daily aggregates; the hub
//! deserializes (and validates) them. Keep this crate small: serde only.

pub mod hub;
pub mod validate;

use serde::{Deserialize, Serialize};

/// One day of statistics for one metric of one datacenter, as computed at a site.
///
/// The hub keys records by (site, `datacenter_id`, `metric`, `day`): sending the
/// same key again replaces the stored record, so retries never duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateRecord {
    /// Datacenter the readings came from (the sensor's `datacenter_id`).
    pub datacenter_id: u32,
    /// Metric name, e.g. `temperature`, `humidity`, `gas_perc`.
    pub metric: String,
    /// Calendar day in the site's time zone, `YYYY-MM-DD`.
    pub day: String,
    /// IANA time zone the day was computed in (must be the site's zone).
    pub tz: String,
    /// Number of readings; never 0.
    pub count: u64,
    /// Smallest reading of the day.
    pub min: f64,
    /// Largest reading of the day.
    pub max: f64,
    /// Arithmetic mean of the readings; within `[min, max]`.
    pub mean: f64,
    /// Median of the readings; within `[min, max]`.
    pub median: f64,
}

/// The body of `POST /api/v1/sites/{site}/aggregates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AggregateBatch {
    /// Records to store; the whole batch is accepted or rejected as one.
    pub records: Vec<AggregateRecord>,
}

/// The hub's answer to an accepted batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Records stored (new or replaced) by this request.
    pub accepted: usize,
    /// Of those, how many replaced a record already stored under the same key.
    pub replaced: usize,
    /// When the hub stored the batch (RFC 3339, UTC); the site's last report time.
    pub received_at: String,
}

/// Error body of every hub (and edge agent) API error, OpenWhisk's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable message saying what was wrong, and where.
    pub error: String,
    /// Stable machine-readable code, e.g. `invalid_record`, `unauthorized`.
    pub code: String,
}

/// One refused record in the hub's 400 `invalid_record` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedRecord {
    /// Position of the record in the batch's `records`.
    pub index: usize,
    /// Field at fault (empty when the record as a whole is wrong).
    #[serde(default)]
    pub field: String,
    /// Stable reason code, e.g. `min_gt_max`, `tz_mismatch`.
    pub reason: String,
    /// What is wrong.
    pub message: String,
}

/// The hub's answer to a batch with invalid records (400, `code` = `invalid_record`): [`ErrorBody`]'s
/// two fields plus every refused record by index, so a site can set exactly those aside.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusedBatch {
    /// Human-readable summary.
    pub error: String,
    /// `invalid_record`.
    pub code: String,
    /// The refused records, by index, in order (one entry per problem: an index may repeat).
    #[serde(default)]
    pub records: Vec<RefusedRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_rejects_unknown_fields() {
        let json = r#"{"datacenter_id":7,"metric":"temperature","day":"2026-11-23",
            "tz":"Europe/Rome","count":96,"min":18.5,"max":23.0,"mean":21.2,"median":21.0}"#;
        let rec: AggregateRecord = serde_json::from_str(json).unwrap();
        assert_eq!(rec.datacenter_id, 7);
        assert_eq!(rec.count, 96);
        let back = serde_json::to_value(&rec).unwrap();
        assert_eq!(back["day"], "2026-11-23");
        let extra = json.replace("\"count\"", "\"colour\":1,\"count\"");
        assert!(serde_json::from_str::<AggregateRecord>(&extra).is_err());
    }

    #[test]
    fn error_body_shape() {
        let body = ErrorBody { error: "bad".into(), code: "invalid_record".into() };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"error":"bad","code":"invalid_record"}"#);
    }
}
