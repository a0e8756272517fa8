import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import LoupeModel
import LoupeStorage
import LoupeWire
import NIOSSL
import ServiceLifecycle

/// What became of one request to a backend.
public enum SendOutcome: Sendable, Equatable {
    case delivered
    /// Accepted, but the receiver says it dropped `rejected` items (OTLP `partial_success`): those
    /// are refused for good, the rest delivered.
    case partiallyDelivered(rejected: Int, reason: String)
    /// Refused for good (malformed, unauthorized, ...): sending it again would not help.
    case refused(String)
    /// Failed for now (unreachable, overloaded): sent again after a pause (the server's, if it gave one).
    case retry(String, after: Duration?)
    /// The credentials were refused (HTTP 401, gRPC UNAUTHENTICATED): with OAuth2 a new token is
    /// fetched and the request sent again; otherwise a refusal.
    case unauthorized(String)
}

/// Delivers a pipeline's queue to an OTLP backend, oldest first, one request per queued record:
/// taken from the queue only once the backend accepted it (or refused it for good). Anything
/// else is retried with exponential backoff for as long as it takes; the queue holds the data
/// meanwhile, on disk.
public final class OTLPExporter: Service {
    public enum Destination: Sendable {
        /// The full URL requests go to (`…/v1/logs`).
        case http(url: String, tls: TLSConfiguration?)
        case grpc(host: String, port: Int, tls: HTTP2ClientTransport.Posix.TransportSecurity)
        /// Loupe's own storage, in this process (`output.loupe` inside `loupe up`).
        case local(@Sendable (Signal, ArraySlice<UInt8>) async -> SendOutcome)
    }

    public struct Settings: Sendable {
        public var destination: Destination
        public var signal: Signal
        public var headers: [(name: String, value: String)] = []
        /// How requests are compressed (`output.otlp.compression`); gRPC takes gzip or none.
        public var compression = ContentEncoding.gzip
        public var requestTimeout: Duration = .seconds(30)
        public var initialBackoff: Duration = .milliseconds(200)
        public var maximumBackoff: Duration = .seconds(30)
        public var idlePoll: Duration = .milliseconds(100)
        /// Batching by bytes: small queued requests (pushed OTLP, a quiet node's logs) go out
        /// merged into one export request of up to this many uncompressed bytes. An OTLP export
        /// request is one repeated field, so merging is concatenation.
        public var batchBytes = 1 << 20
        /// Queued requests at least this large (stored) go out as they are, never decoded and
        /// compressed again: the agent's own log requests are already batched by bytes.
        public var batchedRequestBytes = 64 << 10
        /// OAuth2 client credentials: each request carries `Authorization: Bearer <token>`.
        var oauth2: OAuth2TokenSource.Settings?

        /// How the queue stores requests for this output: compressed as sent over OTLP/HTTP;
        /// uncompressed for gRPC (grpc-swift compresses) and for Loupe's own storage.
        public var storedEncoding: ContentEncoding {
            if case .http = destination { return compression }
            return .identity
        }

        public var displayName: String {
            switch destination {
            case .http(let url, _): url
            case .grpc(let host, let port, _): "grpc://\(host):\(port)"
            case .local: "loupe (in process)"
            }
        }
    }

    let settings: Settings
    private let queue: DiskQueue
    /// How this output's queued requests are stored (`OutputQueue.encoding`).
    private let storedEncoding: ContentEncoding
    private let counters: PipelineCounters
    private let logger: Logger

    /// The queue holds `QueuedRequest` frames: an item count, then the export request, stored as
    /// `settings.storedEncoding` says.
    public init(settings: Settings, queue: OutputQueue, counters: PipelineCounters, logger: Logger) {
        self.settings = settings
        self.queue = queue.disk
        storedEncoding = queue.encoding
        self.counters = counters
        self.logger = logger
    }

