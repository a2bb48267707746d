//! Parsed domain values used at the API and config boundary: site ids, metric names, days, time zones.

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

/// A value failed to parse; the message says why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// A site id: 1–63 characters, lowercase ASCII letters, digits, `-`, `_`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SiteId(String);

impl SiteId {
    /// Parses and validates a site id.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let ok_rest = s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if s.is_empty() || s.len() > 63 || !ok_first || !ok_rest {
            return Err(ParseError(format!(
                "invalid site id {s:?}: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit"
            )));
        }
        Ok(SiteId(s.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SiteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a metric name: 1–64 characters of ASCII letters, digits, `_`, `-`, `.`, starting with a letter or `_`.
pub fn parse_metric(s: &str) -> Result<&str, ParseError> {
    let ok_first = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let ok_rest = s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if s.is_empty() || s.len() > 64 || !ok_first || !ok_rest {
        return Err(ParseError(format!(
            "invalid metric name {s:?}: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or '_'"
        )));
    }
    Ok(s)
}

/// Parses a calendar day written exactly as `YYYY-MM-DD`; days that do not exist are rejected.
pub fn parse_day(s: &str) -> Result<NaiveDate, ParseError> {
    let shaped = s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-';
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) if shaped => Ok(d),
        _ => Err(ParseError(format!("{s:?} is not an existing day written as YYYY-MM-DD"))),
    }
}

/// Parses an IANA time zone name such as `Europe/Rome`.
pub fn parse_tz(s: &str) -> Result<Tz, ParseError> {
    s.parse::<Tz>().map_err(|_| ParseError(format!("{s:?} is not an IANA time zone (e.g. Europe/Rome)")))
}

/// The first instant of `day` in zone `tz`, as nanoseconds since the Unix epoch.
///
/// Where midnight does not exist (a daylight-saving gap), the day starts at the first local time that does.
pub fn day_start_ns(day: NaiveDate, tz: Tz) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for minutes in 0..=(24 * 60) {
        let local = midnight + chrono::Duration::minutes(minutes);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.timestamp_nanos_opt().unwrap_or(i64::MAX);
        }
    }
    midnight.and_utc().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_ids() {
        assert!(SiteId::parse("torino").is_ok());
        assert!(SiteId::parse("dc-7_a").is_ok());
        for bad in ["", "Torino", "-x", "a/b", "a b", &"x".repeat(64)] {
            assert!(SiteId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn days() {
        assert!(parse_day("2026-02-28").is_ok());
        assert!(parse_day("2024-02-29").is_ok());
        for bad in ["2026-02-30", "2026-2-3", "2026-13-01", "20260101", "2026-01-01T00:00"] {
            assert!(parse_day(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn day_start_in_zone() {
        let day = parse_day("2026-11-23").unwrap();
        // Rome is UTC+1 in November: local midnight is 23:00 UTC the day before.
        let ns = day_start_ns(day, parse_tz("Europe/Rome").unwrap());
        assert_eq!(ns, 1_795_388_400 * 1_000_000_000);
        assert!(parse_tz("Mars/Olympus").is_err());
    }

    #[test]
    fn dst_gap_at_midnight() {
        // Santiago skipped 2022-09-11 00:00-01:00 (clocks went forward at midnight).
        let day = parse_day("2022-09-11").unwrap();
        let ns = day_start_ns(day, parse_tz("America/Santiago").unwrap());
        assert_eq!(
            ns,
            chrono::DateTime::parse_from_rfc3339("2022-09-11T01:00:00-03:00").unwrap().timestamp() * 1_000_000_000
        );
    }
}
