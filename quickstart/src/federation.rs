//! Starts the federation in order (hub, charts, sites, actions, history, live sensors), reports progress,
//! and stops everything cleanly on ctrl-c or SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{NaiveDate, Offset, TimeZone};
use fogwhisk_simulator::{publish_backfill, run_live, DeviceLogin, Fleet, Publisher};
use rand::Rng;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::plan::{Options, Site, State, DEVICES_PER_DC};
use crate::procs::Proc;

/// The site actions, embedded so the quickstart does not depend on where it runs.
const ACTIONS: [(&str, &str); 3] = [
    ("manifest.yaml", include_str!("../../actions/manifest.yaml")),
    ("record-reading.js", include_str!("../../actions/record-reading.js")),
    ("daily-aggregates.js", include_str!("../../actions/daily-aggregates.js")),
];

fn step(msg: &str) {
    println!("==> {msg}");
}

async fn wait_http(http: &reqwest::Client, url: &str, proc: &mut Proc) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(url).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        proc.check_alive()?;
        anyhow::ensure!(start.elapsed() < Duration::from_secs(60), "{} did not answer at {url}", proc.name);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A running site: its agent and how to reach its API.
struct RunningSite {
    site: Site,
    agent: Proc,
    api: String,
    auth: (String, String),
    data: PathBuf,
    /// Each simulated sensor's MQTT user at the site's embedded broker.
    logins: Vec<DeviceLogin>,
}

/// Gives every simulated sensor of `site` its own broker user (`fogwhisk-edge devices add --rotate`: a new
/// password at each start, nothing to keep) and returns their logins.
fn register_devices(edge_bin: &Path, data: &Path, site: &Site) -> anyhow::Result<Vec<DeviceLogin>> {
    let mut logins = Vec::new();
    for d in fleet(site).devices() {
        let dc = d.datacenter_id.to_string();
        let out = Command::new(edge_bin)
            .args(["devices", "add", &dc, &d.fingerprint, "--rotate", "--data"])
            .arg(data)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "registering sensor {} at {}: {}",
            d.fingerprint,
            site.id,
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout)?;
        let (user, password) =
            text.lines().last().and_then(|l| l.split_once(':')).context("no user:password printed")?;
        logins.push(DeviceLogin { fingerprint: d.fingerprint.clone(), user: user.into(), password: password.into() });
    }
    Ok(logins)
}

/// The agent's MQTT feed URL (with its credentials) from `<data>/mqtt-feed`.
fn feed_url(data: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(data.join("mqtt-feed")).context("reading the agent's mqtt-feed")?;
    text.lines().find_map(|l| l.strip_prefix("MQTT_URL=")).map(String::from).context("no MQTT_URL in mqtt-feed")
}

fn wskprops(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let get = |k: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{k}=")).map(String::from));
    Some((get("APIHOST")?, get("AUTH")?))
}

fn add_site(hub_bin: &Path, hub_data: &Path, site: &Site) -> anyhow::Result<String> {
    let out = Command::new(hub_bin)
        .arg("--data")
        .arg(hub_data)
        .args(["sites", "add", site.id, "--tz", site.tz, "--name", site.name])
        .output()?;
    anyhow::ensure!(out.status.success(), "registering {}: {}", site.id, String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout)?;
    text.split_whitespace().rfind(|w| w.len() >= 32).map(String::from).context("no token printed")
}

