#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets and runs them one after another (see docs/reliability.md).
# Usage: Tests/fuzz/run.sh [--seconds N | --runs N] [target ...]
#   --seconds N  fuzz each target for N seconds (default 20)
#   --runs N     fuzz each target for N executions
#   target       json or codec_<id> for every built-in codec id (default: all)
# The library is built with AddressSanitizer and SanitizerCoverage into $FUZZ_SCRATCH (default
# .build-fuzz/; the Swift core is instrumented, not only the drivers); the seeds come from Tests/vectors
# by make_corpus.py, the growing corpus lives in $FUZZ_SCRATCH/corpus/<target>, and a crash is written
# to $FUZZ_SCRATCH/artifacts/. Every target also runs Tests/fuzz/regressions/<target>/, the inputs of
# crashes fixed before. LeakSanitizer is on: an input that leaks fails like a crash.
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=(-max_total_time=20)
case "${1:-}" in
--seconds) limit=(-max_total_time="${2:?}"); shift 2 ;;
--runs) limit=(-runs="${2:?}"); shift 2 ;;
esac
all=(json codec_openai_chat codec_openai_responses codec_anthropic_messages codec_gemini_generate_content
    codec_oci_genai codec_bedrock_converse)
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")

scratch=${FUZZ_SCRATCH:-.build-fuzz}
cov=edge,trace-cmp,inline-8bit-counters,pc-table
clang=$(dirname "$(command -v swift)")/clang
swift build --scratch-path "$scratch" -c release --product nemorelay --sanitize=address \
    -Xswiftc -sanitize-coverage="$cov" -Xcc -fsanitize-coverage="$cov" >&2
# The drivers link with lld: gold warns about every ASan helper symbol it cannot export.
bin="$scratch/release"
for t in "${targets[@]}"; do
    case "$t" in
    json)
        swiftc -O -sanitize=fuzzer,address -use-ld=lld -parse-as-library Tests/fuzz/json_fuzz.swift \
            -I "$bin/Modules" "$bin"/NemoRelay.build/*.o -o "$scratch/json" ;;
    codec_*)
        "$clang" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fuse-ld=lld \
            -DFUZZ_CODEC="\"${t#codec_}\"" -Wall -Wextra -Werror -Iinclude Tests/fuzz/codec_fuzz.c \
            -L"$bin" -lnemorelay -Wl,-rpath,"$PWD/$bin" -o "$scratch/$t" ;;
    *) echo "unknown target $t (known: ${all[*]})" >&2; exit 2 ;;
    esac
done

seeds="$scratch/seeds"
rm -rf "$seeds"
python3 Tests/fuzz/make_corpus.py "$seeds" >/dev/null
mkdir -p "$scratch/artifacts"
# The Swift runtime's crash backtracer would hold a failing run for its own report; libFuzzer reports.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
printf '%-28s %12s %10s %8s %8s %s\n' target executions exec/s cov ft result
for t in "${targets[@]}"; do
    corpus="$scratch/corpus/$t"
    mkdir -p "$corpus"
    regressions=()
    [ -d "Tests/fuzz/regressions/$t" ] && regressions=("Tests/fuzz/regressions/$t")
    log="$scratch/$t.log"
    set +e
    "$scratch/$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="$scratch/artifacts/$t-" "$corpus" "$seeds/$t" "${regressions[@]}" >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    c=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    f=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [ "$rc" -ne 0 ]; then
        result="FAILED (exit $rc, log $log)"
        status=1
        grep -E 'ERROR|codec_fuzz|json_fuzz|Test unit written' "$log" | head -5 >&2 || true
    fi
    printf '%-28s %12s %10s %8s %8s %s\n' "$t" "${runs:-?}" "${speed:-?}" "${c:-?}" "${f:-?}" "$result"
done
exit "$status"
