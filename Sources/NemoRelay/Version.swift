// SPDX-License-Identifier: Apache-2.0

/// The library's version as the core knows it.
///
/// It must equal `NEMO_RELAY_VERSION_STRING` in `include/nemo_relay.h`; the FFI tests check that the two agree.
public enum RelayVersion {
    /// The version string, `major.minor.patch`.
    public static let string: String = "0.8.0"
}
