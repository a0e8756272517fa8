import GRPCCore
import LoupeModel
import LoupeWire
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why a load run could not start (bad options, unreachable endpoint).
public struct LoadGeneratorError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Sends OTLP export requests to an endpoint as fast as it answers them, from `concurrency` connections, for a
/// fixed time, and reports what the server accepted and how long it took.
///
/// Closed-loop: each worker keeps exactly one request in flight on its own persistent connection, so the offered
/// load adapts to the server and latency is not inflated by client-side queueing. Requests are encoded before the
/// clock starts; during the run the client only writes prepared bytes, so the figures measure the server.
/// Nothing is retried: every failure is counted once, and throttling (HTTP 429/503, gRPC RESOURCE_EXHAUSTED /
/// UNAVAILABLE) is counted apart from other failures.
public struct OTLPLoadGenerator: Sendable {
    public struct Options: Sendable, Hashable {
        /// `http://HOST[:PORT][/PATH]` for OTLP/HTTP protobuf (posting to `/v1/<signal>` unless a path is given)
        /// or `grpc://HOST[:PORT]` for OTLP/gRPC. Default ports 4318 and 4317.
        public var endpoint: String
        public var signal: Signal
        /// How long workers start new requests; requests in flight at the end get a short grace period.
        public var duration: Duration
        /// Workers, each with its own connection and one request in flight.
        public var concurrency: Int
        /// Spans, log records or data points per request.
        public var batchSize: Int
        public var attributesPerItem: Int
        /// Sent as `X-Scope-OrgID` (HTTP header or gRPC metadata) when set.
        public var tenant: String?
        /// gzip the request bodies (HTTP `Content-Encoding`, gRPC message compression).
        public var gzip: Bool
        /// A request with no complete response by then counts as failed (`timeout`); over HTTP its connection is
        /// replaced, over gRPC the call is cancelled by its deadline.
        public var requestTimeout: Duration

        public init(
            endpoint: String, signal: Signal = .traces, duration: Duration = .seconds(10), concurrency: Int = 8,
            batchSize: Int = 1000, attributesPerItem: Int = 10, tenant: String? = nil, gzip: Bool = false,
            requestTimeout: Duration = .seconds(30)
        ) {
            self.endpoint = endpoint
            self.signal = signal
            self.duration = duration
            self.concurrency = concurrency
            self.batchSize = batchSize
            self.attributesPerItem = attributesPerItem
            self.tenant = tenant
            self.gzip = gzip
            self.requestTimeout = requestTimeout
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// The longest requests still in flight at the end of `duration` may take before they are abandoned.
    var drainGracePeriod: Duration { min(options.requestTimeout, .seconds(2)) }

    /// Runs the load for `options.duration` and returns the figures. Throws `LoadGeneratorError` when the options
    /// are invalid or the endpoint cannot be reached at all, and `CancellationError` when the task is cancelled.
    public func run() async throws -> LoadResult {
        try validateOptions()
        let endpoint = try OTLPEndpoint(parsing: options.endpoint, signal: options.signal)
        let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        // Fail fast with one clear error instead of a run in which every request fails to connect.
        try await checkReachable(endpoint, eventLoopGroup: eventLoopGroup)

        let pool = RequestPool.build(options: options)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: options.duration)
        let run = WorkerRun(
            options: options, endpoint: endpoint, deadline: deadline, hardStop: deadline.advanced(by: drainGracePeriod),
            eventLoopGroup: eventLoopGroup)
        let tallies: [WorkerTally]
        switch endpoint.transport {
        case .http(let path):
            // Compressed once here, not per request: the client must not spend the run gzipping.
            let requests = pool.requests.map { request in
                let body = options.gzip ? Gzip.compress(request.body) : request.body
                return PreparedRequest(
                    body: ByteBuffer(bytes: body), itemCount: request.itemCount, protobufBytes: request.protobufBytes,
                    wireBytes: body.count, traceIDOffsets: request.traceIDOffsets)
            }
            let headers = httpHeaders()
            tallies = await run.runWorkers { index in
                await run.httpWorker(index: index, path: path, requests: requests, headers: headers)
            }
        case .grpc:
            let requests = pool.requests.map { request in
                var sized = request
                // The transport compresses each message itself; one gzip pass here tells (closely) how big that is.
                if options.gzip { sized.wireBytes = Gzip.compress(request.body).count }
                return sized
            }
            tallies = await run.runWorkers { index in
                await run.grpcWorker(index: index, requests: requests)
            }
        }
        let end = clock.now
        try Task.checkCancellation()

        var total = WorkerTally()
        for tally in tallies { total.merge(tally) }
        // Rates are over the time answers kept coming: the duration plus the drain of requests in flight, but not
        // the wait for requests that were abandoned at the hard stop (they produced nothing).
        let measuredEnd = max(deadline, min(total.lastAnswerAt ?? deadline, end))
        return LoadResult(
            options: options, endpoint: endpoint.description, distinctRequests: pool.requests.count,
            requestBytes: pool.requests.first?.protobufBytes ?? 0, elapsed: start.duration(to: measuredEnd),
            wallTime: start.duration(to: end), tally: total)
    }

