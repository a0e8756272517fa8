import ArgumentParser
import Foundation
import LoupeAgent
import LoupeModel

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Take OTLP for the cluster, filter and transform it as pipelines declare, and ship it without loss.",
        discussion: """
            Every LogPipeline, TracePipeline and MetricPipeline with its OTLP input enabled takes the resources its namespace
            selector admits (by k8s.namespace.name), applies its transform and filter rules, and queues the result on disk
            before the sender is answered; the queue is shipped to the pipeline's output with retry. A signal no pipeline
            takes is refused (HTTP 404, gRPC UNIMPLEMENTED).
            """)

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A pipeline YAML file or a directory of them (repeatable).", valueName: "path"))
    var pipelines: [String] = []

    @Option(name: .long, help: ArgumentHelp("Queues (default ./loupe-gateway-data).", valueName: "dir"))
    var dataDir = "./loupe-gateway-data"

    @Option(name: .customLong("otlp-grpc-address"), help: ArgumentHelp("OTLP/gRPC listener (default 0.0.0.0:4317).", valueName: "host:port"))
    var otlpGRPCAddress = "0.0.0.0:4317"

    @Option(name: .customLong("otlp-http-address"), help: ArgumentHelp("OTLP/HTTP listener (default 0.0.0.0:4318).", valueName: "host:port"))
    var otlpHTTPAddress = "0.0.0.0:4318"

    @Option(name: .long, help: ArgumentHelp("/metrics, /api/v1/pipelines (status), /ready and /healthz (default 0.0.0.0:8081).", valueName: "host:port"))
    var httpAddress = "0.0.0.0:8081"

    @Option(name: .long, help: ArgumentHelp("Directory of secrets as <namespace>/<name>/<key> files.", valueName: "dir"))
    var secretsDir: String?

    @Option(name: .long, help: ArgumentHelp("Disk budget of each pipeline's queue, e.g. 1GiB (default 1GiB).", valueName: "bytes"))
    var queueSize = "1GiB"

    @Option(name: .long, help: ArgumentHelp("Longest wait between retries to a backend that is away, e.g. 30s (default 30s).", valueName: "duration"))
    var maximumBackoff = "30s"

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel = "info"

    func validate() throws {
        guard !pipelines.isEmpty else { throw ValidationError("give at least one --pipelines file or directory") }
        for (flag, value) in [("--otlp-grpc-address", otlpGRPCAddress), ("--otlp-http-address", otlpHTTPAddress), ("--http-address", httpAddress)] {
            guard (try? ListenAddress(parsing: value)) != nil else { throw ValidationError("\(flag): \"\(value)\" is not host:port") }
        }
        guard ByteSizeText.parse(queueSize) != nil else { throw ValidationError("--queue-size: \"\(queueSize)\" is not a byte size such as 1GiB") }
        guard (try? DurationText.parseNanoseconds(maximumBackoff)) != nil else { throw ValidationError("--maximum-backoff: \"\(maximumBackoff)\" is not a duration such as 30s") }
    }

    func run() async throws {
        var options = AgentPlan.Options(dataDirectory: dataDir)
        options.secrets = SecretResolver(directory: secretsDir)
        options.queueBytes = ByteSizeText.parse(queueSize) ?? options.queueBytes
        options.maximumBackoff = (try? DurationText.parse(maximumBackoff)) ?? .seconds(30)
        try await CollectorProcess.run(
            role: .gateway, pipelines: pipelines, options: options, httpAddress: httpAddress, otlpGRPCAddress: otlpGRPCAddress,
            otlpHTTPAddress: otlpHTTPAddress, logLevel: logLevel)
    }
}
