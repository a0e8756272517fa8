// swift-tools-version:6.1
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "loupe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "loupe", targets: ["loupe"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // zlib from the system: gzip bodies (OTLP/HTTP Content-Encoding, gRPC message compression on the client side).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The system's libzstd (zstd Content-Encoding of OTLP/HTTP bodies, in and out).
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", providers: [.apt(["libzstd-dev"])]),
        // The system's libdeflate: whole-buffer gzip and zlib compression (outgoing OTLP bodies), about
        // 1.7 times as fast as zlib at level 1 with smaller output.
        .systemLibrary(name: "CDeflate", path: "Sources/CDeflate", providers: [.apt(["libdeflate-dev"])]),
        // glibc's malloc_trim (a header of the C library itself; nothing to link).
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // The compiler's prefetch hint (a header-only inline function; nothing to link).
        .systemLibrary(name: "CPrefetch", path: "Sources/CPrefetch"),
        // The CPU's CRC-32C instruction for WAL checksums (header-only inline functions; nothing to link).
        .systemLibrary(name: "CCRC32C", path: "Sources/CCRC32C"),

        // Pure value types: the data model of all three signals. No dependencies but the prefetch hint.
        .target(name: "LoupeModel", dependencies: ["CPrefetch"], swiftSettings: strictSettings),

        // Pure, synchronous codecs: protobuf wire, OTLP protobuf and JSON, gzip. No NIO, no async.
        .target(name: "LoupeWire", dependencies: ["LoupeModel", "CZlib", "CZstd", "CDeflate", "CCRC32C"], swiftSettings: strictSettings),

        // Pure query languages: lexers, parsers, ASTs and evaluators (PromQL first). No I/O.
        .target(name: "LoupeQuery", dependencies: ["LoupeModel"], swiftSettings: strictSettings),

        // Pure scraping engine: scrape configuration values, relabeling, target discovery (static, file SD
        // contents), the per-target scrape loop state machine (staleness, report series, limits). No I/O;
        // Yams reads file_sd target files (YAML or JSON) and configuration text.
        .target(
            name: "LoupeScrape",
            dependencies: ["LoupeModel", "LoupeWire", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),

        // Scraping's I/O: the scrape manager (one task per pool and per target, pluggable discovery),
        // the HTTP fetcher (AsyncHTTPClient, TLS, auth, gzip, limits) and target status. Shared by
        // `loupe up` (scrape_configs) and the agent's MetricPipeline `input.prometheus`.
        .target(
            name: "LoupeScrapeService",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeScrape",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strictSettings
        ),

        // Pure collection engine: pipeline resources (LogPipeline, TracePipeline, MetricPipeline) read
        // and validated from YAML, OTTL, container log lines (CRI, Docker json-file) and their
        // records. No I/O; Yams reads the resources keeping line and column for errors.
        .target(
            name: "LoupeCollect",
            dependencies: ["LoupeModel", "LoupeWire", "LoupeScrape", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),

        // OTLP over gRPC without generated types: raw message coders, the Export method descriptors
        // and the listener service, shared by the receiver, the agent and the load generator.
        .target(
            name: "LoupeGRPC",
            dependencies: [
                "LoupeModel",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // Write-ahead log and per-signal stores. File I/O at this layer; no networking.
        .target(
            name: "LoupeStorage",
            dependencies: [
                "LoupeModel", "LoupeWire", "CMalloc", "CPrefetch",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        // The ingest path shared by every protocol: admission (memory budget), retention, WAL, stores; self-metrics.
        .target(
            name: "LoupePipeline",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),

        // Network surfaces: thin adapters from HTTP and gRPC requests to the pipeline and stores.
        .target(
            name: "LoupeServer",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeStorage", "LoupePipeline", "LoupeQuery", "LoupeScrape", "LoupeScrapeService", "LoupeGRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strictSettings
        ),

        // The collection side (`loupe agent`): container log tailing with checkpoints, per-pipeline
        // disk queues, OTLP exporters with retry. File and network I/O at this layer.
        .target(
            name: "LoupeAgent",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeCollect", "LoupeStorage", "LoupeGRPC", "LoupeScrape", "LoupeScrapeService",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // Load generator and decoder benchmark (`loupe bench`).
        .target(
            name: "LoupeBench",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeGRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ],
            swiftSettings: strictSettings
        ),

        // Commands, configuration and wiring.
        .target(
            name: "LoupeCLI",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeStorage", "LoupePipeline", "LoupeServer", "LoupeBench", "LoupeQuery",
                "LoupeScrape", "LoupeScrapeService", "LoupeCollect", "LoupeAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strictSettings
        ),

        .executableTarget(name: "loupe", dependencies: ["LoupeCLI"], swiftSettings: strictSettings),

        .testTarget(
            name: "LoupeWireTests",
            dependencies: ["LoupeModel", "LoupeWire"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LoupeQueryTests",
            dependencies: ["LoupeModel", "LoupeQuery"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LoupeScrapeTests",
            dependencies: ["LoupeModel", "LoupeWire", "LoupeScrape", .product(name: "Yams", package: "Yams")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LoupeCollectTests",
            dependencies: ["LoupeModel", "LoupeWire", "LoupeScrape", "LoupeCollect"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LoupeStorageTests",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeStorage",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LoupeServerTests",
            dependencies: [
                "LoupeModel", "LoupeWire", "LoupeStorage", "LoupePipeline", "LoupeServer", "LoupeCLI", "LoupeBench",
                "LoupeScrape", "LoupeAgent",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
