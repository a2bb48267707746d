//! Alarms across daylight-saving changes, with a controlled clock: the pure next-fire function is
//! walked from fire to fire for Europe/Rome and America/New_York in both directions.

use std::{collections::BTreeMap, str::FromStr};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use fogwhisk_feeds::{next_fire_after, Schedule};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Every fire of `pattern` in `tz` from `from` (exclusive) to `to`, by repeated next_fire_after
/// (the clock jumps from one fire to the next).
fn fires(pattern: &str, tz: &str, from: &str, to: &str) -> Vec<DateTime<Utc>> {
    let s = Schedule::cron(pattern, Tz::from_str(tz).unwrap(), None, None).unwrap();
    let (mut t, end) = (utc(from), utc(to));
    let mut out = Vec::new();
    while let Some(n) = next_fire_after(&s, t) {
        if n >= end {
            break;
        }
        assert!(n > t, "fire times must strictly increase");
        out.push(n);
        t = n;
    }
    out
}

/// Fires grouped by local calendar date.
fn per_local_day(list: &[DateTime<Utc>], tz: &str) -> BTreeMap<NaiveDate, Vec<String>> {
    let tz = Tz::from_str(tz).unwrap();
    let mut m: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for t in list {
        let l = t.with_timezone(&tz);
        m.entry(l.date_naive()).or_default().push(l.format("%H:%M:%S%z").to_string());
    }
    m
}

#[test]
fn spring_forward_missing_time_fires_once_at_end_of_gap() {
    // Europe/Rome: 2026-03-29 02:00 CET -> 03:00 CEST. America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT.
    for (tz, from, to, day, expected_utc) in [
        ("Europe/Rome", "2026-03-26T12:00:00Z", "2026-04-01T12:00:00Z", "2026-03-29", "2026-03-29T01:00:00Z"),
        ("America/New_York", "2026-03-05T12:00:00Z", "2026-03-11T12:00:00Z", "2026-03-08", "2026-03-08T07:00:00Z"),
    ] {
        let list = fires("30 2 * * *", tz, from, to);
        let days = per_local_day(&list, tz);
        assert_eq!(days.len(), 6, "{tz}: one fire per local day: {days:?}");
        for (d, times) in &days {
            assert_eq!(times.len(), 1, "{tz} {d}: {times:?}");
            if d.to_string() == day {
                assert!(times[0].starts_with("03:00:00"), "{tz}: 02:30 does not exist, fires at 03:00: {times:?}");
            } else {
                assert!(times[0].starts_with("02:30:00"), "{tz} {d}: {times:?}");
            }
        }
        assert!(list.contains(&utc(expected_utc)), "{tz}: {list:?}");
    }
}

#[test]
fn fall_back_repeated_time_fires_once() {
    // America/New_York: 2026-11-01 02:00 EDT -> 01:00 EST (01:xx twice). Europe/Rome: 2026-10-25 03:00 CEST -> 02:00 CET (02:xx twice).
    for (tz, pattern, from, to, expected_utc) in [
        ("America/New_York", "30 1 * * *", "2026-10-29T12:00:00Z", "2026-11-04T12:00:00Z", "2026-11-01T05:30:00Z"),
        ("Europe/Rome", "30 2 * * *", "2026-10-22T12:00:00Z", "2026-10-28T12:00:00Z", "2026-10-25T00:30:00Z"),
    ] {
        let list = fires(pattern, tz, from, to);
        let days = per_local_day(&list, tz);
        assert_eq!(days.len(), 6, "{tz}: {days:?}");
        assert!(days.values().all(|v| v.len() == 1), "{tz}: the repeated hour fires once: {days:?}");
        // The first occurrence (summer time) is the one that fires.
        assert!(list.contains(&utc(expected_utc)), "{tz}: {list:?}");
        assert!(!list.contains(&(utc(expected_utc) + Duration::hours(1))), "{tz}: no second fire");
    }
}

#[test]
fn frequent_patterns_across_both_transitions() {
    // Every 15 minutes, New York. Spring day (23 h): 96 wall times, 02:00..02:45 missing and merged
    // with 03:00 into one fire at the jump: 92 fires. Fall day (25 h): 01:xx fire once: 96 fires.
    let spring = fires("*/15 * * * *", "America/New_York", "2026-03-08T04:59:59Z", "2026-03-09T04:00:00Z");
    assert_eq!(spring.len(), 92);
    let i = spring.iter().position(|t| *t == utc("2026-03-08T07:00:00Z")).expect("fire at the jump");
    assert_eq!(spring[i - 1], utc("2026-03-08T06:45:00Z")); // 01:45 EST
    assert_eq!(spring[i + 1], utc("2026-03-08T07:15:00Z")); // 03:15 EDT
    let fall = fires("*/15 * * * *", "America/New_York", "2026-11-01T03:59:59Z", "2026-11-02T05:00:00Z");
    assert_eq!(fall.len(), 96);
    let i = fall.iter().position(|t| *t == utc("2026-11-01T05:45:00Z")).expect("01:45 EDT");
    assert_eq!(fall[i + 1], utc("2026-11-01T07:00:00Z")); // next is 02:00 EST: 01:00-01:45 EST do not fire again
                                                          // Hourly at :30 in Rome with a seconds field: 24 wall times on both transition days.
    for (from, to) in
        [("2026-03-28T22:59:59Z", "2026-03-29T22:00:00Z"), ("2026-10-24T21:59:59Z", "2026-10-25T23:00:00Z")]
    {
        let list = fires("15 30 * * * *", "Europe/Rome", from, to);
        assert_eq!(list.len(), 24, "{from}: {list:?}");
    }
    // Without a timezone, cron is UTC.
    let list = fires("0 0 * * *", "UTC", "2026-03-28T00:00:00Z", "2026-03-31T00:00:00Z");
    assert_eq!(list, vec![utc("2026-03-29T00:00:00Z"), utc("2026-03-30T00:00:00Z")]);
}
