//! Issue 9's attacks, tried by action code against the agent and another namespace's runtime process, as the
//! agent runs as root and as the edge chart runs it (uid 0 with only SETUID, SETGID, CHOWN, FOWNER and KILL:
//! the test binary re-runs itself under `setpriv` for that). Every attack must fail to get through.

mod common;

use std::time::{Duration, Instant};

use common::*;
use fogwhisk_runtime::{Isolation, RunStatus};
use serde_json::{json, Value};

const INNER: &str = "FOGWHISK_ATTACKS_UNDER_CHART_CAPS";

fn isolated() -> bool {
    matches!(Isolation::detect(), Isolation::Separate { .. })
}

async fn eventually(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An action that tries everything it should not be able to do, and reports what happened.
const PROBE: &str = r#"
const fs = require('fs');
const net = require('net');
function attempt(f) { try { const v = f(); return v === undefined ? 'ok' : v; } catch (e) { return e.code || String(e); } }
async function main(p) {
  const r = {};
  r.uid = process.getuid();
  r.agentEnviron = attempt(() => fs.readFileSync('/proc/' + process.ppid + '/environ', 'utf8').slice(0, 20));
  r.dataFile = attempt(() => fs.readFileSync(p.dataFile, 'utf8'));
  r.writeRunner = attempt(() => fs.appendFileSync(process.argv[1], '// pwned'));
  r.listSockets = attempt(() => fs.readdirSync(p.socketsDir).join(','));
  r.victimEnviron = attempt(() => fs.readFileSync('/proc/' + p.victimPid + '/environ', 'utf8').slice(0, 20));
  r.victimFolder = attempt(() => fs.readdirSync(p.victimDir).join(','));
  r.signalVictim = attempt(() => { process.kill(p.victimPid, 'SIGUSR1'); });
  r.connectVictim = await new Promise((resolve) => {
    const s = net.connect(p.victimSocket);
    s.on('connect', () => { s.destroy(); resolve('connected'); });
    s.on('error', (e) => resolve(e.code));
  });
  return r;
}"#;

async fn probe_attacks() {
    let t = pool().await;
    // the victim: a warm process of another namespace's action, with its key
    let victim = node(
        "victim@1",
        "function main() { return { key: process.env.__OW_API_KEY, pid: process.pid, dir: process.cwd() }; }",
    );
    let mut vctx = ctx(json!({}));
    vctx.namespace = "guest".into();
    vctx.api_key = Some("guest-uuid:guest-key".into());
    let first = t.pool.run(&victim, vctx.clone()).await;
    assert_eq!(first.status, RunStatus::Success, "{first:?}");
    let victim_pid = first.result["pid"].as_u64().unwrap();
    let victim_dir = first.result["dir"].as_str().unwrap().to_string();
    let sockets_dir = t.dir.path().join("work/sockets");
    let victim_socket = std::fs::read_dir(&sockets_dir).unwrap().next().unwrap().unwrap().path();
    let data = t.dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("namespaces.json"), "{\"guest\":\"secret\"}").unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();

    let mut evil = ctx(json!({
        "dataFile": data.join("namespaces.json"),
        "socketsDir": sockets_dir,
        "victimPid": victim_pid,
        "victimDir": victim_dir,
        "victimSocket": victim_socket,
    }));
    evil.namespace = "evil".into();
    let out = t.pool.run(&node("probe@1", PROBE), evil).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    let r = &out.result;
    assert_ne!(r["uid"], json!(0), "not the agent's uid");
    for (attack, expected) in [
        ("agentEnviron", "EACCES"),
        ("dataFile", "EACCES"),
        ("writeRunner", "EACCES"),
        ("listSockets", "EACCES"),
        ("victimEnviron", "EACCES"),
        ("victimFolder", "EACCES"),
        ("signalVictim", "EPERM"),
        ("connectVictim", "EACCES"),
    ] {
        assert_eq!(r[attack], json!(expected), "{attack} got through: {r}");
    }
    // the victim is unaffected: warm, same process, its own key
    let again = t.pool.run(&victim, vctx).await;
    assert_eq!(again.status, RunStatus::Success);
    assert_eq!(again.result["pid"], json!(victim_pid));
    assert_eq!(again.result["key"], json!("guest-uuid:guest-key"));
    assert_ne!(again.result["pid"], Value::Null);
    t.pool.shutdown().await;
}

