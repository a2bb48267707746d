//! What the quickstart runs: its options, the two sites with their ports, and the state kept between runs.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde::{Deserialize, Serialize};

/// One command to a running Fogwhisk federation on embedded defaults.
#[derive(Debug, Clone, Parser)]
#[command(name = "fogwhisk-quickstart", version)]
pub struct Options {
    /// Folder of everything the federation keeps; running again resumes from it.
    #[arg(long, default_value = "quickstart-data")]
    pub data: PathBuf,
    /// Port of the hub (page, API, chart repository).
    #[arg(long, default_value_t = 8080)]
    pub hub_port: u16,
    /// API ports of the two sites.
    #[arg(long, num_args = 2, default_values_t = [3233, 3234])]
    pub api_ports: Vec<u16>,
    /// Embedded MQTT broker ports of the two sites.
    #[arg(long, num_args = 2, default_values_t = [1883, 1884])]
    pub mqtt_ports: Vec<u16>,
    /// Complete days of simulated history to publish on the first run.
    #[arg(long, default_value_t = 3)]
    pub days: u32,
    /// Minutes between two backfilled readings of a sensor.
    #[arg(long, default_value_t = 15)]
    pub step_minutes: u32,
    /// Seconds between two live readings of a sensor.
    #[arg(long, default_value_t = 10)]
    pub interval_secs: u64,
    /// Where `fogwhisk-hub` and `fogwhisk-edge` are; default: next to this program.
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
}

/// A site of the quickstart.
#[derive(Debug, Clone)]
pub struct Site {
    /// Site id at the hub.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// IANA zone.
    pub tz: &'static str,
    /// Datacenters with sensors.
    pub datacenters: &'static [u32],
    /// API port.
    pub api_port: u16,
    /// Embedded broker port.
    pub mqtt_port: u16,
}

/// Sensors per datacenter.
pub const DEVICES_PER_DC: usize = 3;

impl Options {
    /// The two sites, with this run's ports.
    pub fn sites(&self) -> Vec<Site> {
        vec![
            Site {
                id: "torino",
                name: "Torino DC",
                tz: "Europe/Rome",
                datacenters: &[1, 2],
                api_port: self.api_ports[0],
                mqtt_port: self.mqtt_ports[0],
            },
            Site {
                id: "newyork",
                name: "New York plant",
                tz: "America/New_York",
                datacenters: &[7, 8],
                api_port: self.api_ports[1],
                mqtt_port: self.mqtt_ports[1],
            },
        ]
    }
}

/// What the quickstart remembers between runs (`<data>/quickstart.json`, mode 0600).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// The hub's admin token.
    pub admin_token: String,
    /// Site id → its token at the hub.
    pub site_tokens: std::collections::BTreeMap<String, String>,
    /// Whether the history was published and reported.
    pub backfilled: bool,
}

impl State {
    fn path(data: &Path) -> PathBuf {
        data.join("quickstart.json")
    }

    /// Reads the state, or an empty one on the first run.
    pub fn load(data: &Path) -> anyhow::Result<State> {
        match std::fs::read(Self::path(data)) {
            Ok(b) => Ok(serde_json::from_slice(&b)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the state (private: it holds tokens).
    pub fn save(&self, data: &Path) -> anyhow::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let tmp = Self::path(data).with_extension("tmp");
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self)?)?;
        f.sync_all()?;
        std::fs::rename(tmp, Self::path(data))?;
        Ok(())
    }
}
