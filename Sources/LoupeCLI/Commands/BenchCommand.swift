import ArgumentParser
import LoupeBench
import LoupeModel

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks and load generators. Build with -c release for meaningful figures.",
        subcommands: [OTLPBench.self, RemoteWriteBench.self, LogsBench.self, DecodeBench.self, ChunksBench.self, IngestPathBench.self])
}

struct OTLPBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp",
        abstract: "Send OTLP load to any OTLP endpoint and report accepted items/s and latency percentiles.",
        discussion: "Endpoints: http://HOST:4318 for OTLP/HTTP (protobuf), grpc://HOST:4317 for OTLP/gRPC.")

    @Option(help: "OTLP endpoint URL, e.g. http://127.0.0.1:4318 or grpc://127.0.0.1:4317.")
    var endpoint: String

    @Option(help: "traces, logs or metrics.")
    var signal: String = "traces"

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Option(help: "Concurrent connections, each sending requests back to back.")
    var concurrency: Int = 8

    @Option(help: "Items (spans, log records, data points) per request.")
    var batchSize: Int = 1000

    @Option(help: "Attributes per item.")
    var attributes: Int = 10

    @Option(help: "Tenant to send as X-Scope-OrgID.")
    var tenant: String?

    @Flag(help: "Compress requests with gzip.")
    var gzip = false

    func validate() throws {
        guard Signal.allCases.contains(where: { $0.description == signal }) else {
            throw ValidationError("--signal must be traces, logs or metrics, not \"\(signal)\"")
        }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() async throws {
        let options = OTLPLoadGenerator.Options(
            endpoint: endpoint, signal: Signal.allCases.first { $0.description == signal }!,
            duration: .milliseconds(Int64(duration * 1000)), concurrency: concurrency, batchSize: batchSize,
            attributesPerItem: attributes, tenant: tenant, gzip: gzip)
        let result = try await OTLPLoadGenerator(options: options).run()
        print(result.report)
    }
}

struct RemoteWriteBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remote-write",
        abstract: "Send Prometheus remote-write load (node-exporter-like series) and report accepted samples/s and latency.",
        discussion: """
            Works against any remote-write receiver, e.g. http://127.0.0.1:9090/api/v1/write for Prometheus started \
            with --web.enable-remote-write-receiver. Each series belongs to one connection (like Prometheus's shards), \
            so samples of a series arrive in order; simulated time advances 15 s per scrape and stays in the past.
            """)

    @Option(help: "Remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write.")
    var endpoint: String

    @Option(help: "Active series (~500 per simulated host).")
    var series: Int = 10_000

    @Option(help: "Consecutive scrapes of each series per request.")
    var samplesPerSeriesPerRequest: Int = 1

    @Option(help: "Series per request (like Prometheus's max_samples_per_send).")
    var batchSeries: Int = 2_000

    @Option(help: "Seconds to run.")
    var duration: Double = 10

    @Option(help: "Concurrent connections (shards), each with one request in flight.")
    var concurrency: Int = 4

    @Option(help: "Share of the series replaced by new label sets every simulated minute, 0...1.")
    var churn: Double = 0

    @Option(help: "Remote write protocol version: 1 or 2.")
    var version: Int = 1

    @Option(help: "MiB of compressed requests to prepare before the clock starts; beyond that workers encode as they go.")
    var prebuildMib: Int = 1536

    @Option(help: "Backfill: send exactly this many rounds of history ending now (480 = 2 h at 15 s), then stop; --duration caps it.")
    var rounds: Int?

    @Option(help: "How values evolve: realistic (node_exporter-like: ticks, whole bytes, pages, constants) or synthetic (every value changes every scrape by a random fraction).")
    var values: String = "realistic"

    func validate() throws {
        guard series > 0 else { throw ValidationError("--series must be positive") }
        guard samplesPerSeriesPerRequest > 0 else { throw ValidationError("--samples-per-series-per-request must be positive") }
        guard batchSeries > 0 else { throw ValidationError("--batch-series must be positive") }
        guard duration > 0 else { throw ValidationError("--duration must be positive") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
        guard (0...1).contains(churn) else { throw ValidationError("--churn must be between 0 and 1") }
        guard version == 1 || version == 2 else { throw ValidationError("--version must be 1 or 2") }
        guard prebuildMib >= 0 else { throw ValidationError("--prebuild-mib cannot be negative") }
        if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1") }
        guard RemoteWriteValueModel(rawValue: values) != nil else { throw ValidationError("--values must be realistic or synthetic") }
    }

    func run() async throws {
        let options = RemoteWriteLoadGenerator.Options(
            endpoint: endpoint, seriesCount: series, samplesPerSeriesPerRequest: samplesPerSeriesPerRequest,
            batchSeries: batchSeries, duration: .milliseconds(Int64(duration * 1000)), concurrency: concurrency, churn: churn,
            version: version, prebuildBytes: prebuildMib << 20, rounds: rounds, values: RemoteWriteValueModel(rawValue: values) ?? .realistic)
        let result = try await RemoteWriteLoadGenerator(options: options).run()
        print(result.report)
    }
}

struct DecodeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Measure the OTLP protobuf decoder on a fixed request, single-threaded.")

    @Option(help: "Spans in the request.")
    var spans: Int = 5000

    @Option(help: "Attributes per span.")
    var attributes: Int = 10

    @Option(help: "Timed decodes.")
    var iterations: Int = 200

    func run() {
        print(DecodeBenchmark(spanCount: spans, attributesPerSpan: attributes, iterations: iterations).run().report)
    }
}

struct LogsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Push realistic Kubernetes logs (JSON, logfmt, access lines) to a Loki push endpoint and report MiB/s of lines.",
        discussion: """
            Works against Loupe (http://127.0.0.1:8080/loki/api/v1/push) or Loki. Requests are snappy protobuf, \
            built before the clock starts; the entries span --span-seconds ending now.
            """)

    @Option(help: "Loki push URL.")
    var endpoint: String

    @Option(help: "MiB of log lines to send.")
    var mib: Int = 256

    @Option(help: "Concurrent connections, each with one request in flight.")
    var concurrency: Int = 4

    @Option(help: "KiB of lines per request.")
    var requestKib: Int = 1024

    @Option(help: "Seconds of history the entries span, ending now.")
    var spanSeconds: Int = 3_600

    @Option(help: "Tenant (X-Scope-OrgID).")
    var tenant: String?

    func validate() throws {
        guard mib > 0, concurrency > 0, requestKib > 0, spanSeconds > 0 else { throw ValidationError("--mib, --concurrency, --request-kib and --span-seconds must be positive") }
    }

    func run() async throws {
        let result = try await LogsLoadGenerator(options: .init(
            endpoint: endpoint, totalBytes: mib << 20, concurrency: concurrency, requestBytes: requestKib << 10, spanSeconds: spanSeconds, tenant: tenant)).run()
        print(result.report)
    }
}
