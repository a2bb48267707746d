//! The web page at `/`: sites with last report and status, then per site and datacenter a chart of
//! daily mean/min/max per metric with the latest numbers — readable without knowing InfluxDB.

mod svg;

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Deserialize;

use crate::domain::{parse_day, SiteId};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{AggregateFilter, SiteRecord, StoredRecord};
use svg::{chart, num, Point};

/// Days shown per chart.
const DAYS: i64 = 30;
/// A site that has not reported for this long is "late".
const LATE_AFTER_HOURS: i64 = 26;

/// Page parameters.
#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    /// Only this site.
    site: Option<String>,
}

/// The page route.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(page))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

async fn page(
    State(state): State<AppState>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let site = query.ok().and_then(|Query(q)| q.site).filter(|s| SiteId::parse(s).is_ok());
    let store = state.store.clone();
    let filter = AggregateFilter { site: site.clone(), ..Default::default() };
    let (sites, rows) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::store::StoreError>((
            store.list_sites()?,
            store.query_aggregates(&filter, crate::query::MAX_LIMIT)?,
        ))
    })
    .await??;
    Ok(Html(render(&sites, &rows, Utc::now())).into_response())
}

fn status(site: &SiteRecord, now: DateTime<Utc>) -> (&'static str, &'static str) {
    match site.last_report {
        None => ("never reported", "never"),
        Some(t) if now - t > Duration::hours(LATE_AFTER_HOURS) => ("late", "late"),
        Some(_) => ("reporting", "ok"),
    }
}

fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let d = now - t;
    if d.num_minutes() < 1 {
        "just now".into()
    } else if d.num_hours() < 1 {
        format!("{} min ago", d.num_minutes())
    } else if d.num_days() < 1 {
        format!("{} h ago", d.num_hours())
    } else {
        format!("{} days ago", d.num_days())
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}\
h1{margin:0 0 4px}p.sub{color:#555;margin:0 0 20px}table{border-collapse:collapse;background:#fff}\
th,td{padding:4px 10px;border-bottom:1px solid #e5e5e5;text-align:left;font-size:14px}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.ok{color:#1a7f37;font-weight:600}.late{color:#b35900;font-weight:600}.never{color:#777}\
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:14px}\
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px}.card h4{margin:0 0 4px}\
.latest{font-size:14px;margin:4px 0}.latest b{font-size:18px}.chart{width:100%;height:auto}\
.legend{font-size:12px;color:#555}.sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 8px}";

/// Renders the whole page.
pub fn render(sites: &[SiteRecord], rows: &[StoredRecord], now: DateTime<Utc>) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fogwhisk hub</title>\
         <meta name=\"viewport\" content=\"width=device-width\"><style>{STYLE}</style></head><body>\
         <h1>Fogwhisk hub</h1><p class=\"sub\">Daily sensor aggregates reported by each site. \
         Charts show the daily mean (line) and the range from minimum to maximum (band) over the last {DAYS} days with data.</p>"
    );
    h.push_str("<h2>Sites</h2><table id=\"sites\"><tr><th>Site</th><th>Name</th><th>Time zone</th><th>Last report</th><th>Status</th></tr>");
    for s in sites {
        let (label, class) = status(s, now);
        let last = s
            .last_report
            .map_or("never".to_string(), |t| format!("{} ({})", t.format("%Y-%m-%d %H:%M UTC"), ago(t, now)));
        let _ = write!(
            h,
            "<tr data-site=\"{id}\"><td><a href=\"/?site={id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{label}</td></tr>",
            esc(&s.display_name),
            esc(&s.tz),
            esc(&last),
            id = esc(&s.id)
        );
    }
    if sites.is_empty() {
        h.push_str("<tr><td colspan=\"5\">No sites yet: register one with <code>fogwhisk-hub sites add &lt;id&gt; --tz &lt;zone&gt;</code>.</td></tr>");
    }
    h.push_str("</table>");
    render_charts(&mut h, sites, rows);
    h.push_str("</body></html>");
    h
}

type Series<'a> = BTreeMap<(&'a str, u32), BTreeMap<&'a str, Vec<&'a StoredRecord>>>;

fn render_charts(h: &mut String, sites: &[SiteRecord], rows: &[StoredRecord]) {
    let mut by: Series = BTreeMap::new();
    for r in rows {
        by.entry((r.site.as_str(), r.record.datacenter_id))
            .or_default()
            .entry(r.record.metric.as_str())
            .or_default()
            .push(r);
    }
    if by.is_empty() {
        h.push_str("<h2>Aggregates</h2><p>No aggregates received yet.</p>");
        return;
    }
    let mut current_site = "";
    for ((site, dc), metrics) in &by {
        if *site != current_site {
            if !current_site.is_empty() {
                h.push_str("</section>");
            }
            current_site = site;
            let name = sites.iter().find(|s| s.id == *site).map_or(*site, |s| s.display_name.as_str());
            let _ = write!(
                h,
                "<section class=\"site\" id=\"site-{s}\"><h2>{} <small>({s})</small></h2>",
                esc(name),
                s = esc(site)
            );
        }
        let _ = write!(h, "<h3>Datacenter {dc}</h3><div class=\"grid\">");
        for (metric, recs) in metrics {
            render_card(h, site, *dc, metric, recs);
        }
        h.push_str("</div>");
    }
    h.push_str("</section>");
}

fn render_card(h: &mut String, site: &str, dc: u32, metric: &str, recs: &[&StoredRecord]) {
    let mut pts: Vec<(Point, &StoredRecord)> = recs
        .iter()
        .filter_map(|r| {
            parse_day(&r.record.day)
                .ok()
                .map(|day| (Point { day, min: r.record.min, mean: r.record.mean, max: r.record.max }, *r))
        })
        .collect();
    pts.sort_by_key(|(p, _)| p.day);
    let Some(last_day) = pts.last().map(|(p, _)| p.day) else { return };
    let first: NaiveDate = last_day - Duration::days(DAYS - 1);
    pts.retain(|(p, _)| p.day >= first);
    let points: Vec<Point> = pts.iter().map(|(p, _)| p.clone()).collect();
    let Some((_, latest)) = pts.last() else { return };
    let l = &latest.record;
    let _ = write!(
        h,
        "<div class=\"card\" data-site=\"{s}\" data-datacenter=\"{dc}\" data-metric=\"{m}\"><h4>{m}</h4>\
         <p class=\"latest\">{day}: mean <b class=\"mean\">{}</b> · min <span class=\"min\">{}</span> · max <span class=\"max\">{}</span> · median {} · {} readings</p>{}\
         <div class=\"legend\"><span class=\"sw\" style=\"background:#08519c\"></span>mean<span class=\"sw\" style=\"background:#9ecae1\"></span>min–max</div>",
        num(l.mean),
        num(l.min),
        num(l.max),
        num(l.median),
        l.count,
        chart(&format!("{} daily mean, min and max, datacenter {dc}", esc(metric)), &points),
        s = esc(site),
        m = esc(metric),
        day = esc(&l.day)
    );
    h.push_str("<table class=\"days\"><tr><th>Day</th><th>Min</th><th>Mean</th><th>Max</th></tr>");
    for (p, _) in pts.iter().rev().take(5) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            p.day,
            num(p.min),
            num(p.mean),
            num(p.max)
        );
    }
    h.push_str("</table></div>");
}
