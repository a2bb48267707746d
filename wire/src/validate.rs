//! The one definition of a valid [`AggregateRecord`], used by the edge agent when an action pushes
//! (the reason goes back to the caller) and by the hub at ingest (the reason goes into its 400).
//!
//! Rules (each problem names its field and a stable reason code):
//! - `datacenter_id`: any `u32` (the type already bounds it).
//! - `metric`: 1–64 ASCII letters, digits, `_`, `-`, `.`, starting with a letter or `_`
//!   (safe as an InfluxDB tag value without escaping).
//! - `day`: an existing calendar day written exactly `YYYY-MM-DD`, from [`FIRST_DAY`] up to
//!   tomorrow in UTC (the latest local day anywhere on Earth; a complete day is never later).
//! - `tz`: 1–64 characters of an IANA name's alphabet (`A-Za-z0-9/_+-`); whether the zone exists
//!   and is the site's is checked by whoever knows the site (the hub, the agent's settings).
//! - `count`: from 1 to `i64::MAX`, so InfluxDB line protocol carries it as an integer field.
//! - `min`, `max`, `mean`, `median`: finite; `min <= max`; `mean` and `median` within `[min, max]`.
//!
//! The crate stays dependency-free: days are computed with the civil-calendar algorithm below.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::AggregateRecord;

/// Earliest day accepted.
pub const FIRST_DAY: &str = "2000-01-01";
/// Largest `count` accepted (InfluxDB integer fields are signed 64-bit).
pub const MAX_COUNT: u64 = i64::MAX as u64;
/// Longest metric name.
pub const MAX_METRIC_LEN: usize = 64;
/// Longest time zone name.
pub const MAX_TZ_LEN: usize = 64;

/// One thing wrong with one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field at fault (`""` when it is the record as a whole).
    pub field: &'static str,
    /// Stable reason code (also a metrics label at the hub), e.g. `min_gt_max`.
    pub reason: &'static str,
    /// What is wrong, for people.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

fn problem(field: &'static str, reason: &'static str, message: impl Into<String>) -> Problem {
    Problem { field, reason, message: message.into() }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Parses a day written exactly `YYYY-MM-DD` that exists; returns days since 1970-01-01.
pub fn parse_day(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let (y, m, d) = (i64::from(digits(0..4)?), digits(5..7)?, digits(8..10)?);
    let month_len = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => return None,
    };
    (d >= 1 && d <= month_len).then(|| days_from_civil(y, m, d))
}

/// Today in UTC, as days since 1970-01-01.
pub fn utc_today() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    secs.div_euclid(86_400)
}

/// Checks a metric name (see the module rules).
pub fn check_metric(s: &str) -> Result<(), String> {
    let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if s.is_empty() || s.len() > MAX_METRIC_LEN || !ok_first || !ok_rest {
        return Err(format!(
            "invalid metric name {s:?}: use 1-{MAX_METRIC_LEN} letters, digits, '_', '-' or '.', starting with a letter or '_'"
        ));
    }
    Ok(())
}

