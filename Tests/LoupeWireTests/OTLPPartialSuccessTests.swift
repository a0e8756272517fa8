import LoupeWire
import Testing

/// `partial_success` of OTLP export responses: what a receiver took but dropped.
@Suite struct OTLPPartialSuccessTests {
    @Test func rejectedCountsAndMessagesAreRead() {
        // ExportLogsServiceResponse { partial_success { rejected_log_records: 3, error_message: "bad" } }
        let response: [UInt8] = [0x0A, 0x07, 0x08, 0x03, 0x12, 0x03] + Array("bad".utf8)
        #expect(OTLPPartialSuccess.decode(response: response) == OTLPPartialSuccess(rejected: 3, message: "bad"))
        // Unknown fields around it are skipped.
        let padded: [UInt8] = [0x10, 0x05] + response + [0x1A, 0x01, 0x00]
        #expect(OTLPPartialSuccess.decode(response: padded)?.rejected == 3)
        // A warning without rejections is still said.
        #expect(OTLPPartialSuccess.decode(response: [0x0A, 0x04, 0x12, 0x02] + Array("ok".utf8)) == OTLPPartialSuccess(rejected: 0, message: "ok"))
    }

    @Test func fullSuccessAndUndecodableAnswersAreNone() {
        #expect(OTLPPartialSuccess.decode(response: []) == nil)
        #expect(OTLPPartialSuccess.decode(response: [0x0A, 0x00]) == nil, "an empty partial_success is full success")
        #expect(OTLPPartialSuccess.decode(response: [0x0A, 0x09, 0x08]) == nil, "truncated")
        #expect(OTLPPartialSuccess.decode(response: Array("{}".utf8)) == nil)
        for length in 0..<12 {
            _ = OTLPPartialSuccess.decode(response: Array(([0x0A, 0x07, 0x08, 0x03, 0x12, 0x03] + Array("bad".utf8)).prefix(length)))
        }
    }
}
