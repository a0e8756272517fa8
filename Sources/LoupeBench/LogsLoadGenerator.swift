import LoupeModel
import LoupeWire
import NIOCore
import NIOHTTP1
import NIOPosix

/// Realistic Kubernetes logs pushed to a Loki push endpoint (snappy protobuf), as fast as it
/// answers: services in several namespaces writing JSON, logfmt and nginx-style access lines,
/// mostly `info` with some `warn`/`error`/`debug`, request IDs (high cardinality) in every line,
/// and a rare token in about one line in 200,000. All requests are built before the clock
/// starts, so the generator's own work does not compete with the server during the run.
public struct LogsLoadGenerator: Sendable {
    public struct Options: Sendable {
        public var endpoint: String
        /// Raw bytes of log lines to send.
        public var totalBytes: Int
        public var concurrency: Int
        /// Raw line bytes per request.
        public var requestBytes: Int
        /// The entries span this much time, ending now.
        public var spanSeconds: Int
        public var tenant: String?

        public init(endpoint: String, totalBytes: Int, concurrency: Int = 4, requestBytes: Int = 1 << 20, spanSeconds: Int = 3_600, tenant: String? = nil) {
            self.endpoint = endpoint
            self.totalBytes = totalBytes
            self.concurrency = concurrency
            self.requestBytes = requestBytes
            self.spanSeconds = spanSeconds
            self.tenant = tenant
        }
    }

    public struct Result: Sendable {
        public var lineBytes: Int
        public var lines: Int
        public var requests: Int
        public var failed: Int
        public var compressedBytes: Int
        public var elapsed: Duration
        public var prepare: Duration

