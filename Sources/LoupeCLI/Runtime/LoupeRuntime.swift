import Foundation
import LoupeAgent
import Hummingbird
import Logging
import LoupeModel
import LoupePipeline
import LoupeScrape
import LoupeScrapeService
import LoupeServer
import LoupeStorage
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The addresses a running Loupe actually listens on (ports resolved when 0 was asked for).
public struct ListeningAddresses: Sendable, Equatable {
    public var http: ListenAddress
    public var otlpGRPC: ListenAddress
    public var otlpHTTP: ListenAddress
}

/// Wires one all-in-one Loupe process: WAL, stores, write path, and the HTTP and gRPC
/// listeners, as services of one `ServiceGroup`.
public struct LoupeRuntime: Sendable {
    public let configuration: LoupeConfiguration
    public let pipeline: IngestPipeline
    public let readiness = Readiness()
    /// Cuts TSDB heads into blocks, compacts them and applies retention.
    public let maintenance: TSDBMaintenance
    /// Cuts log heads into blocks and frees the WAL behind them.
    public let logMaintenance: LogMaintenance
    /// Cuts the trace head into blocks and frees the WAL behind them.
    public let traceMaintenance: TraceMaintenance
    private let shutdown = ShutdownSwitch()
    let logger: Logger

    public init(configuration: LoupeConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let walDirectory = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("wal").path
        let telemetry = SelfTelemetry()
        var walOptions = WALOptions(
            syncPolicy: configuration.walSyncPolicy, segmentSizeBytes: configuration.walSegmentBytes,
            maximumRecordBytes: max(configuration.maximumRequestBytes * 2, 1 << 20),
            reservedSpaceBytes: configuration.walReservedSpaceBytes)
        walOptions.groupCommitObserver = { commit in
            if let fsync = commit.fsyncDuration { telemetry.recordFsync(fsync, records: commit.records) }
        }
        let wal = try WriteAheadLog(directory: walDirectory, options: walOptions, logger: logger)
        // Spans have a log of their own, freed as trace blocks are written (see IngestPipeline.traceWAL).
        let traceWAL = try WriteAheadLog(
            directory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("wal-traces").path, options: walOptions,
            logger: logger)
        // Logs too (see IngestPipeline.logWAL).
        let logWAL = try WriteAheadLog(
            directory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("wal-logs").path, options: walOptions,
            logger: logger)
        let metricsDirectory = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("metrics").path
        let prometheus = try PrometheusStore(directory: metricsDirectory, options: configuration.prometheusStoreOptions, logger: logger)
        let logsDirectory = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("logs").path
        let logStreams = try LogStreamStore(directory: logsDirectory, options: .init(tenantRetention: configuration.logTenantRetention))
        for problem in logStreams.openingProblems {
            logger.error("a log block could not be opened and was moved aside; the WAL may still hold its entries", metadata: ["problem": "\(problem)"])
        }
        let tracesDirectory = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("traces").path
        let traceSpans = try TraceSpanStore(directory: tracesDirectory)
        // Room for the head being filled, one being written and one cut waiting.
        traceSpans.maximumUnflushedBytes.store(configuration.traceMaintenance.flushBytes * 4, ordering: .relaxed)
        for problem in traceSpans.openingProblems {
            logger.error("a trace block could not be opened and was moved aside; the WAL may still hold its spans", metadata: ["problem": "\(problem)"])
        }
        pipeline = IngestPipeline(
            wal: wal,
            stores: .embedded(prometheus: prometheus, logStreams: logStreams, traceSpans: traceSpans, readBackBytes: configuration.otlpReadBackBytes),
            retention: configuration.retention,
            budget: MemoryBudget(limitBytes: configuration.memoryBudgetBytes), telemetry: telemetry, logger: logger,
            otlpLogStreams: OTLPLogsToStreams(streamLabelAttributes: configuration.otlpLogStreamLabels),
            traceMetrics: TraceMetricsGenerator(isEnabled: configuration.traceMetricsEnabled), traceWAL: traceWAL, logWAL: logWAL)
        maintenance = TSDBMaintenance(pipeline: pipeline, logger: logger)
        logMaintenance = LogMaintenance(pipeline: pipeline, options: configuration.logMaintenance, logger: logger)
        traceMaintenance = TraceMaintenance(pipeline: pipeline, traceOptions: configuration.traceMaintenance, logger: logger)
    }

