#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds every distributable artifact of one target into dist/ (docs/packaging.md):
#   dist/nemorelay-<v>-<triple>/            C/C++ SDK tree (header, library + SONAME links, pkg-config, CMake)
#   dist/nemorelay-<v>-<triple>.tar.gz      the same tree as an archive (with install.sh)
#   dist/nemo_relay-<v>-py3-none-manylinux_2_N_<arch>.whl, dist/nemo_relay-<v>.tar.gz   Python wheel, sdist
#   dist/nemo-relay-node-<v>.tgz            npm package with native/linux-<arch>/ (helper + library)
# The library and the helper are release builds with the Swift runtime linked statically (-static-stdlib),
# lld (only nemo_relay_* in the dynamic symbol table), no toolchain RUNPATH, SONAME libnemorelay.so.<major>,
# stripped; they need only libc, libm, libstdc++ and libgcc_s. The build folder is .build-dist, so the
# development build in .build is untouched.
#
#   bash scripts/package.sh [--triple <triple>] [--skip-build]
# --triple defaults to this machine's (x86_64-unknown-linux-gnu, aarch64-unknown-linux-gnu): building
# another architecture is one more run on such a machine. A triple other than the host's is passed to
# `swift build --triple` (a cross Swift SDK and that target's libffi_pic.a, LIBFFI_STATIC=..., needed).
# --skip-build packages the binaries already in .build-dist (CI builds once, then reuses them).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

host_arch=$(uname -m)
triple="$host_arch-unknown-linux-gnu"
skip_build=0
while [ $# -gt 0 ]; do
    case "$1" in
        --triple) triple=${2:?--triple needs a value}; shift 2 ;;
        --triple=*) triple=${1#--triple=}; shift ;;
        --skip-build) skip_build=1; shift ;;
        *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

arch=${triple%%-*}
case "$arch" in
    x86_64) node_arch=x64 ;;
    aarch64) node_arch=arm64 ;;
    *) echo "package.sh: unsupported architecture $arch (x86_64 or aarch64)" >&2; exit 2 ;;
esac
case "$triple" in
    *-linux-gnu) ;;
    *) echo "package.sh: only *-linux-gnu triples are packaged (got $triple)" >&2; exit 2 ;;
esac

python3 scripts/version.py >/dev/null || { python3 scripts/version.py; exit 1; }
version=$(python3 scripts/version.py --print)
major=$(python3 scripts/version.py --major)
soname=libnemorelay.so.$major
scratch=.build-dist

# --- Build ------------------------------------------------------------------------------------------------
static_libs="$scratch/static-libs/$triple"
swift_flags=(
    -c release --scratch-path "$scratch" --disable-local-rpath
    -Xswiftc -static-stdlib -Xswiftc -no-toolchain-stdlib-rpath
    # lld for both (Package.swift asks for it for the library): gold leaves ~50 local Swift symbols in .dynsym.
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
    # libffi linked statically into the helper: this folder holds only libffi.a, ahead of the system's.
    -Xswiftc "-L$root/$static_libs"
)
[ "$triple" = "$host_arch-unknown-linux-gnu" ] || swift_flags+=(--triple "$triple")
if [ "$skip_build" -eq 0 ]; then
    mkdir -p "$static_libs"
    ffi=${LIBFFI_STATIC:-$(cc -print-file-name=libffi_pic.a)}
    [ -f "$ffi" ] || ffi=$(cc -print-file-name=libffi.a)
    [ -f "$ffi" ] || { echo "package.sh: no static libffi (apt-get install libffi-dev, or set LIBFFI_STATIC)" >&2; exit 1; }
    ln -sf "$ffi" "$static_libs/libffi.a"
    log="$scratch/build.log"
    echo "== swift build: libnemorelay ($triple, release, static Swift runtime)"
    swift build "${swift_flags[@]}" --product nemorelay -Xlinker "-soname=$soname" >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
    tail -1 "$log"
    echo "== swift build: NemoRelayHelper"
    swift build "${swift_flags[@]}" --product NemoRelayHelper >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
    tail -1 "$log"
fi
bin=$(swift build "${swift_flags[@]}" --show-bin-path)
for f in libnemorelay.so NemoRelayHelper; do
    [ -f "$bin/$f" ] || { echo "package.sh: $bin/$f is missing (run without --skip-build)" >&2; exit 1; }
