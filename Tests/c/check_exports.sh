#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Diffs the functions declared in include/nemo_relay.h against the global symbols of the library:
# nothing missing, nothing extra (local symbols in the dynamic symbol table included), nothing unprefixed.
set -euo pipefail
header=${1:?header}
lib=${2:?library}
declared=$(grep -E '^NEMO_RELAY_API ' "$header" | grep -oE 'NEMO_RELAY_API[^;(]*\(' | sed -E 's/.*[ *](nemo_relay_[a-z0-9_]+)\($/\1/' | sort -u)
# Every defined dynamic symbol counts, local ones too (gold used to leave ~50 local Swift symbols there).
exported=$(nm -D --defined-only "$lib" | awk 'NF == 3 {print $3}' | sed 's/@.*//' | sort -u)
status=0
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then echo "declared but not exported:"; echo "$missing"; status=1; fi
if [ -n "$extra" ]; then echo "exported but not declared (or unprefixed):"; echo "$extra"; status=1; fi
n=$(echo "$declared" | wc -l)
if [ $status -eq 0 ]; then echo "header/export check: $n functions match"; fi
exit $status
