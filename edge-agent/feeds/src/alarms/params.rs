//! Parameters of the alarms feeds (OpenWhisk alarms package): parsing, validation against "now",
//! and the persisted record of one trigger's schedule.

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::schedule::{next_fire_after, Schedule};
use crate::{error::FeedError, sink::Retire};

/// Which alarms feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmKind {
    /// `/whisk.system/alarms/alarm`: cron.
    Alarm,
    /// `/whisk.system/alarms/once`: one date.
    Once,
    /// `/whisk.system/alarms/interval`: every N minutes.
    Interval,
}

impl FromStr for AlarmKind {
    type Err = FeedError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "alarm" => Ok(AlarmKind::Alarm),
            "once" => Ok(AlarmKind::Once),
            "interval" => Ok(AlarmKind::Interval),
            _ => Err(FeedError::NotFound(format!("no alarms feed named '{s}'"))),
        }
    }
}

impl AlarmKind {
    /// The parameters this feed keeps (and may UPDATE).
    pub(crate) fn keys(self) -> &'static [&'static str] {
        match self {
            AlarmKind::Alarm => {
                &["cron", "timezone", "trigger_payload", "startDate", "stopDate", "strict", "maxTriggers"]
            }
            AlarmKind::Once => &["date", "trigger_payload", "deleteAfterFire"],
            AlarmKind::Interval => &["minutes", "trigger_payload", "startDate", "stopDate"],
        }
    }
}

/// The persisted schedule of one trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AlarmRecord {
    pub trigger: String,
    pub kind: AlarmKind,
    /// The feed's own parameters as given (only [`AlarmKind::keys`]).
    pub params: Map<String, Value>,
    pub active: bool,
    /// Epoch ms of the last change of `active`.
    pub date_changed: i64,
    /// `{kind: AUTO|MANUAL, message}` when inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Value>,
    /// Epoch ms of the last fire put in the inbox.
    #[serde(default)]
    pub last_fire: Option<i64>,
    #[serde(default)]
    pub fires: u64,
}

/// What a record means once parsed.
pub(crate) struct Parsed {
    pub schedule: Schedule,
    /// The trigger fire body.
    pub payload: Value,
    pub retire: Option<Retire>,
    /// `maxTriggers` (alarm only; none = unlimited).
    pub max_fires: Option<u64>,
}

fn get<'a>(p: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    match p.get(k) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(v) => Some(v),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A date parameter: epoch milliseconds (number or digits) or an ISO-8601 string.
pub(crate) fn parse_date(name: &str, v: &Value) -> Result<DateTime<Utc>, FeedError> {
    let bad = || FeedError::BadRequest(format!("{name} parameter '{}' is not a valid Date", text(v)));
    let ms = match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).ok_or_else(bad)?,
        Value::String(s) => {
            let s = s.trim();
            if let Ok(ms) = s.parse::<i64>() {
                ms
            } else if let Ok(d) = DateTime::parse_from_rfc3339(s) {
                d.timestamp_millis()
            } else if let Ok(d) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
                d.and_utc().timestamp_millis()
            } else if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc().timestamp_millis()
            } else {
                return Err(bad());
            }
        }
        _ => return Err(bad()),
    };
    DateTime::from_timestamp_millis(ms).ok_or_else(bad)
}

fn payload(p: &Map<String, Value>) -> Value {
    match get(p, "trigger_payload") {
        None => json!({}),
        Some(Value::Object(o)) => Value::Object(o.clone()),
        Some(other) => json!({"payload": text(other)}),
    }
}

