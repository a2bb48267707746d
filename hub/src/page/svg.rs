//! A small inline SVG chart: the daily min–max band and the mean line of one metric.

use std::fmt::Write;

use chrono::NaiveDate;

/// One day's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The day.
    pub day: NaiveDate,
    /// Smallest reading.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Largest reading.
    pub max: f64,
}

const W: f64 = 360.0;
const H: f64 = 170.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// Formats a value for axis labels.
pub fn num(v: f64) -> String {
    if v.abs() >= 1000.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Renders points (sorted by day) as an SVG element; `title` labels it for screen readers.
pub fn chart(title: &str, points: &[Point]) -> String {
    let mut s = String::new();
    let _ =
        write!(s, r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{title}"><title>{title}</title>"#);
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        s.push_str("</svg>");
        return s;
    };
    let lo = points.iter().map(|p| p.min).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max);
    let pad = if hi > lo { (hi - lo) * 0.08 } else { 1.0 };
    let (lo, hi) = (lo - pad, hi + pad);
    let span_days = (last.day - first.day).num_days().max(1) as f64;
    let x = |d: NaiveDate| LEFT + (d - first.day).num_days() as f64 / span_days * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (hi - v) / (hi - lo) * (H - TOP - BOTTOM);
    // Axes and horizontal grid lines with labels.
    for i in 0..=3 {
        let v = lo + (hi - lo) * f64::from(i) / 3.0;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y(v) + 3.0,
            num(v),
            y = y(v)
        );
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{:.1}" font-size="10" fill="#555">{}</text><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" fill="#555">{}</text>"##,
        H - 6.0,
        first.day.format("%b %d"),
        W - RIGHT,
        H - 6.0,
        last.day.format("%b %d")
    );
    // Min–max band.
    let mut band = String::new();
    for p in points {
        let _ = write!(band, "{:.1},{:.1} ", x(p.day), y(p.max));
    }
    for p in points.iter().rev() {
        let _ = write!(band, "{:.1},{:.1} ", x(p.day), y(p.min));
    }
    let _ = write!(s, r##"<polygon points="{}" fill="#9ecae1" fill-opacity="0.55" stroke="none"/>"##, band.trim_end());
    // Mean line and dots.
    let line: Vec<String> = points.iter().map(|p| format!("{:.1},{:.1}", x(p.day), y(p.mean))).collect();
    let _ = write!(s, r##"<polyline points="{}" fill="none" stroke="#08519c" stroke-width="2"/>"##, line.join(" "));
    for p in points {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#08519c"><title>{}: mean {} (min {}, max {})</title></circle>"##,
            x(p.day),
            y(p.mean),
            p.day,
            num(p.mean),
            num(p.min),
            num(p.max)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_band_line_and_labels() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let pts = vec![
            Point { day: d("2026-11-20"), min: 18.0, mean: 20.0, max: 23.0 },
            Point { day: d("2026-11-22"), min: 17.0, mean: 21.5, max: 24.0 },
        ];
        let svg = chart("temperature", &pts);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<polygon") && svg.contains("<polyline"));
        assert!(svg.contains("Nov 20") && svg.contains("Nov 22"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(chart("empty", &[]).ends_with("</svg>"));
    }
}
