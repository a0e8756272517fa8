import LoupeModel
import Testing

@testable import LoupeServer

@Suite("Prometheus JSON points")
struct PrometheusJSONTests {
    /// The byte-level point writer must agree with the string formatters it bypasses.
    @Test(arguments: [
        (0, 0.0), (1_500, 1), (1_050, -2), (1_001, 0.5), (1_795_310_175_000, 123_456_789_012), (999, -0.0),
        (-1_500, 3), (-500, 1e300), (12_340, .nan), (1, .infinity), (2, -.infinity), (3, 1e-7), (4, 999_999_999_999_999),
        (5, 1e15), (6, -1e15), (7, StaleMarker.value), (8, 0.1 + 0.2),
    ] as [(Int64, Double)])
    func pointMatchesTheFormatters(time: Int64, value: Double) {
        var json = PrometheusJSON()
        json.point(time, value)
        let expected = "[\(PrometheusJSON.formatTimestamp(time)),\"\(PrometheusJSON.formatValue(value))\"]"
        #expect(String(decoding: json.bytes, as: UTF8.self) == expected)
    }
}
