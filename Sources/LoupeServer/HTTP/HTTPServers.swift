import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import LoupePipeline
import LoupeScrapeService
import LoupeStorage
import NIOCore
import ServiceLifecycle

/// Builds the two HTTP listeners: the main API (OTLP/HTTP, reads, operations) and the
/// OTLP/HTTP-only port (4318 by default).
public enum HTTPServers {
    /// - Parameter flags: the effective settings, shown by `/api/v1/status/flags` under Prometheus's flag names where one exists.
    public static func mainApplication(
        address: BindAddress, ingestor: OTLPIngestor, readiness: Readiness, version: String, flags: [String: String],
        scrapeStatus: ScrapeStatus? = nil, jaegerPathPrefix: String = "/jaeger", logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router()
        OTLPHTTPRoutes(ingestor: ingestor).register(on: router)
        ReadRoutes(stores: ingestor.pipeline.stores).register(on: router)
        OperationalRoutes(pipeline: ingestor.pipeline, readiness: readiness).register(on: router)
        RemoteWriteRoutes(pipeline: ingestor.pipeline, limits: ingestor.limits).register(on: router)
        LokiPushRoutes(pipeline: ingestor.pipeline, limits: ingestor.limits).register(on: router)
        LokiQueryRoutes(store: ingestor.pipeline.stores.logStreams).register(on: router)
        TempoRoutes(store: ingestor.pipeline.stores.traceSpans).register(on: router)
        ZipkinRoutes(pipeline: ingestor.pipeline, limits: ingestor.limits).register(on: router)
        JaegerRoutes(store: ingestor.pipeline.stores.traceSpans, prefix: jaegerPathPrefix).register(on: router)
        let tail = LokiTailRoutes(store: ingestor.pipeline.stores.logStreams, hub: ingestor.pipeline.logTails)
        tail.register(on: router)
        ElasticsearchRoutes(pipeline: ingestor.pipeline, limits: ingestor.limits).register(on: router)
        let prometheusAPI = PrometheusAPIRoutes(store: ingestor.pipeline.stores.prometheus)
        prometheusAPI.register(on: router)
        PrometheusQueryRoutes(store: ingestor.pipeline.stores.prometheus).register(on: router, api: prometheusAPI)
        PrometheusStatusRoutes(store: ingestor.pipeline.stores.prometheus, api: prometheusAPI, flags: flags, scrapeStatus: scrapeStatus)
            .register(on: router, loupeVersion: version)
        return Application(
            router: router,
            // HTTP/1 with a WebSocket upgrade for Loki's live tail; every other request goes to the router.
            server: .http1WebSocketUpgrade { head, _, _ in tail.shouldUpgrade(head) },
            configuration: ApplicationConfiguration(address: address, serverName: "loupe"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    public static func otlpApplication(
        address: BindAddress, ingestor: OTLPIngestor, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router()
        OTLPHTTPRoutes(ingestor: ingestor).register(on: router)
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: address, serverName: "loupe"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
