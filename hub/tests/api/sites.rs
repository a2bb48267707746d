//! Sites: admin API, tokens, the `sites` CLI, layered configuration.

use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{record, spawn_app, spawn_app_in, ADMIN};

#[tokio::test]
async fn admin_api_registers_lists_and_removes_sites() {
    let app = spawn_app().await;
    let url = format!("{}/api/v1/sites", app.base);
    // No or wrong admin credentials.
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unauthorized");
    let r = app.client.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // Basic admin:<token> works as well as Bearer.
    let r = app.client.get(&url).basic_auth("admin", Some(ADMIN)).send().await.unwrap();
    assert_eq!(r.status(), 200);

    let token = app.add_site("torino", "Europe/Rome").await;
    assert_eq!(token.len(), 64);
    let sites = app.get_json("/api/v1/sites").await;
    assert_eq!(sites[0]["id"], "torino");
    assert_eq!(sites[0]["tz"], "Europe/Rome");
    assert_eq!(sites[0]["last_report"], Value::Null);
    assert!(sites[0].get("token").is_none() && sites[0].get("token_hash").is_none());

    // Duplicate, bad time zone, bad id.
    let post = |body: Value| app.client.post(&url).bearer_auth(ADMIN).json(&body).send();
    assert_eq!(post(json!({"id": "torino", "tz": "Europe/Rome"})).await.unwrap().status(), 409);
    let r = post(json!({"id": "milano", "tz": "Europe/Milano"})).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("IANA"));
    assert_eq!(post(json!({"id": "Bad Id", "tz": "UTC"})).await.unwrap().status(), 400);
    assert_eq!(post(json!({"id": "x", "tz": "UTC", "extra": 1})).await.unwrap().status(), 400);

    // The stored token is a hash: the file never contains the token.
    app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
    let db = std::fs::read(app.data.path().join("hub.redb")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));

    // Removal: the token stops working: the same 401 as any unknown token (an unknown site is not told apart).
    let r = app.client.delete(format!("{url}/torino")).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = app.post_batch("torino", &token, &json!({"records": []})).await;
    assert_eq!(r.status(), 401);
    let r = app.client.delete(format!("{url}/torino")).bearer_auth(ADMIN).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Unknown routes answer in the same error shape.
    let r = app.client.get(format!("{}/api/v1/nope", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "not_found");
    app.stop().await;
}

fn hub(args: &[&str], data: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fogwhisk-hub"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("FOGWHISK_HUB_CONFIG")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test]
async fn cli_adds_lists_and_removes_sites() {
    let data = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let (ok, out, err) = hub(&["sites", "add", "torino", "--tz", "Europe/Rome", "--name", "Torino DC"], data.path());
    assert!(ok, "{err}");
    let token = out.lines().find_map(|l| l.strip_prefix("token: ")).expect("token printed").to_string();
    let (ok, _, err) = hub(&["sites", "add", "x", "--tz", "Nowhere/Land"], data.path());
    assert!(!ok && err.contains("IANA"), "{err}");
    let (ok, out, _) = hub(&["sites", "list"], data.path());
    assert!(ok && out.contains("torino") && out.contains("Torino DC") && out.contains("never"), "{out}");

    // The server started on the same folder accepts the CLI-issued token.
    let app = spawn_app_in(data.clone(), |_| {}).await;
    let batch = json!({"records": [record(1, "temperature", "2026-11-20", "Europe/Rome", 20.0)]});
    assert_eq!(app.post_batch("torino", &token, &batch).await.status(), 200);
    // While the hub runs, the CLI refuses to open the store, with a clear message.
    let (ok, _, err) = hub(&["sites", "list"], data.path());
    assert!(!ok && err.contains("in use"), "{err}");
    app.stop().await;

    let (ok, out, _) = hub(&["sites", "list"], data.path());
    assert!(ok && !out.contains("never"), "last report shown: {out}");
    let (ok, _, _) = hub(&["sites", "remove", "torino"], data.path());
    assert!(ok);
    let (ok, _, err) = hub(&["sites", "remove", "torino"], data.path());
    assert!(!ok && err.contains("unknown site"), "{err}");
}

#[test]
fn configuration_layers_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hub.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9001\"\nanonymous_reads = false\n[ingest]\nmax_records = 7\n[influx]\nbackend = \"v1\"\nurl = \"http://127.0.0.1:1\"\n",
    )
    .unwrap();
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fogwhisk-hub"));
        c.arg("--config").arg(&file).args(extra).arg("config");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let (ok, out) = run(&[], &[]);
    assert!(ok, "{out}");
    assert!(
        out.contains("127.0.0.1:9001") && out.contains("max_records: 7") && out.contains("anonymous_reads: false"),
        "{out}"
    );
    let (ok, out) = run(&[], &[("FOGWHISK_HUB_INGEST__MAX_RECORDS", "9"), ("FOGWHISK_HUB_INFLUX__DATABASE", "envdb")]);
    assert!(ok && out.contains("max_records: 9") && out.contains("\"envdb\""), "{out}");
    let (ok, out) = run(&["--data", "/tmp/flagdata"], &[("FOGWHISK_HUB_DATA_DIR", "/tmp/envdata")]);
    assert!(ok && out.contains("/tmp/flagdata"), "{out}");
    // Secrets are redacted; unknown keys and bad values are errors.
    let (ok, out) = run(&[], &[("FOGWHISK_HUB_ADMIN_TOKEN", "secret-secret-secret")]);
    assert!(ok && !out.contains("secret-secret-secret"), "{out}");
    let (ok, out) = run(&[], &[("FOGWHISK_HUB_INGEST__MAX_RECORD", "9")]);
    assert!(!ok && out.contains("max_record"), "{out}");
    let (ok, out) = run(&[], &[("FOGWHISK_HUB_INFLUX__BATCH_SIZE", "0")]);
    assert!(!ok && out.contains("batch_size"), "{out}");
}
