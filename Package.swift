// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Loam",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Loam", targets: ["Loam"]),
        .executable(name: "loam", targets: ["loam"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // Arrow IPC and the FlatBuffers it is framed in; no dependencies.
        .target(name: "LoamFormat"),
        // Content-addressed objects and the transactional catalog.
        .target(name: "LoamStorage", dependencies: [
            "LoamFormat",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Fragments, manifests, commits and refs.
        .target(name: "LoamTable", dependencies: ["LoamFormat", "LoamStorage"]),
        // The public library: repositories, datasets, ingest, export.
        .target(name: "Loam", dependencies: ["LoamTable", "LoamFormat", "LoamStorage"]),
        .executableTarget(name: "loam", dependencies: [
            "Loam", "LoamFormat", "LoamStorage", "LoamTable",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Scratch folders, the pyarrow Python and process helpers shared by the tests.
        .target(name: "LoamTestSupport", path: "Tests/LoamTestSupport"),
        .testTarget(name: "LoamFormatTests", dependencies: ["LoamFormat", "LoamTestSupport"]),
        .testTarget(name: "LoamStorageTests", dependencies: ["LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamTableTests", dependencies: ["LoamTable", "LoamFormat", "LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamTests", dependencies: ["Loam", "LoamTable", "LoamFormat", "LoamStorage", "LoamTestSupport"]),
    ]
)
