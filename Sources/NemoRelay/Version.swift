// SPDX-License-Identifier: Apache-2.0

/// The library's version as the core knows it.
///
/// It must equal `VERSION` (the one source, docs/packaging.md) and `NEMO_RELAY_VERSION_STRING`; `scripts/version.py`
/// and the FFI tests check that they agree.
public enum RelayVersion {
    /// The version string, `major.minor.patch`.
    public static let string: String = "0.9.0"
}
