//! The real hub binary for tests: where it is built, a running `serve` process (killed on drop) with its
//! bootstrap admin token, and registering a site or creating a scoped token with the CLI.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// `target/debug/fogwhisk-hub` (or `FOGWHISK_HUB_BIN`); run `cargo build -p fogwhisk-hub` first.
pub fn hub_bin() -> PathBuf {
    if let Ok(p) = std::env::var("FOGWHISK_HUB_BIN") {
        return p.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/fogwhisk-hub");
    assert!(bin.exists(), "{} is missing: run `cargo build -p fogwhisk-hub` first", bin.display());
    bin
}

/// A running hub (embedded store, no InfluxDB), killed on drop.
pub struct Hub {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    data: PathBuf,
}

impl Hub {
    /// Starts `fogwhisk-hub serve` on `listen` (e.g. `127.0.0.1:0`) and waits until it announces its URL.
    pub fn start(data: &Path, listen: &str) -> Hub {
        Hub::start_with_env(data, listen, &[])
    }

    /// The same with extra `FOGWHISK_HUB_*` variables (e.g. `FOGWHISK_HUB_ANONYMOUS_READS=false`).
    pub fn start_with_env(data: &Path, listen: &str, env: &[(&str, &str)]) -> Hub {
        let mut child = Command::new(hub_bin())
            .args(["--data", data.to_str().unwrap(), "serve", "--listen", listen, "--influx-backend", "none"])
            .env("RUST_LOG", "warn")
            .env_remove("FOGWHISK_HUB_ADMIN_TOKEN")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("hub exited before listening").unwrap();
            if let Some(u) = line.strip_prefix("listening on ") {
                break u.trim().to_string();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Hub { child, url, data: data.to_path_buf() }
    }

    /// The bootstrap admin token the hub generated into `<data>/admin-token`.
    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data.join("admin-token")).expect("admin-token file").trim().to_string()
    }

    /// Kills the hub and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Registers `site` (zone `tz`) in the hub store at `data` and returns its token.
pub fn add_site(data: &Path, site: &str, tz: &str) -> String {
    let out = Command::new(hub_bin())
        .args(["--data", data.to_str().unwrap(), "sites", "add", site, "--tz", tz])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().find_map(|l| l.strip_prefix("token: ")).expect("token line").trim().to_string()
}

/// Creates a scoped token (`admin`, `publisher`, `reader`) in the hub store at `data` (hub stopped) and
/// returns (id, token).
pub fn add_token(data: &Path, role: &str) -> (String, String) {
    let out = Command::new(hub_bin())
        .args(["--data", data.to_str().unwrap(), "tokens", "create", "--role", role])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let id = text.lines().find_map(|l| l.strip_prefix("token ")?.split_whitespace().next()).expect("id line");
    let token = text.lines().find_map(|l| l.strip_prefix("token: ")).expect("token line").trim();
    (id.to_string(), token.to_string())
}