/// Parses and validates a feed's parameters. Dates named by `fresh` (the ones just given by
/// CREATE or UPDATE) must be after `now`; `now` also finds the first fire to check `stopDate`.
pub(crate) fn parse(
    kind: AlarmKind,
    p: &Map<String, Value>,
    now: DateTime<Utc>,
    fresh: &dyn Fn(&str) -> bool,
) -> Result<Parsed, FeedError> {
    let bad = |m: String| FeedError::BadRequest(m);
    let future = |name: &str, d: DateTime<Utc>, raw: &Value| {
        if fresh(name) && d <= now {
            Err(bad(format!("{name} parameter '{}' must be in the future", text(raw))))
        } else {
            Ok(d)
        }
    };
    let start =
        get(p, "startDate").map(|v| parse_date("startDate", v).and_then(|d| future("startDate", d, v))).transpose()?;
    let stop =
        get(p, "stopDate").map(|v| parse_date("stopDate", v).and_then(|d| future("stopDate", d, v))).transpose()?;
    if let (Some(s), Some(e), Some(raw)) = (start, stop, get(p, "stopDate")) {
        if e <= s {
            return Err(bad(format!("stopDate parameter '{}' must be greater than the startDate", text(raw))));
        }
    }
    let mut retire = None;
    let mut max_fires = None;
    let schedule = match kind {
        AlarmKind::Alarm => {
            let cron = get(p, "cron")
                .map(text)
                .ok_or_else(|| bad("alarms trigger feed is missing the cron parameter".into()))?;
            let tz = match get(p, "timezone") {
                None => Tz::UTC,
                Some(v) => Tz::from_str(&text(v)).map_err(|_| bad("Invalid timezone.".into()))?,
            };
            if let Some(m) = get(p, "maxTriggers") {
                let n = m
                    .as_i64()
                    .or_else(|| text(m).parse().ok())
                    .ok_or_else(|| bad("maxTriggers must be an integer".into()))?;
                if n > 0 && stop.is_some() {
                    return Err(bad("maxTriggers is not allowed when the stopDate parameter is specified".into()));
                }
                max_fires = u64::try_from(n).ok().filter(|n| *n > 0);
            }
            if ["cron", "timezone", "startDate", "stopDate"].iter().any(|k| fresh(k)) {
                let schedule = Schedule::cron(&cron, tz, start, None)?;
                let first = next_fire_after(&schedule, now)
                    .ok_or_else(|| bad(format!("cron pattern '{cron}' is not valid")))?;
                if stop.is_some_and(|e| first >= e) {
                    return Err(bad("the next scheduled trigger fire is not until after the stopDate".into()));
                }
            }
            Schedule::cron(&cron, tz, start, stop)?
        }
        AlarmKind::Once => {
            let raw =
                get(p, "date").ok_or_else(|| bad("alarms once trigger feed is missing the date parameter".into()))?;
            let at = future("date", parse_date("date", raw)?, raw)?;
            retire =
                Some(match get(p, "deleteAfterFire").map(text).as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("false") => Retire::Disable,
                    Some("true") => Retire::Delete,
                    Some("rules") => Retire::DeleteWithRules,
                    Some(other) => {
                        return Err(bad(format!(
                            "deleteAfterFire parameter '{other}' must be one of false, true or rules"
                        )))
                    }
                });
            Schedule::Once { at }
        }
        AlarmKind::Interval => {
            if get(p, "maxTriggers").is_some() {
                return Err(bad("maxTriggers is not supported by the interval feed".into()));
            }
            let raw = get(p, "minutes")
                .ok_or_else(|| bad("interval trigger feed is missing the minutes parameter".into()))?;
            let minutes = raw
                .as_i64()
                .or_else(|| text(raw).trim().parse().ok())
                .filter(|m| *m > 0 && *m <= 60 * 24 * 366)
                .ok_or_else(|| {
                    bad(format!("the minutes parameter '{}' must be an integer greater than 0", text(raw)))
                })?;
            // Without startDate the first fire is 30 s from now, as OpenWhisk does.
            let start = start.unwrap_or(now + Duration::seconds(30));
            Schedule::Interval { start, every: Duration::minutes(minutes), stop }
        }
    };
    Ok(Parsed { schedule, payload: payload(p), retire, max_fires })
}
