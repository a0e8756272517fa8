import ArgumentParser
import Foundation
import LoupeAgent
import Logging
import LoupeModel
import ServiceLifecycle

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

    @OptionGroup var common: CollectorOptions

    @Option(name: .long, help: ArgumentHelp("Queues (default ./loupe-gateway-data).", valueName: "dir"))
    var dataDir = "./loupe-gateway-data"

    @Option(name: .customLong("otlp-grpc-address"), help: ArgumentHelp("OTLP/gRPC listener (default 0.0.0.0:4317).", valueName: "host:port"))
    var otlpGRPCAddress = "0.0.0.0:4317"

    @Option(name: .customLong("otlp-http-address"), help: ArgumentHelp("OTLP/HTTP listener (default 0.0.0.0:4318).", valueName: "host:port"))
    var otlpHTTPAddress = "0.0.0.0:4318"

    func validate() throws {
        for (flag, value) in [("--otlp-grpc-address", otlpGRPCAddress), ("--otlp-http-address", otlpHTTPAddress)] {
            guard (try? ListenAddress(parsing: value)) != nil else { throw ValidationError("\(flag): \"\(value)\" is not host:port") }
        }
    }

    func run() async throws {
        var options = common.planOptions(dataDirectory: dataDir)
        var extra: [any Service] = []
        // Every pod of the cluster, watched: pushed resources get the metadata of the pod they
        // came from (by k8s.pod.ip, k8s.pod.uid, name, or the connection's address).
        if let settings = common.kubernetesSettings(nodeName: "") {
            let pods = PodDirectory()
            options.pods = pods
            extra.append(KubernetesPodWatch(settings: settings, directory: pods, logger: Logger(label: "loupe.gateway.kubernetes")))
        }
        try await CollectorProcess.run(
            role: .gateway, common: common, options: options, otlpGRPCAddress: otlpGRPCAddress, otlpHTTPAddress: otlpHTTPAddress,
            extraServices: extra)
    }
}