    private func validateOptions() throws(LoadGeneratorError) {
        guard options.duration > .zero else { throw LoadGeneratorError(message: "the duration must be positive") }
        guard options.concurrency > 0 else { throw LoadGeneratorError(message: "the concurrency must be at least 1") }
        guard options.batchSize > 0 else { throw LoadGeneratorError(message: "the batch size must be at least 1") }
        guard options.attributesPerItem >= 0 else {
            throw LoadGeneratorError(message: "the number of attributes per item cannot be negative")
        }
        guard options.requestTimeout > .zero else { throw LoadGeneratorError(message: "the request timeout must be positive") }
        if let tenant = options.tenant {
            // Header values cannot carry control characters; NIO would refuse every request.
            guard !tenant.isEmpty, tenant.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw LoadGeneratorError(message: "the tenant must be a non-empty header value without control characters")
            }
        }
    }

    private func httpHeaders() -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        headers.add(name: "User-Agent", value: "loupe-bench")
        if options.gzip { headers.add(name: "Content-Encoding", value: "gzip") }
        if let tenant = options.tenant { headers.add(name: "X-Scope-OrgID", value: tenant) }
        return headers
    }

    /// Opens and closes one TCP connection.
    private func checkReachable(_ endpoint: OTLPEndpoint, eventLoopGroup: any EventLoopGroup) async throws {
        do {
            let channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(min(options.requestTimeout, .seconds(5))))
                .connect(host: endpoint.host, port: endpoint.port)
                .get()
            try? await channel.close()
        } catch {
            throw LoadGeneratorError(message: "cannot connect to \(endpoint): \(error)")
        }
    }
}

// MARK: - Endpoint

/// A parsed load-generator endpoint: where to connect and which protocol to speak.
public struct OTLPEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Transport: Sendable, Hashable {
        /// OTLP/HTTP with protobuf bodies, posted to `path`.
        case http(path: String)
        /// OTLP/gRPC, calling the signal's `Export` method.
        case grpc
    }

    public var transport: Transport
    public var host: String
    public var port: Int

    public static let defaultHTTPPort = 4318
    public static let defaultGRPCPort = 4317

    /// Parses `http://HOST[:PORT][/PATH]` or `grpc://HOST[:PORT]`; an HTTP URL without a path posts to
    /// `/v1/<signal>`. IPv6 hosts go in brackets: `http://[::1]:4318`.
    public init(parsing text: String, signal: Signal) throws(LoadGeneratorError) {
        guard let schemeEnd = text.firstRange(of: "://") else {
            throw LoadGeneratorError(
                message: "endpoint \"\(text)\" needs a scheme: http://HOST:4318 (OTLP/HTTP) or grpc://HOST:4317 (OTLP/gRPC)")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = text[schemeEnd.upperBound...]
        let isHTTP: Bool
        switch scheme {
        case "http": isHTTP = true
        case "grpc": isHTTP = false
        case "https", "grpcs":
            throw LoadGeneratorError(message: "endpoint \"\(text)\": TLS is not supported by the load generator; use http:// or grpc://")
        default:
            throw LoadGeneratorError(message: "endpoint \"\(text)\": unknown scheme \"\(scheme)\"; use http:// or grpc://")
        }
        let authority = rest.prefix { $0 != "/" }
        let path = String(rest.dropFirst(authority.count))
        guard !authority.contains("@") else {
            throw LoadGeneratorError(message: "endpoint \"\(text)\": user information in the URL is not supported")
        }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw LoadGeneratorError(message: "endpoint \"\(text)\": unterminated IPv6 address")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let afterHost = authority[authority.index(after: close)...]
            if !afterHost.isEmpty {
                guard afterHost.hasPrefix(":") else {
                    throw LoadGeneratorError(message: "endpoint \"\(text)\": expected \":PORT\" after the IPv6 address")
                }
                portText = afterHost.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
            guard !host.contains(":") else {
                throw LoadGeneratorError(message: "endpoint \"\(text)\": put IPv6 addresses in brackets, e.g. [::1]")
            }
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw LoadGeneratorError(message: "endpoint \"\(text)\" has no host") }

        if let portText {
            guard let port = Int(portText), (1...65_535).contains(port) else {
                throw LoadGeneratorError(message: "endpoint \"\(text)\": \"\(portText)\" is not a port number")
            }
            self.port = port
        } else {
            self.port = isHTTP ? Self.defaultHTTPPort : Self.defaultGRPCPort
        }
        self.host = String(host)

        if isHTTP {
            transport = .http(path: path.isEmpty || path == "/" ? "/v1/\(signal)" : path)
        } else {
            guard path.isEmpty || path == "/" else {
                throw LoadGeneratorError(
                    message: "endpoint \"\(text)\": a gRPC endpoint has no path (the method is chosen by the signal)")
            }
            transport = .grpc
        }
        self.signal = signal
    }

    private let signal: Signal

    private var authorityText: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `http://127.0.0.1:4318/v1/traces` or `grpc://127.0.0.1:4317 (TraceService/Export)`.
    public var description: String {
        switch transport {
        case .http(let path): return "http://\(authorityText)\(path)"
        case .grpc:
            let service = GRPCExportClient.exportMethod(for: signal).service.fullyQualifiedService
            return "grpc://\(authorityText) (\(service.split(separator: ".").last ?? "")/Export)"
        }
    }
}

