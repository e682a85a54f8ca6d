#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds libnemorelay.so (CONFIG=debug|release, default debug) and prints the folder holding it.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${CONFIG:-debug}
swift build -c "$config" --product nemorelay >&2
swift build -c "$config" --show-bin-path
