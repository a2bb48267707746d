//! The command line: `serve` runs the agent, `namespaces` manages namespaces and keys (like `wskadmin user`),
//! `deploy` applies a manifest, `devices` manages the embedded broker's sensor users, `dead-letters` lists,
//! re-queues and drops the outbox's dead letters.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use figment::providers::Serialized;
use figment::Figment;

use crate::config::Settings;
use crate::identity;

/// Fogwhisk edge agent: an OpenWhisk-compatible serverless platform for one site.
#[derive(Debug, Parser)]
#[command(name = "fogwhisk-edge", version)]
pub struct Cli {
    /// TOML configuration file (then FOGWHISK_EDGE_* variables, then flags).
    #[arg(long, global = true, env = "FOGWHISK_EDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data folder (store, keys, wskprops).
    #[arg(long, global = true)]
    pub data: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent.
    Serve {
        /// API address, e.g. 127.0.0.1:3233 (port 0 picks a free one).
        #[arg(long)]
        listen: Option<String>,
        /// This site's id.
        #[arg(long)]
        site: Option<String>,
        /// Public URL of the API, if it differs from http://<listen>.
        #[arg(long)]
        api_host: Option<String>,
    },
    /// Apply a wskdeploy manifest (e.g. `actions/manifest.yaml`) to a running agent, idempotently.
    Deploy {
        /// The manifest file; its `function` paths are relative to its folder.
        #[arg(long)]
        manifest: PathBuf,
        /// `KEY=VALUE` for `${KEY}` placeholders (`SITE_TZ` defaults to the site's time zone).
        #[arg(long = "var")]
        vars: Vec<String>,
        /// API host; default from `<data>/wskprops`.
        #[arg(long)]
        apihost: Option<String>,
        /// `uuid:key`; default from `<data>/wskprops`.
        #[arg(long)]
        auth: Option<String>,
    },
    /// Manage namespaces and their keys.
    Namespaces {
        /// What to do with them.
        #[command(subcommand)]
        action: NamespaceCommand,
    },
    /// The embedded MQTT broker's users: one per sensor, allowed only its own topics.
    Devices {
        /// What to do with them.
        #[command(subcommand)]
        action: crate::devices::DeviceCommand,
    },
    /// The outbox's dead letters (records the hub refused), through the running agent's API.
    DeadLetters {
        /// What to do with them.
        #[command(subcommand)]
        action: DeadLetterCommand,
        /// API host; default from `<data>/wskprops-whisk.system`.
        #[arg(long, global = true)]
        apihost: Option<String>,
        /// `uuid:key` of whisk.system; default from `<data>/wskprops-whisk.system`.
        #[arg(long, global = true)]
        auth: Option<String>,
    },
}

/// Dead-letter operations.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// List them with the hub's reason.
    List,
    /// Put one (its sequence number, or `all`) back at the end of the outbox, once the cause is fixed.
    Requeue {
        /// Sequence number from `list`, or `all`.
        id: String,
    },
    /// Delete one (or `all`) for good.
    Drop {
        /// Sequence number from `list`, or `all`.
        id: String,
    },
}

/// Namespace management.
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// List namespaces and their uuids.
    List,
    /// Create a namespace; prints its `uuid:key` on the last line.
    Create {
        /// Namespace name.
        name: String,
        /// Use this `uuid:key` instead of a generated one.
        #[arg(long)]
        key: Option<String>,
    },
    /// Print a namespace's `uuid:key`.
    Get {
        /// Namespace name.
        name: String,
    },
    /// Delete a namespace's key (its entities stay in the store).
    Delete {
        /// Namespace name.
        name: String,
    },
}

impl Cli {
    /// Settings from file, environment and these flags.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut over = Figment::new();
        if let Some(d) = &self.data {
            over = over.merge(Serialized::default("data_dir", d));
        }
        if let Command::Serve { listen, site, api_host } = &self.command {
            if let Some(l) = listen {
                over = over.merge(Serialized::default("listen", l));
            }
            if let Some(s) = site {
                over = over.merge(Serialized::default("site_id", s));
            }
            if let Some(h) = api_host {
                over = over.merge(Serialized::default("api_host", h));
            }
        }
        Ok(Settings::load(self.config.as_deref(), over)?)
    }
}

