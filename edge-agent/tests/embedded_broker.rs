//! The agent's embedded broker with sensor users, end to end through the real binary: `devices add`
//! prints a password once; that device's readings on its own topic are recorded through the agent's
//! own feed user (from `<data>/mqtt-feed`); a wrong password and an anonymous client are refused at
//! CONNECT; a device publishing on another device's topic is disconnected and nothing of it is
//! recorded.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use helpers::{bin, Agent};
use rumqttc::{AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS};

fn edge(data: &Path, args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).arg("--data").arg(data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn reading(dc: u32, device: &str, t: f64, ts: i64) -> String {
    format!("{{\"device_fingerprint\":\"{device}\",\"datacenter_id\":{dc},\"temperature\":{t:.1},\"humidity\":48.0,\"gas_perc\":12.5,\"ts\":{ts}}}")
}

/// Connects; `Ok` with a client whose event loop runs on a task (its end is sent on `closed`), or the refusal.
async fn connect(
    port: u16,
    id: &str,
    login: Option<(&str, &str)>,
) -> Result<(AsyncClient, tokio::sync::oneshot::Receiver<String>), ConnectionError> {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(5));
    if let Some((u, p)) = login {
        o.set_credentials(u, p);
    }
    let (client, mut el) = AsyncClient::new(o, 100);
    loop {
        match el.poll().await? {
            Event::Incoming(Packet::ConnAck(_)) => break,
            _ => continue,
        }
    }
    let (tx, closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        loop {
            if let Err(e) = el.poll().await {
                let _ = tx.send(e.to_string());
                return;
            }
        }
    });
    Ok((client, closed))
}

async fn stored(a: &Agent, day: &str) -> u64 {
    let (s, b) = a.get(&format!("telemetry/daily?from={day}&to={day}&tz=UTC")).await;
    assert_eq!(s, 200, "{b}");
    b["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["metric"] == "temperature")
        .map(|r| r["count"].as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn sensors_authenticate_and_publish_only_on_their_own_topic() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let added = edge(&data, &["devices", "add", "7", "9A3F21"]);
    let (user, password) = added.lines().last().unwrap().split_once(':').unwrap();
    let (user, password) = (user.to_string(), password.to_string());
    assert_eq!(user, "9A3F21");
    edge(&data, &["devices", "add", "7", "00C0DE"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let env = [
        ("FOGWHISK_EDGE_MQTT__EMBEDDED_BROKER", format!("127.0.0.1:{port}")),
        ("FOGWHISK_EDGE_LIMITS__FIRES_PER_MINUTE", "100000".into()),
        ("FOGWHISK_EDGE_LIMITS__INVOCATIONS_PER_MINUTE", "100000".into()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = Agent::spawn(Some(data.clone()), &env).await;

    // The feed user was created at first start; its URL deploys the site's actions.
    let feed = std::fs::read_to_string(data.join("mqtt-feed")).unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(data.join("mqtt-feed")).unwrap().permissions())
            & 0o777;
    assert_eq!(mode, 0o600);
    let url = feed.lines().find_map(|l| l.strip_prefix("MQTT_URL=")).unwrap();
    assert!(url.starts_with("mqtt://agent:") && url.ends_with(&format!("@127.0.0.1:{port}")), "{url}");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../actions/manifest.yaml");
    let out = Command::new(bin())
        .args(["deploy", "--data"])
        .arg(&data)
        .arg("--manifest")
        .arg(&manifest)
        .args(["--var", &format!("MQTT_URL={url}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "deploy: {}", String::from_utf8_lossy(&out.stderr));
    let list = edge(&data, &["devices", "list"]);
    assert!(
        list.contains("9A3F21") && list.contains("00C0DE") && list.contains("agent") && !list.contains(&password),
        "{list}"
    );

    // Refused at CONNECT: a wrong password, an anonymous client.
    let wrong = format!("{password}0");
    match connect(port, "sensor", Some((&user, &wrong))).await {
        Err(ConnectionError::ConnectionRefused(code)) => assert_eq!(code, ConnectReturnCode::BadUserNamePassword),
        other => panic!("wrong password: {:?}", other.map(|_| ())),
    }
    match connect(port, "anon", None).await {
        Err(ConnectionError::ConnectionRefused(code)) => assert_eq!(code, ConnectReturnCode::NotAuthorized),
        other => panic!("anonymous: {:?}", other.map(|_| ())),
    }

    // The device forges another device's reading: disconnected, nothing recorded.
    let day = (chrono::Utc::now().date_naive() - chrono::Duration::days(1)).to_string();
    let base = chrono::Utc::now().timestamp() - 86_400;
    let (c, closed) = connect(port, "sensor", Some((&user, &password))).await.unwrap();
    c.publish("telemetry/7/00C0DE", QoS::AtLeastOnce, false, reading(7, "00C0DE", 99.0, base)).await.unwrap();
    let why = tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the forging device is disconnected")
        .unwrap();
    assert!(!why.is_empty());

    // Its own topic: recorded through the agent's feed.
    let (c, _closed) = connect(port, "sensor", Some((&user, &password))).await.unwrap();
    for i in 0..3 {
        c.publish("telemetry/7/9A3F21", QoS::AtLeastOnce, false, reading(7, "9A3F21", 21.0, base + 60 * i))
            .await
            .unwrap();
    }
    fogwhisk_testkit::eventually(Duration::from_secs(60), "3 readings recorded", || async {
        Some(stored(&a, &day).await).filter(|n| *n >= 3)
    })
    .await;
    assert_eq!(stored(&a, &day).await, 3, "only the device's own readings are recorded");
    let (s, b) = a.get(&format!("telemetry/daily?from={day}&to={day}&tz=UTC")).await;
    assert_eq!(s, 200);
    let max = b["records"].as_array().unwrap().iter().find(|r| r["metric"] == "temperature").map(|r| r["max"].clone());
    assert_eq!(max, Some(serde_json::json!(21.0)), "the forged 99.0 never arrived: {b}");
}
