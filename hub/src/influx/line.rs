//! Renders an aggregate as one `daily_aggregate` line of InfluxDB line protocol.

use fogwhisk_wire::AggregateRecord;

use crate::domain::{day_start_ns, parse_day, parse_tz};

/// Measurement name every aggregate is written to.
pub const MEASUREMENT: &str = "daily_aggregate";

/// Escapes a tag value (commas, equals signs and spaces are special).
fn escape_tag(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, ',' | '=' | ' ' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `daily_aggregate,datacenter_id=..,metric=..,site=.. count=..i,max=..,mean=..,median=..,min=.. <ns>`,
/// timestamped at the start of the record's day in its (the site's) time zone.
/// `None` when the day or zone do not parse (validated records always do).
pub fn render(site: &str, r: &AggregateRecord) -> Option<String> {
    let day = parse_day(&r.day).ok()?;
    let tz = parse_tz(&r.tz).ok()?;
    Some(format!(
        "{MEASUREMENT},datacenter_id={},metric={},site={} count={}i,max={:?},mean={:?},median={:?},min={:?} {}",
        r.datacenter_id,
        escape_tag(&r.metric),
        escape_tag(site),
        r.count,
        r.max,
        r.mean,
        r.median,
        r.min,
        day_start_ns(day, tz)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_line() {
        let r = AggregateRecord {
            datacenter_id: 7,
            metric: "gas_perc".into(),
            day: "2026-11-23".into(),
            tz: "Europe/Rome".into(),
            count: 96,
            min: 10.0,
            max: 14.5,
            mean: 12.25,
            median: 12.0,
        };
        assert_eq!(
            render("torino", &r).unwrap(),
            "daily_aggregate,datacenter_id=7,metric=gas_perc,site=torino \
             count=96i,max=14.5,mean=12.25,median=12.0,min=10.0 1795388400000000000"
        );
        assert_eq!(escape_tag("a b,c=d"), "a\\ b\\,c\\=d");
    }

    #[test]
    fn extreme_floats_stay_parseable() {
        let r = AggregateRecord {
            datacenter_id: 1,
            metric: "m".into(),
            day: "2026-01-01".into(),
            tz: "UTC".into(),
            count: 1,
            min: -1e300,
            max: 1e300,
            mean: 1e-300,
            median: 0.0,
        };
        let line = render("s", &r).unwrap();
        assert!(line.contains("max=1e300"), "{line}");
        assert!(line.contains("min=-1e300"), "{line}");
    }
}
