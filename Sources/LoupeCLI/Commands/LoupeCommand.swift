import ArgumentParser

/// `loupe`: one binary that collects, stores, queries and alerts on logs, metrics and traces.
public struct LoupeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "loupe",
        abstract: "Loupe: logs, metrics and traces in one binary, speaking OTLP, Prometheus, Loki, Tempo, Jaeger and Zipkin.",
        version: LoupeVersion.current,
        subcommands: [UpCommand.self, AgentCommand.self, GatewayCommand.self, PipelinesCommand.self, VersionCommand.self, BenchCommand.self, PromQLTestCommand.self, LogQLTestCommand.self])

    public init() {}
}
