// swift-tools-version:6.2
// SPDX-License-Identifier: Apache-2.0
import PackageDescription

let exportsMap = Context.packageDirectory + "/Sources/NemoRelayFFI/exports.map"
/// The version script keeps only `nemo_relay_*` global; lld also keeps the hidden Swift symbols out of the
/// dynamic symbol table, where gold (the Linux default) still listed ~50 of them as local entries.
let ffiLinkerFlags = ["-Xlinker", "--version-script=\(exportsMap)", "-use-ld=lld"]

/// Dynamic exclusivity checks cost ~4% on the hot path; the core's shared state is lock-protected.
let releaseSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "NemoRelay",
    products: [
        .library(name: "NemoRelay", targets: ["NemoRelay"]),
        .library(name: "nemorelay", type: .dynamic, targets: ["NemoRelayFFI"]),
    ],
    targets: [
        .target(name: "NemoRelay", swiftSettings: releaseSettings),
        .target(name: "CNemoRelay"),
        .target(
            name: "NemoRelayFFI",
            dependencies: ["NemoRelay", "CNemoRelay"],
            exclude: ["exports.map"],
            swiftSettings: releaseSettings,
            linkerSettings: [.unsafeFlags(ffiLinkerFlags)]
        ),
        .systemLibrary(name: "CFFI", pkgConfig: "libffi", providers: [.apt(["libffi-dev"])]),
        .executableTarget(name: "NemoRelayHelper", dependencies: ["CFFI"]),
        .executableTarget(name: "CodecBench", dependencies: ["NemoRelay"], path: "bench/CodecBench"),
        .executableTarget(name: "ExportersExample", dependencies: ["NemoRelay"], path: "examples/swift/Exporters"),
        .testTarget(name: "NemoRelayTests", dependencies: ["NemoRelay"]),
        .testTarget(name: "NemoRelayFFITests", dependencies: ["NemoRelayFFI", "NemoRelay", "CNemoRelay"]),
    ],
    swiftLanguageModes: [.v6]
)