async fn start_site(
    o: &Options,
    edge_bin: &Path,
    hub: &str,
    token: &str,
    site: Site,
    http: &reqwest::Client,
) -> anyhow::Result<RunningSite> {
    let data = o.data.join("sites").join(site.id);
    let _ = std::fs::remove_file(data.join("wskprops"));
    // The token goes to the agent as a file of its own (0600), not in its environment.
    std::fs::create_dir_all(&data)?;
    let token_file = o.data.join("sites").join(format!("{}.hub-token", site.id));
    std::fs::write(&token_file, token)?;
    std::fs::set_permissions(&token_file, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let logins = register_devices(edge_bin, &data, &site)?;
    let mut cmd = Command::new(edge_bin);
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", site.api_port), "--site", site.id, "--data"]).arg(&data);
    if !fogwhisk_runtime::process::identity::can_isolate() {
        // A laptop without root: the agent refuses to share its uid with action code unless told; the
        // quickstart is one person's machine, so it says so and accepts it.
        println!("    {}: action isolation OFF (not root): actions run under your own user", site.id);
        cmd.env("FOGWHISK_EDGE_POOL__ALLOW_SHARED_UID", "true");
    }
    for (k, v) in [
        ("FOGWHISK_EDGE_TIMEZONE", site.tz.to_string()),
        ("FOGWHISK_EDGE_HUB__URL", hub.to_string()),
        ("FOGWHISK_EDGE_HUB__TOKEN_FILE", token_file.display().to_string()),
        ("FOGWHISK_EDGE_HUB__RETRY_BASE_MS", "500".into()),
        ("FOGWHISK_EDGE_MQTT__EMBEDDED_BROKER", format!("127.0.0.1:{}", site.mqtt_port)),
        ("FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE", "1000000".into()),
        ("FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE", "1000000".into()),
        ("FOGWHISK_EDGE_LIMITS__CONCURRENT_INVOCATIONS", "1000".into()),
        ("FOGWHISK_EDGE_SHUTDOWN_GRACE_SECS", "10".into()),
    ] {
        cmd.env(k, v);
    }
    let mut agent =
        Proc::start(&format!("site {}", site.id), cmd, &o.data.join("logs").join(format!("{}.log", site.id)))?;
    let start = Instant::now();
    let (api, auth) = loop {
        if let Some(p) = wskprops(&data.join("wskprops")) {
            break p;
        }
        agent.check_alive()?;
        anyhow::ensure!(start.elapsed() < Duration::from_secs(60), "site {} did not start", site.id);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_http(http, &format!("{api}/api/v1"), &mut agent).await?;
    let (u, k) = auth.split_once(':').context("bad AUTH")?;
    let out = Command::new(edge_bin)
        .args(["deploy", "--data"])
        .arg(&data)
        .arg("--manifest")
        .arg(o.data.join("actions/manifest.yaml"))
        .args(["--var", &format!("MQTT_URL={}", feed_url(&data)?), "--var", &format!("SITE_TZ={}", site.tz)])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "deploying the site actions to {}: {}",
        site.id,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(RunningSite { site, agent, api, auth: (u.into(), k.into()), data, logins })
}

fn fleet(site: &Site) -> Fleet {
    let tz: chrono_tz::Tz = site.tz.parse().expect("static zone");
    let offset = tz.offset_from_utc_datetime(&chrono::Utc::now().naive_utc()).fix().local_minus_utc();
    let seed = site.id.bytes().fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
    Fleet::new(seed, site.datacenters, DEVICES_PER_DC).with_utc_offset(offset)
}

fn day_start(tz: chrono_tz::Tz, d: NaiveDate) -> i64 {
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight")).earliest().map(|t| t.timestamp()).unwrap_or(0)
}

async fn stored(http: &reqwest::Client, s: &RunningSite, from: NaiveDate, to: NaiveDate) -> u64 {
    let url = format!("{}/api/v1/namespaces/_/telemetry/daily?from={from}&to={to}&tz={}", s.api, s.site.tz);
    let Ok(r) = http.get(url).basic_auth(&s.auth.0, Some(&s.auth.1)).send().await else { return 0 };
    let v: Value = r.json().await.unwrap_or_default();
    v["records"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["metric"] == "temperature").filter_map(|r| r["count"].as_u64()).sum())
        .unwrap_or(0)
}

async fn reported(http: &reqwest::Client, hub: &str, site: &str, days: &[NaiveDate]) -> usize {
    let Ok(r) = http.get(format!("{hub}/api/v1/aggregates?site={site}")).send().await else { return 0 };
    let v: Value = r.json().await.unwrap_or_default();
    let want: Vec<String> = days.iter().map(|d| d.to_string()).collect();
    v["records"]
        .as_array()
        .map(|a| a.iter().filter(|r| r["record"]["day"].as_str().is_some_and(|d| want.iter().any(|w| w == d))).count())
        .unwrap_or(0)
}

/// Publishes the history of one site and has it reported to the hub.
async fn backfill(o: &Options, http: &reqwest::Client, hub: &str, s: &RunningSite) -> anyhow::Result<()> {
    let tz: chrono_tz::Tz = s.site.tz.parse()?;
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    let days: Vec<NaiveDate> = (1..=o.days as i64).rev().map(|n| today - chrono::Duration::days(n)).collect();
    let (from, to) = (day_start(tz, days[0]), day_start(tz, today));
    let step_secs = o.step_minutes as i64 * 60;
    let fleet = fleet(&s.site);
    let mut publisher =
        Publisher::connect_devices(&format!("mqtt://127.0.0.1:{}", s.site.mqtt_port), "backfill", &s.logins).await?;
    let id = s.site.id;
    let sent = publish_backfill(&mut publisher, &fleet, from, to, step_secs, |done, total| {
        if done == total || done % 500 < 30 {
            println!("    {id}: published {done}/{total} readings of {} simulated days", days.len());
        }
    })
    .await?;
    publisher.disconnect().await;
    let want = sent;
    let start = Instant::now();
    loop {
        let n = stored(http, s, days[0], days[days.len() - 1]).await;
        if n >= want {
            break;
        }
        anyhow::ensure!(start.elapsed() < Duration::from_secs(300), "site {id}: only {n} of {want} readings recorded");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("    {id}: {want} readings recorded; running the daily report");
    let r = http
        .post(format!("{}/api/v1/namespaces/_/triggers/daily", s.api))
        .basic_auth(&s.auth.0, Some(&s.auth.1))
        .json(&serde_json::json!({}))
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 202, "firing daily at {id}: {}", r.status());
    let expected = days.len() * s.site.datacenters.len() * 3;
    let start = Instant::now();
    loop {
        let n = reported(http, hub, id, &days).await;
        if n >= expected {
            println!("    {id}: {n} daily aggregates at the hub");
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(120),
            "site {id}: only {n} of {expected} aggregates reached the hub"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Runs the quickstart until ctrl-c or SIGTERM.
pub async fn run(o: Options) -> anyhow::Result<()> {
    let signal = fogwhisk_shutdown::shutdown_signal();
    std::fs::create_dir_all(o.data.join("logs"))?;
    std::fs::create_dir_all(o.data.join("actions"))?;
    for (file, text) in ACTIONS {
        std::fs::write(o.data.join("actions").join(file), text)?;
    }
    let bins = match &o.bin_dir {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.parent().context("no folder of this program")?.to_path_buf(),
    };
    let (hub_bin, edge_bin) = (bins.join("fogwhisk-hub"), bins.join("fogwhisk-edge"));
    anyhow::ensure!(
        hub_bin.exists() && edge_bin.exists(),
        "fogwhisk-hub and fogwhisk-edge must be in {}",
        bins.display()
    );
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let mut state = State::load(&o.data)?;
    let hub_data = o.data.join("hub");
    if state.admin_token.is_empty() {
        state.admin_token = (0..40).map(|_| format!("{:x}", rand::thread_rng().gen_range(0..16u8))).collect();
    }
    for site in o.sites() {
        if !state.site_tokens.contains_key(site.id) {
            step(&format!("registering site {} ({}) at the hub", site.id, site.tz));
            state.site_tokens.insert(site.id.to_string(), add_site(&hub_bin, &hub_data, &site)?);
        }
    }
    state.save(&o.data)?;

    let hub = format!("http://127.0.0.1:{}", o.hub_port);
    step(&format!("starting the hub on {hub}"));
    let mut cmd = Command::new(&hub_bin);
    cmd.arg("--data").arg(&hub_data).args(["serve", "--listen", &format!("127.0.0.1:{}", o.hub_port)]);
    cmd.env("FOGWHISK_HUB_ADMIN_TOKEN", &state.admin_token);
    let mut hub_proc = Proc::start("hub", cmd, &o.data.join("logs/hub.log"))?;
    wait_http(&http, &format!("{hub}/health"), &mut hub_proc).await?;
    let charts_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/charts");
    let published = crate::charts::publish(&http, &hub, &state.admin_token, &charts_dir).await?;
    step(&format!("charts in the hub's repository: {}", published.join(", ")));

    let mut sites = Vec::new();
    for site in o.sites() {
        step(&format!(
            "starting site {} (API :{}, MQTT :{}) and deploying its actions",
            site.id, site.api_port, site.mqtt_port
        ));
        let token = state.site_tokens[site.id].clone();
        sites.push(start_site(&o, &edge_bin, &hub, &token, site, &http).await?);
    }
    if !state.backfilled {
        step(&format!("publishing {} simulated days of sensor readings and reporting them", o.days));
        let jobs = sites.iter().map(|s| backfill(&o, &http, &hub, s));
        for r in futures::future::join_all(jobs).await {
            r?;
        }
        state.backfilled = true;
        state.save(&o.data)?;
    }

    let stop = CancellationToken::new();
    let mut live = Vec::new();
    for s in &sites {
        let publisher =
            Publisher::connect_devices(&format!("mqtt://127.0.0.1:{}", s.site.mqtt_port), "live", &s.logins).await?;
        let (fleet, stop, every) = (fleet(&s.site), stop.clone(), Duration::from_secs(o.interval_secs));
        live.push(tokio::spawn(async move {
            let r = run_live(&publisher, &fleet, every, stop).await;
            publisher.disconnect().await;
            r
        }));
    }
    print_summary(&o, &hub, &hub_data, &sites);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    tokio::pin!(signal);
    let failure = loop {
        tokio::select! {
            _ = &mut signal => break None,
            _ = ticker.tick() => {
                if let Err(e) = hub_proc.check_alive() { break Some(e) }
                if let Some(e) = sites.iter_mut().find_map(|s| s.agent.check_alive().err()) { break Some(e) }
            }
        }
    };
    step("stopping");
    stop.cancel();
    for h in live {
        let _ = h.await;
    }
    let mut clean = true;
    for s in sites {
        let name = s.agent.name.clone();
        let ok = s.agent.stop(Duration::from_secs(20));
        println!("    {name}: {}", if ok { "stopped" } else { "did not stop cleanly" });
        clean &= ok;
    }
    let ok = hub_proc.stop(Duration::from_secs(20));
    println!("    hub: {}", if ok { "stopped" } else { "did not stop cleanly" });
    clean &= ok;
    if let Some(e) = failure {
        return Err(e);
    }
    anyhow::ensure!(clean, "some processes did not stop cleanly; see {}", o.data.join("logs").display());
    println!("Fogwhisk quickstart stopped cleanly; run it again to resume from {}", o.data.display());
    Ok(())
}

fn print_summary(o: &Options, hub: &str, hub_data: &Path, sites: &[RunningSite]) {
    println!();
    println!(
        "Fogwhisk quickstart is running (data in {}; logs in {}):",
        o.data.display(),
        o.data.join("logs").display()
    );
    println!("  hub page and API     {hub}/   (aggregates: {hub}/api/v1/aggregates, metrics: {hub}/metrics)");
    println!(
        "  chart repository     helm repo add fogwhisk {hub}   (admin token in {})",
        o.data.join("quickstart.json").display()
    );
    println!("  hub data             {}", hub_data.display());
    for s in sites {
        println!(
            "  site {:<8}        API {}   wskprops {}   MQTT mqtt://127.0.0.1:{}",
            s.site.id,
            s.api,
            s.data.join("wskprops").display(),
            s.site.mqtt_port
        );
    }
    if let Some(s) = sites.first() {
        println!("Try:");
        println!("  WSK_CONFIG_FILE={} wsk activation list", s.data.join("wskprops").display());
        println!("  curl -u {}:<key> {}/api/v1/namespaces/_/activations?limit=5", s.auth.0, s.api);
        // Each sensor has its own broker user: give the new one a user first (it prints the password once).
        println!("  fogwhisk-edge devices add 1 ABC123 --data {}", s.data.display());
        println!(
            "  mosquitto_pub -p {} -u ABC123 -P <password> -t telemetry/1/ABC123 -m '{{\"device_fingerprint\":\"ABC123\",\"datacenter_id\":1,\"temperature\":22.5,\"humidity\":45.0,\"gas_perc\":3.0}}'",
            s.site.mqtt_port
        );
    }
    println!("Live sensors publish every {} s. Press Ctrl-C to stop.", o.interval_secs);
}