async fn fork_bomb_and_detached_children() {
    let t = pool_with(|c| c.max_tasks = 48).await;
    let mut bomb = python(
        "bomb@1",
        "import os, time\ndef main(a):\n    n = 0\n    while n < 100000:\n        try:\n            pid = os.fork()\n        except OSError as e:\n            return {'forked': n, 'stopped_by': e.strerror, 'uid': os.getuid()}\n        if pid == 0:\n            time.sleep(600)\n            os._exit(0)\n        n += 1\n    return {'forked': n, 'uid': os.getuid()}\n",
    );
    bomb.memory_mb = 1024;
    let out = t.pool.run(&bomb, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    let forked = out.result["forked"].as_u64().unwrap();
    assert!(forked < 48, "the fork bomb was stopped by the task limit: {}", out.result);
    let uid = out.result["uid"].as_u64().unwrap() as u32;
    // a detached child that would outlive its action
    let detach = node(
        "detach@1",
        "const cp = require('child_process');\nfunction main() { const c = cp.spawn('sleep', ['600'], { detached: true, stdio: 'ignore' }); c.unref(); return { pid: c.pid, uid: process.getuid() }; }",
    );
    let d = t.pool.run(&detach, empty_ctx()).await;
    assert_eq!(d.status, RunStatus::Success, "{d:?}");
    let child = d.result["pid"].as_u64().unwrap();
    let detach_uid = d.result["uid"].as_u64().unwrap() as u32;
    assert!(pid_alive(child));
    // other actions still run while the bomb's processes sleep
    let ok = t.pool.run(&node("ok@1", "function main() { return { ok: true }; }"), empty_ctx()).await;
    assert_eq!(ok.status, RunStatus::Success, "{ok:?}");
    // retiring the processes ends everything their uids started
    t.pool.shutdown().await;
    eventually("the bomb's and the detached processes are gone", Duration::from_secs(10), || {
        !pid_alive(child) && owned_by(uid) == 0 && owned_by(detach_uid) == 0
    })
    .await;
}

/// Files an action leaves in the shared temp folders go with its process: the uid is given to another
/// namespace's process next, which must not find them.
async fn temp_leftovers() {
    let t = pool().await;
    let tag = format!("fogwhisk-leftover-{}", std::process::id());
    let code = format!(
        "const fs = require('fs');\nfunction main() {{ const made = []; for (const d of ['/tmp', '/dev/shm']) {{ try {{ fs.writeFileSync(d + '/{tag}', 'namespace secret'); made.push(d + '/{tag}'); }} catch (e) {{}} }} try {{ fs.mkdirSync('/tmp/{tag}-dir'); fs.writeFileSync('/tmp/{tag}-dir/inner', 'x'); made.push('/tmp/{tag}-dir'); }} catch (e) {{}} return {{ made }}; }}"
    );
    let out = t.pool.run(&node("leftover@1", &code), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    let made: Vec<String> = serde_json::from_value(out.result["made"].clone()).unwrap();
    assert!(made.iter().any(|p| p.starts_with("/tmp/")), "the action could write to /tmp: {made:?}");
    assert!(made.iter().all(|p| std::path::Path::new(p).exists()), "{made:?}");
    t.pool.shutdown().await;
    eventually("the action's temp files are gone with its process", Duration::from_secs(10), || {
        made.iter().all(|p| !std::path::Path::new(p).exists())
    })
    .await;
}

/// Live processes whose owner is `uid`.
fn owned_by(uid: u32) -> usize {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| e.metadata().map(|m| m.uid() == uid).unwrap_or(false))
        .filter(|e| pid_alive(e.file_name().to_string_lossy().parse().unwrap()))
        .count()
}

async fn log_flood_is_truncated() {
    let t = pool().await;
    let mut flood = node(
        "flood@1",
        "function main() { const line = 'x'.repeat(1000); for (let i = 0; i < 30000; i++) console.log(line); return { done: true }; }",
    );
    flood.logs_limit_bytes = 1024 * 1024;
    let out = t.pool.run(&flood, empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    let bytes: usize = out.logs.iter().map(|l| l.len()).sum();
    assert!(bytes < 2 * 1024 * 1024, "logs bounded: {bytes} bytes");
    assert!(out.logs.last().unwrap().contains("Logs were truncated"), "{:?}", out.logs.last());
    t.pool.shutdown().await;
}

macro_rules! attack_tests {
    ($($name:ident => $body:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            if !isolated() {
                eprintln!("this host cannot isolate (not root): the agent refuses to start here unless told");
                assert!(!fogwhisk_runtime::process::identity::can_isolate());
                return;
            }
            if std::env::var_os(INNER).is_some() {
                // the child copy: prove the capabilities really are the chart's, then attack
                let status = std::fs::read_to_string("/proc/self/status").unwrap();
                let eff = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim().to_string();
                assert_eq!(u64::from_str_radix(&eff, 16).unwrap(), 0xe9, "CAP_CHOWN|FOWNER|KILL|SETGID|SETUID only");
                $body().await;
                return;
            }
            $body().await;
            under_chart_caps(stringify!($name), INNER);
        }
    )*};
}

attack_tests! {
    actions_cannot_reach_the_agent_or_another_runtime => probe_attacks,
    fork_bombs_and_detached_children_end_with_their_process => fork_bomb_and_detached_children,
    a_log_flood_is_truncated => log_flood_is_truncated,
    temp_files_end_with_their_process => temp_leftovers,
}

/// The bytes sent to `socket` get no answer at all: the connection ends (or stays silent) without a byte back.
async fn unanswered(socket: &std::path::Path, bytes: &[u8]) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::UnixStream::connect(socket).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut buf)).await;
    assert!(buf.is_empty(), "answered without the secret: {}", String::from_utf8_lossy(&buf));
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = ((payload.len() + 5) as u32).to_be_bytes().to_vec();
    f.push(kind);
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

