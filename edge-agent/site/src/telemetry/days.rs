//! Local days in a time zone as half-open epoch-millisecond ranges (23 or 25 hours across DST changes).

use chrono::{Days, LocalResult, NaiveDate, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// First instant (epoch ms) whose local date in `tz` is `day`.
///
/// Normally local midnight; where midnight falls in a DST gap (e.g. America/Santiago) the day starts
/// at the first local time that exists; where midnight is repeated, at its first occurrence.
pub fn day_start_ms(day: NaiveDate, tz: Tz) -> i64 {
    for quarter in 0..=96u32 {
        let t = NaiveTime::from_hms_opt(quarter / 4, (quarter % 4) * 15, 0).unwrap_or(NaiveTime::MIN);
        match tz.from_local_datetime(&day.and_time(t)) {
            LocalResult::Single(dt) => return dt.timestamp_millis(),
            LocalResult::Ambiguous(a, b) => return a.timestamp_millis().min(b.timestamp_millis()),
            LocalResult::None => continue,
        }
    }
    // No zone skips a whole day at quarter-hour resolution except across the date line
    // (Pacific/Apia 2011-12-30): the day is empty and starts where the next one does.
    day.succ_opt().map_or(i64::MAX, |next| day_start_ms(next, tz))
}

/// `[start, end)` epoch ms of local day `day` in `tz`.
pub fn day_range_ms(day: NaiveDate, tz: Tz) -> (i64, i64) {
    let end = day.checked_add_days(Days::new(1)).map_or(i64::MAX, |n| day_start_ms(n, tz));
    (day_start_ms(day, tz), end)
}

/// Local date in `tz` of the instant `ts_ms`.
pub fn local_day(ts_ms: i64, tz: Tz) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp_millis(ts_ms).map(|d| d.with_timezone(&tz).date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rome_dst_days_are_23_and_25_hours() {
        let tz: Tz = "Europe/Rome".parse().unwrap();
        let hours = |d: NaiveDate| {
            let (a, b) = day_range_ms(d, tz);
            (b - a) / 3_600_000
        };
        assert_eq!(hours(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()), 23);
        assert_eq!(hours(NaiveDate::from_ymd_opt(2026, 10, 25).unwrap()), 25);
        assert_eq!(hours(NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()), 24);
    }

    #[test]
    fn midnight_in_a_gap_starts_the_day_after_the_gap() {
        // Chile moved clocks from 00:00 to 01:00 on 2022-09-11.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2022, 9, 11).unwrap();
        let start = day_start_ms(d, tz);
        assert_eq!(local_day(start, tz), Some(d));
        assert_eq!(local_day(start - 1, tz), d.pred_opt());
    }
}
