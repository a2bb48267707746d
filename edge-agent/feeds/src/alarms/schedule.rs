//! When alarms fire: cron patterns evaluated on the wall clock of an IANA time zone, one-off dates
//! and fixed intervals, as pure functions of "after this instant" so they can be tested
//! deterministically.
//!
//! Daylight-saving rules (the workaround for the known bugs of cron libraries): the pattern is
//! matched against local wall-clock times, and each matching wall time fires at most once:
//! - a wall time that does not exist (spring forward) fires at the first instant after the gap
//!   (a 02:30 alarm fires at 03:00 on that day); several missing wall times merge into that one fire;
//! - a wall time that occurs twice (fall back) fires at its first occurrence only.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::{
    parser::{CronParser, Seconds, Year},
    Cron,
};

use crate::error::FeedError;

/// A parsed, validated schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// `alarms/alarm`: a 5- or 6-field cron pattern in a time zone, within optional bounds.
    Cron {
        /// The parsed pattern (evaluated on naive wall-clock times).
        cron: Box<Cron>,
        /// The pattern as given.
        pattern: String,
        /// Wall-clock zone (UTC when none was given).
        tz: Tz,
        /// No fire before this instant.
        start: Option<DateTime<Utc>>,
        /// No fire at or after this instant.
        stop: Option<DateTime<Utc>>,
    },
    /// `alarms/once`: one fire at `at`.
    Once {
        /// The instant to fire at.
        at: DateTime<Utc>,
    },
    /// `alarms/interval`: at `start`, then every `every`, until `stop`.
    Interval {
        /// First fire.
        start: DateTime<Utc>,
        /// Period.
        every: Duration,
        /// No fire at or after this instant.
        stop: Option<DateTime<Utc>>,
    },
}

impl Schedule {
    /// Parses a cron pattern of 5 fields (minute hour day-of-month month day-of-week) or 6 (a
    /// leading seconds field), with Vixie semantics (day-of-week 0 or 7 is Sunday; a restricted
    /// day-of-month and day-of-week match either).
    pub fn cron(
        pattern: &str,
        tz: Tz,
        start: Option<DateTime<Utc>>,
        stop: Option<DateTime<Utc>>,
    ) -> Result<Schedule, FeedError> {
        let invalid = || FeedError::BadRequest(format!("cron pattern '{pattern}' is not valid"));
        let fields = pattern.split_whitespace().count();
        if !(fields == 5 || fields == 6) || pattern.contains('@') {
            return Err(invalid());
        }
        let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).dom_and_dow(false).build();
        let cron = parser.parse(pattern).map_err(|_| invalid())?;
        Ok(Schedule::Cron { cron: Box::new(cron), pattern: pattern.to_string(), tz, start, stop })
    }
}

/// The first fire strictly after `after`, or `None` when the schedule has no more fires.
pub fn next_fire_after(schedule: &Schedule, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match schedule {
        Schedule::Once { at } => (*at > after).then_some(*at),
        Schedule::Interval { start, every, stop } => {
            let next = if after < *start {
                *start
            } else {
                let periods = (after - *start).num_milliseconds() / every.num_milliseconds().max(1) + 1;
                *start + *every * i32::try_from(periods).ok()?
            };
            stop.is_none_or(|s| next < s).then_some(next)
        }
        Schedule::Cron { cron, tz, start, stop, .. } => {
            let from = match start {
                Some(s) if *s > after => *s - Duration::milliseconds(1),
                _ => after,
            };
            let next = next_cron_after(cron, *tz, from)?;
            stop.is_none_or(|s| next < s).then_some(next)
        }
    }
}

