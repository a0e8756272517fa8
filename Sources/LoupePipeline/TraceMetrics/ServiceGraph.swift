import LoupeModel

/// The service graph as Tempo's metrics generator builds it: a client (or producer) span and the
/// server (or consumer) span below it, arriving in any order and in any requests, make one edge
/// `client -> server`; pairs wait up to `wait` for their other half. Unpaired client spans that
/// name what they called (`peer.service`, `db.name`, `db.system`, `server.address`) become edges
/// to that virtual node (`connection_type="database"` for databases, `"virtual_node"` otherwise);
/// a root server span is called by the virtual node `user`; messaging pairs are
/// `"messaging_system"`. Series: `traces_service_graph_request_total`,
/// `traces_service_graph_request_failed_total`, the histograms
/// `traces_service_graph_request_server_seconds` and `..._client_seconds`, and
/// `traces_service_graph_unpaired_spans_total` / `..._dropped_spans_total`.
public struct ServiceGraph: Sendable {
    /// Tempo's default buckets (seconds).
    public static let buckets: [Double] = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8]

    public struct Edge: Hashable, Sendable {
        public var client: String
        public var server: String
        /// Empty for a direct call.
        public var connectionType: String
    }

    struct EdgeStats {
        var total: UInt64 = 0
        var failed: UInt64 = 0
        var client = [UInt64](repeating: 0, count: ServiceGraph.buckets.count + 1)
        var clientSum: Double = 0
        var server = [UInt64](repeating: 0, count: ServiceGraph.buckets.count + 1)
        var serverSum: Double = 0
    }

    struct PendingKey: Hashable {
        var traceID: TraceID
        /// The client span's ID (the server span's parent).
        var spanID: SpanID
    }

    struct Side {
        var service: String
        var seconds: Double
        var failed: Bool
        var messaging: Bool
        /// What an unpaired client span called, and whether it is a database.
        var peer: String?
        var database = false
    }

    struct Pending {
        var client: Side?
        var server: Side?
        var expires: UInt64
    }

    var edges: [Edge: EdgeStats] = [:]
    var pending: [PendingKey: Pending] = [:]
    public var waitNanoseconds: UInt64
    public var maximumPending: Int
    public var maximumEdges: Int
    public private(set) var unpairedClient: UInt64 = 0
    public private(set) var unpairedServer: UInt64 = 0
    public private(set) var dropped: UInt64 = 0

    public init(waitNanoseconds: UInt64 = 10_000_000_000, maximumPending: Int = 100_000, maximumEdges: Int = 10_000) {
        self.waitNanoseconds = waitNanoseconds
        self.maximumPending = maximumPending
        self.maximumEdges = maximumEdges
    }

    /// Pairs the client and server spans of one batch (with those waiting from earlier batches).
    public mutating func observe(_ batch: TraceBatchDigest, now: UInt64) {
        // By pointer: iterating by value copies (retains) each digest's strings.
        batch.spans.withUnsafeBufferPointer { spans in
            for index in spans.indices { observe(spans[index], service: batch.serviceNames[Int(spans[index].resource)], now: now) }
        }
    }

    mutating func observe(_ span: SpanDigest, service: String, now: UInt64) {
        let seconds = Double(span.durationNanos) / 1e9
        let failed = span.statusCode == .error
        switch span.kind {
        case .client, .producer:
            let side = Side(
                service: service, seconds: seconds, failed: failed, messaging: span.kind == .producer, peer: span.peer.name,
                database: span.peer.isDatabase)
            arrive(PendingKey(traceID: span.traceID, spanID: span.spanID), client: side, now: now)
        case .server, .consumer:
            let side = Side(service: service, seconds: seconds, failed: failed, messaging: span.kind == .consumer)
            if span.parentSpanID.isEmpty {
                // Nothing instrumented called it: the user did.
                record(Edge(client: "user", server: service, connectionType: "virtual_node"), client: nil, server: side)
            } else {
                arrive(PendingKey(traceID: span.traceID, spanID: span.parentSpanID), server: side, now: now)
            }
        default:
            break
        }
    }

    mutating func arrive(_ key: PendingKey, client: Side? = nil, server: Side? = nil, now: UInt64) {
        if var entry = pending[key] {
            if let client { entry.client = client }
            if let server { entry.server = server }
            if let client = entry.client, let server = entry.server {
                pending[key] = nil
                let type = client.messaging || server.messaging ? "messaging_system" : ""
                record(Edge(client: client.service, server: server.service, connectionType: type), client: client, server: server)
            } else {
                pending[key] = entry
            }
            return
        }
        guard pending.count < maximumPending else {
            dropped += 1
            return
        }
        pending[key] = Pending(client: client, server: server, expires: now &+ waitNanoseconds)
    }

    mutating func record(_ edge: Edge, client: Side?, server: Side?) {
        guard edges[edge] != nil || edges.count < maximumEdges else {
            dropped += 1
            return
        }
        var stats = edges[edge] ?? EdgeStats()
        stats.total += 1
        if client?.failed == true || server?.failed == true { stats.failed += 1 }
        if let client {
            stats.client[Self.bucket(client.seconds)] += 1
            stats.clientSum += client.seconds
        }
        if let server {
            stats.server[Self.bucket(server.seconds)] += 1
            stats.serverSum += server.seconds
        }
        edges[edge] = stats
    }

    /// Settles pairs that waited past their time: clients that named a peer become edges to it.
    public mutating func expire(now: UInt64) {
        for (key, entry) in pending where entry.expires <= now {
            pending[key] = nil
            if let client = entry.client {
                if let peer = client.peer, peer != client.service {
                    let type = client.database ? "database" : client.messaging ? "messaging_system" : "virtual_node"
                    record(Edge(client: client.service, server: peer, connectionType: type), client: client, server: nil)
                } else {
                    unpairedClient += 1
                }
            } else {
                unpairedServer += 1
            }
        }
    }

    static func bucket(_ seconds: Double) -> Int { buckets.firstIndex { seconds <= $0 } ?? buckets.count }

    public func series(timestamp: Int64) -> [TimeSeries] {
        var out: [TimeSeries] = []
        for (edge, stats) in edges {
            var labels = [Label("client", edge.client), Label("server", edge.server)]
            if !edge.connectionType.isEmpty { labels.append(Label("connection_type", edge.connectionType)) }
            out.append(TraceMetricSeries.sample("traces_service_graph_request_total", labels, Double(stats.total), timestamp))
            out.append(TraceMetricSeries.sample("traces_service_graph_request_failed_total", labels, Double(stats.failed), timestamp))
            out += TraceMetricSeries.histogram(
                "traces_service_graph_request_server_seconds", labels, bounds: Self.buckets, buckets: stats.server, sum: stats.serverSum, timestamp)
            out += TraceMetricSeries.histogram(
                "traces_service_graph_request_client_seconds", labels, bounds: Self.buckets, buckets: stats.client, sum: stats.clientSum, timestamp)
        }
        if unpairedClient > 0 || unpairedServer > 0 || dropped > 0 {
            out.append(TraceMetricSeries.sample("traces_service_graph_unpaired_spans_total", [Label("side", "client")], Double(unpairedClient), timestamp))
            out.append(TraceMetricSeries.sample("traces_service_graph_unpaired_spans_total", [Label("side", "server")], Double(unpairedServer), timestamp))
            out.append(TraceMetricSeries.sample("traces_service_graph_dropped_spans_total", [], Double(dropped), timestamp))
        }
        return out
    }
}
