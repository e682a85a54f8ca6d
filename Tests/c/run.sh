#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The C-side checks: header as C99 and C++17 with -Werror, header/export diff, the ABI client tests, the
# codec golden vectors and the long-chain test (plain and under AddressSanitizer + UBSan), every C example, and the streaming stress test (plain,
# under ASan + UBSan, and under ThreadSanitizer when clang can build it). Every ASan run has LeakSanitizer on
# (detect_leaks=1, no suppressions: the Swift runtime's one-time allocations stay reachable), and
# leak_canary proves that check reports a leaked library output.
set -euo pipefail
cd "$(dirname "$0")/../.."
lib=${1:?folder holding libnemorelay.so}
out=build/ctest
mkdir -p "$out"
flags=(-Wall -Wextra -Werror -Iinclude)
link=(-L"$lib" -lnemorelay -lpthread -Wl,-rpath,"$lib")

echo "-- header compiles as C99 and C++17"
cc -std=c99 -pedantic "${flags[@]}" -fsyntax-only -x c include/nemo_relay.h
c++ -std=c++17 -pedantic "${flags[@]}" Tests/c/header_compile.cpp "${link[@]}" -o "$out/header_cpp"
"$out/header_cpp"

echo "-- header declarations equal the library's exports"
bash Tests/c/check_exports.sh include/nemo_relay.h "$lib/libnemorelay.so"

echo "-- examples build and run"
for src in examples/c/*.c; do
    exe="$out/$(basename "${src%.c}")"
    cc -std=c99 "${flags[@]}" "$src" "${link[@]}" -o "$exe"
    "$exe" >/dev/null
done

for t in abi_test stream_test failure_id_test; do
    echo "-- $t under AddressSanitizer and UBSan"
    cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
        "Tests/c/$t.c" "${link[@]}" -o "$out/${t}_asan"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/${t}_asan"

    echo "-- $t"
    cc -std=c99 -D_GNU_SOURCE -O2 "${flags[@]}" "Tests/c/$t.c" "${link[@]}" -o "$out/$t"
    "$out/$t"
done

echo "-- chains_test (100000-entry chains on a 256 KiB thread, and late answers) under AddressSanitizer and UBSan"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
    Tests/c/chains_test.c "${link[@]}" -o "$out/chains_test_asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/chains_test_asan" 2>/dev/null

echo "-- chains_test"
cc -std=c99 -D_GNU_SOURCE -O2 "${flags[@]}" Tests/c/chains_test.c "${link[@]}" -o "$out/chains_test"
"$out/chains_test" 2>/dev/null

echo "-- the leak check can fail: LeakSanitizer reports a library output the client never freed"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address -fno-omit-frame-pointer "${flags[@]}" Tests/c/leak_canary.c \
    "${link[@]}" -o "$out/leak_canary_asan"
if ASAN_OPTIONS=detect_leaks=1 "$out/leak_canary_asan" 2>"$out/leak_canary.txt"; then
    echo "error: leak_canary leaked without a LeakSanitizer report" >&2
    exit 1
fi
grep -q "LeakSanitizer: detected memory leaks" "$out/leak_canary.txt"
grep -q "nemo_relay_codec_decode" "$out/leak_canary.txt"

echo "-- exporter_test (ATOF files, ATIF golden cases, SIGKILL mid-run) under AddressSanitizer and UBSan"
python3 Tests/support/atif_cases.py "$out/atif_cases"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
    Tests/c/exporter_test.c "${link[@]}" -o "$out/exporter_test_asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/exporter_test_asan" "$out/atif_cases"

echo "-- codec_vectors (every codec golden vector through the C entry points) under AddressSanitizer and UBSan"
python3 Tests/support/codec_cases.py write "$out/codec_cases"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
    Tests/c/codec_vectors.c "${link[@]}" -o "$out/codec_vectors_asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/codec_vectors_asan" \
    "$out/codec_cases/cases.txt" "$out/codec_cases/results.txt"
python3 Tests/support/codec_cases.py check "$out/codec_cases"

echo "-- propagation_test (contexts, stacks from them, captures, hostile input) under AddressSanitizer and UBSan"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
    Tests/c/propagation_test.c "${link[@]}" -o "$out/propagation_test_asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/propagation_test_asan"

echo "-- logging_test (operational logging: environment, file sinks, rotation) under AddressSanitizer and UBSan"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
    Tests/c/logging_test.c "${link[@]}" -o "$out/logging_test_asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/logging_test_asan"

# Tests/c/otel_two_process.c (C -> Python, one trace) needs the OTLP receiver: test_otel.py builds and runs it.

echo "-- C benchmarks build and run (smoke: 300 iterations against this build; no timing is checked)"
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude bench/c/bench.c "${link[@]}" -o "$out/bench"
"$out/bench" 300 >/dev/null
cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Iinclude -pthread bench/c/exporter_bench.c "${link[@]}" -o "$out/exporter_bench"
"$out/exporter_bench" 300 >/dev/null

echo "-- streaming stress test: 8 threads x 1000 streams x 50 chunks"
cc -std=c99 -D_GNU_SOURCE -O2 "${flags[@]}" Tests/c/stream_stress.c "${link[@]}" -o "$out/stream_stress"
"$out/stream_stress" 1000

echo "-- streaming stress test under AddressSanitizer and UBSan (8 x 100 streams)"
cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
    Tests/c/stream_stress.c "${link[@]}" -o "$out/stream_stress_asan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/stream_stress_asan" 100

# The Swift library itself is not instrumented: TSan checks the C side and every synchronization
# that goes through pthread (the library's locks), not the library's own memory accesses.
if command -v clang >/dev/null; then
    echo "-- streaming stress test under ThreadSanitizer (8 x 50 streams)"
    rt_lib=$(dirname "$(command -v swift)")/../lib/swift/linux
    clang -std=c99 -D_GNU_SOURCE -g -O1 -fsanitize=thread "${flags[@]}" Tests/c/stream_stress.c "${link[@]}" \
        -L"$rt_lib" -ldispatch -lBlocksRuntime -Wl,-rpath,"$rt_lib" -o "$out/stream_stress_tsan"
    TSAN_OPTIONS=halt_on_error=1 "$out/stream_stress_tsan" 50
fi