    /// Replays the WAL, then serves until SIGINT/SIGTERM (or until the task is cancelled).
    /// `onListening` gets the resolved addresses once every listener is bound.
    /// The pipelines `loupe up` runs itself (`collect.pipelines`): their collectors and queues,
    /// with `output.loupe` written through this process's own write path. Stopped first.
    func collectionServices(ingestor: OTLPIngestor) throws -> [any Service] {
        guard !configuration.pipelinePaths.isEmpty else { return [] }
        let set = try PipelineFiles.load(configuration.pipelinePaths)
        var options = AgentPlan.Options(dataDirectory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("collect").path)
        options.podLogRoot = configuration.podLogRoot
        options.nodeName = ProcessInfo.processInfo.environment["NODE_NAME"]
        options.localOutput = { signal, request in
            do throws(IngestError) {
                _ = try await ingestor.export(signal: signal, body: Array(request), encoding: .protobuf, tenant: .default, via: .pipeline)
                return .delivered
            } catch {
                switch error.code {
                case .badRequest, .tooLarge: return .refused(error.message)
                case .overloaded, .unavailable, .internalError:
                    return .retry(error.message, after: error.retryAfterSeconds.map { .seconds($0) })
                }
            }
        }
        let plan = try AgentPlan(pipelines: set, options: options, role: .agent, logger: logger)
        logger.info("running pipelines", metadata: ["pipelines": "\(plan.pipelines.map(\.resource.displayName))"])
        return plan.services
    }

