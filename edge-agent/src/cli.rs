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
