#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The C-side checks: header as C99 and C++17 with -Werror, header/export diff, the ABI client tests
# (plain and under AddressSanitizer + UBSan) and every C example.
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

for t in abi_test stream_test; do
    echo "-- $t under AddressSanitizer and UBSan"
    cc -std=c99 -D_GNU_SOURCE -g -fsanitize=address,undefined -fno-omit-frame-pointer "${flags[@]}" \
        "Tests/c/$t.c" "${link[@]}" -o "$out/${t}_asan"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 "$out/${t}_asan"

    echo "-- $t"
    cc -std=c99 -D_GNU_SOURCE -O2 "${flags[@]}" "Tests/c/$t.c" "${link[@]}" -o "$out/$t"
    "$out/$t"
done
