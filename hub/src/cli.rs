//! The `fogwhisk-hub` command line: `serve`, `sites add|list|remove`, `tokens create|list|rotate|revoke`,
//! `catalog apply`, `backfill`, `config`. The `sites` and `tokens` commands open the store (hub stopped); while the hub runs
//! the admin API does the same (`/api/v1/sites`, `/api/v1/tokens`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use fogwhisk_wire::hub::NewSite;
use tokio_util::sync::CancellationToken;

use crate::config::{FlagOverrides, InfluxBackend, InfluxFlagOverrides, Settings};
use crate::influx::{build_sink, run_writer, Writer, WriterConfig};
use crate::store::Store;

/// Fogwhisk hub: sites, aggregate ingest, InfluxDB writer, web page and Helm chart repository.
#[derive(Debug, Parser)]
#[command(name = "fogwhisk-hub", version)]
pub struct Cli {
    /// TOML configuration file (then FOGWHISK_HUB_* variables, then flags, override it).
    #[arg(long, global = true, env = "FOGWHISK_HUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data folder (store, admin token, charts).
    #[arg(long = "data", global = true)]
    pub data: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the hub.
    Serve(ServeArgs),
    /// Manage sites (the hub must not be running: the store is opened exclusively).
    Sites {
        /// Site operation.
        #[command(subcommand)]
        command: SitesCommand,
    },
    /// Manage scoped tokens and site tokens (the hub must not be running; while it runs use /api/v1/tokens).
    Tokens {
        /// Token operation.
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// The shared catalog (with the embedded store the hub must not be running; with CouchDB it may).
    Catalog {
        /// Catalog operation.
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Queue every stored aggregate for InfluxDB again and write the queue out (e.g. to a new, empty InfluxDB).
    Backfill,
    /// Print the effective configuration (secrets redacted).
    Config,
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address, e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Admin token (prefer FOGWHISK_HUB_ADMIN_TOKEN or the generated token file).
    #[arg(long)]
    pub admin_token: Option<String>,
    /// InfluxDB backend: none, v1 or v2.
    #[arg(long, value_parser = ["none", "v1", "v2"])]
    pub influx_backend: Option<String>,
    /// InfluxDB base URL.
    #[arg(long)]
    pub influx_url: Option<String>,
}

/// `sites` operations.
#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Register a site and print its token (shown only this once).
    Add {
        /// Site id (lowercase letters, digits, '-', '_').
        id: String,
        /// IANA time zone, e.g. Europe/Rome.
        #[arg(long)]
        tz: String,
        /// Display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
    },
    /// List sites.
    List,
    /// Remove a site and its token (its aggregates are kept).
    Remove {
        /// Site id.
        id: String,
    },
}

/// `catalog` operations.
#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Write a wskdeploy manifest (e.g. actions/manifest.yaml) into the catalog once for every site;
    /// `${VAR}` placeholders are kept for each site to fill. Entities stored as declared are left alone.
    Apply {
        /// The manifest; its `function` paths are relative to its folder.
        #[arg(long)]
        manifest: PathBuf,
        /// Catalog namespace (default: catalog.default_namespace).
        #[arg(long)]
        namespace: Option<String>,
    },
}

/// `tokens` operations.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token and print it (shown only this once).
    Create {
        /// admin (sites, tokens), publisher (upload and delete charts), reader (charts, aggregates, page) or
        /// catalog (the shared catalog's entity API).
        #[arg(long, value_parser = ["admin", "publisher", "reader", "catalog"])]
        role: String,
        /// Free text, e.g. ci.
        #[arg(long)]
        label: Option<String>,
    },
    /// List every credential (no tokens).
    List,
    /// Issue a new token for ID (a token id, or site:<site>); the old one stops working.
    Rotate {
        /// Credential id.
        id: String,
    },
    /// Revoke ID at once (a site token: the site stays, without a token until rotated).
    Revoke {
        /// Credential id.
        id: String,
    },
}

/// Credential id of the local operator in the audit log.
const CLI_CREDENTIAL: &str = "cli";

