import LoupeModel
import LoupeWire
import Testing

@testable import LoupeCollect

/// The direct encoder writes exactly the records the builder makes: every line below, and random
/// mutations of them, decode to equal records.
@Suite struct ContainerLogEncoderTests {
    static let lines = [
        "plain text line",
        "",
        "{}",
        #"{"level":"warning","msg":"slow query","duration_ms":1250,"ratio":0.5,"ok":false,"user":{"id":7,"tags":["a",1,null]},"tags":["a"],"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#,
        #"{"message":"m","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","level":"ERROR","msg":"second"}"#,
        #"{"message":42,"level":"","severity":"info","log.level":"debug"}"#,
        #"{"msg":null,"trace_id":"zz","span_id":17,"traceparent":"bad","level":5}"#,
        #"{"a":"caf\u00e9 \"quoted\" \\ /","big":12345678901234567890,"neg":-3,"exp":1e3,"tiny":1.5e-300}"#,
        #"{"a":1} trailing"#,
        #"{"broken":"#,
        #"[1,2,3]"#,
        #"{"deep":{"a":{"b":{"c":[{"d":true}]}}}}"#,
        #"{"trace_id":"0af7651916cd43dd8448eb211c80319c","traceparent":"00-11111111111111111111111111111111-2222222222222222-00"}"#,
    ]

    func check(_ text: String, keepOriginalBody: Bool, stream: ContainerLogLine.Stream = .stdout) throws {
        let line = ContainerLogLine(timeUnixNano: 1_709_287_200_000_000_001, stream: stream, partial: false, text: text)
        let expected = ContainerLogRecordBuilder(keepOriginalBody: keepOriginalBody).record(line, observedUnixNano: 77)
        var records: [UInt8] = []
        var scratch = ContainerLogEncoder.Scratch()
        ContainerLogEncoder(keepOriginalBody: keepOriginalBody).appendRecord(line, observedUnixNano: 77, to: &records, scratch: &scratch)
        let resource = Resource(attributes: [KeyValue("service.name", .string("web")), KeyValue("k8s.container.restart_count", .int(2))])
        let decoded = try OTLPProtobuf.decodeLogs(ContainerLogEncoder.resourceLogs(resource: resource, records: records))
        #expect(decoded.resourceLogs.count == 1 && decoded.resourceLogs[0].resource == resource)
        let record = try #require(decoded.resourceLogs.first?.scopeLogs.first?.logRecords.first)
        #expect(record == expected, "\(text)")
    }

    @Test func everyLineEncodesAsTheBuilderBuildsIt() throws {
        for text in Self.lines {
            try check(text, keepOriginalBody: true)
            try check(text, keepOriginalBody: false, stream: .stderr)
        }
    }

    @Test func mutatedLinesToo() throws {
        var random = SplitMix64(seed: 21)
        for _ in 0..<2_000 {
            var bytes = Array(Self.lines[Int(random.next() % UInt64(Self.lines.count))].utf8)
            guard !bytes.isEmpty else { continue }
            for _ in 0..<1 + Int(random.next() % 3) {
                let alphabet = Array(#"{}[]":,0123456789.-eE\ntruefalsenul ab"#.utf8)
                bytes[Int(random.next() % UInt64(bytes.count))] = alphabet[Int(random.next() % UInt64(alphabet.count))]
            }
            if random.next() % 4 == 0 { bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1)))) }
            try check(String(decoding: bytes, as: UTF8.self), keepOriginalBody: random.next() % 2 == 0)
        }
    }
}
