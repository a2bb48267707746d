//! Packages the Helm charts of `deploy/charts` (a gzipped tar under the chart's name, as `helm package`
//! lays it out) and publishes them to the hub's chart repository.

use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

/// The charts a site and the hub install from.
pub const CHARTS: [&str; 2] = ["fogwhisk-edge", "fogwhisk-hub"];

/// A `.tgz` of the chart folder `dir`, entries under `<name>/`.
pub fn package(dir: &Path, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    tar.append_dir_all(name, dir)?;
    Ok(tar.into_inner()?.finish()?)
}

/// Uploads every chart found under `charts_dir` with a publisher token the admin token creates for this
/// and revokes afterwards (the admin token itself cannot upload); an existing version is kept (409 is fine).
pub async fn publish(
    http: &reqwest::Client,
    hub: &str,
    admin_token: &str,
    charts_dir: &Path,
) -> anyhow::Result<Vec<String>> {
    let body = serde_json::json!({"role": "publisher", "label": "quickstart"});
    let r = http.post(format!("{hub}/api/v1/tokens")).bearer_auth(admin_token).json(&body).send().await?;
    anyhow::ensure!(r.status().is_success(), "creating a publisher token: hub answered {}", r.status());
    let issued: serde_json::Value = r.json().await?;
    let (id, token) = (issued["id"].as_str().unwrap_or_default(), issued["token"].as_str().unwrap_or_default());
    let published = upload_all(http, hub, token, charts_dir).await;
    let r = http.delete(format!("{hub}/api/v1/tokens/{id}")).bearer_auth(admin_token).send().await?;
    anyhow::ensure!(r.status().is_success(), "revoking the publisher token {id}: hub answered {}", r.status());
    published
}

async fn upload_all(
    http: &reqwest::Client,
    hub: &str,
    publisher: &str,
    charts_dir: &Path,
) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for name in CHARTS {
        let dir = charts_dir.join(name);
        if !dir.join("Chart.yaml").exists() {
            continue;
        }
        let body = package(&dir, name)?;
        let r = http.post(format!("{hub}/api/charts")).bearer_auth(publisher).body(body).send().await?;
        match r.status().as_u16() {
            200..=299 | 409 => done.push(name.to_string()),
            s => anyhow::bail!("publishing chart {name}: hub answered {s}: {}", r.text().await.unwrap_or_default()),
        }
    }
    Ok(done)
}
