#!/usr/bin/env bash
# The main job: builds the release binaries and starts a whole federation on embedded defaults
# (a hub, two sites with their own MQTT brokers, the site actions, simulated sensors). Ctrl-C stops it;
# running it again resumes from ./quickstart-data. Flags are passed on (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p fogwhisk-edge -p fogwhisk-hub -p fogwhisk-quickstart
exec target/release/fogwhisk-quickstart "$@"
