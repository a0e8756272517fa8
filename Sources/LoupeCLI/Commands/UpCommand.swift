import ArgumentParser
import Foundation
import Logging
import LoupeAgent
import LoupeModel
import LoupePipeline

struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run everything on this machine: OTLP receivers, storage, and the HTTP API.",
        discussion: """
            Data lives in ./loupe-data unless --data-dir says otherwise. Flags override the file given by --config.
            Stop with Ctrl-C or SIGTERM: in-flight writes finish and the write-ahead log is flushed first.
            """)

    @Option(name: .long, help: ArgumentHelp("Directory for the write-ahead log and stored data (default ./loupe-data).", valueName: "dir"))
    var dataDir: String?

    @Option(name: .long, help: ArgumentHelp("Main HTTP API: OTLP/HTTP, /metrics, /ready, /healthz and the query APIs (default 0.0.0.0:8080).", valueName: "host:port"))
    var httpAddress: String?

    @Option(name: .customLong("otlp-grpc-address"), help: ArgumentHelp("OTLP/gRPC listener (default 0.0.0.0:4317).", valueName: "host:port"))
    var otlpGRPCAddress: String?

    @Option(name: .customLong("otlp-http-address"), help: ArgumentHelp("OTLP/HTTP listener (default 0.0.0.0:4318).", valueName: "host:port"))
    var otlpHTTPAddress: String?

    @Option(name: .long, help: ArgumentHelp("How long data is kept, e.g. 15d, 12h (default 15d). 0 keeps everything and accepts any timestamp.", valueName: "duration"))
    var retention: String?

    @Option(name: .customLong("retention-size"), help: ArgumentHelp("Largest size of the metric blocks, e.g. 50GB; the oldest go first (default: no limit).", valueName: "bytes"))
    var retentionSize: String?

    @Option(name: .customLong("out-of-order-window"), help: ArgumentHelp("Accept metric samples up to this far behind a series' newest one, e.g. 30m (default 0: refuse).", valueName: "duration"))
    var outOfOrderWindow: String?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Pipeline resources to run here too (container logs, node metrics; output.loupe stores them here). Repeatable.", valueName: "path"))
    var pipelines: [String] = []

    @Option(name: .long, help: ArgumentHelp("Where the kubelet keeps pod logs, for --pipelines (default /var/log/pods).", valueName: "dir"))
    var podLogRoot: String?

    @Option(name: .long, help: ArgumentHelp("YAML configuration file; flags override it.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning, error or critical (default info).", valueName: "level"))
    var logLevel: String?

    func validate() throws {
        let configuration = try resolvedConfiguration()
        if !configuration.pipelinePaths.isEmpty {
            do {
                _ = try PipelineFiles.load(configuration.pipelinePaths)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    func resolvedConfiguration() throws -> LoupeConfiguration {
        var configuration = LoupeConfiguration()
        if let config {
            let text: String
            do {
                text = try String(contentsOfFile: config, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read --config \(config): \(error.localizedDescription)")
            }
            do {
                configuration = try LoupeConfiguration.load(yaml: text, source: config)
            } catch {
                throw ValidationError(error.description)
            }
        }
        do {
            if let dataDir { configuration.dataDirectory = dataDir }
            if !pipelines.isEmpty { configuration.pipelinePaths = pipelines }
            if let podLogRoot { configuration.podLogRoot = podLogRoot }
            if let httpAddress { configuration.httpAddress = try ListenAddress(parsing: httpAddress) }
            if let otlpGRPCAddress { configuration.otlpGRPCAddress = try ListenAddress(parsing: otlpGRPCAddress) }
            if let otlpHTTPAddress { configuration.otlpHTTPAddress = try ListenAddress(parsing: otlpHTTPAddress) }
        } catch {
            throw ValidationError(error.description)
        }
        do throws(LoupeConfiguration.Error) {
            if let retention { configuration.retention = try LoupeConfiguration.parseRetention(retention, source: "--retention") }
            if let logLevel { configuration.logLevel = try LoupeConfiguration.parseLogLevel(logLevel, source: "--log-level") }
            if let retentionSize {
                guard let bytes = ByteSizeText.parse(retentionSize), bytes > 0 else {
                    throw LoupeConfiguration.Error(description: "--retention-size: \"\(retentionSize)\" is not a byte size such as 50GB")
                }
                configuration.retentionBytes = bytes
            }
            if let outOfOrderWindow {
                do {
                    configuration.outOfOrderWindowNanoseconds = try DurationText.parseNanoseconds(outOfOrderWindow)
                } catch {
                    throw LoupeConfiguration.Error(description: "--out-of-order-window: \(error)")
                }
            }
        } catch {
            throw ValidationError(error.description)
        }
        return configuration
    }

    func run() async throws {
        let configuration = try resolvedConfiguration()
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "loupe")
        let runtime: LoupeRuntime
        do {
            runtime = try LoupeRuntime(configuration: configuration, logger: logger)
        } catch {
            throw StartupError(description: "cannot open the data directory \(configuration.dataDirectory): \(error)")
        }
        try await runtime.run { addresses in
            let banner = """
                loupe \(LoupeVersion.current) is up
                  data directory  \(configuration.dataDirectory)
                  retention       \(configuration.retention)
                  HTTP API        http://\(addresses.http)  (OTLP/HTTP /v1/{traces,metrics,logs}, /loupe/api/v1/{traces,metrics,logs}, /metrics, /ready, /healthz)
                  OTLP/gRPC       \(addresses.otlpGRPC)
                  OTLP/HTTP       http://\(addresses.otlpHTTP)

                """
            // Unbuffered, so scripts waiting for the banner see it at once.
            FileHandle.standardOutput.write(Data(banner.utf8))
        }
    }
}

/// A failure after the arguments were accepted: printed without the usage text.
struct StartupError: Error, CustomStringConvertible {
    let description: String
}
