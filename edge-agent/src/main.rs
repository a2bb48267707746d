//! `fogwhisk-edge`: parses the command line, starts logs, and runs the agent or a namespace command.

use clap::Parser;
use fogwhisk_edge::cli::{self, Cli, Command};
use fogwhisk_edge::startup::{shutdown_signal, Application};

#[tokio::main]
async fn main() {
    // Before anything else (secrets are read from files and the environment next): no process of the
    // agent's uid may ptrace it or read /proc/<agent>/environ, mem or fds.
    if let Err(e) = fogwhisk_edge::hardening::disable_dumping() {
        eprintln!("fogwhisk-edge: cannot make the process non-dumpable: {e}");
        std::process::exit(1);
    }
    let cli = Cli::parse();
    let settings = match cli.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fogwhisk-edge: {e:#}");
            std::process::exit(2);
        }
    };
    fogwhisk_edge::telemetry::init(&settings.log_format);
    let shutdown = shutdown_signal();
    let result = match &cli.command {
        Command::Namespaces { action } => cli::namespaces(&settings, action),
        Command::Devices { action } => fogwhisk_edge::devices::run(&settings, action),
        Command::DeadLetters { action, apihost, auth } => {
            cli::dead_letters(&settings, action, apihost.clone(), auth.clone()).await
        }
        Command::Deploy { manifest, vars, apihost, auth } => {
            cli::deploy(&settings, manifest, vars, apihost.clone(), auth.clone()).await
        }
        Command::Serve { .. } => match fogwhisk_edge::hardening::check_isolation(&settings) {
            Err(e) => Err(e),
            Ok(mode) => {
                if mode.is_isolated() {
                    tracing::info!("{}", fogwhisk_edge::hardening::describe(mode));
                } else {
                    tracing::warn!("{}", fogwhisk_edge::hardening::describe(mode));
                }
                match Application::build(settings).await {
                    Ok(app) => app.run_until_stopped(shutdown).await,
                    Err(e) => Err(e),
                }
            }
        },
    };
    if let Err(e) = result {
        eprintln!("fogwhisk-edge: {e:#}");
        std::process::exit(1);
    }
}