// MARK: - Prepared requests

/// An export request ready to go: the body in the form the transport sends.
struct PreparedRequest<Body: Sendable>: Sendable {
    var body: Body
    var itemCount: Int
    /// Size of the encoded protobuf before any compression.
    var protobufBytes: Int
    /// Size of the body as sent (after gzip when enabled).
    var wireBytes: Int
    /// Where the body holds trace IDs (16 bytes each): workers give each request trace IDs of its
    /// own, so a run of cycled bodies still sends distinct traces (empty for other signals and gzip).
    var traceIDOffsets: [Int] = []
}

/// Makes each sent trace request carry trace IDs no other request has: the low half of every
/// trace ID is XORed with one per-request value (spans of a trace stay together).
struct TraceIDRewriter {
    private var random: SplitMix64

    init(worker: Int) {
        random = SplitMix64(seed: SplitMix64.mix(WallClock.system.nowUnixNano() &+ UInt64(worker) << 48))
    }

    mutating func rewrite(_ body: ByteBuffer, offsets: [Int]) -> ByteBuffer {
        guard !offsets.isEmpty else { return body }
        var copy = body
        let (highNonce, lowNonce) = (random.next(), random.next())
        for offset in offsets {
            let index = copy.readerIndex + offset
            if let high = copy.getInteger(at: index, as: UInt64.self) { copy.setInteger(high ^ highNonce, at: index) }
            if let low = copy.getInteger(at: index + 8, as: UInt64.self) { copy.setInteger(low ^ lowNonce, at: index + 8) }
        }
        return copy
    }

    mutating func rewrite(_ body: [UInt8], offsets: [Int]) -> [UInt8] {
        guard !offsets.isEmpty else { return body }
        var copy = body
        // Both halves change: IDs sorted in a store then spread the copies of a body's traces
        // instead of keeping them side by side.
        let (highNonce, lowNonce) = (random.next(), random.next())
        copy.withUnsafeMutableBytes { bytes in
            for offset in offsets {
                let high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                bytes.storeBytes(of: (high ^ highNonce).bigEndian, toByteOffset: offset, as: UInt64.self)
                let low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
                bytes.storeBytes(of: (low ^ lowNonce).bigEndian, toByteOffset: offset + 8, as: UInt64.self)
            }
        }
        return copy
    }

