//! Actions cannot see the agent's secrets: not in their environment, not through inherited descriptors, not in the data folder.

use serde_json::json;

use crate::helpers::Agent;

const PROBE: &str = r#"
const fs = require('fs');
function main(p) {
  const fds = fs.readdirSync('/proc/self/fd').map(fd => { try { return fs.readlinkSync('/proc/self/fd/' + fd) } catch (e) { return '' } });
  let data = 'unreadable';
  for (const f of ['namespaces.json', 'wskprops', 'store.redb']) {
    try { fs.readFileSync(p.data + '/' + f); data = 'read ' + f; } catch (e) {}
  }
  return { env: process.env, fds, data };
}"#;

#[tokio::test]
async fn actions_cannot_reach_agent_secrets() {
    let a = Agent::spawn(None, &[("FOGWHISK_EDGE_SITE_ID", "secretsite"), ("AGENT_SECRET_TEST", "s3cr3t-value")]).await;
    a.node_action("probe", PROBE).await;
    let (s, r) = a.post("actions/probe?blocking=true&result=true", json!({"data": a.data})).await;
    assert_eq!(s, 200, "{r}");
    let env = r["env"].as_object().unwrap();
    for k in env.keys() {
        assert!(
            k.starts_with("__OW_") || ["PATH", "HOME", "LANG"].contains(&k.as_str()),
            "unexpected variable {k} in the action's environment"
        );
    }
    let dump = r.to_string();
    assert!(!dump.contains("s3cr3t-value") && !dump.contains("secretsite"));
    assert!(!dump.contains(&a.auth.1), "the namespace key reached the action");
    assert!(env.get("__OW_API_KEY").is_none());
    assert_eq!(env["__OW_NAMESPACE"], "guest");
    assert_eq!(r["data"], "unreadable");
    for fd in r["fds"].as_array().unwrap() {
        let fd = fd.as_str().unwrap();
        assert!(!fd.contains("store.redb") && !fd.contains(a.data.to_str().unwrap()), "inherited {fd}");
    }
}

#[tokio::test]
async fn api_key_only_with_provide_api_key() {
    let a = Agent::spawn(None, &[]).await;
    let code = "function main(){ return {key: process.env.__OW_API_KEY || null} }";
    let body = json!({"exec":{"kind":"nodejs:20","code":code},"annotations":[{"key":"provide-api-key","value":true}]});
    assert_eq!(a.put("actions/withkey", body).await.0, 200);
    let (_, r) = a.post("actions/withkey?blocking=true&result=true", json!({})).await;
    assert_eq!(r["key"], format!("{}:{}", a.auth.0, a.auth.1));
}

/// Runs the agent binary as `uid` (the tests run as root) on a data folder that uid owns.
fn spawn_as(uid: u32, env: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf, std::process::Child) {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new(crate::helpers::bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data);
    cmd.env("FOGWHISK_EDGE_POOL__PREWARM_NODEJS", "0").env("HOME", "/tmp");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.uid(uid).gid(uid).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    (dir, data, child)
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) only reads the calling process's credentials.
    unsafe { libc::geteuid() == 0 }
}

const NOBODY: u32 = 65534;

#[tokio::test]
async fn unprivileged_start_is_refused_without_allow_shared_uid() {
    if !is_root() {
        eprintln!("skipped: needs root to start the agent as another, unprivileged uid");
        return;
    }
    let (_dir, _data, child) = spawn_as(NOBODY, &[]);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("pool.allow_shared_uid") && err.contains("FOGWHISK_EDGE_POOL__ALLOW_SHARED_UID=true"),
        "{err}"
    );
    assert_eq!(err.lines().filter(|l| !l.trim().is_empty()).count(), 1, "one clear line: {err}");
}

#[tokio::test]
async fn agent_is_not_dumpable_for_its_own_uid() {
    if !is_root() {
        eprintln!("skipped: needs root to start the agent as another, unprivileged uid");
        return;
    }
    let (_dir, data, mut child) =
        spawn_as(NOBODY, &[("FOGWHISK_EDGE_POOL__ALLOW_SHARED_UID", "true"), ("AGENT_SECRET_TEST", "s3cr3t-env")]);
    let started = std::time::Instant::now();
    while crate::helpers::wskprops(&data.join("wskprops")).is_none() {
        if let Some(st) = child.try_wait().unwrap() {
            let mut e = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut e).unwrap();
            panic!("agent exited {st}: {e}");
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "agent did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let pid = child.id();
    // Same uid as the agent, and still: /proc/<agent>/environ belongs to root and cannot be read.
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(format!("/proc/{pid}/environ")).unwrap());
    use std::os::unix::process::CommandExt;
    let read =
        std::process::Command::new("cat").arg(format!("/proc/{pid}/environ")).uid(NOBODY).gid(NOBODY).output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(owner, 0, "a dumpable process's /proc files belong to its own uid");
    assert!(!read.status.success() && !String::from_utf8_lossy(&read.stdout).contains("s3cr3t-env"));
}

#[tokio::test]
async fn hub_token_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("hub-token");
    std::fs::write(&token, "file-token-1234\n").unwrap();
    let token = token.to_str().unwrap();
    // A hub that is not there: delivery only retries; the agent starts with the token read from the file.
    let a = Agent::spawn(
        None,
        &[("FOGWHISK_EDGE_HUB__URL", "http://127.0.0.1:9"), ("FOGWHISK_EDGE_HUB__TOKEN_FILE", token)],
    )
    .await;
    let (s, _) = a.get("actions").await;
    assert_eq!(s, 200);
    // Without the file the start stops, naming the setting.
    let out = std::process::Command::new(crate::helpers::bin())
        .args(["--data"])
        .arg(dir.path().join("d2"))
        .args(["namespaces", "list"])
        .env("FOGWHISK_EDGE_HUB__URL", "http://127.0.0.1:9")
        .env("FOGWHISK_EDGE_HUB__TOKEN_FILE", dir.path().join("absent"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("hub.token_file"), "{err}");
}
