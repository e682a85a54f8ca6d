#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the NemoRelay C/C++ SDK under a prefix (docs/packaging.md):
#   <prefix>/include/nemo_relay.h
#   <prefix>/lib/libnemorelay.so.<v>, libnemorelay.so.<major> -> it, libnemorelay.so -> that
#   <prefix>/lib/pkgconfig/nemorelay.pc             (pkg-config --cflags --libs nemorelay)
#   <prefix>/lib/cmake/NemoRelay/NemoRelayConfig*.cmake   (find_package(NemoRelay) -> NemoRelay::nemorelay)
#
#   bash scripts/install.sh --prefix DIR [--from SDK_DIR]
# From a checkout it installs dist/nemorelay-<v>-<host triple>/ (built by scripts/package.sh); inside an
# unpacked nemorelay-<v>-<triple>.tar.gz it installs the folder it sits in. DESTDIR is honoured.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=""
from=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a value}; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        --from) from=${2:?--from needs a value}; shift 2 ;;
        --from=*) from=${1#--from=}; shift ;;
        -h|--help) sed -n '3,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }

if [ -z "$from" ]; then
    if [ -f "$here/include/nemo_relay.h" ] && [ -d "$here/lib/pkgconfig" ]; then
        from=$here  # inside an unpacked SDK archive
    else
        version=$(tr -d '[:space:]' <"$here/../VERSION")
        from="$here/../dist/nemorelay-$version-$(uname -m)-unknown-linux-gnu"
    fi
fi
[ -f "$from/include/nemo_relay.h" ] || { echo "install.sh: no SDK in $from (run scripts/package.sh first)" >&2; exit 1; }

case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac
dest="${DESTDIR:-}$prefix"
install -d "$dest/include" "$dest/lib/pkgconfig" "$dest/lib/cmake/NemoRelay"
install -m 644 "$from/include/nemo_relay.h" "$dest/include/"
real=$(cd "$from/lib" && ls libnemorelay.so.*.*.*)
rm -f "$dest"/lib/libnemorelay.so*
cp -P "$from"/lib/libnemorelay.so* "$dest/lib/"  # the file and its SONAME and development links
chmod 755 "$dest/lib/$real"
install -m 644 "$from"/lib/cmake/NemoRelay/*.cmake "$dest/lib/cmake/NemoRelay/"
# The installed .pc names the prefix outright (the SDK's copy is relative to its own folder).
sed "s|^prefix=.*|prefix=$prefix|" "$from/lib/pkgconfig/nemorelay.pc" >"$dest/lib/pkgconfig/nemorelay.pc"
chmod 644 "$dest/lib/pkgconfig/nemorelay.pc"
echo "installed libnemorelay ($real) under $dest"
case "$prefix" in
    /usr|/usr/local) [ -n "${DESTDIR:-}" ] || ! command -v ldconfig >/dev/null || ldconfig 2>/dev/null || true ;;
    *) echo "  build with: pkg-config --cflags --libs nemorelay (PKG_CONFIG_PATH=$prefix/lib/pkgconfig)," \
           "or CMake: find_package(NemoRelay) (CMAKE_PREFIX_PATH=$prefix); link with -Wl,-rpath,$prefix/lib" ;;
esac
