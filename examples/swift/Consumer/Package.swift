// swift-tools-version:6.2
// SPDX-License-Identifier: Apache-2.0
// A package that depends on NemoRelay's `NemoRelay` library product, as any SwiftPM package would:
//     .package(url: "<NemoRelay's git URL>", from: "0.8.0")
// Here the dependency is this checkout, by path. CI also builds it against a tagged git copy.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(name: "NemoRelay", path: "../../..")],
    targets: [
        .executableTarget(name: "Consumer", dependencies: [.product(name: "NemoRelay", package: "NemoRelay")])
    ]
)
