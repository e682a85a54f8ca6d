#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up a fresh machine, builds everything and runs every test suite: Swift, then C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

echo "== swift build"
swift build --build-tests
echo "== swift tests"
swift test
echo "== C tests"
bash Tests/c/run.sh "$(swift build --show-bin-path)"