done

# Strip debug info and the static symbol table (the dynamic one stays); llvm-objcopy handles any target.
strip_to() {
    if command -v llvm-objcopy >/dev/null; then llvm-objcopy --strip-unneeded "$1" "$2"; else strip --strip-unneeded -o "$2" "$1"; fi
}

mkdir -p dist
rm -rf dist/nemorelay-*-"$triple" dist/nemorelay-*-"$triple".tar.gz dist/stage  # this target's, any version
stage="dist/stage/$triple"
mkdir -p "$stage"
strip_to "$bin/libnemorelay.so" "$stage/libnemorelay.so"
strip_to "$bin/NemoRelayHelper" "$stage/NemoRelayHelper"
actual_soname=$(readelf -d "$stage/libnemorelay.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$actual_soname" = "$soname" ] || { echo "package.sh: SONAME is '$actual_soname', expected $soname" >&2; exit 1; }

# --- C / C++ SDK ------------------------------------------------------------------------------------------
sdk="dist/nemorelay-$version-$triple"
mkdir -p "$sdk/include" "$sdk/lib/pkgconfig" "$sdk/lib/cmake/NemoRelay"
install -m 644 include/nemo_relay.h "$sdk/include/"
install -m 755 "$stage/libnemorelay.so" "$sdk/lib/libnemorelay.so.$version"
ln -s "libnemorelay.so.$version" "$sdk/lib/$soname"
ln -s "$soname" "$sdk/lib/libnemorelay.so"
subst() { sed -e "s/@VERSION@/$version/g" -e "s/@MAJOR@/$major/g" "$1" >"$2"; }
subst packaging/c/nemorelay.pc.in "$sdk/lib/pkgconfig/nemorelay.pc"
subst packaging/c/NemoRelayConfig.cmake.in "$sdk/lib/cmake/NemoRelay/NemoRelayConfig.cmake"
subst packaging/c/NemoRelayConfigVersion.cmake.in "$sdk/lib/cmake/NemoRelay/NemoRelayConfigVersion.cmake"
install -m 755 scripts/install.sh "$sdk/install.sh"
install -m 644 CHANGELOG.md "$sdk/"
tar -C dist --owner=0 --group=0 --numeric-owner -czf "$sdk.tar.gz" "$(basename "$sdk")"

# --- Python -----------------------------------------------------------------------------------------------
rm -f dist/nemo_relay-*.whl dist/nemo_relay-*.tar.gz
python3 scripts/build_wheel.py --lib "$stage/libnemorelay.so" --arch "$arch" --out dist --sdist >/dev/null

# --- Node -------------------------------------------------------------------------------------------------
npm_stage="$scratch/npm/package"
rm -rf "$scratch/npm" dist/nemo-relay-node-*.tgz
mkdir -p "$npm_stage/native/linux-$node_arch"
(cd bindings/node && cp -r index.js index.d.ts typed.js typed.d.ts lib README.md "$root/$npm_stage/")
install -m 755 "$stage/NemoRelayHelper" "$npm_stage/native/linux-$node_arch/NemoRelayHelper"
install -m 755 "$stage/libnemorelay.so" "$npm_stage/native/linux-$node_arch/libnemorelay.so"
# The packaged package.json: this platform only (os, cpu), no scripts at all (so no install script).
node -e '
const fs = require("fs");
const [src, dst, cpu] = process.argv.slice(1);
const p = JSON.parse(fs.readFileSync(src, "utf8"));
delete p.scripts;
delete p.devDependencies;
p.os = ["linux"];
p.cpu = [cpu];
fs.writeFileSync(dst, JSON.stringify(p, null, 2) + "\n");
' bindings/node/package.json "$npm_stage/package.json" "$node_arch"
(cd "$npm_stage" && npm pack --silent --pack-destination "$root/dist" >/dev/null)

# --- Report -----------------------------------------------------------------------------------------------
echo "== artifacts ($triple, $version)"
ls -l "$bin/libnemorelay.so" "$stage/libnemorelay.so" "$stage/NemoRelayHelper" dist/*.whl dist/*.tar.gz dist/*.tgz \
    | awk '{ if ($5 < 1048576) printf "  %-60s %6.0f KB\n", $NF, $5 / 1024; else printf "  %-60s %6.1f MB\n", $NF, $5 / 1048576 }'
