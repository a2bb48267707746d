//! A real CouchDB-protocol server for tests: pouchdb-server from `tests/peers` (installed by
//! `scripts/install-test-deps.sh`), in memory, on a free loopback port, in its own scratch folder (it
//! writes `config.json` and `log.txt` there), killed on drop. Apache CouchDB itself is not installable here.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_port;
use crate::wait::{listening, until_blocking};

/// `tests/peers/node_modules/.bin/pouchdb-server` (or `FOGWHISK_POUCHDB_SERVER`).
pub fn pouchdb_bin() -> PathBuf {
    if let Ok(p) = std::env::var("FOGWHISK_POUCHDB_SERVER") {
        return p.into();
    }
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/node_modules/.bin/pouchdb-server");
    assert!(bin.exists(), "{} is missing: run scripts/install-test-deps.sh", bin.display());
    bin
}

/// A running pouchdb-server (admin party: no admins, so every request is authorized).
pub struct PouchDb {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl PouchDb {
    /// Starts pouchdb-server in memory (`-m`, no stdout logs `-n`) and waits until it answers `GET /`.
    pub fn start() -> PouchDb {
        let dir = tempfile::tempdir().expect("scratch folder");
        let port = free_port();
        let child = Command::new(pouchdb_bin())
            .args(["-o", "127.0.0.1", "-p", &port.to_string(), "-m", "-n"])
            .current_dir(dir.path())
            .env("NODE_OPTIONS", "--unhandled-rejections=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pouchdb-server starts");
        let mut me = PouchDb { child, url: format!("http://127.0.0.1:{port}"), port, _dir: dir };
        until_blocking(Duration::from_secs(30), "pouchdb-server to listen", || {
            assert!(me.child.try_wait().ok().flatten().is_none(), "pouchdb-server exited at start");
            listening(port)
        });
        let url = me.url.clone();
        until_blocking(Duration::from_secs(30), "pouchdb-server to answer GET /", || probe::answers_ok(&url));
        me
    }

    /// Ends admin party: makes `user` a server admin with `password` (`PUT /_config/admins/{user}`), so
    /// database creation needs those credentials from then on.
    pub fn add_admin(&self, user: &str, password: &str) {
        let body = format!("{password:?}");
        let status = probe::request(&self.url, "PUT", &format!("/_config/admins/{user}"), &body);
        assert!(status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200"), "adding an admin: {status}");
    }
}

impl Drop for PouchDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod probe {
    /// Sends one plain HTTP/1.0 request with a JSON body; the status line of the answer.
    pub fn request(url: &str, method: &str, path: &str, body: &str) -> String {
        use std::io::{Read, Write};
        let hostport = url.strip_prefix("http://").expect("http URL");
        let mut s = std::net::TcpStream::connect(hostport).expect("connects");
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(5)));
        let head = format!(
            "{method} {path} HTTP/1.0\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).and_then(|()| s.write_all(body.as_bytes())).expect("request sent");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.lines().next().unwrap_or_default().to_string()
    }

    /// Whether `GET url` answers 200 (a plain HTTP/1.0 request, so no async runtime is needed here).
    pub fn answers_ok(url: &str) -> bool {
        use std::io::{Read, Write};
        let Some(hostport) = url.strip_prefix("http://") else { return false };
        let Ok(mut s) = std::net::TcpStream::connect(hostport) else { return false };
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        if s.write_all(format!("GET / HTTP/1.0\r\nHost: {hostport}\r\n\r\n").as_bytes()).is_err() {
            return false;
        }
        let mut buf = [0u8; 16];
        s.read(&mut buf).is_ok_and(|n| buf[..n].starts_with(b"HTTP/1.1 200") || buf[..n].starts_with(b"HTTP/1.0 200"))
    }
}
