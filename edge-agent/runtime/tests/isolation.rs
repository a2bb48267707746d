//! What an action can see of the agent: environment, file descriptors, user and files.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use fogwhisk_runtime::RunStatus;
use serde_json::{json, Value};

#[tokio::test]
async fn environment_is_clean_and_carries_the_activation() {
    // SAFETY: set before any runtime process is spawned by this test binary's tests that read it;
    // no other thread reads this variable.
    unsafe { std::env::set_var("FOGWHISK_SECRET_TEST", "do-not-leak") };
    let t = pool_with(|c| c.api_host = "http://127.0.0.1:3233".into()).await;
    let spec = node("env@1", "function main() { return { env: process.env }; }");
    let c = ctx(json!({}));
    let out = t.pool.run(&spec, c.clone()).await;
    assert_eq!(out.status, RunStatus::Success);
    let env = out.result["env"].as_object().unwrap();
    assert!(!env.contains_key("FOGWHISK_SECRET_TEST"));
    assert!(!env.contains_key("__OW_API_KEY"), "no api key unless provided");
    assert_eq!(env["__OW_ACTIVATION_ID"], c.activation_id.as_str());
    assert_eq!(env["__OW_NAMESPACE"], "guest");
    assert_eq!(env["__OW_ACTION_NAME"], "/guest/hello");
    assert_eq!(env["__OW_ACTION_VERSION"], "0.0.1");
    assert_eq!(env["__OW_DEADLINE"], c.deadline_ms.to_string().as_str());
    assert_eq!(env["__OW_API_HOST"], "http://127.0.0.1:3233");
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin:/bin");
    assert_eq!(env["LANG"], "C.UTF-8");
    for key in env.keys() {
        let allowed = key.starts_with("__OW_") || ["PATH", "HOME", "LANG"].contains(&key.as_str());
        assert!(allowed, "unexpected variable {key} in the action's environment");
    }
    // the next activation on the same (warm) process sees its own id
    let c2 = ctx(json!({}));
    let out = t.pool.run(&spec, c2.clone()).await;
    assert!(out.init_time_ms.is_none());
    assert_eq!(out.result["env"]["__OW_ACTIVATION_ID"], c2.activation_id.as_str());
    // with provide-api-key
    let mut c3 = ctx(json!({}));
    c3.api_key = Some("uuid:key".into());
    let py = python("envpy@1", "import os\ndef main(a):\n    return {'env': dict(os.environ)}\n");
    let out = t.pool.run(&py, c3.clone()).await;
    let env = out.result["env"].as_object().unwrap();
    assert_eq!(env["__OW_API_KEY"], "uuid:key");
    assert_eq!(env["__OW_ACTIVATION_ID"], c3.activation_id.as_str());
    assert!(!env.contains_key("FOGWHISK_SECRET_TEST"));
    t.pool.shutdown().await;
}

#[tokio::test]
async fn no_descriptor_of_the_agent_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("agent-secret.db");
    let file = std::fs::File::create(&secret_path).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fd_target = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap().to_string_lossy().to_string();
    use std::os::fd::AsRawFd;
    let file_target = fd_target(file.as_raw_fd());
    let socket_target = fd_target(listener.as_raw_fd());
    assert!(socket_target.starts_with("socket:["));
    // a descriptor opened without close-on-exec (as a careless library might): dup() clears the flag
    // SAFETY: dup of a valid descriptor; closed at the end of the test.
    let inheritable = unsafe { libc::dup(file.as_raw_fd()) };
    assert!(inheritable > 2);
    // SAFETY: fcntl query on a valid descriptor.
    assert_eq!(unsafe { libc::fcntl(inheritable, libc::F_GETFD) } & libc::FD_CLOEXEC, 0);
    let t = pool().await;
    let code = r#"
        const fs = require('fs');
        function main() {
            const fds = {};
            for (const fd of fs.readdirSync('/proc/self/fd')) {
                try { fds[fd] = fs.readlinkSync('/proc/self/fd/' + fd); } catch (e) { fds[fd] = 'unreadable'; }
            }
            return { fds };
        }"#;
    let out = t.pool.run(&node("fds@1", code), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    let fds = out.result["fds"].as_object().unwrap();
    // the listing's own directory fd is gone by the time it is read; stdin/stdout/stderr must be there
    let readable = fds.values().filter(|t| *t != &Value::from("unreadable")).count();
    assert!(readable >= 3, "the listing worked: {fds:?}");
    for (fd, target) in fds {
        assert_ne!(target.as_str().unwrap(), file_target, "file fd {fd} leaked");
        assert_ne!(target.as_str().unwrap(), socket_target, "socket fd {fd} leaked");
    }
    let py = "import os\ndef main(a):\n    return {'fds': {f: os.readlink('/proc/self/fd/' + f) for f in os.listdir('/proc/self/fd') if os.path.exists('/proc/self/fd/' + f)}}\n";
    let out = t.pool.run(&python("fdspy@1", py), empty_ctx()).await;
    let fds = out.result["fds"].as_object().expect("python fd listing");
    assert!(!fds.is_empty());
    assert!(fds.values().all(|t| t.as_str() != Some(&file_target) && t.as_str() != Some(&socket_target)));
    drop((file, listener));
    // SAFETY: closing the descriptor dup'ed above.
    unsafe { libc::close(inheritable) };
    t.pool.shutdown().await;
}

#[tokio::test]
async fn actions_run_unprivileged_when_the_agent_is_root() {
    let t = pool().await;
    // a private folder of the agent with a file in it
    let private = t.dir.path().join("agent-data");
    std::fs::create_dir(&private).unwrap();
    std::fs::write(private.join("keys.txt"), "secret").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let file = private.join("keys.txt");
    let code = format!(
        r#"const fs = require('fs');
        function main() {{
            let read;
            try {{ read = fs.readFileSync({path:?}, 'utf8'); }} catch (e) {{ read = e.code; }}
            return {{ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), read, home: process.env.HOME, cwd: process.cwd() }};
        }}"#,
        path = file.to_string_lossy()
    );
    let out = t.pool.run(&node("who@1", &code), empty_ctx()).await;
    assert_eq!(out.status, RunStatus::Success, "{out:?}");
    assert_eq!(out.result["home"], out.result["cwd"], "HOME is the process folder");
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        let uid = out.result["uid"].as_u64().unwrap();
        assert!(uid >= u64::from(fogwhisk_runtime::process::identity::DEFAULT_UID_BASE), "{uid}");
        assert_eq!(out.result["gid"], out.result["uid"], "a group of its own too");
        assert!(!out.result["groups"].as_array().unwrap().contains(&json!(0)), "{:?}", out.result);
        assert_eq!(out.result["read"], "EACCES", "the agent's private file is unreadable");
    } else {
        // without root there is no other user to switch to: the action runs as the agent's user (the agent
        // refuses this unless told the site is single-tenant)
        assert_eq!(out.result["uid"], euid);
    }
    t.pool.shutdown().await;
}

#[tokio::test]
async fn work_dir_inside_a_private_folder_is_refused_for_root() {
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("data");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut cfg = config(&dir);
    cfg.work_dir = private.join("runtimes");
    let started = fogwhisk_runtime::Pool::start(cfg).await;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let err = started.err().expect("refused").to_string();
        assert!(err.contains("not traversable"), "{err}");
    } else {
        started.expect("own user can use its own folder").shutdown().await;
    }
}