        public var report: String {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let megabytes = Double(lineBytes) / 1_048_576
            return """
                prepared     \(requests) requests, \(lines) lines, \(String(format2: megabytes)) MiB of lines (\(String(format2: Double(compressedBytes) / 1_048_576)) MiB snappy) in \(prepare)
                elapsed      \(String(format2: seconds)) s
                sent         \(String(format2: megabytes / seconds)) MiB/s of lines, \(Int(Double(lines) / seconds)) lines/s, \(failed) failed requests
                summary line_bytes=\(lineBytes) lines=\(lines) elapsed_seconds=\(seconds) mib_per_second=\(megabytes / seconds) failed=\(failed)
                """
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    struct Service {
        enum Format { case json, logfmt, access }
        let namespace: String
        let app: String
        let format: Format
        let paths: [String]
    }

    static let services: [Service] = {
        let layout: [(String, [(String, Service.Format)])] = [
            ("shop", [("frontend", .access), ("checkout", .json), ("cart", .json), ("catalog", .logfmt)]),
            ("payments", [("payment-api", .json), ("ledger", .json), ("fraud", .json)]),
            ("auth", [("auth-api", .json), ("sessions", .logfmt), ("ingress", .access)]),
            ("search", [("search-api", .json), ("indexer", .logfmt), ("ranker", .json)]),
            ("platform", [("gateway", .access), ("scheduler", .logfmt), ("metrics-agent", .logfmt), ("cache", .json)]),
        ]
        return layout.flatMap { namespace, apps in
            apps.map { app, format in
                Service(namespace: namespace, app: app, format: format, paths: ["/api/v1/items", "/api/v1/orders", "/healthz", "/api/v2/users/me", "/static/app.js"])
            }
        }
    }()

    static let messages = [
        "request completed", "cache miss, loading from database", "retrying upstream call", "user session refreshed",
        "published event to queue", "slow query detected", "connection pool exhausted", "payment authorized",
        "token validation failed", "background job finished",
    ]

    /// The streams of one request: `lines` entries spread over the services' pods.
    static func makeRequest(_ random: inout SplitMix64, startTime: Int64, step: Int64, firstIndex: Int, targetBytes: Int) -> (streams: [LogStream], bytes: Int, lines: Int) {
        var byStream: [Labels: [LogEntry]] = [:]
        var bytes = 0
        var index = firstIndex
        while bytes < targetBytes {
            let service = services[Int(random.next() % UInt64(services.count))]
            // Three pods an app, as a small deployment has (the pod name is a stream label).
            let pod = "\(service.app)-7d9f8c6b5-\(["x2x4f", "k9p1z", "q7m3n"][Int(random.next() % 3)])"
            let level: String
            switch random.next() % 100 {
            case 0..<80: level = "info"
            case 80..<92: level = "warn"
            case 92..<98: level = "error"
            default: level = "debug"
            }
            let time = startTime + Int64(index) * step
            let requestID = String(random.next(), radix: 16) + String(random.next() % 0xFFFF, radix: 16)
            let status = level == "error" ? 500 : (level == "warn" ? 429 : 200)
            let duration = Int(random.next() % 900) + 1
            let path = service.paths[Int(random.next() % UInt64(service.paths.count))]
            var message = messages[Int(random.next() % UInt64(messages.count))]
            if random.next() % 200_000 == 0 { message += " rare-token" }
            let line: String
            switch service.format {
            case .json:
                line = #"{"ts":"\#(time / 1_000_000_000)","level":"\#(level)","msg":"\#(message)","request_id":"\#(requestID)","method":"GET","path":"\#(path)","status":\#(status),"duration_ms":\#(duration),"user_id":\#(random.next() % 100_000)}"#
            case .logfmt:
                line = #"ts=\#(time / 1_000_000_000) level=\#(level) msg="\#(message)" request_id=\#(requestID) path=\#(path) status=\#(status) duration=\#(duration)ms"#
            case .access:
                line = #"10.\#(random.next() % 256).\#(random.next() % 256).\#(random.next() % 256) - - "GET \#(path) HTTP/1.1" \#(status) \#(random.next() % 20_000) "-" "Mozilla/5.0" rt=0.\#(duration) rid=\#(requestID) level=\#(level) msg="\#(message)""#
            }
            let labels: Labels = ["namespace": service.namespace, "app": service.app, "pod": pod, "container": service.app, "stream": "stdout"]
            byStream[labels, default: []].append(LogEntry(timestamp: time, line: line))
            bytes += line.utf8.count
            index += 1
        }
        return (byStream.map { LogStream(labels: $0.key, entries: $0.value) }, bytes, index - firstIndex)
    }

    public func run() async throws -> Result {
        let endpoint = try RemoteWriteLoadGenerator.parseEndpoint(options.endpoint)
        let path = endpoint.path == "/api/v1/write" ? "/loki/api/v1/push" : endpoint.path
        let prepareStart = ContinuousClock.now
        // Lines average about 163 bytes; 150 spreads the entries over a little less than the span,
        // so all of them lie in the past and a query ending now sees every one.
        let estimatedLines = max(1, options.totalBytes / 150)
        let now = Int64(WallClock.system.nowUnixNano())
        let step = max(1, Int64(options.spanSeconds) * 1_000_000_000 / Int64(estimatedLines))
        let startTime = now - Int64(options.spanSeconds) * 1_000_000_000
        var random = SplitMix64(seed: 0x10C5)
        var requests: [[UInt8]] = []
        var lineBytes = 0
        var lines = 0
        var compressed = 0
        while lineBytes < options.totalBytes {
            let (streams, bytes, count) = Self.makeRequest(&random, startTime: startTime, step: step, firstIndex: lines, targetBytes: min(options.requestBytes, options.totalBytes - lineBytes))
            let body = Snappy.compress(LokiPush.encodeProtobuf(streams.sorted { $0.labels < $1.labels }))
            requests.append(body)
            compressed += body.count
            lineBytes += bytes
            lines += count
        }
        let prepare = prepareStart.duration(to: .now)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        headers.add(name: "User-Agent", value: "loupe-bench")
        if let tenant = options.tenant { headers.add(name: "X-Scope-OrgID", value: tenant) }
        let sendHeaders = headers
        let all = requests
        let workers = max(1, min(options.concurrency, all.count))
        let start = ContinuousClock.now
        let failed = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var failures = 0
                    var position = worker
                    while position < all.count {
                        do {
                            try await HTTP1Connection.withConnection(
                                host: endpoint.host, port: endpoint.port, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, connectTimeout: .seconds(5)
                            ) { connection in
                                while position < all.count {
                                    let response = try await connection.post(
                                        path: path, headers: sendHeaders, body: ByteBuffer(bytes: all[position]), timeout: .seconds(60))
                                    if response.status != .noContent { failures += 1 }
                                    position += workers
                                    if !response.isKeepAlive || !connection.isReusable { break }
                                }
                            }
                        } catch {
                            failures += 1
                            position += workers
                        }
                    }
                    return failures
                }
            }
            var total = 0
            for await failures in group { total += failures }
            return total
        }
        return Result(
            lineBytes: lineBytes, lines: lines, requests: all.count, failed: failed, compressedBytes: compressed,
            elapsed: start.duration(to: .now), prepare: prepare)
    }
}

extension String {
    init(format2 value: Double) {
        let rounded = (value * 100).rounded() / 100
        self = String(rounded)
    }
}