    public func run() async throws {
        // The token endpoint is reached over HTTPS whatever the data goes over.
        let tokenClient = settings.oauth2 == nil ? nil : HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        defer { if let tokenClient { Task { try? await tokenClient.shutdown() } } }
        let tokens = settings.oauth2.map { OAuth2TokenSource(settings: $0) }
        let credentials = tokens.flatMap { tokens in tokenClient.map { (tokens, $0) } }
        switch settings.destination {
        case .http(let url, let tls):
            var configuration = HTTPClient.Configuration()
            if let tls { configuration.tlsConfiguration = tls }
            configuration.decompression = .disabled
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            await deliver(
                using: OTLPHTTPSender(client: client, url: url, headers: settings.headers, compression: settings.compression, timeout: settings.requestTimeout),
                credentials: credentials)
            try? await client.shutdown()
        case .local(let store):
            await deliver(using: LocalSender(signal: settings.signal, store: store), credentials: nil)
        case .grpc(let host, let port, let security):
            let transport = try HTTP2ClientTransport.Posix(
                target: OTLPGRPCSender.target(host: host, port: port), transportSecurity: security,
                config: .defaults { config in
                    config.compression.enabledAlgorithms = settings.compression == .gzip ? .all : .none
                    config.backoff.initial = .milliseconds(100)
                    config.backoff.max = .seconds(5)
                })
            try await withGRPCClient(transport: transport) { client in
                await self.deliver(
                    using: OTLPGRPCSender(
                        client: client, signal: self.settings.signal, headers: self.settings.headers, gzip: self.settings.compression == .gzip,
                        timeout: self.settings.requestTimeout),
                    credentials: credentials)
            }
        }
    }

