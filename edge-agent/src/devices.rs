//! The embedded broker's users from the agent's side: the `devices` command (add, rotate, list,
//! remove a sensor's MQTT user; its password is printed once) and the agent's own feed user,
//! created at first start, whose URL goes to `<data>/mqtt-feed` (0600) for `deploy`'s `MQTT_URL`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use fogwhisk_broker::users::{Role, Users, FEED_USER};

use crate::config::Settings;
use crate::identity::write_private;

/// The feed's credentials and URL in the data folder (`MQTT_USER=`, `MQTT_PASSWORD=`, `MQTT_URL=` lines).
pub const FEED_FILE: &str = "mqtt-feed";

/// Device operations.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Give a sensor its MQTT user; prints `user:password` on the last line (shown only now).
    Add {
        /// Its datacenter id.
        datacenter: u32,
        /// Its fingerprint (6 upper-case hex digits, as the firmware prints it).
        fingerprint: String,
        /// User name (default: the fingerprint).
        #[arg(long)]
        user: Option<String>,
        /// Replace the password of an existing user (the old one stops working at its next connect).
        #[arg(long)]
        rotate: bool,
    },
    /// List the broker's users (no passwords).
    List,
    /// Remove a sensor's user (by user name or fingerprint); it can no longer connect.
    Remove {
        /// User name or fingerprint.
        name: String,
    },
}

/// Runs a `devices` subcommand against the data folder (the running agent sees the change at the
/// next connect).
pub fn run(settings: &Settings, cmd: &DeviceCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)?;
    let users = Users::in_dir(&settings.data_dir);
    match cmd {
        DeviceCommand::Add { datacenter, fingerprint, user, rotate } => {
            let (user, password) = users.add_device(*datacenter, fingerprint, user.as_deref(), *rotate)?;
            println!("device {fingerprint} of datacenter {datacenter}: publishes on telemetry/{datacenter}/{fingerprint} and status/{datacenter}/{fingerprint}");
            println!("the password is shown only now (stored hashed in {})", users.path().display());
            println!("{user}:{password}");
        }
        DeviceCommand::List => {
            println!("{:<24} {:<8} {:<10} TOPICS", "USER", "ROLE", "DC");
            for (name, entry) in users.load()? {
                match &entry.role {
                    Role::Device { datacenter, fingerprint } => {
                        println!("{name:<24} {:<8} {datacenter:<10} telemetry/{datacenter}/{fingerprint} status/{datacenter}/{fingerprint}", "device")
                    }
                    Role::Feed => println!("{name:<24} {:<8} {:<10} subscribes telemetry/# status/#", "feed", "-"),
                }
            }
        }
        DeviceCommand::Remove { name } => println!("removed {}", users.remove(name)?),
    }
    Ok(())
}

/// Makes sure the feed user exists and `<data>/mqtt-feed` holds its password and a URL for the
/// broker at `broker` (a new password when the file was lost: the old one is not recoverable).
pub fn ensure_feed(data: &Path, broker: SocketAddr) -> anyhow::Result<()> {
    let users = Users::in_dir(data);
    let file = data.join(FEED_FILE);
    let kept = std::fs::read_to_string(&file).ok().and_then(|text| {
        let password = text.lines().find_map(|l| l.strip_prefix("MQTT_PASSWORD="))?.to_string();
        Some(password)
    });
    let kept = match kept {
        Some(p) if users.authenticate(FEED_USER, &p)?.is_some() => Some(p),
        _ => None,
    };
    let password = match kept {
        Some(p) => p,
        None => {
            let p = users.ensure_feed(true)?.context("a new feed password")?;
            tracing::info!(file = %file.display(), "MQTT feed user {FEED_USER} created");
            p
        }
    };
    let addr = if broker.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], broker.port())) } else { broker };
    let text =
        format!("MQTT_USER={FEED_USER}\nMQTT_PASSWORD={password}\nMQTT_URL=mqtt://{FEED_USER}:{password}@{addr}\n");
    write_private(&file, text.as_bytes()).with_context(|| format!("writing {}", file.display()))
}
