//! `fogwhisk-quickstart`: parses flags and runs the federation until ctrl-c.

use clap::Parser;

#[tokio::main]
async fn main() {
    let opts = fogwhisk_quickstart::Options::parse();
    if let Err(e) = fogwhisk_quickstart::run(opts).await {
        eprintln!("fogwhisk-quickstart: {e:#}");
        std::process::exit(1);
    }
}
