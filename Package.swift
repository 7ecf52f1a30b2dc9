// swift-tools-version: 6.1
import PackageDescription

// Hot ingest and format loops mutate class state per value; runtime exclusivity
// checks cost about 15% of import time there. Debug builds (and tests) keep them.
let fastLoops: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Loam",
    platforms: [.macOS(.v15)],
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
        .target(name: "LoamFormat", swiftSettings: fastLoops),
        // Content-addressed objects and the transactional catalog.
        .target(name: "LoamStorage", dependencies: [
            "LoamFormat",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Fragments, manifests, commits and refs.
        .target(name: "LoamTable", dependencies: ["LoamFormat", "LoamStorage"]),
        // The public library: repositories, datasets, ingest, export.
        .target(name: "Loam", dependencies: ["LoamTable", "LoamFormat", "LoamStorage"], swiftSettings: fastLoops),
        // SQL: lexer → parser → binder → plan → vectorized execution over fragments.
        .target(name: "LoamQuery", dependencies: ["Loam", "LoamTable", "LoamFormat", "LoamStorage"], swiftSettings: fastLoops),
        .executableTarget(name: "loam", dependencies: [
            "Loam", "LoamQuery", "LoamFormat", "LoamStorage", "LoamTable",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Loam's side of bench/run.sh (release build); not part of the library.
        .executableTarget(name: "loam-bench", dependencies: ["Loam", "LoamFormat", "LoamQuery"], path: "bench/Swift"),
        // The SQL lexer and parser under libFuzzer (scripts/fuzz.sh); a plain build replays inputs.
        .executableTarget(name: "loam-fuzz", dependencies: ["LoamQuery"], path: "Fuzz/Sources"),
        // Scratch folders, the pyarrow Python and process helpers shared by the tests.
        .target(name: "LoamTestSupport", path: "Tests/LoamTestSupport"),
        .testTarget(name: "LoamFormatTests", dependencies: ["LoamFormat", "LoamTestSupport"]),
        .testTarget(name: "LoamStorageTests", dependencies: ["LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamTableTests", dependencies: ["LoamTable", "LoamFormat", "LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamTests", dependencies: ["Loam", "LoamTable", "LoamFormat", "LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamQueryTests", dependencies: ["LoamQuery", "Loam", "LoamFormat", "LoamTestSupport"],
                    resources: [.copy("sql")]),
    ]
)
