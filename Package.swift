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
        // The HTTP server (`loam serve`); its optional swift-configuration and full-Foundation traits are off.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        // Already built for Hummingbird; named here for their Logger and UnixSignal.
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Remote backends (LoamCloud): S3 over HTTP with SigV4 signing, and a PostgreSQL catalog.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        // Snappy, zstd, zlib and LZ4 from Debian's -dev packages (scripts/test.sh and the quickstart install them).
        .systemLibrary(name: "CCodecs", path: "Sources/CCodecs",
                       providers: [.apt(["libsnappy-dev", "libzstd-dev", "zlib1g-dev", "liblz4-dev"])]),
        // Arrow IPC and the FlatBuffers it is framed in, Parquet, and their compression codecs.
        .target(name: "LoamFormat", dependencies: ["CCodecs"], swiftSettings: fastLoops),
        // Content-addressed objects and the transactional catalog.
        .target(name: "LoamStorage", dependencies: [
            "LoamFormat",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // Fragments, manifests, commits and refs.
        .target(name: "LoamTable", dependencies: ["LoamFormat", "LoamStorage", .product(name: "Crypto", package: "swift-crypto")]),
        // The public library: repositories, datasets, ingest, export.
        .target(name: "Loam", dependencies: ["LoamTable", "LoamFormat", "LoamStorage", "LoamCloud"], swiftSettings: fastLoops),
        // SQL: lexer → parser → binder → plan → vectorized execution over fragments.
        .target(name: "LoamQuery", dependencies: ["Loam", "LoamTable", "LoamFormat", "LoamStorage", .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fastLoops),
        // Experiment tracking: experiments, runs, metric series, lineage, MLflow's search grammar, over its own store.
        .target(name: "LoamTracking", dependencies: [
            "Loam", "LoamFormat", "LoamStorage", "LoamCloud",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ]),
        // Labels and annotation: schemas, versioned annotations, agreement, formats.
        .target(name: "LoamLabels", dependencies: ["Loam", "LoamQuery", "LoamFormat", "LoamTable", "LoamStorage", "LoamCloud",
                                                  .product(name: "GRDB", package: "GRDB.swift"),
                                                  .product(name: "PostgresNIO", package: "postgres-nio")]),
        // Data quality: mergeable per-fragment sketches (profiles), over its own store.
        .target(name: "LoamQuality", dependencies: ["Loam", "LoamQuery", "LoamFormat", "LoamTable", "LoamStorage"]),
        // Governance: PII detection, anonymization, audit verification and erasure from every version (encryption next).
        .target(name: "LoamGovernance", dependencies: ["Loam", "LoamQuery", "LoamFormat", "LoamTable", "LoamStorage", .product(name: "Crypto", package: "swift-crypto")]),
        // Remote backends: S3ObjectStore (any S3-compatible server) and PostgresMetaStore, and the
        // backends file that names them for a repository.
        .target(name: "LoamCloud", dependencies: [
            "LoamStorage", "LoamFormat",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Loam's web front: the pages `loam serve` serves (plain HTML, CSS, JavaScript; no build step).
        .target(name: "LoamWeb", resources: [.copy("pages")]),
        // `loam serve`: the REST API, tokens and roles, Arrow streams for training, metrics.
        .target(name: "LoamServer", dependencies: [
            "Loam", "LoamQuery", "LoamFormat", "LoamStorage", "LoamTable", "LoamTracking", "LoamLabels", "LoamWeb", "LoamQuality",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], resources: [.copy("openapi.json")]),
        .executableTarget(name: "loam", dependencies: [
            "Loam", "LoamQuery", "LoamFormat", "LoamStorage", "LoamTable", "LoamServer", "LoamTracking", "LoamLabels", "LoamGovernance", "LoamCloud", "LoamQuality",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Loam's side of bench/run.sh (release build); not part of the library.
        .executableTarget(name: "loam-bench", dependencies: ["Loam", "LoamFormat", "LoamQuery"], path: "bench/Swift"),
        // SQL under libFuzzer, parser to evaluator (scripts/fuzz.sh); a plain build replays inputs.
        .executableTarget(name: "loam-fuzz", dependencies: ["LoamQuery", "Loam"], path: "Fuzz/Sources"),
        // Scratch folders, the pyarrow Python and process helpers shared by the tests.
        .target(name: "LoamTestSupport", path: "Tests/LoamTestSupport"),
        .testTarget(name: "LoamFormatTests", dependencies: ["LoamFormat", "LoamTestSupport"]),
        .testTarget(name: "LoamStorageTests", dependencies: ["LoamStorage", "LoamTestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "LoamTableTests", dependencies: ["LoamTable", "LoamFormat", "LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamTests", dependencies: ["Loam", "LoamQuery", "LoamTable", "LoamFormat", "LoamStorage", "LoamTestSupport"]),
        .testTarget(name: "LoamTrackingTests", dependencies: ["LoamTracking", "Loam", "LoamStorage", "LoamFormat", "LoamTestSupport",
                                                             .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "LoamServerTests", dependencies: ["LoamServer"]),
        .testTarget(name: "LoamGovernanceTests", dependencies: ["LoamGovernance", "Loam", "LoamQuery", "LoamTable", "LoamStorage", "LoamFormat", "LoamTestSupport"]),
        .testTarget(name: "LoamCloudTests", dependencies: ["LoamCloud", "Loam", "LoamTracking", "LoamLabels", "LoamStorage", "LoamTable", "LoamFormat", "LoamTestSupport", .product(name: "AsyncHTTPClient", package: "async-http-client")]),
        .testTarget(name: "LoamQualityTests", dependencies: ["LoamQuality", "Loam", "LoamQuery", "LoamFormat", "LoamTable", "LoamTestSupport"]),
        .testTarget(name: "LoamLabelsTests", dependencies: ["LoamLabels", "Loam", "LoamFormat", "LoamTable", "LoamTestSupport"]),
        .testTarget(name: "LoamQueryTests", dependencies: ["LoamQuery", "Loam", "LoamFormat", "LoamGovernance", "LoamTestSupport"],
                    resources: [.copy("sql")]),
    ]
)
