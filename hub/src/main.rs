//! `fogwhisk-hub` binary: parses the command line and runs it; all logic lives in the library.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = fogwhisk_hub::cli::Cli::parse();
    match fogwhisk_hub::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