impl Cli {
    fn settings(&self, serve: Option<&ServeArgs>) -> anyhow::Result<Settings> {
        let mut flags = FlagOverrides { data_dir: self.data.clone(), ..Default::default() };
        if let Some(a) = serve {
            flags.listen = a.listen;
            flags.admin_token = a.admin_token.clone();
            let backend = a.influx_backend.as_deref().map(|b| match b {
                "v1" => InfluxBackend::V1,
                "v2" => InfluxBackend::V2,
                _ => InfluxBackend::None,
            });
            if backend.is_some() || a.influx_url.is_some() {
                flags.influx = Some(InfluxFlagOverrides { backend, url: a.influx_url.clone() });
            }
        }
        Ok(Settings::load(self.config.as_deref(), &flags)?)
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Serve(args) => serve(cli.settings(Some(args))?).await,
        Command::Sites { command } => sites(&cli.settings(None)?, command),
        Command::Tokens { command } => tokens(&cli.settings(None)?, command),
        Command::Catalog { command } => catalog(&cli.settings(None)?, command).await,
        Command::Backfill => backfill(cli.settings(None)?).await,
        Command::Config => {
            println!("{:#?}", cli.settings(None)?);
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    crate::telemetry::init_subscriber(&settings.log.level, settings.log.json);
    if settings.admin_token.is_none() {
        println!("admin token file: {}", crate::state::admin_token_path(&settings.data_dir).display());
    }
    let app = crate::startup::Application::build(settings).await?;
    println!("listening on http://{}", app.local_addr());
    app.run_until_stopped(shutdown).await
}

pub use fogwhisk_shutdown::shutdown_signal;

fn sites(settings: &Settings, command: &SitesCommand) -> anyhow::Result<()> {
    let store = Store::open(&settings.data_dir)
        .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
    match command {
        SitesCommand::Add { id, tz, name } => {
            let new = NewSite { id: id.clone(), display_name: name.clone(), tz: tz.clone() };
            let created = crate::sites::register(&store, &new)?;
            println!("site {} registered (time zone {})", created.site.id, created.site.tz);
            println!("token: {}", created.token);
            println!("The token is shown only this once; give it to the site's edge agent.");
            crate::tokens::audit(&store, CLI_CREDENTIAL, "site.add", &created.site.id, "ok");
        }
        SitesCommand::List => {
            println!("{:<20} {:<24} {:<22} LAST REPORT", "ID", "NAME", "TIME ZONE");
            for s in store.list_sites()? {
                let last = s.last_report.map_or("never".to_string(), |t| t.to_rfc3339());
                println!("{:<20} {:<24} {:<22} {last}", s.id, s.display_name, s.tz);
            }
        }
        SitesCommand::Remove { id } => {
            crate::sites::remove(&store, id)?;
            crate::tokens::audit(&store, CLI_CREDENTIAL, "site.remove", id, "ok");
            println!("site {id} removed");
        }
    }
    Ok(())
}

fn tokens(settings: &Settings, command: &TokensCommand) -> anyhow::Result<()> {
    use crate::tokens::{audit, create, list, revoke, rotate, NewToken};
    let store = Store::open(&settings.data_dir)
        .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
    match command {
        TokensCommand::Create { role, label } => {
            let issued = create(&store, &NewToken { role: role.clone(), label: label.clone() })?;
            audit(&store, CLI_CREDENTIAL, "token.create", &issued.id, "ok");
            println!("token {} created (role {})", issued.id, issued.role);
            println!("token: {}", issued.token);
            println!("The token is shown only this once.");
        }
        TokensCommand::List => {
            println!("{:<28} {:<10} {:<8} LABEL", "ID", "ROLE", "ACTIVE");
            for t in list(&store)? {
                let active = if t.active { "yes" } else { "revoked" };
                println!("{:<28} {:<10} {:<8} {}", t.id, t.role, active, t.label.unwrap_or_default());
            }
        }
        TokensCommand::Rotate { id } => {
            let issued = rotate(&store, id)?;
            audit(&store, CLI_CREDENTIAL, "token.rotate", id, "ok");
            println!("token {id} rotated; the old token no longer works");
            println!("token: {}", issued.token);
        }
        TokensCommand::Revoke { id } => {
            revoke(&store, id)?;
            audit(&store, CLI_CREDENTIAL, "token.revoke", id, "ok");
            println!("token {id} revoked");
        }
    }
    Ok(())
}

async fn catalog(settings: &Settings, command: &CatalogCommand) -> anyhow::Result<()> {
    use crate::catalog::{couch::CouchCatalog, embedded::EmbeddedCatalog, manifest::apply, Catalog};
    let CatalogCommand::Apply { manifest, namespace } = command;
    let text = std::fs::read_to_string(manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let base = manifest.parent().unwrap_or(std::path::Path::new("."));
    let ns = namespace.clone().unwrap_or_else(|| settings.catalog.default_namespace.clone());
    // With CouchDB the store is not opened, so this works while the hub runs.
    let (catalog, store) = if settings.catalog.couchdb_url.is_some() {
        (Catalog::Couch(CouchCatalog::connect(&settings.catalog).await?), None)
    } else {
        let store = Store::open(&settings.data_dir)
            .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
        let opened = store.clone();
        (Catalog::Embedded(tokio::task::spawn_blocking(move || EmbeddedCatalog::open(opened)).await??), Some(store))
    };
    let steps = apply(&catalog, &ns, &text, base).await?;
    for s in &steps {
        println!("{:<9} {:<48} {}", s.kind, s.id, s.outcome);
        match (&store, s.outcome) {
            (_, "unchanged") => {}
            (Some(store), outcome) => crate::tokens::audit(store, CLI_CREDENTIAL, "catalog.apply", &s.id, outcome),
            (None, outcome) => {
                tracing::info!(target: "audit", credential = CLI_CREDENTIAL, action = "catalog.apply", object = %s.id, outcome, "audit")
            }
        }
    }
    println!("applied {} to catalog namespace {ns} ({})", manifest.display(), catalog.describe());
    Ok(())
}

async fn backfill(settings: Settings) -> anyhow::Result<()> {
    crate::telemetry::init_subscriber(&settings.log.level, settings.log.json);
    let Some(sink) = build_sink(&settings.influx) else {
        bail!("influx.backend is \"none\": set it (FOGWHISK_HUB_INFLUX__BACKEND=v1 or v2) to backfill");
    };
    let store = Store::open(&settings.data_dir)
        .with_context(|| format!("opening the store in {}", settings.data_dir.display()))?;
    let queued = {
        let store = store.clone();
        let chunk = settings.influx.batch_size;
        tokio::task::spawn_blocking(move || {
            store.enqueue_all(chunk, |r| crate::influx::line::render(&r.site, &r.record))
        })
        .await??
    };
    println!("queued {queued} aggregates; writing to {}", sink.describe());
    let mut config = WriterConfig::from_settings(&settings.influx);
    config.stop_when_empty = true;
    let cancel = CancellationToken::new();
    let w = Writer { store, sink, config, metrics: Default::default(), notify: Default::default() };
    let writer = run_writer(w, cancel.clone());
    tokio::pin!(writer);
    let written = tokio::select! {
        r = &mut writer => r?,
        _ = shutdown_signal() => {
            cancel.cancel();
            writer.await?
        }
    };
    println!("wrote {written} lines");
    Ok(())
}
