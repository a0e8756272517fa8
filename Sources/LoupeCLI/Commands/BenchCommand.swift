import ArgumentParser
import LoupeBench
import LoupeModel

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks and load generators. Build with -c release for meaningful figures.",
        subcommands: [OTLPBench.self, DecodeBench.self])
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
