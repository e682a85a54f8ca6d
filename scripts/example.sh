#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sets up a fresh machine, builds libnemorelay.so and runs the C agent example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
lib=$(bash scripts/build.sh)
mkdir -p build
cc -std=c99 -Wall -Wextra -Werror -Iinclude examples/c/agent.c -L"$lib" -lnemorelay -lpthread \
    -Wl,-rpath,"$lib" -o build/agent
./build/agent
