import LoupeModel
import LoupeWire
import Testing

@testable import LoupeStorage

/// The trace head: spans of one trace arriving in several batches come back together by ID,
/// summaries follow the root span, and tag search holds its conditions on one span.
@Suite struct TraceSpanStoreTests {
    static let tenant = Tenant.default
    static let ms: UInt64 = 1_000_000

    static func span(
        _ trace: UInt64, _ id: UInt64, parent: UInt64 = 0, name: String, start: UInt64, milliseconds: UInt64,
        attributes: [KeyValue] = [], status: StatusCode = .unset
    ) -> Span {
        Span(
            traceID: TraceID(high: 0, low: trace), spanID: SpanID(value: id), parentSpanID: SpanID(value: parent), name: name,
            kind: parent == 0 ? .server : .client, startTimeUnixNano: start, endTimeUnixNano: start + milliseconds * ms,
            attributes: attributes, status: SpanStatus(code: status))
    }

    static func batch(service: String, _ spans: [Span], tenant: Tenant = tenant) -> DurableBatch<TraceData> {
        let data = TraceData(resourceSpans: [
            ResourceSpans(
                resource: Resource(attributes: [KeyValue(key: "service.name", value: .string(service))]),
                scopeSpans: [ScopeSpans(spans: spans)])
        ])
        return DurableBatch(tenant: tenant, data: data, encoded: OTLPProtobuf.encodeTraces(data), timeBounds: data.timeBounds)
    }

    /// Trace 1: frontend root (600 ms) -> checkout child, whose spans come in a later batch.
    /// Trace 2: checkout alone, 50 ms, an error. Trace 3: another tenant.
    static func filledStore() async throws -> TraceSpanStore {
        let store = TraceSpanStore()
        let base: UInt64 = 1_700_000_000_000_000_000
        try await store.append(batch(service: "frontend", [
            span(1, 10, name: "GET /cart", start: base, milliseconds: 600, attributes: [KeyValue(key: "http.method", value: .string("GET"))]),
            span(2, 20, parent: 99, name: "orphan", start: base + 5_000 * ms, milliseconds: 1),
        ]))
        try await store.append(batch(service: "checkout", [
            span(1, 11, parent: 10, name: "charge", start: base + 100 * ms, milliseconds: 700,
                 attributes: [KeyValue(key: "http.status_code", value: .int(502))], status: .error),
            span(2, 21, name: "refund", start: base + 5_000 * ms - 10 * ms, milliseconds: 50, status: .error),
        ]))
        try await store.append(batch(service: "frontend", [span(3, 30, name: "GET /cart", start: base, milliseconds: 5)],
                                     tenant: Tenant(uncheckedName: "other")))
        return store
    }

    @Test func aTraceSplitAcrossBatchesComesBackWhole() async throws {
        let store = try await Self.filledStore()
        let trace = try #require(try store.trace(tenant: Self.tenant, id: TraceID(high: 0, low: 1)))
        let spans = trace.resourceSpans.flatMap { resource in resource.scopeSpans.flatMap(\.spans).map { (resource.resource.serviceName, $0.name) } }
        #expect(spans.map(\.0) == ["frontend", "checkout"] && spans.map(\.1) == ["GET /cart", "charge"])
        #expect(try store.trace(tenant: Self.tenant, id: TraceID(high: 0, low: 3)) == nil, "another tenant's trace")
        #expect(try store.trace(tenant: Self.tenant, id: TraceID(high: 0, low: 1), start: 0, end: 1_000) == nil, "outside the window")

        let summary = try #require(store.summary(tenant: Self.tenant, id: TraceID(high: 0, low: 1)))
        #expect(summary.rootServiceName == "frontend" && summary.rootSpanName == "GET /cart")
        #expect(summary.durationNanoseconds == 800 * Self.ms && summary.spanCount == 2 && summary.errorCount == 1)
        #expect(summary.services == ["frontend", "checkout"] && summary.longestSpanNanoseconds == 700 * Self.ms)
        #expect(summary.mayHaveService(in: ["checkout"]) && !summary.mayHaveService(in: ["payments"]) && summary.mayHaveService(in: nil))
        // Trace 2's root (no parent) is "refund"; its other span's parent never arrived.
        #expect(store.summary(tenant: Self.tenant, id: TraceID(high: 0, low: 2))?.rootSpanName == "refund")
    }

