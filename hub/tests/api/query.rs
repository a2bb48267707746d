//! `GET /api/v1/aggregates` filters and the web page at `/` (HTTP level and in headless Chromium).

use serde_json::{json, Value};

use crate::helpers::{record, spawn_app, spawn_app_with, TestApp, ADMIN};

const TZ: &str = "Europe/Rome";

async fn fill(app: &TestApp) {
    let torino = app.add_site("torino", TZ).await;
    app.add_site("milano", TZ).await;
    let mut recs = Vec::new();
    for d in 18..=22u32 {
        for dc in [7u32, 8] {
            for (i, m) in ["temperature", "humidity", "gas_perc"].iter().enumerate() {
                let mean = [21.0, 48.0, 12.5][i] + f64::from(dc - 7) + f64::from(d - 18) * 0.5;
                recs.push(record(dc, m, &format!("2026-11-{d}"), TZ, mean));
            }
        }
    }
    assert_eq!(app.post_batch("torino", &torino, &json!({ "records": recs })).await.status(), 200);
}

fn days(v: &Value) -> Vec<String> {
    v["records"].as_array().unwrap().iter().map(|r| r["record"]["day"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn aggregate_query_filters_by_site_datacenter_metric_and_days() {
    let app = spawn_app().await;
    fill(&app).await;
    let all = app.get_json("/api/v1/aggregates").await;
    assert_eq!(all["records"].as_array().unwrap().len(), 30);
    let v = app
        .get_json("/api/v1/aggregates?site=torino&datacenter_id=8&metric=humidity&from=2026-11-19&to=2026-11-21")
        .await;
    assert_eq!(days(&v), ["2026-11-19", "2026-11-20", "2026-11-21"]);
    let r = &v["records"][0];
    assert_eq!(
        (r["site"].as_str(), r["record"]["datacenter_id"].as_u64(), r["record"]["mean"].as_f64()),
        (Some("torino"), Some(8), Some(49.5))
    );
    assert!(r["received_at"].as_str().is_some());
    assert!(app.get_json("/api/v1/aggregates?site=milano").await["records"].as_array().unwrap().is_empty());
    for bad in ["from=2026-02-30", "from=2026-11-22&to=2026-11-01", "datacenter_id=x", "site=Bad%20Site", "colour=red"]
    {
        let r = app.client.get(format!("{}/api/v1/aggregates?{bad}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_query", "{bad}");
    }
    app.stop().await;
}

#[tokio::test]
async fn reads_need_a_reader_token_when_anonymous_reads_are_off() {
    let app = spawn_app_with(|s| s.anonymous_reads = false).await;
    let reader = app.token("reader").await;
    for path in ["/", "/api/v1/aggregates"] {
        let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert!(r.headers().get("www-authenticate").is_some());
        let r = app.client.get(format!("{}{path}", app.base)).basic_auth("reader", Some(&reader)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        // The admin token administers; reading is a reader's job.
        let r = app.client.get(format!("{}{path}", app.base)).bearer_auth(ADMIN).send().await.unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    app.stop().await;
}

/// Runs headless Chromium with `args` against `url`; returns stdout.
async fn chromium(profile: &std::path::Path, args: &[&str], url: &str) -> String {
    let out = tokio::process::Command::new("/usr/bin/chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .kill_on_drop(true)
        .output()
        .await
        .expect("chromium must be installed (apt-get install chromium)");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn web_page_in_headless_chromium_shows_sites_charts_and_numbers() {
    let app = spawn_app().await;
    fill(&app).await;
    let profile = tempfile::tempdir().unwrap();
    let url = format!("{}/", app.base);
    let dom = chromium(profile.path(), &["--dump-dom"], &url).await;

    assert!(dom.contains("<h1>Fogwhisk hub</h1>"), "{dom}");
    // Sites: torino reported just now, milano never.
    let row = |id: &str| {
        dom.split(&format!("<tr data-site=\"{id}\">")).nth(1).unwrap().split("</tr>").next().unwrap().to_string()
    };
    assert!(row("torino").contains("reporting") && row("torino").contains("just now"), "{}", row("torino"));
    assert!(row("milano").contains("never reported"), "{}", row("milano"));
    // One chart per metric per datacenter, each an inline SVG.
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 6);
    assert!(dom.contains("Datacenter 7") && dom.contains("Datacenter 8"));
    // Latest numbers of datacenter 8, temperature, 2026-11-22: mean 24, min 22, max 27.
    let card = dom
        .split("data-datacenter=\"8\" data-metric=\"temperature\"")
        .nth(1)
        .expect("card for dc 8 temperature")
        .split("</table>")
        .next()
        .unwrap()
        .to_string();
    assert!(card.contains("2026-11-22: mean <b class=\"mean\">24</b>"), "{card}");
    assert!(
        card.contains("min <span class=\"min\">22</span>") && card.contains("max <span class=\"max\">27</span>"),
        "{card}"
    );
    assert!(
        card.contains("<td>2026-11-21</td><td class=\"n\">21.5</td><td class=\"n\">23.5</td><td class=\"n\">26.5</td>"),
        "{card}"
    );
    // No external resources: the network is closed, and the page must not need it.
    assert!(!dom.contains("http://") || dom.matches("http://").count() == dom.matches("http://www.w3.org").count());

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hub-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(profile.path(), &[&format!("--screenshot={}", shot.display()), "--window-size=1280,900"], &url).await;
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot at {}", shot.display());
    println!("screenshot: {}", shot.display());
    app.stop().await;
}
