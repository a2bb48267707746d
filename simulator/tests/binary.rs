//! The `fogwhisk-simulator` binary against a real Mosquitto: backfill, live readings, a clean
//! exit on SIGINT, and clear errors for bad arguments or an unreachable broker.

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Mosquitto, Subscriber, WAIT};
use fogwhisk_simulator::Fleet;

const BIN: &str = env!("CARGO_BIN_EXE_fogwhisk-simulator");

fn ts_of(payload: &str) -> i64 {
    payload.rsplit(r#""ts":"#).next().unwrap().trim_end_matches('}').parse().unwrap()
}

#[tokio::test]
async fn backfills_goes_live_and_stops_cleanly_on_sigint() {
    let mosquitto = Mosquitto::start();
    let mut subscriber = Subscriber::start(mosquitto.addr(), "bin-checker").await;
    let mut child = Command::new(BIN)
        .args(["--broker", &mosquitto.url(), "--datacenters", "3,4", "--devices", "2", "--seed", "5"])
        .args(["--interval", "1s", "--backfill-days", "1", "--step", "1h"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let fleet = Fleet::new(5, &[3, 4], 2);

    // 24 hourly steps x 4 devices, each exactly the fleet's reading at its ts.
    let backfill = subscriber.telemetry(96).await;
    let mut steps = HashSet::new();
    for (topic, payload) in &backfill {
        let ts = ts_of(payload);
        assert_eq!(ts % 3600, 0, "backfill on the hour: {payload}");
        steps.insert(ts);
        let device = fleet.devices().iter().find(|d| topic.ends_with(&d.fingerprint)).expect("a fleet device");
        assert_eq!(payload, &fleet.reading(device, ts).payload);
    }
    assert_eq!(steps.len(), 24);
    assert_eq!(steps.iter().max().unwrap() - steps.iter().min().unwrap(), 23 * 3600);

    // Then live readings, newer than the backfill.
    let newest = *steps.iter().max().unwrap();
    let live = subscriber.telemetry(4).await;
    assert!(live.iter().all(|(_, p)| ts_of(p) > newest), "{live:?}");

    // SAFETY: kill(2) on our own child's pid has no memory effects.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > WAIT {
            let _ = child.kill();
            panic!("the simulator did not stop on SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(stderr.contains("backfill: 96/96"), "progress shown: {stderr}");
    // Every device said goodbye on its status topic.
    let mut offline = HashSet::new();
    while offline.len() < 4 {
        let (topic, payload, _) = subscriber.next().await;
        if payload == "offline" {
            offline.insert(topic);
        }
    }
    subscriber.stop().await;
}

#[test]
fn bad_arguments_are_rejected_with_a_message() {
    for args in [
        &["--datacenters", "1,x"][..],
        &["--datacenters", "70000"],
        &["--devices", "0"],
        &["--interval", "soon"],
        &["--step", "0s", "--backfill-days", "1"],
        &["--broker", "http://127.0.0.1:1883"],
    ] {
        let output = Command::new(BIN).args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?} accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn unreachable_broker_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let output = Command::new(BIN).args(["--broker", &format!("mqtt://127.0.0.1:{port}")]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to the MQTT broker"), "{stderr}");
}
