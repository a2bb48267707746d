//! The chart repository over HTTP: refused archives, auth on writes (a publisher token), immutable released
//! versions, the audit of uploads and deletes, provenance files; and the Helm-engine script
//! (`hub/tests/helm_repo_test.py`, Helm v4 through helm-python-sdk) run against the hub binary.

use flate2::write::GzEncoder;
use serde_json::Value;

use crate::helpers::{spawn_app, spawn_app_with, TestApp, ADMIN};

/// A .tgz with raw entry paths (so hostile archives can be built).
fn tgz(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::default()));
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, content.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn chart_yaml(name: &str, version: &str) -> String {
    format!("apiVersion: v2\nname: {name}\nversion: {version}\ndescription: test chart\n")
}

async fn upload(app: &TestApp, token: &str, body: Vec<u8>, query: &str) -> (u16, Value) {
    let r =
        app.client.post(format!("{}/api/charts{query}", app.base)).bearer_auth(token).body(body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn bad_archives_are_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let publisher = app.token("publisher").await;
    let good = tgz(&[("edge/Chart.yaml", &chart_yaml("edge", "0.1.0"))]);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"PK\x03\x04 this is a zip".to_vec(), "not gzip"),
        (vec![0x1f, 0x8b, 8, 0, 0, 0], "corrupt"),
        (tgz(&[("edge/values.yaml", "a: 1\n")]), "no Chart.yaml"),
        (tgz(&[("edge/Chart.yaml", &chart_yaml("edge", "1.2"))]), "not a semantic version"),
        (tgz(&[("edge/Chart.yaml", &chart_yaml("edge", "0.1.0")), ("edge/../../evil.sh", "x")]), "'..'"),
        (tgz(&[("/edge/Chart.yaml", &chart_yaml("edge", "0.1.0"))]), "absolute"),
        (tgz(&[("other/Chart.yaml", &chart_yaml("edge", "0.1.0"))]), "does not match"),
        (tgz(&[("edge/Chart.yaml", &chart_yaml("../edge", "0.1.0"))]), "invalid chart name"),
    ];
    for (body, text) in cases {
        let (status, v) = upload(&app, &publisher, body, "").await;
        assert_eq!((status, v["code"].as_str()), (400, Some("invalid_chart")), "{text}: {v}");
        assert!(v["error"].as_str().unwrap().contains(text), "{text}: {v}");
    }
    let files: Vec<_> = std::fs::read_dir(app.data.path().join("charts")).unwrap().collect();
    assert!(files.is_empty(), "nothing written: {files:?}");
    let index = app.client.get(format!("{}/index.yaml", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(index.contains("entries: {}"), "{index}");

    // Writes need a publisher token (not the admin's); reads are anonymous by default.
    let r = app.client.post(format!("{}/api/charts", app.base)).body(good.clone()).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .post(format!("{}/api/charts", app.base))
        .basic_auth("admin", Some("wrong"))
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(upload(&app, ADMIN, good.clone(), "").await.0, 403);
    assert_eq!(upload(&app, &publisher, good.clone(), "").await.0, 201);
    // Released: immutable, ?force or not.
    assert_eq!(upload(&app, &publisher, good.clone(), "").await.0, 409);
    let (status, v) = upload(&app, &publisher, good.clone(), "?force").await;
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("immutable"), "{v}");
    let r = app.client.get(format!("{}/charts/edge-0.1.0.tgz", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for bad in ["..%2Fhub.redb", "edge-0.1.0.tgz.bak", ".hidden.tgz", "hub.redb"] {
        let r = app.client.get(format!("{}/charts/{bad}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let health: Value = app.client.get(format!("{}/health", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["healthy"], true);
    let m = app.metrics().await;
    assert!(m.contains("fogwhisk_hub_chart_uploads_total{outcome=\"rejected\"} 8"), "{m}");
    assert!(m.contains("fogwhisk_hub_chart_uploads_total{outcome=\"conflict\"} 2"), "{m}");
    app.stop().await;
}

#[tokio::test]
async fn released_versions_stay_immutable_across_delete_unless_overwrite_is_allowed() {
    let app = spawn_app().await;
    let publisher = app.token("publisher").await;
    let v1 = tgz(&[("edge/Chart.yaml", &chart_yaml("edge", "1.0.0"))]);
    let other = tgz(&[("edge/Chart.yaml", &(chart_yaml("edge", "1.0.0") + "appVersion: evil\n"))]);
    assert_eq!(upload(&app, &publisher, v1.clone(), "").await.0, 201);
    let digest = app.get_json("/api/charts/edge/1.0.0").await["digest"].clone();
    // Deleting and uploading other content under the same version is refused too.
    let del = |token: &str| app.client.delete(format!("{}/api/charts/edge/1.0.0", app.base)).bearer_auth(token).send();
    assert_eq!(del(ADMIN).await.unwrap().status(), 403, "the admin does not delete charts");
    assert_eq!(del(&publisher).await.unwrap().status(), 200);
    let (status, v) = upload(&app, &publisher, other.clone(), "?force").await;
    assert_eq!(status, 409, "{v}");
    assert!(app.client.get(format!("{}/api/charts/edge/1.0.0", app.base)).send().await.unwrap().status() == 404);
    // Every upload and delete is audited with the credential id, never the token.
    let audit = app.get_json("/api/v1/audit").await;
    let text = audit.to_string();
    assert!(!text.contains(&publisher), "{text}");
    let rows: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("chart."))
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
                e["credential"].as_str().unwrap().into(),
            )
        })
        .collect();
    let who = rows[0].2.clone();
    assert!(who.starts_with("publisher-"), "{rows:?}");
    let expect = |a: &str, o: &str| (a.to_string(), o.to_string(), who.clone());
    assert_eq!(
        rows,
        [expect("chart.upload", "conflict"), expect("chart.delete", "ok"), expect("chart.upload", "ok")],
        "newest first"
    );
    app.stop().await;

    // With charts.allow_overwrite, ?force replaces a released version (and is audited as such).
    let app = spawn_app_with(|s| s.charts.allow_overwrite = true).await;
    let publisher = app.token("publisher").await;
    assert_eq!(upload(&app, &publisher, v1, "").await.0, 201);
    assert_eq!(upload(&app, &publisher, other.clone(), "").await.0, 409, "without ?force");
    assert_eq!(upload(&app, &publisher, other, "?force").await.0, 201);
    let now = app.get_json("/api/charts/edge/1.0.0").await;
    assert_eq!(now["appVersion"], "evil");
    assert_ne!(now["digest"], digest);
    assert_eq!(app.get_json("/api/v1/audit?limit=1").await[0]["outcome"], "replaced");
    app.stop().await;
}

#[tokio::test]
async fn provenance_files_upload_raw_and_multipart() {
    let app = spawn_app().await;
    let publisher = app.token("publisher").await;
    let chart = tgz(&[("edge/Chart.yaml", &chart_yaml("edge", "0.3.0"))]);
    let prov = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\nname: edge\nversion: 0.3.0\n\n...\nfiles:\n  edge-0.3.0.tgz: sha256:00\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";
    let form = reqwest::multipart::Form::new()
        .part("chart", reqwest::multipart::Part::bytes(chart).file_name("edge-0.3.0.tgz"))
        .part("prov", reqwest::multipart::Part::bytes(prov.as_bytes().to_vec()).file_name("edge-0.3.0.tgz.prov"));
    let r = app
        .client
        .post(format!("{}/api/charts", app.base))
        .bearer_auth(&publisher)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let got =
        app.client.get(format!("{}/charts/edge-0.3.0.tgz.prov", app.base)).send().await.unwrap().text().await.unwrap();
    assert_eq!(got, prov);
    // Raw /api/prov: 409 when present, ?force too (released); refused when it names no valid chart.
    let post = |q: &str, body: String| {
        app.client.post(format!("{}/api/prov{q}", app.base)).bearer_auth(&publisher).body(body).send()
    };
    assert_eq!(post("", prov.to_string()).await.unwrap().status(), 409);
    assert_eq!(post("?force", prov.to_string()).await.unwrap().status(), 409);
    assert_eq!(post("", prov.replace("0.3.0", "0.4.0")).await.unwrap().status(), 201);
    assert_eq!(post("", "not a signature".into()).await.unwrap().status(), 400);
    assert_eq!(post("", prov.replace("name: edge", "name: ../../x")).await.unwrap().status(), 400);
    let v: Value = app.get_json("/api/charts/edge/0.3.0").await;
    assert_eq!(v["name"], "edge");
    assert_eq!(v["digest"].as_str().unwrap().len(), 64);
    assert!(v["created"].as_str().unwrap().starts_with("20"));
    app.stop().await;
}

#[tokio::test]
async fn helm_engine_uploads_indexes_and_pulls_charts() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/helm_repo_test.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .env("HUB_BIN", env!("CARGO_BIN_EXE_fogwhisk-hub"))
        .output()
        .await
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("9 passed, 0 failed"), "{stdout}");
}
