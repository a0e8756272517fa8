import LoupeQuery
import Testing

@Suite("PromQL errors")
struct PromQLErrorTests {
    @Test("parse errors carry line and column like Prometheus's")
    func position() {
        let error = PromQLError(.parse, "unexpected \"}\"", position: .init(start: 13, end: 14), in: "sum(rate(foo}[5m]))")
        #expect(error.description == "1:14: parse error: unexpected \"}\"")
        let multiline = PromQLError(.parse, "unexpected end of input", position: .init(start: 7, end: 8), in: "sum(\n  x")
        #expect(multiline.description == "2:3: parse error: unexpected end of input")
    }
}
