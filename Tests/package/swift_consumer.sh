#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Proves that another SwiftPM package can depend on the `NemoRelay` library product:
# 1. examples/swift/Consumer as it is (a path dependency on this checkout);
# 2. the same sources in a package that depends on a git copy of this tree tagged <VERSION>, with
#    `.package(url:exact:)`: the way a published version is consumed, where SwiftPM also checks the
#    dependency's unsafe flags (allowed from swift-tools-version 6.2 on; Package.swift declares 6.2).
# Each build compiles the core once more (debug); each run must print the four events of its scope.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
version=$(python3 scripts/version.py --print)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check_run() {  # check_run <executable> <label>
    "$1" >"$tmp/out.txt"
    python3 - "$tmp/out.txt" "$2" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
events = [json.loads(l) for l in lines if l.startswith("{")]
scopes = [(e["scope_category"], e["category"], e["name"]) for e in events]
want = [("start", "agent", "consumer-agent"), ("start", "tool", "add"), ("end", "tool", "add"),
        ("end", "agent", "consumer-agent")]
assert scopes == want, scopes
assert events[2]["data"] == {"sum": 5}, events[2]
print(f"   {sys.argv[2]}: {lines[-1]}")
PY
}

echo "-- Swift: examples/swift/Consumer (path dependency)"
swift build --package-path examples/swift/Consumer --scratch-path .build-consumer >"$tmp/build.log" 2>&1 \
    || { tail -30 "$tmp/build.log"; exit 1; }
check_run .build-consumer/debug/Consumer "path dependency"

echo "-- Swift: the same consumer against a git copy tagged $version (.package(url:exact:))"
repo="$tmp/nemo-relay"
mkdir -p "$repo"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$repo" 2>/dev/null || true
(cd "$repo" && git init -q && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm snapshot \
    && git tag "$version")
app="$tmp/app"
mkdir -p "$app"
cp -r examples/swift/Consumer/Sources "$app/"
sed -e "s#.package(name: \"NemoRelay\", path: \"../../..\")#.package(url: \"file://$repo\", exact: \"$version\")#" \
    -e 's#package: "NemoRelay"#package: "nemo-relay"#' examples/swift/Consumer/Package.swift >"$app/Package.swift"
grep -q "file://$repo" "$app/Package.swift" || { echo "the consumer manifest was not rewritten" >&2; exit 1; }
swift build --package-path "$app" --scratch-path "$tmp/app-build" >"$tmp/build.log" 2>&1 \
    || { tail -30 "$tmp/build.log"; exit 1; }
check_run "$tmp/app-build/debug/Consumer" "versioned dependency"
