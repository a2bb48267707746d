//! Mosquitto (Debian's package) as a test peer: one broker on a free loopback port with its own folder,
//! optionally persistent, with extra configuration lines (password files, ACLs, TLS listeners), killed on drop.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::wait::{listening, until_blocking};

/// A running Mosquitto.
pub struct Mosquitto {
    /// The plain MQTT listener's port.
    pub port: u16,
    dir: tempfile::TempDir,
    extra: String,
    persistent: bool,
    child: Option<Child>,
}

impl Mosquitto {
    /// Anonymous, in-memory sessions, on a free port.
    pub fn start() -> Mosquitto {
        Mosquitto::with(false, "")
    }

    /// Sessions and queued messages kept on disk across [`Mosquitto::restart`].
    pub fn persistent() -> Mosquitto {
        Mosquitto::with(true, "")
    }

    /// With `extra` appended to the configuration (per-listener settings need `per_listener_settings`).
    pub fn with(persistent: bool, extra: &str) -> Mosquitto {
        let dir = tempfile::tempdir().expect("temp folder");
        // Started as root, mosquitto drops to user `mosquitto` unless `user root`; either way it must read this.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut m = Mosquitto { port: crate::free_port(), dir, extra: extra.to_string(), persistent, child: None };
        m.launch();
        m
    }

    fn launch(&mut self) {
        let d = self.dir.path().display();
        let persistence = if self.persistent {
            format!("persistence true\npersistence_location {d}/\n")
        } else {
            "persistence false\n".to_string()
        };
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\n{persistence}user root\nlog_dest file {d}/mosquitto.log\nmax_queued_messages 100000\n{}\n",
                self.port, self.extra
            ),
        )
        .expect("write mosquitto.conf");
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed (apt-get install mosquitto)");
        self.child = Some(child);
        let port = self.port;
        let log = self.dir.path().join("mosquitto.log");
        until_blocking(Duration::from_secs(15), "mosquitto to listen", || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("mosquitto exited at start ({status}): {}", std::fs::read_to_string(&log).unwrap_or_default());
            }
            listening(port)
        });
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The broker's folder (config, log, persistence file); extra files for its configuration go here.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the broker logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Stops the broker with SIGTERM (it saves its persistence file) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// Stops and starts it again on the same port and folder.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
