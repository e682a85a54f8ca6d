#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up a fresh machine, builds everything and runs every test suite: Swift, C, Python, then Node.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

echo "== citations (comments and docs cite only the repository's own pages)"
bash scripts/check_citations.sh

echo "== version (VERSION is the source; header, Swift, Python, Node and CHANGELOG agree)"
python3 scripts/version.py

echo "== format (swift-format lint)"
swift format lint --strict -r Sources/NemoRelay Sources/NemoRelayFFI Tests/NemoRelayTests Tests/NemoRelayFFITests \
    Sources/NemoRelayHelper bench/CodecBench examples/swift Tests/fuzz/json_fuzz.swift Package.swift

echo "== ABI tables (bindings/python/nemo_relay/_abi.py, bindings/node/lib/abi.js) match include/nemo_relay.h"
python3 scripts/abi_tables.py --check

echo "== swift build"
swift build --build-tests
echo "== swift tests"
swift test
echo "-- Swift example"
"$(swift build --show-bin-path)/ExportersExample" "$(mktemp -d)" >/dev/null

echo "== C tests"
bin="$(swift build --show-bin-path)"
bash Tests/c/run.sh "$bin"

echo "-- benchmark smoke runs: C, exporters, codecs (tiny sizes over the debug build; no timing is checked)"
bench_bin=$(mktemp -d)
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude bench/c/bench.c -L"$bin" -lnemorelay -Wl,-rpath,"$bin" \
    -o "$bench_bin/bench"
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude -pthread bench/c/exporter_bench.c -L"$bin" -lnemorelay \
    -Wl,-rpath,"$bin" -o "$bench_bin/exporter_bench"
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude bench/rss/rss.c -L"$bin" -lnemorelay -Wl,-rpath,"$bin" \
    -o "$bench_bin/rss"
"$bench_bin/bench" 2000 >/dev/null
"$bench_bin/exporter_bench" --quick >/dev/null
"$bench_bin/rss" 2000 >/dev/null
"$bin/CodecBench" --smoke >/dev/null
rm -rf "$bench_bin"

echo "== fuzzing (libFuzzer, 20 s per target over an ASan-instrumented library; fixed crashes replayed)"
bash Tests/fuzz/run.sh --seconds 20

echo "-- OTLP encoder goldens regenerate with opentelemetry-proto and match the OpenTelemetry SDK's encoder"
python3 scripts/make_otlp_goldens.py --check

echo "== Python binding tests"
set +e
NEMO_RELAY_REQUIRE_NAT=1 NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" python3 -m pytest -q bindings/python/tests
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests in bindings/python/tests" >&2
    exit 1
elif [ "$rc" -ne 0 ]; then
    echo "error: Python binding tests failed (pytest exit status $rc)" >&2
    exit "$rc"
fi
echo "-- Python example"
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" PYTHONPATH=bindings/python python3 examples/python/agent.py >/dev/null
example_out=$(mktemp -d)
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" PYTHONPATH=bindings/python python3 examples/python/exporters.py "$example_out" >/dev/null
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" PYTHONPATH=bindings/python python3 examples/python/otel.py "$example_out" >/dev/null
rm -rf "$example_out"

echo "-- Python benchmark smoke run (ours and, when installed, the reference; no timing is checked)"
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" python3 bench/python_vs_reference.py --smoke --ours-only >/dev/null
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" python3 bench/otel_bench.py --smoke >/dev/null
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" python3 bench/json_crossing.py -n 200 >/dev/null
NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" python3 bench/rss/rss.py 2000 >/dev/null

echo "== Node tests"
# `swift build --build-tests` above built every target, the NemoRelayHelper executable included.
export NEMO_RELAY_LIB_PATH="$bin/libnemorelay.so" NEMO_RELAY_HELPER_PATH="$bin/NemoRelayHelper"
node --test bindings/node/test/
echo "-- Node example"
node examples/node/agent.js >/dev/null
example_out=$(mktemp -d)
node examples/node/exporters.js "$example_out" >/dev/null
rm -rf "$example_out"
echo "-- Node benchmark smoke run (no timing is checked)"
node bench/node_bench.js 100 >/dev/null
node --expose-gc bench/rss/rss.js 200 >/dev/null

echo "== packaging: release artifacts built once into dist/, then installed and run without the toolchain"
# Bounded: the release build takes about 70 s from scratch here, the clean installs about 20 s.
packaging_start=$SECONDS
timeout 1200 bash scripts/package.sh
timeout 600 bash Tests/package/run.sh
echo "-- the Python and Node suites again, on the packaged (release, static runtime) library and helper"
pkg_lib="dist/nemorelay-$(python3 scripts/version.py --print)-$(uname -m)-unknown-linux-gnu/lib/libnemorelay.so"
pkg_stage="dist/stage/$(uname -m)-unknown-linux-gnu"
NEMO_RELAY_REQUIRE_NAT=1 NEMO_RELAY_LIB_PATH="$PWD/$pkg_lib" timeout 600 python3 -m pytest -q bindings/python/tests
NEMO_RELAY_LIB_PATH="$PWD/$pkg_stage/libnemorelay.so" NEMO_RELAY_HELPER_PATH="$PWD/$pkg_stage/NemoRelayHelper" \
    timeout 600 node --test --test-reporter=dot bindings/node/test/
echo "-- Swift consumer packages"
timeout 900 bash Tests/package/swift_consumer.sh
echo "-- packaging stage: $((SECONDS - packaging_start)) s"
