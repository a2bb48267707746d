//! Starts agents for tests (in-process on port 0, or the real binary) and talks to them with reqwest.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running agent and a client for it.
pub struct Agent {
    pub api: String,
    pub auth: (String, String),
    pub data: PathBuf,
    pub child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
}

/// Reads `KEY=value` lines of a wskprops file.
pub fn wskprops(path: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let get = |k: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{k}=")).map(String::from));
    Some((get("APIHOST")?, get("AUTH")?))
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fogwhisk-edge")
}

impl Agent {
    /// Starts the real binary on a fresh (or given) data folder with extra environment.
    pub async fn spawn(data: Option<PathBuf>, env: &[(&str, &str)]) -> Agent {
        let (dir, data) = match data {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().unwrap();
                let d = t.path().join("data");
                (Some(t), d)
            }
        };
        let _ = std::fs::remove_file(data.join("wskprops"));
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data);
        cmd.env("FOGWHISK_EDGE_POOL__PREWARM_NODEJS", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let started = Instant::now();
        let (api, auth) = loop {
            if let Some(p) = wskprops(&data.join("wskprops")) {
                break p;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "agent did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (u, k) = auth.split_once(':').unwrap();
        let agent = Agent {
            api,
            auth: (u.into(), k.into()),
            data,
            child: Some(child),
            _dir: dir,
            http: reqwest::Client::new(),
        };
        loop {
            if agent.http.get(format!("{}/api/v1", agent.api)).send().await.is_ok() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "agent did not answer");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        agent
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1/namespaces/_/{path}", self.api)
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, self.url(path)).basic_auth(&self.auth.0, Some(&self.auth.1));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// Creates a Node.js action.
    pub async fn node_action(&self, name: &str, code: &str) {
        let (s, b) = self
            .put(
                &format!("actions/{name}?overwrite=true"),
                serde_json::json!({"exec":{"kind":"nodejs:20","code":code}}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }

    /// Creates namespace `name` with the CLI on this agent's data folder (the agent picks it up while running);
    /// returns its key as (uuid, secret).
    pub fn create_namespace(&self, name: &str) -> (String, String) {
        let out = Command::new(bin()).args(["namespaces", "create", name, "--data"]).arg(&self.data).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let key = String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_string();
        let (u, k) = key.split_once(':').unwrap();
        (u.to_string(), k.to_string())
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().unwrap().id() as i32;
        // SAFETY: kill(2) on our own child's pid has no memory effects.
        unsafe { libc::kill(pid, sig) };
    }

    /// Waits for the process to exit; returns its status.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut().unwrap();
        let start = Instant::now();
        while start.elapsed() < within {
            if let Some(st) = child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Keeps the data folder alive beyond this agent (for restarts).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