    private func deliver(using sender: some OTLPSender, credentials: (OAuth2TokenSource, HTTPClient)?) async {
        var backoff = settings.initialBackoff
        var busy = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let records: [DiskQueue.Record]
            do {
                records = try await BlockingIO.run {
                    // Only a small first record is worth reading the ones after it for.
                    let first = try self.queue.peek(maximumRecords: 1)
                    guard let head = first.first, head.payload.count < self.settings.batchedRequestBytes else { return first }
                    return try self.queue.peek(maximumRecords: 256, maximumBytes: self.settings.batchBytes)
                }
            } catch {
                logger.error("the output queue could not be read", metadata: ["error": "\(error)"])
                await pause(backoff)
                continue
            }
            guard !records.isEmpty else {
                if busy {
                    // The burst is delivered: what its requests took goes back to the system.
                    MemoryRelease.trimFreedMemory()
                    busy = false
                }
                await pause(settings.idlePoll)
                continue
            }
            busy = true
            guard let (items, request, record) = batch(records) else {
                logger.error("a queued request is damaged; it is dropped", metadata: ["bytes": "\(records[0].payload.count)"])
                await acknowledge(records[0])
                continue
            }
            var bearer: String?
            if let (tokens, client) = credentials {
                do {
                    bearer = try await tokens.token(client: client)
                } catch {
                    counters.failedRequests.add(1, ordering: .relaxed)
                    logger.warning("no OAuth2 token; retrying", metadata: ["to": "\(settings.displayName)", "reason": "\(error)", "in": "\(backoff)"])
                    await pause(backoff)
                    backoff = min(backoff * 2, settings.maximumBackoff)
                    continue
                }
            }
            var outcome = await sender.send(request, bearer: bearer)
            if case .unauthorized(let reason) = outcome {
                if let (tokens, _) = credentials {
                    // The token may have been revoked early: the next attempt fetches a new one.
                    tokens.invalidate()
                    outcome = .retry(reason, after: nil)
                } else {
                    outcome = .refused(reason)
                }
            }
            switch outcome {
            case .unauthorized: break
            case .delivered:
                counters.sent.add(items, ordering: .relaxed)
                backoff = settings.initialBackoff
                await acknowledge(record)
            case .partiallyDelivered(let rejected, let reason):
                let refused = min(items, rejected)
                counters.sent.add(items - refused, ordering: .relaxed)
                counters.refused.add(refused, ordering: .relaxed)
                logger.warning("the backend took the request but rejected part of it", metadata: [
                    "to": "\(settings.displayName)", "rejected": "\(rejected)", "reason": "\(reason)",
                ])
                backoff = settings.initialBackoff
                await acknowledge(record)
            case .refused(let reason):
                counters.refused.add(items, ordering: .relaxed)
                logger.error("the backend refused a request for good; it is dropped", metadata: ["to": "\(settings.displayName)", "reason": "\(reason)"])
                await acknowledge(record)
            case .retry(let reason, let after):
                counters.failedRequests.add(1, ordering: .relaxed)
                logger.warning("sending failed; retrying", metadata: ["to": "\(settings.displayName)", "reason": "\(reason)", "in": "\(after ?? backoff)"])
                await pause(after ?? backoff)
                backoff = min(backoff * 2, settings.maximumBackoff)
            }
        }
    }

    /// What to send next from the oldest queued records: the first alone when it is large (or the
    /// only one), else it and the small ones after it merged up to `batchBytes`. Returns the items,
    /// the request in the output's encoding and the last record it covers; nil when the first
    /// record is damaged (a damaged later one ends the batch before it).
    func batch(_ records: [DiskQueue.Record]) -> (items: Int, request: ArraySlice<UInt8>, through: DiskQueue.Record)? {
        guard let first = records.first, let (firstItems, firstEncoding, firstStored) = QueuedRequest.unframe(first.payload) else { return nil }
        func plain(_ stored: ArraySlice<UInt8>, _ encoding: ContentEncoding) -> [UInt8]? {
            guard stored.count < settings.batchedRequestBytes else { return nil }
            return try? encoding.decode(Array(stored), maximumOutputBytes: settings.batchBytes)
        }
        var items = firstItems
        var merged: [UInt8] = []
        var through = first
        if records.count > 1, let firstPlain = plain(firstStored, firstEncoding) {
            merged = firstPlain
            for record in records.dropFirst() {
                guard let (count, encoding, stored) = QueuedRequest.unframe(record.payload), let next = plain(stored, encoding),
                    merged.count + next.count <= settings.batchBytes
                else { break }
                merged += next
                items += count
                through = record
            }
        }
        guard through.next != first.next else {
            guard let request = reencoded(firstStored, from: firstEncoding) else { return nil }
            return (firstItems, request, first)
        }
        return (items, storedEncoding.encode(merged[...])[...], through)
    }

    /// A queued request in the encoding this output sends: records queued under another setting
    /// (an earlier configuration or version) are converted. Nil when the stored bytes do not decode.
    private func reencoded(_ stored: ArraySlice<UInt8>, from encoding: ContentEncoding) -> ArraySlice<UInt8>? {
        guard encoding != storedEncoding else { return stored }
        do throws(ContentEncoding.Failure) {
            let plain = try encoding.decode(Array(stored), maximumOutputBytes: Self.maximumRequestBytes)
            return storedEncoding.encode(plain[...])[...]
        } catch {
            return nil
        }
    }

    /// Far over any request an input queues; a stored request decoding to more is damaged.
    static let maximumRequestBytes = 1 << 30

    /// A failure here (the disk) only means the record is sent again later: at least once.
    private func acknowledge(_ record: DiskQueue.Record) async {
        do {
            try await BlockingIO.run { try self.queue.acknowledge(through: record.next) }
        } catch {
            logger.error("a delivered request could not be taken from the queue; it will be sent again", metadata: ["error": "\(error)"])
        }
    }
}

protocol OTLPSender: Sendable {
    /// `bearer`: an OAuth2 access token for `Authorization: Bearer`.
    func send(_ payload: ArraySlice<UInt8>, bearer: String?) async -> SendOutcome
}

/// Hands queued requests to Loupe's own write path in this process.
struct LocalSender: OTLPSender {
    let signal: Signal
    let store: @Sendable (Signal, ArraySlice<UInt8>) async -> SendOutcome

    func send(_ payload: ArraySlice<UInt8>, bearer: String?) async -> SendOutcome { await store(signal, payload) }
}
