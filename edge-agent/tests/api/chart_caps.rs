//! The agent binary as the edge chart runs it (uid 0 with only SETUID, SETGID, CHOWN, FOWNER and KILL, under
//! `setpriv`) and as plain root: an action of another namespace tries to read the agent's environment, keys and
//! stores and to rewrite the runner, and gets nowhere; the agent keeps serving.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{bin, wskprops};

const CHART_CAPS: &str = "-all,+setuid,+setgid,+chown,+fowner,+kill";

const PROBE: &str = r#"
const fs = require('fs');
function attempt(f) { try { const v = f(); return v === undefined ? 'ok' : v; } catch (e) { return e.code || String(e); } }
function main(p) {
  return {
    uid: process.getuid(),
    environ: attempt(() => fs.readFileSync('/proc/' + process.ppid + '/environ', 'utf8').includes('TOKEN') ? 'leaked' : 'read'),
    keys: attempt(() => fs.readFileSync(p.data + '/namespaces.json', 'utf8').slice(0, 8)),
    store: attempt(() => { fs.closeSync(fs.openSync(p.data + '/store.redb', 'r+')); }),
    tokenFile: attempt(() => fs.readFileSync(p.token, 'utf8')),
    runner: attempt(() => fs.appendFileSync(process.argv[1], '// pwned')),
  };
}"#;

async fn attack(wrapper: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = dir.path().join("hub-token");
    std::fs::write(&token, "hub-token-of-the-site").unwrap();
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin());
            c
        }
        None => Command::new(bin()),
    };
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data);
    cmd.env("FOGWHISK_EDGE_POOL__PREWARM_NODEJS", "0")
        .env("FOGWHISK_EDGE_HUB__URL", "http://127.0.0.1:9")
        .env("FOGWHISK_EDGE_HUB__TOKEN_FILE", &token)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let started = Instant::now();
    let (api, _) = loop {
        if let Some(p) = wskprops(&data.join("wskprops")) {
            break p;
        }
        assert!(child.try_wait().unwrap().is_none(), "agent exited under {wrapper:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "agent did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out = Command::new(bin()).args(["namespaces", "create", "evil", "--data"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_string();
    let (u, k) = key.split_once(':').unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{api}/api/v1/namespaces/_/{p}");
    let r = http
        .put(url("actions/probe?overwrite=true"))
        .basic_auth(u, Some(k))
        .json(&json!({"exec": {"kind": "nodejs:20", "code": PROBE}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let r = http
        .post(url("actions/probe?blocking=true&result=true"))
        .basic_auth(u, Some(k))
        .json(&json!({"data": data, "token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let got: Value = r.json().await.unwrap();
    assert_ne!(got["uid"], json!(0), "{got}");
    for attack in ["environ", "keys", "store", "tokenFile", "runner"] {
        assert_eq!(got[attack], json!("EACCES"), "{attack} got through under {wrapper:?}: {got}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn an_action_reaches_none_of_the_agents_secrets_as_root_and_as_the_chart_runs_it() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the agent cannot isolate here (covered by secrets::unprivileged_start_is_refused...)");
        return;
    }
    attack(&[]).await;
    attack(&["setpriv", "--inh-caps", "-all", "--bounding-set", CHART_CAPS, "--"]).await;
}