impl AggregateRecord {
    /// Every problem of this record, judged on UTC day `today` (days since 1970-01-01); empty when valid.
    pub fn problems_on(&self, today: i64) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Err(m) = check_metric(&self.metric) {
            out.push(problem("metric", "invalid_metric", m));
        }
        match parse_day(&self.day) {
            None => out.push(problem(
                "day",
                "invalid_day",
                format!("{:?} is not an existing day written as YYYY-MM-DD", self.day),
            )),
            Some(d) if d < parse_day(FIRST_DAY).unwrap_or(0) => {
                out.push(problem("day", "day_out_of_range", format!("{} is before {FIRST_DAY}", self.day)))
            }
            Some(d) if d > today + 1 => out.push(problem(
                "day",
                "day_out_of_range",
                format!("{} is in the future (later than tomorrow, UTC)", self.day),
            )),
            Some(_) => {}
        }
        let tz_ok = self.tz.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'));
        if self.tz.is_empty() || self.tz.len() > MAX_TZ_LEN || !tz_ok {
            out.push(problem(
                "tz",
                "invalid_tz",
                format!("{:?} is not an IANA time zone name (e.g. Europe/Rome)", self.tz),
            ));
        }
        if self.count == 0 {
            out.push(problem("count", "zero_count", "must be at least 1"));
        } else if self.count > MAX_COUNT {
            out.push(problem(
                "count",
                "count_too_large",
                format!("must be at most {MAX_COUNT} (an InfluxDB integer), got {}", self.count),
            ));
        }
        let mut finite = true;
        for (name, v) in [("min", self.min), ("max", self.max), ("mean", self.mean), ("median", self.median)] {
            if !v.is_finite() {
                finite = false;
                out.push(problem(name, "not_finite", format!("must be a finite number, got {v}")));
            }
        }
        if !finite {
            return out;
        }
        if self.min > self.max {
            out.push(problem("min", "min_gt_max", format!("must be <= max (min {}, max {})", self.min, self.max)));
        } else {
            for (name, v) in [("mean", self.mean), ("median", self.median)] {
                if v < self.min || v > self.max {
                    out.push(problem(
                        name,
                        "out_of_range",
                        format!("must lie within [min, max] = [{}, {}], got {v}", self.min, self.max),
                    ));
                }
            }
        }
        out
    }

    /// Every problem of this record today (UTC); empty when valid.
    pub fn problems(&self) -> Vec<Problem> {
        self.problems_on(utc_today())
    }

    /// `Ok` when valid, otherwise all problems joined into one message (`field: what; ...`).
    pub fn validate(&self) -> Result<(), String> {
        let p = self.problems();
        if p.is_empty() {
            Ok(())
        } else {
            Err(p.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> AggregateRecord {
        AggregateRecord {
            datacenter_id: 7,
            metric: "temperature".into(),
            day: "2026-11-23".into(),
            tz: "Europe/Rome".into(),
            count: 96,
            min: 18.5,
            max: 23.0,
            mean: 21.2,
            median: 21.0,
        }
    }

    fn today() -> i64 {
        parse_day("2026-11-24").unwrap()
    }

    fn reasons(r: &AggregateRecord) -> Vec<(&'static str, &'static str)> {
        r.problems_on(today()).into_iter().map(|p| (p.field, p.reason)).collect()
    }

    #[test]
    fn days_are_counted_from_the_epoch() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
        assert_eq!(parse_day("2026-11-23"), Some(20_780));
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        for bad in [
            "2026-02-29",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "20261101",
            "2026-11-23T00",
            "+026-11-23",
            "2026-11-00",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert!(utc_today() > parse_day("2025-01-01").unwrap());
    }

    #[test]
    fn a_good_record_passes() {
        assert!(reasons(&good()).is_empty());
        let mut edge = good();
        (edge.min, edge.max, edge.mean, edge.median, edge.count) = (5.0, 5.0, 5.0, 5.0, MAX_COUNT);
        edge.day = "2026-11-25".into(); // tomorrow UTC: a local day east of UTC
        assert!(reasons(&edge).is_empty(), "{:?}", reasons(&edge));
        edge.day = FIRST_DAY.into();
        assert!(reasons(&edge).is_empty());
    }

    #[test]
    fn each_rule_refuses_its_attack() {
        type Mutate = fn(&mut AggregateRecord);
        let cases: Vec<(Mutate, &str, &str)> = vec![
            (|r| r.min = 30.0, "min", "min_gt_max"),
            (|r| r.mean = 99.0, "mean", "out_of_range"),
            (|r| r.median = -5.0, "median", "out_of_range"),
            (|r| r.count = 0, "count", "zero_count"),
            (|r| r.count = i64::MAX as u64 + 1, "count", "count_too_large"),
            (|r| r.count = u64::MAX, "count", "count_too_large"),
            (|r| r.max = f64::NAN, "max", "not_finite"),
            (|r| r.min = f64::NEG_INFINITY, "min", "not_finite"),
            (|r| r.day = "1999-12-31".into(), "day", "day_out_of_range"),
            (|r| r.day = "1970-01-01".into(), "day", "day_out_of_range"),
            (|r| r.day = "2026-11-26".into(), "day", "day_out_of_range"),
            (|r| r.day = "9999-12-31".into(), "day", "day_out_of_range"),
            (|r| r.day = "2026-02-30".into(), "day", "invalid_day"),
            (|r| r.metric = "a b".into(), "metric", "invalid_metric"),
            (|r| r.metric = "temp,site=other".into(), "metric", "invalid_metric"),
            (|r| r.metric = String::new(), "metric", "invalid_metric"),
            (|r| r.metric = "9lives".into(), "metric", "invalid_metric"),
            (|r| r.metric = "x".repeat(65), "metric", "invalid_metric"),
            (|r| r.tz = String::new(), "tz", "invalid_tz"),
            (|r| r.tz = "Europe/Rome\n".into(), "tz", "invalid_tz"),
        ];
        for (mutate, field, reason) in cases {
            let mut r = good();
            mutate(&mut r);
            let got = reasons(&r);
            assert!(got.contains(&(field, reason)), "{r:?}: {got:?}");
        }
    }

    #[test]
    fn validate_joins_the_problems() {
        let mut r = good();
        r.min = 30.0;
        r.count = 0;
        let m = r.validate().unwrap_err();
        assert!(m.contains("count: must be at least 1") && m.contains("min: must be <= max"), "{m}");
    }
}