    /// Offsets of every occurrence of the body's trace IDs (span and link trace IDs alike).
    static func offsets(in body: [UInt8]) -> [Int] {
        guard let data = try? OTLPProtobuf.decodeTraces(body) else { return [] }
        var ids = Set<[UInt8]>()
        for resource in data.resourceSpans {
            for scope in resource.scopeSpans {
                for span in scope.spans {
                    ids.insert(span.traceID.bytes)
                    for link in span.links { ids.insert(link.traceID.bytes) }
                }
            }
        }
        let prefixes = Set(ids.map { $0.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } })
        var offsets: [Int] = []
        body.withUnsafeBytes { bytes in
            var offset = 0
            while offset + 16 <= bytes.count {
                let prefix = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                if prefixes.contains(prefix), ids.contains(Array(bytes[offset..<offset + 16])) {
                    offsets.append(offset)
                    offset += 16
                } else {
                    offset += 1
                }
            }
        }
        return offsets
    }
}

/// A few distinct requests, built before the clock starts, that workers cycle through.
struct RequestPool {
    var requests: [PreparedRequest<[UInt8]>]

    /// Enough requests that concurrent workers rarely send the same one at once, bounded in memory.
    static let maximumPoolBytes = 64 << 20
    static let maximumPoolSize = 32

    static func build(options: OTLPLoadGenerator.Options) -> RequestPool {
        let now = WallClock.system.nowUnixNano()
        // Variants start from the wall clock so consecutive runs do not resend the IDs of the previous one.
        let firstVariant = SplitMix64.mix(now)
        var requests: [PreparedRequest<[UInt8]>] = []
        var totalBytes = 0
        // Traces are stored for what they hold: as many distinct bodies as fit, so a trace block does
        // not see the same span contents again and again.
        let wanted = options.signal == .traces ? maximumPoolSize : min(maximumPoolSize, max(4, options.concurrency * 2))
        while requests.count < wanted && (requests.count < 2 || totalBytes < maximumPoolBytes) {
            let variant = firstVariant &+ UInt64(requests.count)
            let body = SampleRequests.encodedRequest(
                signal: options.signal, itemCount: options.batchSize, attributesPerItem: options.attributesPerItem,
                variant: variant, endUnixNano: now)
            var request = PreparedRequest(body: body, itemCount: options.batchSize, protobufBytes: body.count, wireBytes: body.count)
            if options.signal == .traces && !options.gzip { request.traceIDOffsets = TraceIDRewriter.offsets(in: body) }
            requests.append(request)
            totalBytes += body.count
        }
        return RequestPool(requests: requests)
    }
}

// MARK: - Workers

/// What the workers of one run share (all immutable).
struct WorkerRun: Sendable {
    let options: OTLPLoadGenerator.Options
    let endpoint: OTLPEndpoint
    /// No request is started after this.
    let deadline: ContinuousClock.Instant
    /// Requests still in flight at this point are abandoned.
    let hardStop: ContinuousClock.Instant
    let eventLoopGroup: any EventLoopGroup

    private enum ChildResult: Sendable {
        case worker(WorkerTally)
        case hardStopReached
    }

    /// Runs `options.concurrency` workers in a task group and collects their tallies. At `hardStop` (or when the
    /// calling task is cancelled) the remaining workers are cancelled; they still return what they counted.
    func runWorkers(_ worker: @escaping @Sendable (Int) async -> WorkerTally) async -> [WorkerTally] {
        let concurrency = options.concurrency
        let hardStop = hardStop
        return await withTaskGroup(of: ChildResult.self) { group in
            for index in 0..<concurrency {
                group.addTask { .worker(await worker(index)) }
            }
            group.addTask {
                // Ends early (cancelled) once all workers are done, or when the whole run is cancelled.
                try? await Task.sleep(until: hardStop, clock: .continuous)
                return .hardStopReached
            }
            var tallies: [WorkerTally] = []
            while let result = await group.next() {
                switch result {
                case .worker(let tally):
                    tallies.append(tally)
                    if tallies.count == concurrency { group.cancelAll() }
                case .hardStopReached:
                    group.cancelAll()
                }
            }
            return tallies
        }
    }

    private var shouldStartRequest: Bool { ContinuousClock.now < deadline && !Task.isCancelled }

    /// Thrown inside a connection's scope after a failed exchange (already counted) to close the connection.
    private struct ConnectionBroken: Error {}

