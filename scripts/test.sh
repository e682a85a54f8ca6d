#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up a fresh machine, builds everything and runs every test suite: Swift, C, then Node.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

echo "== swift build"
swift build --build-tests
echo "== swift tests"
swift test
echo "== C tests"
bin="$(swift build --show-bin-path)"
bash Tests/c/run.sh "$bin"
echo "== Node tests"
# `swift build --build-tests` above built every target, the NemoRelayHelper executable included.
export NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" NEMO_RELAY_HELPER_PATH="$bin/NemoRelayHelper"
node --test bindings/node/test/
node examples/node/agent.js >/dev/null
