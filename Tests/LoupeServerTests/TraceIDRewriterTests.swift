import LoupeModel
import LoupeWire
import NIOCore
import Testing

@testable import LoupeBench

/// The load generator's cycled trace bodies carry trace IDs of their own on every send, with the
/// spans of each trace still together.
@Suite struct TraceIDRewriterTests {
    static func traceIDs(_ body: [UInt8]) throws -> [TraceID] {
        try OTLPProtobuf.decodeTraces(body).resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.traceID) } }
    }

    @Test func everySendHasItsOwnTraceIDs() throws {
        let body = SampleRequests.encodedRequest(signal: .traces, itemCount: 300, attributesPerItem: 10, variant: 7, endUnixNano: SampleRequests.fixedEndUnixNano)
        let original = try Self.traceIDs(body)
        let offsets = TraceIDRewriter.offsets(in: body)
        #expect(offsets.count >= original.count, "every span's trace ID (and link trace IDs) is found")
        var rewriter = TraceIDRewriter(worker: 3)
        let first = try Self.traceIDs(rewriter.rewrite(body, offsets: offsets))
        let second = try Self.traceIDs(Array(rewriter.rewrite(ByteBuffer(bytes: body), offsets: offsets).readableBytesView))
        #expect(Set(first).isDisjoint(with: original) && Set(first).isDisjoint(with: second))
        // Spans that shared a trace still share one, and only those.
        for ids in [first, second] {
            #expect(Set(zip(original, ids).map { "\($0)-\($1)" }).count == Set(original).count)
            #expect(Set(ids).count == Set(original).count)
        }
    }
}
