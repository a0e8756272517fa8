import Foundation
import LoupeModel
import Testing

@testable import LoupeServer

@Suite("Prometheus JSON points")
struct PrometheusJSONTests {
    /// The byte-level point writer must agree with the string formatters it bypasses.
    @Test(arguments: [
        (0, 0.0), (1_500, 1), (1_050, -2), (1_001, 0.5), (1_795_310_175_000, 123_456_789_012), (999, -0.0),
        (-1_500, 3), (-500, 1e300), (12_340, .nan), (1, .infinity), (2, -.infinity), (3, 1e-7), (4, 999_999_999_999_999),
        (5, 1e15), (6, -1e15), (7, StaleMarker.value), (8, 0.1 + 0.2), (9, 1234.5678901234567), (10, -0.000123),
        (11, 0.0001), (12, 0.00009), (13, -0.00001234), (14, 123_456_789_012_345.6), (15, 1.0 / 3), (16, -999_999_999_999_999.9),
        (17, 4.5e15 + 0.5), (18, 1e-4.nextDown), (19, 1e15.nextDown),
    ] as [(Int64, Double)])
    func pointMatchesTheFormatters(time: Int64, value: Double) {
        var json = PrometheusJSON()
        json.point(time, value)
        let expected = "[\(PrometheusJSON.formatTimestamp(time)),\"\(PrometheusJSON.formatValue(value))\"]"
        #expect(String(decoding: json.bytes, as: UTF8.self) == expected)
    }

    /// Values of every magnitude, as rates and ratios produce them: the digits written straight
    /// into the buffer must be the formatter's, and exponents must never leak into plain values.
    @Test func randomValuesMatchTheFormatters() {
        var generator = SystemRandomNumberGenerator()
        var mismatches: [Double] = []
        for index in 0..<20_000 {
            let exponent = Double.random(in: -12...22, using: &generator)
            var value = Double.random(in: 1..<10, using: &generator) * pow(10, exponent.rounded(.down))
            if index % 2 == 1 { value = -value }
            var json = PrometheusJSON()
            json.point(1_000, value)
            let expected = "[1,\"\(PrometheusJSON.formatValue(value))\"]"
            if String(decoding: json.bytes, as: UTF8.self) != expected { mismatches.append(value) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
    }
}
