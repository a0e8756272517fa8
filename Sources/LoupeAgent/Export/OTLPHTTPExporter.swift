import AsyncHTTPClient
import Foundation
import Logging
import LoupeCollect
import LoupeStorage
import LoupeWire
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle

/// Delivers a pipeline's queue to an OTLP/HTTP backend, oldest first, one request per queued
/// record: taken from the queue only once the backend answered 2xx (or refused it for good with a
/// 4xx other than 429). Anything else is retried with exponential backoff (and the server's
/// `Retry-After`) for as long as it takes; the queue holds the data meanwhile.
public final class OTLPHTTPExporter: Service {
    public struct Settings: Sendable {
        /// The full URL requests go to (`…/v1/logs`).
        public var url: String
        public var headers: [(name: String, value: String)] = []
        public var gzip = true
        public var tls: TLSConfiguration?
        public var requestTimeout: Duration = .seconds(30)
        public var initialBackoff: Duration = .milliseconds(200)
        public var maximumBackoff: Duration = .seconds(30)
        public var idlePoll: Duration = .milliseconds(100)
    }

    private let settings: Settings
    private let queue: DiskQueue
    private let counters: PipelineCounters
    private let countItems: @Sendable ([UInt8]) -> Int
    private let logger: Logger

    /// `countItems` says how many items (log records, spans, points) a queued request holds.
    public init(settings: Settings, queue: DiskQueue, counters: PipelineCounters, countItems: @escaping @Sendable ([UInt8]) -> Int, logger: Logger) {
        self.settings = settings
        self.queue = queue
        self.counters = counters
        self.countItems = countItems
        self.logger = logger
    }

    enum Outcome {
        case delivered
        case refused(String)
        case retry(String, after: Duration?)
    }

    public func run() async throws {
        var configuration = HTTPClient.Configuration()
        if let tls = settings.tls { configuration.tlsConfiguration = tls }
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        await deliver(client: client)
        try? await client.shutdown()
    }

    private func deliver(client: HTTPClient) async {
        var backoff = settings.initialBackoff
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let records: [DiskQueue.Record]
            do {
                records = try await BlockingIO.run { try self.queue.peek(maximumRecords: 1) }
            } catch {
                logger.error("the output queue could not be read", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff)
                continue
            }
            guard let record = records.first else {
                try? await Task.sleep(for: settings.idlePoll)
                continue
            }
            switch await send(record.payload, client: client) {
            case .delivered:
                counters.sent.add(countItems(record.payload), ordering: .relaxed)
                backoff = settings.initialBackoff
                await acknowledge(record)
            case .refused(let reason):
                counters.refused.add(countItems(record.payload), ordering: .relaxed)
                logger.error("the backend refused a request for good; it is dropped", metadata: ["url": "\(settings.url)", "reason": "\(reason)"])
                await acknowledge(record)
            case .retry(let reason, let after):
                counters.failedRequests.add(1, ordering: .relaxed)
                logger.warning("sending failed; retrying", metadata: ["url": "\(settings.url)", "reason": "\(reason)", "in": "\(after ?? backoff)"])
                try? await Task.sleep(for: after ?? backoff)
                backoff = min(backoff * 2, settings.maximumBackoff)
            }
        }
    }

    /// A failure here (the disk) only means the record is sent again later: at least once.
    private func acknowledge(_ record: DiskQueue.Record) async {
        do {
            try await BlockingIO.run { try self.queue.acknowledge(through: record.next) }
        } catch {
            logger.error("a delivered request could not be taken from the queue; it will be sent again", metadata: ["error": "\(error)"])
        }
    }

    func send(_ payload: [UInt8], client: HTTPClient) async -> Outcome {
        var request = HTTPClientRequest(url: settings.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "User-Agent", value: "loupe-agent")
        for header in settings.headers { request.headers.add(name: header.name, value: header.value) }
        if settings.gzip {
            request.headers.add(name: "Content-Encoding", value: "gzip")
            request.body = .bytes(ByteBuffer(bytes: Gzip.compress(payload, level: 1)))
        } else {
            request.body = .bytes(ByteBuffer(bytes: payload))
        }
        do {
            let response = try await client.execute(request, timeout: .seconds(max(1, settings.requestTimeout.components.seconds)))
            let body = try? await response.body.collect(upTo: 64 << 10)
            let text = body.map { String(buffer: $0) } ?? ""
            switch response.status.code {
            case 200..<300: return .delivered
            case 429, 502, 503, 504:
                let after = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds(min($0, 300)) }
                return .retry("HTTP \(response.status.code): \(text.prefix(200))", after: after)
            case 400..<500: return .refused("HTTP \(response.status.code): \(text.prefix(300))")
            default: return .retry("HTTP \(response.status.code): \(text.prefix(200))", after: nil)
            }
        } catch {
            return .retry("\(error)", after: nil)
        }
    }
}
