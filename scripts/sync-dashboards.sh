#!/usr/bin/env bash
# Copies the Grafana dashboards (dashboards/*.json) into the hub chart (deploy/charts/fogwhisk-hub/dashboards/),
# because a Helm chart can only read files inside its own folder. Removes chart copies whose source is gone.
# scripts/check-charts.py fails when the copies differ from the sources: run this after editing a dashboard.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/dashboards"
dst="$root/deploy/charts/fogwhisk-hub/dashboards"

shopt -s nullglob
sources=("$src"/*.json)
if [ ${#sources[@]} -eq 0 ]; then
    echo "sync-dashboards: no dashboards in $src" >&2
    exit 1
fi
mkdir -p "$dst"
for f in "$dst"/*.json; do
    [ -e "$src/$(basename "$f")" ] || { rm -- "$f"; echo "removed $(basename "$f")"; }
done
for f in "${sources[@]}"; do
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$f" || { echo "sync-dashboards: $f is not valid JSON" >&2; exit 1; }
    cp -- "$f" "$dst/"
    echo "copied $(basename "$f")"
done