/// The next instant after `after` at which `cron`, read on `tz`'s wall clock, fires.
fn next_cron_after(cron: &Cron, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    // Wall-clock search: croner runs on UTC-labelled naive local times, so it never sees a DST change.
    // Whole seconds: croner keeps sub-second parts, and cron times are whole seconds.
    let mut wall = after.with_timezone(&tz).naive_local().with_nanosecond(0)?;
    for _ in 0..10_000 {
        let candidate = cron.find_next_occurrence(&Utc.from_utc_datetime(&wall), false).ok()?.naive_utc();
        let instant = match tz.from_local_datetime(&candidate) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            // Repeated wall time: only its first occurrence fires.
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            // Missing wall time: fire when the clock jumps over it.
            LocalResult::None => end_of_gap(tz, candidate),
        };
        match instant {
            Some(t) if t > after => return Some(t),
            _ => wall = candidate,
        }
    }
    None
}

/// The first instant whose wall time comes after `missing` (a wall time inside a DST gap).
fn end_of_gap(tz: Tz, missing: NaiveDateTime) -> Option<DateTime<Utc>> {
    let mut wall = missing.with_second(0)?.with_nanosecond(0)?;
    // Gaps are whole minutes long (at most a day, as when Samoa skipped 2011-12-30).
    for _ in 0..(24 * 60 + 1) {
        wall += Duration::minutes(1);
        if let Some(t) = tz.from_local_datetime(&wall).earliest() {
            return Some(t.with_timezone(&Utc));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn five_and_six_fields() {
        let s = Schedule::cron("*/30 * * * * *", Tz::UTC, None, None).unwrap();
        assert_eq!(next_fire_after(&s, utc("2026-01-01T00:00:10Z")), Some(utc("2026-01-01T00:00:30Z")));
        let s = Schedule::cron("5 0 * * *", Tz::UTC, None, None).unwrap();
        assert_eq!(next_fire_after(&s, utc("2026-01-01T00:05:00Z")), Some(utc("2026-01-02T00:05:00Z")));
        for bad in ["", "* * * *", "* * * * * * *", "61 * * * *", "@daily", "a b c d e", "* * 32 * *"] {
            assert!(Schedule::cron(bad, Tz::UTC, None, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn sunday_is_0_and_7_and_dom_dow_is_or() {
        // 2026-01-04 is a Sunday.
        for p in ["0 12 * * 0", "0 12 * * 7", "0 12 * * SUN"] {
            let s = Schedule::cron(p, Tz::UTC, None, None).unwrap();
            assert_eq!(next_fire_after(&s, utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-04T12:00:00Z")), "{p}");
        }
        // Day 3 OR Sunday: the 3rd (a Saturday) comes first.
        let s = Schedule::cron("0 12 3 * 0", Tz::UTC, None, None).unwrap();
        assert_eq!(next_fire_after(&s, utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-03T12:00:00Z")));
    }

    #[test]
    fn bounds_interval_once() {
        let s =
            Schedule::cron("0 * * * *", Tz::UTC, Some(utc("2026-01-01T05:30:00Z")), Some(utc("2026-01-01T07:00:00Z")))
                .unwrap();
        assert_eq!(next_fire_after(&s, utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-01T06:00:00Z")));
        assert_eq!(next_fire_after(&s, utc("2026-01-01T06:00:00Z")), None);
        let i = Schedule::Interval {
            start: utc("2026-01-01T00:00:00Z"),
            every: Duration::minutes(10),
            stop: Some(utc("2026-01-01T00:30:00Z")),
        };
        assert_eq!(next_fire_after(&i, utc("2025-12-31T00:00:00Z")), Some(utc("2026-01-01T00:00:00Z")));
        assert_eq!(next_fire_after(&i, utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-01T00:10:00Z")));
        assert_eq!(next_fire_after(&i, utc("2026-01-01T00:15:00Z")), Some(utc("2026-01-01T00:20:00Z")));
        assert_eq!(next_fire_after(&i, utc("2026-01-01T00:20:00Z")), None);
        let o = Schedule::Once { at: utc("2026-01-01T00:00:00Z") };
        assert_eq!(next_fire_after(&o, utc("2025-01-01T00:00:00Z")), Some(utc("2026-01-01T00:00:00Z")));
        assert_eq!(next_fire_after(&o, utc("2026-01-01T00:00:00Z")), None);
    }
}
