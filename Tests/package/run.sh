#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks the artifacts scripts/package.sh put in dist/, then installs each one in a clean environment and
# runs its example there (docs/packaging.md):
# - the library and the helper: only libc/libm/libstdc++/libgcc_s needed, nothing resolved from the Swift
#   toolchain, no RPATH/RUNPATH, SONAME libnemorelay.so.<major>, exports equal to the header, no debug info;
# - the wheel: auditwheel agrees with its manylinux tag; installed in a fresh venv;
# - the npm tarball: native/linux-<arch>/ with both files, os/cpu set, no scripts; installed offline into an
#   empty project;
# - the C SDK: installed by scripts/install.sh into a temporary prefix; the C example built through
#   pkg-config, the C++ example through CMake's find_package(NemoRelay).
# Every example runs under `env -i` with a PATH without the toolchain and, where the kernel allows a
# private mount namespace (`unshare -m`), with the toolchain's folder hidden under an empty tmpfs.
# Each run asserts on the events it saw and that no toolchain file is mapped into the process.
#
#   bash Tests/package/run.sh [--triple <triple>]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
triple="$(uname -m)-unknown-linux-gnu"
[ "${1:-}" = "--triple" ] && triple=${2:?}
arch=${triple%%-*}
node_arch=$([ "$arch" = aarch64 ] && echo arm64 || echo x64)
version=$(python3 scripts/version.py --print)
major=$(python3 scripts/version.py --major)
toolchain=$(dirname "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")")  # /opt/swift for /opt/swift/usr/bin/swift
stage="dist/stage/$triple"
sdk="dist/nemorelay-$version-$triple"
wheel=$(ls dist/nemo_relay-"$version"-py3-none-manylinux_*_"$arch".whl)
tarball="dist/nemo-relay-node-$version.tgz"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# has REGEX TEXT: grep on a captured output (a pipe into grep -q could end its writer with SIGPIPE).
has() { grep -Eq -- "$1" <<<"$2"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

echo "-- artifact checks ($triple, $version; toolchain $toolchain)"
allowed='^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'
for f in "$stage/libnemorelay.so" "$stage/NemoRelayHelper" "$sdk/lib/libnemorelay.so.$version"; do
    needed=$(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    extra=$(echo "$needed" | grep -Ev "$allowed" || true)
    [ -z "$extra" ] || fail "$f needs $extra"
    dynamic=$(readelf -d "$f")
    ! has '\((RPATH|RUNPATH)\)' "$dynamic" || fail "$f has an RPATH/RUNPATH: $(grep -E 'R(UN)?PATH' <<<"$dynamic")"
    resolved=$(ldd "$f")
    ! has "libswift|$toolchain|not found" "$resolved" || fail "$f resolves into the toolchain: $resolved"
    ! has '\.debug_' "$(readelf -S "$f")" || fail "$f carries debug info"
done
soname=$(readelf -d "$stage/libnemorelay.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libnemorelay.so.$major" ] || fail "SONAME is '$soname', expected libnemorelay.so.$major"
[ "$(readlink "$sdk/lib/libnemorelay.so.$major")" = "libnemorelay.so.$version" ] || fail "SDK SONAME link"
bash Tests/c/check_exports.sh include/nemo_relay.h "$stage/libnemorelay.so" >/dev/null \
    || { bash Tests/c/check_exports.sh include/nemo_relay.h "$stage/libnemorelay.so" || true; fail "packaged exports differ from the header"; }
locals=$(nm -D --defined-only "$stage/libnemorelay.so" | awk '$2 ~ /^[a-z]$/' | wc -l)
[ "$locals" -eq 0 ] || fail "$locals local symbols in the dynamic symbol table"
tag=$(basename "$wheel" .whl | sed 's/.*-py3-none-//')
python3 -m auditwheel show "$wheel" >"$tmp/auditwheel.txt" 2>&1 || fail "auditwheel show failed: $(cat "$tmp/auditwheel.txt")"
has "consistent with the following platform tag: \"$tag\"" "$(tr '\n' ' ' <"$tmp/auditwheel.txt")" \
    || fail "auditwheel does not confirm $tag: $(cat "$tmp/auditwheel.txt")"
has "nemo_relay/_native/linux-$arch/libnemorelay.so" "$(python3 -m zipfile -l "$wheel")" || fail "the wheel lacks its library"
tar -xzf "$tarball" -C "$tmp" package/package.json
listing=$(tar -tzf "$tarball")
for f in "native/linux-$node_arch/NemoRelayHelper" "native/linux-$node_arch/libnemorelay.so"; do
    has "^package/$f\$" "$listing" || fail "the npm tarball lacks $f"
done
node -e '
const p = require(process.argv[1]);
const bad = [];
if (JSON.stringify(p.os) !== JSON.stringify(["linux"])) bad.push(`os ${p.os}`);
if (JSON.stringify(p.cpu) !== JSON.stringify([process.argv[2]])) bad.push(`cpu ${p.cpu}`);
if (p.scripts) bad.push(`scripts ${Object.keys(p.scripts)}`);
if (p.dependencies && Object.keys(p.dependencies).length) bad.push("dependencies");
if (p.version !== process.argv[3]) bad.push(`version ${p.version}`);
if (bad.length) { console.error(bad.join(", ")); process.exit(1); }
' "$tmp/package/package.json" "$node_arch" "$version" || fail "npm package.json"
size_mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN {printf "%.1f", b / 1048576}'; }
linked=$(ls .build-dist/*/release/libnemorelay.so 2>/dev/null | grep -F "/$triple/" || true)
echo "   library $(size_mb "$stage/libnemorelay.so") MB${linked:+ (as linked $(size_mb "$linked") MB)}," \
    "helper $(size_mb "$stage/NemoRelayHelper") MB, wheel $(size_mb "$wheel") MB, npm tarball $(size_mb "$tarball") MB," \
    "C SDK $(size_mb "$sdk.tar.gz") MB"
[ "$(stat -c %s "$wheel")" -le $((10 * 1048576)) ] || fail "the wheel is over 10 MB"
[ "$(stat -c %s "$tarball")" -le $((15 * 1048576)) ] || fail "the npm tarball is over 15 MB"

# Runs a command in a clean environment: no inherited variables, a PATH without the toolchain, and the
# toolchain folder hidden when a private mount namespace is available.
if unshare -m --propagation private true 2>/dev/null && [ -d "$toolchain" ]; then
    hide="mount -t tmpfs -o size=1m nemo-relay-no-toolchain '$toolchain' && [ -z \"\$(ls -A '$toolchain')\" ] &&"
    echo "   clean runs: env -i, PATH without $toolchain, $toolchain hidden (unshare -m)"
else
    hide=""
    echo "   clean runs: env -i, PATH without $toolchain (no mount namespace here: the toolchain stays on disk;" \
        "ldd and /proc/<pid>/maps checks prove it is unused)"
fi
clean() {
    local path=$1
    shift
    local cmd
    cmd=$(printf '%q ' "$@")
    if [ -n "$hide" ]; then
        env -i PATH="$path" HOME="$tmp/home" LANG=C.UTF-8 unshare -m --propagation private \
            sh -c "$hide ! command -v swift >/dev/null && exec $cmd"
    else
        env -i PATH="$path" HOME="$tmp/home" LANG=C.UTF-8 sh -c "! command -v swift >/dev/null && exec $cmd"
    fi
}
base_path=/usr/local/bin:/usr/bin:/bin
case ":$base_path:" in *":$(dirname "$(command -v swift)"):"*) echo "the base PATH holds swift" >&2; exit 1 ;; esac

echo "-- Python: the wheel in a fresh venv"
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --no-index --disable-pip-version-check "$wheel"
mkdir -p "$tmp/py" && cp examples/python/agent.py Tests/package/check_python.py "$tmp/py/"
(cd "$tmp/py" && clean "$tmp/venv/bin:$base_path" "$tmp/venv/bin/python" check_python.py "$toolchain") \
    || fail "Python package check"
(cd "$tmp/py" && clean "$tmp/venv/bin:$base_path" "$tmp/venv/bin/python" agent.py) >"$tmp/py/agent.out" 2>&1 \
    || fail "Python example: $(cat "$tmp/py/agent.out")"
grep -q "start tool  get_weather" "$tmp/py/agent.out" && grep -q "^rejected: " "$tmp/py/agent.out" \
    || fail "Python example output: $(cat "$tmp/py/agent.out")"
# Best of three fresh interpreters (the machine is shared); asyncio's own import is most of it.
import_ms=$(for _ in 1 2 3; do
    (cd "$tmp/py" && clean "$tmp/venv/bin:$base_path" "$tmp/venv/bin/python" -c \
        'import time; t = time.perf_counter(); import nemo_relay; print(round((time.perf_counter() - t) * 1000))')
done | sort -n | head -1)
echo "   import nemo_relay: $import_ms ms, best of 3 (target 100 ms)"
[ "$import_ms" -le 500 ] || fail "import nemo_relay took $import_ms ms"

echo "-- Node: the tarball in an empty project, offline"
mkdir -p "$tmp/app"
printf '{ "name": "app", "version": "1.0.0", "private": true }\n' >"$tmp/app/package.json"
cp "$tarball" "$tmp/app/"
(cd "$tmp/app" && clean "$base_path" npm install --offline --no-audit --no-fund --loglevel=error \
    "./$(basename "$tarball")") >"$tmp/app/npm.out" 2>&1 || fail "npm install: $(cat "$tmp/app/npm.out")"
sed "s#require('../../bindings/node')#require('nemo-relay-node')#" examples/node/agent.js >"$tmp/app/agent.js"
cp Tests/package/check_node.js "$tmp/app/"
(cd "$tmp/app" && clean "$base_path" node check_node.js "$toolchain") || fail "Node package check"
(cd "$tmp/app" && clean "$base_path" node agent.js) >"$tmp/app/agent.out" 2>&1 || fail "Node example: $(cat "$tmp/app/agent.out")"
grep -q "^scope:start tool get_weather" "$tmp/app/agent.out" && grep -q '^tool result: {"city":"Paris","temp_c":18}' "$tmp/app/agent.out" \
    && grep -q "^blocked: " "$tmp/app/agent.out" && echo "   node example: $(grep -c '^scope:' "$tmp/app/agent.out") scope events" \
    || fail "Node example output: $(cat "$tmp/app/agent.out")"

echo "-- C and C++: scripts/install.sh into a temporary prefix"
prefix="$tmp/prefix"
bash scripts/install.sh --prefix "$prefix" --from "$sdk" >/dev/null
for f in include/nemo_relay.h "lib/libnemorelay.so.$version" "lib/libnemorelay.so.$major" lib/libnemorelay.so \
    lib/pkgconfig/nemorelay.pc lib/cmake/NemoRelay/NemoRelayConfig.cmake lib/cmake/NemoRelay/NemoRelayConfigVersion.cmake; do
    [ -e "$prefix/$f" ] || fail "the prefix lacks $f"
done
mkdir -p "$tmp/c" && cp examples/c/agent.c "$tmp/c/"
pc="pkg-config --with-path=$prefix/lib/pkgconfig"
[ "$($pc --modversion nemorelay)" = "$version" ] || fail "pkg-config --modversion"
(cd "$tmp/c" && clean "$base_path" sh -c "cc -std=c99 -Wall -Wextra -Werror \$($pc --cflags nemorelay) agent.c \
    \$($pc --libs nemorelay) -Wl,-rpath,\$($pc --variable=libdir nemorelay) -lpthread -o agent") || fail "C build via pkg-config"
has "NEEDED.*\[libnemorelay\.so\.$major\]" "$(readelf -d "$tmp/c/agent")" || fail "the C example does not link the SONAME"
(cd "$tmp/c" && clean "$base_path" ./agent) >"$tmp/c/agent.out" 2>"$tmp/c/agent.err" || fail "C example: $(cat "$tmp/c/agent.err")"
python3 - "$tmp/c/agent.out" <<'EOF' || fail "C example events"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
scopes = [(e["scope_category"], e["category"], e["name"]) for e in events if e["kind"] == "scope"]
want = [("start", "agent", "weather-agent"), ("start", "llm", "openai"), ("end", "llm", "openai"),
        ("start", "tool", "get_weather"), ("end", "tool", "get_weather"), ("start", "llm", "openai"),
        ("end", "llm", "openai"), ("end", "agent", "weather-agent")]
assert scopes == want, scopes
print(f"   c example: {len(events)} events")
EOF
cmake_bin=$(python3 -c 'import cmake, os; print(os.path.join(cmake.CMAKE_BIN_DIR, "cmake"))' 2>/dev/null || command -v cmake)
(clean "$base_path" "$cmake_bin" -S examples/cpp -B "$tmp/cpp" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
    && clean "$base_path" "$cmake_bin" --build "$tmp/cpp") >"$tmp/cmake.out" 2>&1 || fail "C++ build via CMake: $(cat "$tmp/cmake.out")"
(cd "$tmp/cpp" && clean "$base_path" ./agent) >"$tmp/cpp/agent.out" 2>"$tmp/cpp/agent.err" || fail "C++ example: $(cat "$tmp/cpp/agent.err")"
python3 - "$tmp/cpp/agent.out" <<'EOF' || fail "C++ example events"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
scopes = [(e["scope_category"], e["category"], e["name"]) for e in events if e["kind"] == "scope"]
want = [("start", "agent", "calculator-agent"), ("start", "tool", "add"), ("end", "tool", "add"),
        ("end", "agent", "calculator-agent")]
assert scopes == want, scopes
print(f"   cpp example: {len(events)} events")
EOF

echo "-- Python sdist: built in a fresh venv (setuptools from PyPI), using the library of the C prefix"
sdist="dist/nemo_relay-$version.tar.gz"
python3 -m venv "$tmp/venv-sdist"
"$tmp/venv-sdist/bin/pip" install --quiet --disable-pip-version-check "$sdist" \
    >"$tmp/sdist.out" 2>&1 || fail "pip install of the sdist: $(cat "$tmp/sdist.out")"
(cd "$tmp/py" && clean "$tmp/venv-sdist/bin:$base_path" env NEMO_RELAY_LIB_PATH="$prefix/lib/libnemorelay.so.$major" \
    "$tmp/venv-sdist/bin/python" -c 'import nemo_relay, sys; assert nemo_relay.__file__.startswith(sys.prefix); print("   sdist: nemo_relay", nemo_relay.LIBRARY_VERSION, "over", sys.argv[1])' \
    "$prefix/lib/libnemorelay.so.$major") || fail "the sdist's package over the installed library"

if [ "$failures" -gt 0 ]; then
    echo "package checks: $failures failure(s)" >&2
    exit 1
fi
echo "package checks: all artifacts install and run without the Swift toolchain"
