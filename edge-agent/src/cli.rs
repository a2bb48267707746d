//! The command line: `serve` runs the agent, `namespaces` manages namespaces and keys (like `wskadmin user`).

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