    @Test func tagSearchHoldsEveryConditionOnOneSpan() async throws {
        let store = try await Self.filledStore()
        func ids(_ search: TraceSearch) throws -> [UInt64] {
            try store.search(tenant: Self.tenant, search).map(\.summary.traceID.low)
        }
        #expect(try ids(TraceSearch()) == [2, 1], "most recent first")
        #expect(try ids(TraceSearch(conditions: [.init(key: "service.name", value: "CHECK")])) == [2, 1], "substring, any case")
        #expect(try ids(TraceSearch(conditions: [.init(key: "http.status_code", value: "502")])) == [1])
        #expect(try ids(TraceSearch(conditions: [.init(key: "status", value: "error"), .init(key: "name", value: "refund")])) == [2])
        // Both conditions hold in trace 1, but on different spans.
        #expect(try ids(TraceSearch(conditions: [.init(key: "http.method", value: "GET"), .init(key: "status", value: "error")])) == [])
        #expect(try ids(TraceSearch(minimumDurationNanoseconds: 500 * Self.ms)) == [1])
        #expect(try ids(TraceSearch(maximumDurationNanoseconds: 500 * Self.ms)) == [2])
        #expect(try ids(TraceSearch(limit: 1)) == [2])
        #expect(try ids(TraceSearch(start: 0, end: 1_700_000_001_000_000_000)) == [1], "trace 2 starts later")

        let hit = try #require(try store.search(tenant: Self.tenant, TraceSearch(conditions: [.init(key: "service.name", value: "e")], spansPerSpanSet: 1)).last)
        #expect(hit.matchedCount == 2 && hit.matchedSpans.count == 1)
    }

    @Test func tagNamesAndValuesPerScope() async throws {
        let store = try await Self.filledStore()
        let names = store.tagNames(tenant: Self.tenant)
        #expect(names[.resource] == ["service.name"])
        #expect(names[.span] == ["http.method", "http.status_code"])
        #expect(store.tagValues(tenant: Self.tenant, name: "service.name") == ["checkout", "frontend"])
        #expect(store.tagValues(tenant: Self.tenant, name: "service.name", scope: .span) == [])
        #expect(store.tagValues(tenant: Tenant(uncheckedName: "other"), name: "service.name") == ["frontend"])
    }

    @Test func retentionForgetsWhollyExpiredTraces() async throws {
        let store = try await Self.filledStore()
        // Trace 1 ends at base + 800 ms, trace 2 at base + 5040 ms.
        _ = await store.removeItems(olderThan: 1_700_000_001_000_000_000)
        #expect(try store.trace(tenant: Self.tenant, id: TraceID(high: 0, low: 1)) == nil)
        #expect(store.summary(tenant: Self.tenant, id: TraceID(high: 0, low: 1)) == nil)
        #expect(try store.search(tenant: Self.tenant, TraceSearch()).map(\.summary.traceID.low) == [2])
        #expect(try store.trace(tenant: Self.tenant, id: TraceID(high: 0, low: 2)) != nil)
    }

    @Test func dependenciesFollowCallsDatabasesAndBrokers() {
        func span(_ id: UInt64, parent: UInt64 = 0, kind: SpanKind, peer: String? = nil, error: Bool = false) -> Span {
            Span(traceID: TraceID(high: 0, low: 9), spanID: SpanID(value: id), parentSpanID: SpanID(value: parent), kind: kind,
                 attributes: peer.map { [KeyValue(key: "peer.service", value: .string($0))] } ?? [],
                 status: SpanStatus(code: error ? .error : .unset))
        }
        var dependencies = ServiceDependencies()
        dependencies.add(trace: [
            (span(1, kind: .server), "frontend"),
            (span(2, parent: 1, kind: .client, peer: "cart"), "frontend"),  // its server span is below: no extra link
            (span(3, parent: 2, kind: .server, error: true), "cart"),
            (span(4, parent: 3, kind: .client, peer: "redis"), "cart"),    // nothing instrumented below: a call to redis
            (span(5, parent: 3, kind: .producer, peer: "kafka"), "cart"),
            (span(6, parent: 5, kind: .consumer, peer: "kafka"), "mailer"),
        ])
        #expect(dependencies.links == [
            .init(parent: "frontend", child: "cart"): .init(calls: 1, errors: 1),
            .init(parent: "cart", child: "redis"): .init(calls: 1),
            .init(parent: "cart", child: "kafka"): .init(calls: 1),
            .init(parent: "kafka", child: "mailer"): .init(calls: 1),
        ])
    }

    @Test func spanTagValuesComeFromASampleOfSpansAndPeersFromAll() async throws {
        let store = TraceSpanStore()
        var spans: [Span] = []
        for index in 0..<16 {
            let attributes: [KeyValue] = [KeyValue(key: "n", value: .int(Int64(index))), KeyValue(key: "peer.service", value: .string("db\(index)"))]
            spans.append(Self.span(UInt64(100 + index), UInt64(index + 1), name: "op", start: 1_000, milliseconds: 1, attributes: attributes))
        }
        try await store.append(Self.batch(service: "api", spans))
        #expect(store.tagValues(tenant: Self.tenant, name: "n") == ["0", "8"], "one span in \(TraceSpanStore.tagSampling)")
        #expect(store.remoteServices(tenant: Self.tenant, service: "api").count == 16, "remote services from every span")
        #expect(store.operations(tenant: Self.tenant, service: "api").map(\.name) == ["op"])
    }
}