async fn channel_refuses(protocol: fogwhisk_runtime::process::Protocol) {
    use fogwhisk_runtime::process::frame::{HELLO, INIT};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir);
    let proc =
        fogwhisk_runtime::RuntimeProcess::spawn_with(&cfg, fogwhisk_runtime::RuntimeKind::Nodejs20, 256, protocol)
            .await
            .unwrap();
    let body = r#"{"value":{"code":"function main(){return {}}","main":"main"}}"#;
    // an HTTP request without the secret, and (framed) frames without it, a wrong one, or before the HELLO
    let http = format!(
        "POST /init HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    unanswered(proc.socket(), http.as_bytes()).await;
    let wrong = [frame(HELLO, &[b'0'; 64]), frame(INIT, body.as_bytes())].concat();
    unanswered(proc.socket(), &wrong).await;
    unanswered(proc.socket(), &frame(INIT, body.as_bytes())).await;
    unanswered(proc.socket(), &[frame(HELLO, b""), frame(INIT, body.as_bytes())].concat()).await;
    // the stem cell is still uninitialized: the agent's own /init works
    let spec = node("env@1", "function main() { return { env: process.env }; }");
    let init = proc.init(&spec, &empty_ctx()).await.unwrap();
    assert_eq!(init.status, 200);
    // keys of a /run body outside the protocol's context never become variables
    let mut run = fogwhisk_runtime::protocol::run_body(&empty_ctx());
    run["evil"] = json!("x");
    run["api_host"] = json!("http://127.0.0.1:1");
    let reply = proc.post("/run", &run, Duration::from_secs(10), 1 << 20).await.unwrap();
    let env: Value = serde_json::from_slice(&reply.body).unwrap();
    assert!(env["env"].get("__OW_EVIL").is_none(), "{env}");
    assert_eq!(env["env"]["__OW_API_HOST"], json!("http://127.0.0.1:1"), "a context key does: {env}");
    for var in ["FOGWHISK_SECRET", "FOGWHISK_LISTEN_FD", "FOGWHISK_PROTOCOL"] {
        assert!(env["env"].get(var).is_none(), "{var} reached the action: {env}");
    }
    proc.kill().await;
}

#[tokio::test]
async fn the_channel_refuses_requests_without_the_secret_and_extra_context_keys() {
    channel_refuses(fogwhisk_runtime::process::Protocol::Framed).await;
    channel_refuses(fogwhisk_runtime::process::Protocol::Http).await;
}