    public func run(
        gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint],
        onListening: @escaping @Sendable (ListeningAddresses) async -> Void = { _ in }
    ) async throws {
        let started = ContinuousClock.now
        let report = try await pipeline.replayWAL()
        logger.info("WAL replayed", metadata: [
            "records": "\(report.records)", "segments": "\(report.segments)", "bytes": "\(report.bytes)",
            "duration": "\(ContinuousClock.now - started)",
        ])

        let rate = configuration.logIngestionRateBytes
        let ingestor = OTLPIngestor(
            pipeline: pipeline,
            limits: IngestLimits(
                maximumRequestBytes: configuration.maximumRequestBytes,
                logLineSize: LogLineSizeLimit(maximumBytes: configuration.maximumLogLineBytes, truncate: configuration.logLineTruncate),
                logIngestionRate: rate > 0
                    ? IngestionRateLimiter(bytesPerSecond: Double(rate), burstBytes: Double(max(configuration.logIngestionBurstBytes, rate))) : nil))
        let pipeline = self.pipeline
        let scraper = ScrapeManager(
            configuration: self.configuration.scrape,
            append: { request, _, tenant in
                // Through the write path: WAL first, so scraped data is as durable as remote-written data.
                do {
                    let receipt = try await pipeline.ingestPrometheus(request, tenant: tenant, canonicalEncoding: nil, requestBytes: 0)
                    return receipt.message.isEmpty ? nil : receipt.message
                } catch {
                    return "\(error)"
                }
            },
            clock: ContinuousClock(), logger: logger, userAgent: "Loupe/\(LoupeVersion.current)")
        let bound = BoundPorts(expected: 3)
        let readiness = self.readiness
        let configuration = self.configuration
        let announce: @Sendable (ListenerRole, Int) async -> Void = { role, port in
            guard let ports = bound.record(role, port) else { return }
            readiness.markReady()
            await onListening(ListeningAddresses(
                http: ListenAddress(host: configuration.httpAddress.host, port: ports[.http]!),
                otlpGRPC: ListenAddress(host: configuration.otlpGRPCAddress.host, port: ports[.otlpGRPC]!),
                otlpHTTP: ListenAddress(host: configuration.otlpHTTPAddress.host, port: ports[.otlpHTTP]!)))
        }
        var services: [any Service] = [
            pipeline.wal,
            pipeline.logWAL,
            pipeline.traceWAL,
            // Right after the WAL, so it stops after the listeners (no write in flight) and its
            // final cut can still write its marker.
            LogMaintenanceService(
                maintenance: logMaintenance, interval: .nanoseconds(Int64(clamping: configuration.logMaintenanceIntervalNanoseconds)),
                clock: ContinuousClock()),
            HeadMaintenanceService(
                maintenance: traceMaintenance, interval: .nanoseconds(Int64(clamping: configuration.traceMaintenanceIntervalNanoseconds)),
                clock: ContinuousClock()),
            RetentionService(pipeline: pipeline, clock: ContinuousClock(), logger: logger),
            TraceMetricsService(
                pipeline: pipeline, interval: .nanoseconds(Int64(clamping: configuration.traceMetricsIntervalNanoseconds)),
                clock: ContinuousClock(), logger: logger),
            TSDBMaintenanceService(
                maintenance: maintenance, interval: .nanoseconds(Int64(clamping: configuration.tsdbMaintenanceIntervalNanoseconds)),
                clock: ContinuousClock()),
            MemoryReleaseService(clock: ContinuousClock()),
            OTLPGRPCServer(
                host: configuration.otlpGRPCAddress.host, port: configuration.otlpGRPCAddress.port, ingestor: ingestor,
                onListening: { await announce(.otlpGRPC, $0) }),
        ]
        services.append(HTTPServers.otlpApplication(
            address: .hostname(configuration.otlpHTTPAddress.host, port: configuration.otlpHTTPAddress.port),
            ingestor: ingestor, logger: logger, onListening: { await announce(.otlpHTTP, $0) }))
        services.append(HTTPServers.mainApplication(
            address: .hostname(configuration.httpAddress.host, port: configuration.httpAddress.port),
            ingestor: ingestor, readiness: readiness, version: LoupeVersion.current, flags: configuration.flags,
            scrapeStatus: scraper.status, jaegerPathPrefix: configuration.jaegerPathPrefix, logger: logger,
            onListening: { await announce(.http, $0) }))
        // Last, so it stops first: no scrape is still writing when the listeners and the WAL stop.
        services.append(scraper)
        services.append(contentsOf: try collectionServices(ingestor: ingestor))

        // Services stop in reverse order: listeners first, the WAL last, so every
        // acknowledged write is flushed before the process exits.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: logger))
        shutdown.attach(group)
        try await withTaskCancellationHandler {
            try await group.run()
        } onCancel: {
            readiness.markNotReady()
        }
        logger.info("stopped; the write-ahead log is flushed")
    }
}

extension LoupeRuntime {
    /// Starts a graceful shutdown, as SIGTERM would: listeners stop, in-flight writes finish, the WAL flushes.
    public func triggerGracefulShutdown() async {
        readiness.markNotReady()
        await shutdown.trigger()
    }
}

/// Lets a caller outside `run` start the graceful shutdown of the running service group.
final class ShutdownSwitch: Sendable {
    private struct State {
        var group: ServiceGroup?
        var requested = false
    }

    private let state = Mutex(State())

    func attach(_ group: ServiceGroup) {
        let requested = state.withLock { state in
            state.group = group
            return state.requested
        }
        if requested { Task { await group.triggerGracefulShutdown() } }
    }

    func trigger() async {
        let group = state.withLock { state in
            state.requested = true
            return state.group
        }
        await group?.triggerGracefulShutdown()
    }
}

enum ListenerRole: Hashable, Sendable {
    case http, otlpGRPC, otlpHTTP
}

/// Collects the ports the listeners report; yields them all once the last one is bound.
final class BoundPorts: Sendable {
    private let ports = Mutex<[ListenerRole: Int]>([:])
    private let expected: Int

    init(expected: Int) { self.expected = expected }

    func record(_ role: ListenerRole, _ port: Int) -> [ListenerRole: Int]? {
        ports.withLock { ports in
            ports[role] = port
            return ports.count == expected ? ports : nil
        }
    }
}
