#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the release library and runs the C ABI benchmark. Usage: bench/run.sh [iterations]
set -euo pipefail
cd "$(dirname "$0")/.."
lib=$(CONFIG=release bash scripts/build.sh)
mkdir -p build
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude bench/c/bench.c -L"$lib" -lnemorelay -Wl,-rpath,"$lib" -o build/bench
./build/bench "$@"