    /// One OTLP/HTTP worker: a keep-alive connection, replaced whenever it breaks or the server closes it.
    func httpWorker(index: Int, path: String, requests: [PreparedRequest<ByteBuffer>], headers: HTTPHeaders) async -> WorkerTally {
        var tally = WorkerTally()
        // Workers start at different pool positions so they do not send the same request at the same moment.
        var nextRequest = index % requests.count
        var rewriter = TraceIDRewriter(worker: index)
        let timeout = options.requestTimeout
        while shouldStartRequest {
            do {
                try await HTTP1Connection.withConnection(
                    host: endpoint.host, port: endpoint.port, eventLoopGroup: eventLoopGroup,
                    connectTimeout: min(timeout, .seconds(5))
                ) { connection in
                    while shouldStartRequest && connection.isReusable {
                        let request = requests[nextRequest]
                        nextRequest = (nextRequest + 1) % requests.count
                        let sent = ContinuousClock.now
                        let response: HTTP1Response
                        do {
                            let body = rewriter.rewrite(request.body, offsets: request.traceIDOffsets)
                            response = try await connection.post(path: path, headers: headers, body: body, timeout: timeout)
                        } catch {
                            if Task.isCancelled {
                                tally.abandoned += 1
                            } else if sent.duration(to: .now) >= timeout {
                                tally.recordFailure("timeout", message: "no complete response within \(timeout.shortText)")
                            } else {
                                tally.connectionErrors += 1
                                tally.recordFailure("connection error", message: "\(error)")
                            }
                            throw ConnectionBroken()
                        }
                        let answered = ContinuousClock.now
                        tally.record(httpResponse: response, for: request, latency: sent.duration(to: answered), answeredAt: answered)
                    }
                }
            } catch is ConnectionBroken {
                // Counted where it happened; loop round to reconnect.
            } catch {
                if Task.isCancelled { break }
                tally.connectionErrors += 1
                tally.recordFailure("connect error", message: "\(error)")
                // Pause briefly so a server that refuses connections does not turn the run into a connect loop.
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        return tally
    }

    /// One OTLP/gRPC worker: its own `GRPCClient` (one HTTP/2 connection, re-established by the transport).
    func grpcWorker(index: Int, requests: [PreparedRequest<[UInt8]>]) async -> WorkerTally {
        var tally = WorkerTally()
        var nextRequest = index % requests.count
        var rewriter = TraceIDRewriter(worker: index)
        do {
            try await GRPCExportClient.withClient(
                host: endpoint.host, port: endpoint.port, signal: options.signal, tenant: options.tenant, gzip: options.gzip,
                timeout: options.requestTimeout
            ) { client in
                while shouldStartRequest {
                    let request = requests[nextRequest]
                    nextRequest = (nextRequest + 1) % requests.count
                    let sent = ContinuousClock.now
                    let outcome: GRPCExportClient.Outcome
                    do {
                        outcome = try await client.export(rewriter.rewrite(request.body, offsets: request.traceIDOffsets))
                    } catch {
                        if Task.isCancelled {
                            tally.abandoned += 1
                        } else {
                            tally.recordFailure("client error", message: "\(error)")
                        }
                        continue
                    }
                    let answered = ContinuousClock.now
                    switch outcome {
                    case .ok, .status:
                        tally.record(grpcOutcome: outcome, for: request, latency: sent.duration(to: answered), answeredAt: answered)
                    case .transportFailure(let code, let message):
                        if Task.isCancelled {
                            // Cut off by the end of the run (reported as CANCELLED or UNKNOWN): not the server's doing.
                            tally.abandoned += 1
                        } else if code == .deadlineExceeded {
                            tally.recordFailure("timeout", message: "no complete response within \(options.requestTimeout.shortText)")
                        } else {
                            tally.connectionErrors += 1
                            tally.recordFailure("connection error", message: "\(WorkerTally.statusName(code)): \(message)")
                            // While the transport reconnects, calls fail at once; pause so the run does not turn into
                            // a loop of instant failures (as after an HTTP connect error).
                            try? await Task.sleep(for: .milliseconds(100))
                        }
                    }
                }
            }
        } catch {
            // The client itself failed (not a single call): count it, keep what was measured.
            if !Task.isCancelled { tally.recordFailure("client error", message: "\(error)") }
        }
        return tally
    }
}

/// What one worker counted; merged into the run's totals at the end, so workers share no mutable state.
struct WorkerTally: Sendable {
    var succeeded = 0
    var throttledByStatus: [String: Int] = [:]
    var failedByReason: [String: Int] = [:]
    /// The first message seen for each throttling status or failure reason.
    var firstMessages: [String: String] = [:]
    var connectionErrors = 0
    var abandoned = 0
    var malformedResponses = 0
    var itemsSent = 0
    var itemsAccepted = 0
    var itemsRejected = 0
    var wireBytesSent = 0
    var protobufBytesSent = 0
    /// Requests that got an answer, whatever its status.
    var answeredLatencies: [Duration] = []
    var succeededLatencies: [Duration] = []
    /// When the last answer arrived: the end of the measured interval.
    var lastAnswerAt: ContinuousClock.Instant?

    mutating func recordFailure(_ reason: String, message: String) {
        failedByReason[reason, default: 0] += 1
        if firstMessages[reason] == nil { firstMessages[reason] = message }
    }

    private mutating func recordAnswered<Body>(_ request: PreparedRequest<Body>, latency: Duration, at instant: ContinuousClock.Instant) {
        answeredLatencies.append(latency)
        lastAnswerAt = max(lastAnswerAt ?? instant, instant)
        itemsSent += request.itemCount
        wireBytesSent += request.wireBytes
        protobufBytesSent += request.protobufBytes
    }

    private mutating func recordSuccess<Body>(_ request: PreparedRequest<Body>, responseBody: [UInt8], latency: Duration) {
        succeeded += 1
        succeededLatencies.append(latency)
        var rejected = 0
        if !responseBody.isEmpty {
            do {
                let partial = try OTLPProtobuf.decodeExportResponse(responseBody)
                // A server claiming more rejections than items sent is clamped rather than trusted.
                rejected = Int(clamping: min(max(partial.rejectedItems, 0), Int64(request.itemCount)))
                if rejected > 0 || !partial.errorMessage.isEmpty {
                    let reason = "partial success"
                    if firstMessages[reason] == nil { firstMessages[reason] = partial.errorMessage }
                }
            } catch {
                malformedResponses += 1
            }
        }
        itemsRejected += rejected
        itemsAccepted += request.itemCount - rejected
    }

    mutating func record(
        httpResponse response: HTTP1Response, for request: PreparedRequest<ByteBuffer>, latency: Duration, answeredAt: ContinuousClock.Instant
    ) {
        recordAnswered(request, latency: latency, at: answeredAt)
        let code = Int(response.status.code)
        let isJSON = response.headers.first(name: "Content-Type")?.lowercased().contains("json") ?? false
        switch code {
        case 200..<300:
            // A JSON answer to a protobuf request is unusual; its partial success is not parsed.
            recordSuccess(request, responseBody: isJSON ? [] : Array(response.body.readableBytesView), latency: latency)
        case 429, 503:
            let status = "HTTP \(code)"
            throttledByStatus[status, default: 0] += 1
            if firstMessages[status] == nil { firstMessages[status] = Self.errorMessage(response.body, isJSON: isJSON) }
        default:
            let status = "HTTP \(code)"
            failedByReason[status, default: 0] += 1
            if firstMessages[status] == nil { firstMessages[status] = Self.errorMessage(response.body, isJSON: isJSON) }
        }
    }

    /// Records a call the server answered (`.ok` or `.status`); transport failures are counted by the worker.
    mutating func record(
        grpcOutcome outcome: GRPCExportClient.Outcome, for request: PreparedRequest<[UInt8]>, latency: Duration,
        answeredAt: ContinuousClock.Instant
    ) {
        switch outcome {
        case .ok(let response):
            recordAnswered(request, latency: latency, at: answeredAt)
            recordSuccess(request, responseBody: response, latency: latency)
        case .status(let code, let message):
            recordAnswered(request, latency: latency, at: answeredAt)
            let status = "gRPC \(Self.statusName(code))"
            // The statuses OTLP clients retry after backing off, i.e. the server pushing back.
            if code == .resourceExhausted || code == .unavailable {
                throttledByStatus[status, default: 0] += 1
                if firstMessages[status] == nil { firstMessages[status] = message }
            } else {
                recordFailure(status, message: message)
            }
        case .transportFailure(let code, let message):
            recordFailure("connection error", message: "\(Self.statusName(code)): \(message)")
        }
    }

    /// The message of an error response: a `google.rpc.Status` for protobuf, else the start of the body text.
    static func errorMessage(_ body: ByteBuffer, isJSON: Bool) -> String {
        let bytes = Array(body.readableBytesView)
        if !isJSON, let status = try? OTLPProtobuf.decodeStatus(bytes), !status.message.isEmpty { return status.message }
        let text = String(decoding: bytes.prefix(300), as: UTF8.self)
        return text.isEmpty ? "(empty body)" : text
    }

    /// Canonical upper-case status names, as gRPC tools print them.
    static func statusName(_ code: RPCError.Code) -> String {
        switch code {
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internalError: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        default: "\(code)"
        }
    }

    mutating func merge(_ other: WorkerTally) {
        succeeded += other.succeeded
        throttledByStatus.merge(other.throttledByStatus, uniquingKeysWith: +)
        failedByReason.merge(other.failedByReason, uniquingKeysWith: +)
        firstMessages.merge(other.firstMessages) { mine, _ in mine }
        connectionErrors += other.connectionErrors
        abandoned += other.abandoned
        malformedResponses += other.malformedResponses
        itemsSent += other.itemsSent
        itemsAccepted += other.itemsAccepted
        itemsRejected += other.itemsRejected
        wireBytesSent += other.wireBytesSent
        protobufBytesSent += other.protobufBytesSent
        answeredLatencies.append(contentsOf: other.answeredLatencies)
        succeededLatencies.append(contentsOf: other.succeededLatencies)
        if let other = other.lastAnswerAt { lastAnswerAt = max(lastAnswerAt ?? other, other) }
    }
}

// MARK: - Result

/// The figures of one load run.
public struct LoadResult: Sendable {
    public let options: OTLPLoadGenerator.Options
    /// The endpoint as resolved, e.g. `http://127.0.0.1:4318/v1/traces`.
    public let endpoint: String
    /// How many different requests the workers cycled through.
    public let distinctRequests: Int
    /// Size of one encoded request before compression.
    public let requestBytes: Int
    /// The interval the rates are computed over: from the start until the last answer arrived, and at least the
    /// duration. Requests still in flight at the end are waited for (briefly), so this usually exceeds the
    /// duration by about one request latency.
    public let elapsed: Duration
    /// From the start until every worker had stopped, including the wait for requests that were then abandoned.
    public let wallTime: Duration

    /// Requests answered 2xx / gRPC OK.
    public let requestsSucceeded: Int
    /// Requests answered HTTP 429/503 or gRPC RESOURCE_EXHAUSTED/UNAVAILABLE, by status.
    public let throttledByStatus: [String: Int]
    /// Other failures, by status (`HTTP 400`, `gRPC INVALID_ARGUMENT`) or kind (`timeout`, `connection error`).
    public let failedByReason: [String: Int]
    /// The first message seen per status or failure reason (and for `partial success`).
    public let firstMessages: [String: String]
    /// Connections that broke (or could not be opened) and were replaced; also counted in `failedByReason`.
    public let connectionErrors: Int
    /// Requests still in flight when the run stopped; counted nowhere else.
    public let requestsAbandoned: Int
    /// Successful responses whose body was not a valid export response (their items count as accepted).
    public let malformedResponses: Int

    /// Items in requests that got an answer.
    public let itemsSent: Int
    /// Items in successful requests, minus those the server reported rejected (partial success).
    public let itemsAccepted: Int
    public let itemsRejected: Int
    /// Request body bytes of answered requests as sent (compressed when gzip is on) and before compression.
    public let wireBytesSent: Int
    public let protobufBytesSent: Int

    /// Latency (request sent to response fully read) of every answered request, and of the successful ones.
    public let latency: LatencyStatistics
    public let successLatency: LatencyStatistics

    init(
        options: OTLPLoadGenerator.Options, endpoint: String, distinctRequests: Int, requestBytes: Int, elapsed: Duration,
        wallTime: Duration, tally: WorkerTally
    ) {
        self.options = options
        self.endpoint = endpoint
        self.distinctRequests = distinctRequests
        self.requestBytes = requestBytes
        self.elapsed = elapsed
        self.wallTime = wallTime
        requestsSucceeded = tally.succeeded
        throttledByStatus = tally.throttledByStatus
        failedByReason = tally.failedByReason
        firstMessages = tally.firstMessages
        connectionErrors = tally.connectionErrors
        requestsAbandoned = tally.abandoned
        malformedResponses = tally.malformedResponses
        itemsSent = tally.itemsSent
        itemsAccepted = tally.itemsAccepted
        itemsRejected = tally.itemsRejected
        wireBytesSent = tally.wireBytesSent
        protobufBytesSent = tally.protobufBytesSent
        latency = LatencyStatistics(samples: tally.answeredLatencies)
        successLatency = LatencyStatistics(samples: tally.succeededLatencies)
    }

    public var requestsThrottled: Int { throttledByStatus.values.reduce(0, +) }
    public var requestsFailed: Int { failedByReason.values.reduce(0, +) }
    public var requestsTotal: Int { requestsSucceeded + requestsThrottled + requestsFailed }

    private var elapsedSeconds: Double { max(elapsed.inSeconds, 1e-9) }
    public var requestsPerSecond: Double { Double(requestsTotal) / elapsedSeconds }
    public var acceptedItemsPerSecond: Double { Double(itemsAccepted) / elapsedSeconds }
    /// Request bytes as sent per second (compressed when gzip is on).
    public var bytesPerSecond: Double { Double(wireBytesSent) / elapsedSeconds }
    public var protobufBytesPerSecond: Double { Double(protobufBytesSent) / elapsedSeconds }

    public var report: String {
        let itemName = options.signal.itemName
        var lines: [String] = []
        lines.append(
            "OTLP load: \(options.signal) to \(endpoint)\(options.gzip ? " (gzip)" : ""), \(options.concurrency) connection(s), "
                + "\(BenchFormat.grouped(options.batchSize)) \(itemName) x \(options.attributesPerItem) attributes per request "
                + "(\(BenchFormat.bytes(requestBytes)) protobuf, \(distinctRequests) distinct)")
        #if DEBUG
        lines.append("note: this is a debug build; build with -c release for meaningful figures")
        #endif
        var timing = "elapsed      \(elapsed.shortText) (\(options.duration.shortText) starting requests, then the last answers)"
        if wallTime > elapsed + .milliseconds(10) {
            timing += "; stopped after \(wallTime.shortText) waiting for requests that were then abandoned"
        }
        lines.append(timing)
        lines.append(
            "requests     \(BenchFormat.grouped(requestsSucceeded)) ok, \(BenchFormat.grouped(requestsThrottled)) throttled, "
                + "\(BenchFormat.grouped(requestsFailed)) failed (\(BenchFormat.rate(requestsPerSecond)) req/s)"
                + (requestsAbandoned > 0 ? "; \(requestsAbandoned) abandoned at the end" : ""))
        for (label, counts) in [("throttled", throttledByStatus), ("failed", failedByReason)] where !counts.isEmpty {
            for (reason, count) in counts.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
                var line = "  \(label) \(reason): \(BenchFormat.grouped(count))"
                if let message = firstMessages[reason], !message.isEmpty { line += " (first: \(Self.oneLine(message)))" }
                lines.append(line)
            }
        }
        if connectionErrors > 0 {
            lines.append("  connection problems: \(BenchFormat.grouped(connectionErrors)) (each time the connection was re-established)")
        }
        var accepted =
            "accepted     \(BenchFormat.grouped(itemsAccepted)) \(itemName) (\(BenchFormat.rate(acceptedItemsPerSecond)) \(itemName)/s)"
        if itemsRejected > 0 {
            accepted += "; \(BenchFormat.grouped(itemsRejected)) rejected by partial success"
            if let message = firstMessages["partial success"], !message.isEmpty { accepted += " (first: \(Self.oneLine(message)))" }
        }
        lines.append(accepted)
        if malformedResponses > 0 {
            lines.append("  \(malformedResponses) successful response(s) were not valid export responses")
        }
        var sent = "sent         \(BenchFormat.bytes(wireBytesSent)) of request bodies (\(BenchFormat.megabytesPerSecond(bytesPerSecond))"
        if options.gzip { sent += "; \(BenchFormat.megabytesPerSecond(protobufBytesPerSecond)) before gzip" }
        lines.append(sent + ")")
        if successLatency.count > 0 {
            lines.append("latency      \(successLatency.summary) (\(BenchFormat.grouped(successLatency.count)) successful requests)")
        } else {
            lines.append("latency      no successful requests")
        }
        if latency.count != successLatency.count && latency.count > 0 {
            lines.append("             \(latency.summary) (all \(BenchFormat.grouped(latency.count)) answered requests)")
        }
        return lines.joined(separator: "\n")
    }

    private static func oneLine(_ text: String) -> String {
        let flattened = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flattened.count > 200 ? String(flattened.prefix(200)) + "..." : flattened
    }
}
