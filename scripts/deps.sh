#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what the build and the tests need and is missing. Idempotent; prints what it installs.
set -euo pipefail

need_apt=()
command -v swift >/dev/null || { echo "deps: the Swift toolchain (6.x) must be on PATH" >&2; exit 1; }
command -v cc >/dev/null || need_apt+=(gcc)
command -v c++ >/dev/null || need_apt+=(g++)
command -v nm >/dev/null || need_apt+=(binutils)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v git >/dev/null || need_apt+=(git)
dpkg -s libffi-dev >/dev/null 2>&1 || need_apt+=(libffi-dev)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "deps: installing ${need_apt[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

if ! python3 -c 'import pytest' >/dev/null 2>&1; then
    echo "deps: installing pytest"
    python3 -m pip install --quiet pytest
fi
if ! python3 -c 'import orjson' >/dev/null 2>&1; then
    # Optional: the Python binding's fast JSON path (it falls back to the stdlib json without it).
    echo "deps: installing orjson"
    python3 -m pip install --quiet orjson || echo "deps: orjson not installed; the Python binding uses json" >&2
fi
if ! python3 -c 'import nat.atif, nat.atof.io' >/dev/null 2>&1; then
    # Third-party ATOF/ATIF validators (NVIDIA NeMo Agent Toolkit models) for the exporter tests.
    echo "deps: installing nvidia-nat-atif"
    python3 -m pip install --quiet nvidia-nat-atif
fi
if ! python3 -c 'import opentelemetry.proto' >/dev/null 2>&1; then
    # OpenTelemetry's protobuf messages: the OTLP encoder tests decode our output with them.
    echo "deps: installing opentelemetry-proto"
    python3 -m pip install --quiet opentelemetry-proto
fi
if ! python3 -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.common' >/dev/null 2>&1; then
    # The OpenTelemetry Python SDK's own OTLP encoder: CI checks that it and ours encode the same span alike.
    echo "deps: installing opentelemetry-sdk opentelemetry-exporter-otlp-proto-common"
    python3 -m pip install --quiet opentelemetry-sdk opentelemetry-exporter-otlp-proto-common
fi
if ! python3 -c 'import auditwheel' >/dev/null 2>&1; then
    # Packaging checks: `auditwheel show` confirms the wheel's manylinux tag (no repair, so no patchelf).
    echo "deps: installing auditwheel"
    python3 -m pip install --quiet auditwheel
fi
if ! python3 -c 'import cmake' >/dev/null 2>&1; then
    # Packaging checks: the C++ example is built against the installed prefix with find_package(NemoRelay).
    echo "deps: installing cmake"
    python3 -m pip install --quiet cmake
fi
