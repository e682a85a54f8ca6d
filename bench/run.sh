#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the release library and runs the C ABI benchmarks.
# Usage: bench/run.sh [--core | --exporters] [iterations]
#   --core       only bench/c/bench.c (hot paths of the C ABI)
#   --exporters  only bench/c/exporter_bench.c (emitting-thread cost with exporters, file throughput)
#   iterations   per row (default 200000); a few hundred makes a smoke run of a few seconds
set -euo pipefail
cd "$(dirname "$0")/.."
which=all
case "${1:-}" in
--core) which=core; shift ;;
--exporters) which=exporters; shift ;;
esac
lib=$(CONFIG=release bash scripts/build.sh)
mkdir -p build
flags=(-std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude)
link=(-L"$lib" -lnemorelay -Wl,-rpath,"$lib")
if [ "$which" != exporters ]; then
    cc "${flags[@]}" bench/c/bench.c "${link[@]}" -o build/bench
    ./build/bench "$@"
fi
if [ "$which" != core ]; then
    cc "${flags[@]}" -pthread bench/c/exporter_bench.c "${link[@]}" -o build/exporter_bench
    ./build/exporter_bench "$@"
fi
