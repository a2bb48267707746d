//! The `fogwhisk-simulator` binary: simulated ESP8266 sensors publishing to an MQTT broker,
//! optionally backfilling past days first, then live until Ctrl-C or SIGTERM.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use fogwhisk_simulator::{now_ts, publish_backfill, run_live, DeviceLogin, Fleet, Publisher};
use tokio_util::sync::CancellationToken;

/// Simulated ESP8266 sensors (DHT11 temperature and humidity, MQ gas) publishing Fogwhisk's
/// firmware message on telemetry/<datacenter_id>/<device_fingerprint>.
#[derive(Debug, Parser)]
#[command(name = "fogwhisk-simulator", version)]
struct Args {
    /// MQTT broker: mqtt://[user:password@]host[:port]
    #[arg(long, env = "FOGWHISK_SIM_BROKER", default_value = "mqtt://127.0.0.1:1883")]
    broker: String,
    /// Datacenter ids, comma separated (0..65535, as the firmware's EEPROM holds them)
    #[arg(long, value_delimiter = ',', default_value = "1", value_parser = clap::value_parser!(u32).range(0..=65535))]
    datacenters: Vec<u32>,
    /// Devices per datacenter
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    devices: u64,
    /// Time between live readings (e.g. 5s, 1m)
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Seed of the simulation: the same seed gives the same devices and readings
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Publish this many past days of readings before going live
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=366))]
    backfill_days: Option<u32>,
    /// Time between backfilled readings (e.g. 15m)
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    step: Duration,
    /// Site clock offset from UTC in minutes (the daily curves peak at 15:00 site time)
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = clap::value_parser!(i32).range(-14 * 60..=14 * 60))]
    utc_offset_minutes: i32,
    /// MQTT client id (with --logins: the prefix of each device's `<prefix>-<fingerprint>`)
    #[arg(long, default_value = "fogwhisk-simulator")]
    client_id: String,
    /// File of `<fingerprint> <user>:<password>` lines: each device connects as its own user (as
    /// `fogwhisk-edge devices add` prints them); every simulated device needs one
    #[arg(long, env = "FOGWHISK_SIM_LOGINS")]
    logins: Option<std::path::PathBuf>,
    /// Stop after the backfill instead of publishing live
    #[arg(long)]
    no_live: bool,
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.interval.is_zero() {
        anyhow::bail!("--interval must be more than 0");
    }
    let step = args.step.as_secs() as i64;
    if step == 0 {
        anyhow::bail!("--step must be at least 1s");
    }
    let fleet =
        Fleet::new(args.seed, &args.datacenters, args.devices as usize).with_utc_offset(args.utc_offset_minutes * 60);
    for device in fleet.devices() {
        tracing::info!(datacenter_id = device.datacenter_id, fingerprint = %device.fingerprint, "simulated device");
    }

    let stop = CancellationToken::new();
    tokio::spawn(cancel_on_signal(stop.clone()));
    let mut publisher = match &args.logins {
        None => Publisher::connect(&args.broker, &args.client_id).await,
        Some(file) => {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            let logins = DeviceLogin::parse_lines(&text)?;
            if let Some(d) = fleet.devices().iter().find(|d| !logins.iter().any(|l| l.fingerprint == d.fingerprint)) {
                anyhow::bail!("{} has no login for device {}", file.display(), d.fingerprint);
            }
            Publisher::connect_devices(&args.broker, &args.client_id, &logins).await
        }
    }
    .context("connecting to the broker")?;

    if let Some(days) = args.backfill_days {
        let to = now_ts() / step * step;
        let from = to - days as i64 * 86_400;
        tracing::info!(days, step_secs = step, "backfilling");
        let backfill = publish_backfill(&mut publisher, &fleet, from, to, step, |done, total| {
            eprintln!("backfill: {done}/{total} messages acknowledged");
        });
        tokio::select! {
            result = backfill => { result.context("backfilling")?; }
            _ = stop.cancelled() => {
                publisher.disconnect().await;
                return Ok(());
            }
        }
    }
    if !args.no_live {
        tracing::info!(interval = ?args.interval, "publishing live readings; Ctrl-C stops");
        let rounds = run_live(&publisher, &fleet, args.interval, stop).await.context("publishing live")?;
        tracing::info!(rounds, "stopped");
    }
    publisher.disconnect().await;
    Ok(())
}

/// Cancels `stop` on Ctrl-C (SIGINT) or SIGTERM.
async fn cancel_on_signal(stop: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(err) => {
            tracing::error!(error = %err, "cannot watch SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("signal received; stopping");
    stop.cancel();
}
