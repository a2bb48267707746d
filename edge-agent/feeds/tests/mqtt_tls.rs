//! The MQTT feed over TLS against a real Mosquitto TLS listener, with certificates this test makes
//! with openssl: `mqtts://…?ca_file=` with the CA that signed the broker's certificate delivers; with
//! another CA the connection is refused, quickly, and the reason shows in CREATE's `warning`, READ's
//! `status.error` and the log; an unusable `ca_file` is a 400.

mod common;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use common::{data_dir, publish_all, req, RecordingSink};
use fogwhisk_feeds::{FeedError, Feeds};
use rumqttc::QoS;
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed CA (`<name>.crt`, `<name>.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(format!("{name}.crt"))
}

/// A server certificate for 127.0.0.1 signed by CA `ca` (`server.crt`, `server.key`).
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

/// Mosquitto (the testkit's) with its plaintext listener (for the test's publisher) and a TLS listener
/// (for the feed).
struct TlsBroker {
    plain: u16,
    tls: u16,
    _broker: fogwhisk_testkit::Mosquitto,
}

impl TlsBroker {
    fn start(dir: &Path) -> TlsBroker {
        let tls = common::free_port();
        let broker = fogwhisk_testkit::Mosquitto::with(
            false,
            &format!(
                "listener {tls} 127.0.0.1\ncertfile {d}/server.crt\nkeyfile {d}/server.key\ntls_version tlsv1.2\n",
                d = dir.display()
            ),
        );
        fogwhisk_testkit::wait::until_blocking(Duration::from_secs(10), "the TLS listener", || {
            fogwhisk_testkit::wait::listening(tls)
        });
        TlsBroker { plain: broker.port, tls, _broker: broker }
    }
}

async fn start(dir: &tempfile::TempDir, sink: std::sync::Arc<RecordingSink>) -> Feeds {
    Feeds::start(dir.path(), sink, CancellationToken::new()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_the_right_ca_delivers_and_a_wrong_ca_fails_clearly() {
    let certs = tempfile::tempdir().unwrap();
    let right = make_ca(certs.path(), "right-ca");
    let wrong = make_ca(certs.path(), "wrong-ca");
    make_server_cert(certs.path(), "right-ca");
    let broker = TlsBroker::start(certs.path());
    let dir = data_dir();
    let sink = RecordingSink::new();
    let feeds = start(&dir, sink.clone()).await;

    // The right CA: connected over TLS, messages arrive.
    let url = format!("mqtts://agent:pw@127.0.0.1:{}?ca_file={}", broker.tls, right.display());
    let r =
        feeds.mqtt(req("CREATE", "/guest/good", json!({"url": url, "topic": "telemetry/#", "qos": 1}))).await.unwrap();
    assert_eq!(r, json!({"status": "success"}), "no warning when connected");
    sink.wait("connected over TLS", |s| s.statuses("/guest/good") == ["connected"]).await;
    let read = feeds.mqtt(req("READ", "/guest/good", json!({}))).await.unwrap();
    assert_eq!(read["status"]["connected"], true);
    assert!(read["status"].get("error").is_none(), "{read}");
    assert_eq!(
        read["config"]["url"],
        format!(
            "mqtts://agent:***@127.0.0.1:{}?ca_file={}",
            broker.tls,
            url::form_urlencoded::byte_serialize(right.to_str().unwrap().as_bytes()).collect::<String>()
        )
    );
    publish_all(broker.plain, "telemetry/7/9A3F21", &[b"over-tls".to_vec()], QoS::AtLeastOnce).await;
    sink.wait("the message over TLS", |s| s.bodies("/guest/good") == ["over-tls"]).await;

    // Another CA: the handshake is refused; CREATE answers at once with the reason, no hang.
    let bad_url = format!("mqtts://agent:pw@127.0.0.1:{}?ca_file={}", broker.tls, wrong.display());
    let t0 = Instant::now();
    let r = feeds.mqtt(req("CREATE", "/guest/bad", json!({"url": bad_url, "topic": "telemetry/#"}))).await.unwrap();
    let took = t0.elapsed();
    eprintln!("CREATE with a wrong CA, after {took:?}: {r}");
    assert_eq!(r["status"], "success", "the subscription stays and retries: {r}");
    let warning = r["warning"].as_str().unwrap_or_default().to_string();
    assert!(
        warning.contains("not connected to the broker") && warning.contains("UnknownIssuer"),
        "CREATE names the certificate problem: {r}"
    );
    assert!(took < Duration::from_secs(3), "CREATE waited {took:?} for a broker that refuses");
    let read = feeds.mqtt(req("READ", "/guest/bad", json!({}))).await.unwrap();
    assert_eq!(read["status"]["connected"], false);
    let error = read["status"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("invalid peer certificate"), "READ status.error: {read}");
    assert!(!read.to_string().contains("\"pw\""), "no password in READ: {read}");
    // It keeps failing (retries with backoff), never connects, never fires "connected".
    publish_all(broker.plain, "telemetry/7/9A3F21", &[b"second".to_vec()], QoS::AtLeastOnce).await;
    sink.wait("the good trigger's second message", |s| s.bodies("/guest/good").len() == 2).await;
    assert!(sink.of("/guest/bad").is_empty(), "{:?}", sink.of("/guest/bad"));

    // mqtts:// without ca_file trusts the system's roots only: the test CA is not among them.
    let r = feeds
        .mqtt(req(
            "CREATE",
            "/guest/system-roots",
            json!({"url": format!("mqtts://127.0.0.1:{}", broker.tls), "topic": "x"}),
        ))
        .await
        .unwrap();
    assert!(r["warning"].as_str().unwrap_or_default().contains("certificate"), "{r}");
    feeds.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_ca_file_is_a_bad_request_naming_it() {
    let dir = data_dir();
    let feeds = start(&dir, RecordingSink::new()).await;
    let files = tempfile::tempdir().unwrap();
    let not_pem = files.path().join("not-pem");
    std::fs::write(&not_pem, "secret-content-123\n").unwrap();
    let port = common::free_port();
    for (path, why) in [
        ("/nonexistent/ca.crt".to_string(), "cannot read it"),
        (not_pem.display().to_string(), "holds no PEM certificate"),
        (files.path().display().to_string(), "not a regular file"),
        ("/dev/zero".to_string(), "not a regular file"),
    ] {
        let url = format!("mqtts://127.0.0.1:{port}?ca_file={path}");
        match feeds.mqtt(req("CREATE", "/guest/t", json!({"url": url, "topic": "a"}))).await {
            Err(FeedError::BadRequest(m)) => {
                assert!(m.contains("ca_file") && m.contains(&path) && m.contains(why), "{m}");
                assert!(!m.contains("secret-content"), "the file's content must not show: {m}");
            }
            other => panic!("{path}: expected a 400, got {other:?}"),
        }
    }
    match feeds
        .mqtt(req(
            "CREATE",
            "/guest/t",
            json!({"url": format!("mqtt://127.0.0.1:{port}?ca_file=/etc/ssl/certs/ca-certificates.crt"), "topic": "a"}),
        ))
        .await
    {
        Err(FeedError::BadRequest(m)) => assert!(m.contains("only for TLS"), "{m}"),
        other => panic!("plain URL with ca_file: expected a 400, got {other:?}"),
    }
    feeds.shutdown().await;
}
