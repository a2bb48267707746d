//! InfluxDB 1.x (`influxd`, Debian's package) and VictoriaMetrics as test and bench peers, each on free
//! loopback ports with its own folder, killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_port;
use crate::wait::until_blocking;

fn wait_http_ok(url: &str, what: &str) {
    until_blocking(Duration::from_secs(30), &format!("{what} to answer at {url}"), || {
        raw_http::get_ok(url).unwrap_or(false)
    });
}

mod raw_http {
    /// A tiny blocking GET over std (the tests' reqwest is async): true on any 2xx.
    pub fn get_ok(url: &str) -> std::io::Result<bool> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
        let mut s = std::net::TcpStream::connect(host)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
        let mut buf = [0u8; 16];
        let n = s.read(&mut buf)?;
        let head = String::from_utf8_lossy(&buf[..n]);
        Ok(head.starts_with("HTTP/1.0 2") || head.starts_with("HTTP/1.1 2"))
    }
}

/// A running `influxd` (InfluxDB 1.x) with its own temp folder.
pub struct Influxd {
    /// HTTP port (`/write`, `/query`, `/ping`).
    pub port: u16,
    rpc_port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Influxd {
    /// Starts a fresh server.
    pub fn start() -> Influxd {
        let mut me =
            Influxd { port: free_port(), rpc_port: free_port(), dir: tempfile::tempdir().unwrap(), child: None };
        me.launch();
        me
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("influxdb.conf")
    }

    fn launch(&mut self) {
        let d = self.dir.path().display();
        let conf = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n",
            rpc = self.rpc_port,
            http = self.port
        );
        std::fs::write(self.config_path(), conf).unwrap();
        let log = std::fs::File::create(self.dir.path().join("influxd.log")).unwrap();
        let child = Command::new("influxd")
            .args(["run", "-config"])
            .arg(self.config_path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("influxd must be installed (apt-get install influxdb)");
        self.child = Some(child);
        wait_http_ok(&format!("http://127.0.0.1:{}/ping", self.port), "influxd");
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server (kill + wait); data stays in its folder.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same ports and folders.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Runs an InfluxQL statement and returns the JSON answer.
    pub async fn query(&self, db: &str, q: &str) -> serde_json::Value {
        let resp = reqwest::Client::new()
            .post(format!("{}/query", self.url()))
            .form(&[("db", db), ("q", q), ("epoch", "ns")])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "query {q}: HTTP {}", resp.status());
        resp.json().await.unwrap()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running VictoriaMetrics (accepts `/api/v2/write` line protocol).
pub struct Victoria {
    /// HTTP port.
    pub port: u16,
    _dir: tempfile::TempDir,
    child: Child,
}

impl Victoria {
    /// Starts a fresh server.
    pub fn start() -> Victoria {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("vm.log")).unwrap();
        let child = Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", dir.path().join("data").display()))
            .args(["-retentionPeriod=100y", "-search.latencyOffset=0s"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("victoria-metrics must be installed (apt-get install victoria-metrics)");
        wait_http_ok(&format!("http://127.0.0.1:{port}/health"), "victoria-metrics");
        Victoria { port, _dir: dir, child }
    }

    /// Base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Victoria {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