/// Runs a `namespaces` subcommand against the data folder.
pub fn namespaces(settings: &Settings, cmd: &NamespaceCommand) -> anyhow::Result<()> {
    let data = &settings.data_dir;
    std::fs::create_dir_all(data)?;
    match cmd {
        NamespaceCommand::List => {
            for (name, c) in identity::load(data)? {
                println!("{name}\t{}", c.uuid);
            }
        }
        NamespaceCommand::Create { name, key } => {
            let creds = key.as_deref().map(identity::Credentials::parse).transpose()?;
            let c = identity::create(data, name, creds)?;
            println!("{}", c.to_auth());
        }
        NamespaceCommand::Get { name } => {
            let map = identity::load(data)?;
            let c = map.get(name).ok_or_else(|| identity::IdentityError::Missing(name.clone()))?;
            println!("{}", c.to_auth());
        }
        NamespaceCommand::Delete { name } => {
            identity::delete(data, name)?;
            println!("deleted {name}");
        }
    }
    Ok(())
}

fn wskprop(settings: &Settings, file: &str, key: &str) -> Option<String> {
    let props = std::fs::read_to_string(settings.data_dir.join(file)).ok()?;
    props.lines().find_map(|l| l.strip_prefix(&format!("{key}=")).map(String::from))
}

/// Runs `dead-letters`: through the running agent's API (it holds the store), as `whisk.system`.
pub async fn dead_letters(
    settings: &Settings,
    cmd: &DeadLetterCommand,
    apihost: Option<String>,
    auth: Option<String>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let file = "wskprops-whisk.system";
    let apihost = apihost
        .or_else(|| wskprop(settings, file, "APIHOST"))
        .context("no --apihost and no APIHOST in <data>/wskprops-whisk.system")?;
    let auth = auth
        .or_else(|| wskprop(settings, file, "AUTH"))
        .context("no --auth and no AUTH in <data>/wskprops-whisk.system")?;
    let op = fogwhisk_site::outbox::operator::Operator::new(&apihost, &auth)?;
    match cmd {
        DeadLetterCommand::List => {
            let letters = op.list().await?;
            println!("{:<8} {:<12} {:<6} {:<14} {:<12} REASON", "ID", "DAY", "DC", "METRIC", "SET ASIDE");
            for l in &letters {
                let r = &l["record"];
                let at = chrono::DateTime::from_timestamp_millis(l["dead_ms"].as_i64().unwrap_or(0))
                    .map_or_else(String::new, |t| t.format("%m-%d %H:%M").to_string());
                println!(
                    "{:<8} {:<12} {:<6} {:<14} {:<12} {}",
                    l["seq"],
                    r["day"].as_str().unwrap_or(""),
                    r["datacenter_id"],
                    r["metric"].as_str().unwrap_or(""),
                    at,
                    l["reason"].as_str().unwrap_or("")
                );
            }
            println!("{} dead letter(s)", letters.len());
        }
        DeadLetterCommand::Requeue { id } => println!("re-queued {}", op.requeue(id).await?),
        DeadLetterCommand::Drop { id } => println!("dropped {}", op.drop(id).await?),
    }
    Ok(())
}

/// Runs `deploy`: applies a manifest through the agent's REST API.
pub async fn deploy(
    settings: &Settings,
    manifest: &std::path::Path,
    vars: &[String],
    apihost: Option<String>,
    auth: Option<String>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let props = std::fs::read_to_string(settings.data_dir.join("wskprops")).unwrap_or_default();
    let prop = |k: &str| props.lines().find_map(|l| l.strip_prefix(&format!("{k}=")).map(String::from));
    let apihost = apihost.or_else(|| prop("APIHOST")).context("no --apihost and no APIHOST in <data>/wskprops")?;
    let auth = auth.or_else(|| prop("AUTH")).context("no --auth and no AUTH in <data>/wskprops")?;
    let mut map = std::collections::BTreeMap::new();
    map.insert("SITE_TZ".to_string(), settings.timezone.clone());
    for v in vars {
        let (k, val) = v.split_once('=').with_context(|| format!("--var '{v}' is not KEY=VALUE"))?;
        map.insert(k.to_string(), val.to_string());
    }
    let text = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let base = manifest.parent().unwrap_or(std::path::Path::new("."));
    let summary = fogwhisk_site::manifest::apply(&apihost, &auth, &text, base, &map).await?;
    for step in &summary.steps {
        println!("{:<9} {:<40} {:?}", step.kind, step.name, step.outcome);
    }
    println!("applied {} to namespace {}", manifest.display(), summary.namespace);
    Ok(())
}
