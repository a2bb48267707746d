#!/usr/bin/env bash
# The README's test command: installs what the tests need, builds, and runs every suite against real peers.
# Prints one line per suite and a final "N passed, N failed" line; exits non-zero if any suite failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/install-test-deps.sh || { echo "installing test dependencies failed"; exit 1; }

passed=0; failed=0; failures=()
suite() {
  local name=$1; shift
  echo
  echo "=== suite: $name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "=== ok: $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failures+=("$name"); echo "=== FAILED: $name ($((SECONDS - start)) s)"
  fi
}

suite "cargo build (binaries)" cargo build --workspace --bins --quiet
suite "cargo test (Rust unit and integration tests)" cargo test --workspace --quiet --no-fail-fast
suite "system actions (node:test)" node --test edge-agent/system/utils/test.mjs
[[ -d actions/test ]] && suite "site actions (node:test)" node --test actions/test/
suite "openwhisk npm client against the agent" bash -c "cd tests/client && npm test"
[[ -f scripts/check-charts.py ]] && suite "Helm charts: lint, render, validate" python3 scripts/check-charts.py
[[ -f scripts/check-firmware.sh ]] && suite "firmware host tests" bash scripts/check-firmware.sh

echo
for f in "${failures[@]}"; do echo "failed suite: $f"; done
echo "suites: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
