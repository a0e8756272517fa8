import LoupeModel
import LoupeWire
import Testing

@testable import LoupePipeline

@Suite struct ElasticsearchToStreamsTests {
    @Test(arguments: [
        ("2026-01-01T00:00:00Z", Int64(1_767_225_600) * 1_000_000_000),
        ("2026-01-01T00:00:00.5Z", Int64(1_767_225_600) * 1_000_000_000 + 500_000_000),
        ("2026-01-01T02:00:00+02:00", Int64(1_767_225_600) * 1_000_000_000),
        ("2025-12-31 19:00:00.123456789-05:00", Int64(1_767_225_600) * 1_000_000_000 + 123_456_789),
        ("1767225600123", Int64(1_767_225_600_123) * 1_000_000),
        ("2000-02-29T00:00:00Z", Int64(951_782_400) * 1_000_000_000),
    ])
    func timestamps(text: String, nanoseconds: Int64) {
        #expect(ElasticsearchToStreams.timestamp(text) == nanoseconds)
    }

    @Test(arguments: ["", "2026-13-01T00:00:00Z", "2026-01-01", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00Zjunk", "yesterday", "9999-12-31T23:59:59Z", "2263-01-01T00:00:00Z"])
    func badTimestamps(text: String) {
        #expect(ElasticsearchToStreams.timestamp(text) == nil)
    }

    @Test func labelsLineAndMetadata() throws {
        let items = try ElasticsearchBulk.decode(Array("""
            {"index":{"_index":"k8s"}}
            {"@timestamp":"2026-01-01T00:00:00Z","log":"boom","kubernetes":{"namespace_name":"shop","pod_name":"web-1"},"stream":"stderr"}
            {"index":{"_index":"raw"}}
            {"level":"info","n":1}

            """.utf8))
        let mapping = ElasticsearchToStreams()
        let first = mapping.entry(items[0], now: 42)
        #expect(first.labels == ["index": "k8s", "namespace": "shop", "pod": "web-1"])
        #expect(first.entry.line == "boom")
        #expect(first.entry.timestamp == 1_767_225_600_000_000_000)
        #expect(first.entry.metadata == ["stream": "stderr"])
        // Without a message field the document is the line, and the time is now.
        let second = mapping.entry(items[1], now: 42)
        #expect(second.labels == ["index": "raw"])
        #expect(second.entry.line == #"{"level":"info","n":1}"#)
        #expect(second.entry.timestamp == 42)
        #expect(second.entry.metadata.isEmpty)
    }
}
