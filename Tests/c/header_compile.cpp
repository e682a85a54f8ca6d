// SPDX-License-Identifier: Apache-2.0
// The header must compile as C++ with warnings as errors and declare C linkage.
#include "nemo_relay.h"

int main() {
    nemo_relay_runtime_options_t opts{};
    opts.version = NEMO_RELAY_RUNTIME_OPTIONS_VERSION;
    const char *(*v)(void) = &nemo_relay_version;
    return (v != nullptr && opts.version == 1) ? 0 : 1;
}
