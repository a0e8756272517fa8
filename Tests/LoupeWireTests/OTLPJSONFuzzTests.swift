import Foundation
import LoupeModel
import LoupeWire
import Testing

/// Robustness: whatever the bytes, the OTLP/JSON decoders return a value or throw a `WireError`
/// (typed throws makes anything else impossible short of a crash), never trap or hang. When a
/// mangled input does decode, its re-encoding must be stable.
@Suite("OTLP/JSON fuzz", .timeLimit(.minutes(10)))
struct OTLPJSONFuzzTests {
    /// Runs all three decoders (and the export-response decoder) on `input`.
    static func exercise(_ input: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        func check(_ error: WireError) {
            if let offset = error.offset, offset < 0 || offset > input.count {
                Issue.record("error offset \(offset) outside the input (\(input.count) bytes): \(error)", sourceLocation: sourceLocation)
            }
        }
        do {
            let data = try OTLPJSON.decodeTraces(input)
            let json = OTLPJSON.encodeTraces(data)
            // Compare encodings, not values: a fuzzed input may hold NaN, which never equals itself.
            #expect((try? OTLPJSON.encodeTraces(OTLPJSON.decodeTraces(json))) == json, sourceLocation: sourceLocation)
        } catch {
            check(error)
        }
        do {
            let data = try OTLPJSON.decodeLogs(input)
            let json = OTLPJSON.encodeLogs(data)
            #expect((try? OTLPJSON.encodeLogs(OTLPJSON.decodeLogs(json))) == json, sourceLocation: sourceLocation)
        } catch {
            check(error)
        }
        do {
            let data = try OTLPJSON.decodeMetrics(input)
            let json = OTLPJSON.encodeMetrics(data)
            #expect((try? OTLPJSON.encodeMetrics(OTLPJSON.decodeMetrics(json))) == json, sourceLocation: sourceLocation)
        } catch {
            check(error)
        }
        do {
            _ = try OTLPJSON.decodeExportResponse(input)
        } catch {
            check(error)
        }
    }

    static func seeds() throws -> [[UInt8]] {
        var seeds = try OTLPJSONFixtures.exampleNames.map { try OTLPJSONFixtures.bundledExample($0) }
        seeds.append(OTLPJSON.encodeTraces(OTLPJSONSamples.traces))
        seeds.append(OTLPJSON.encodeLogs(OTLPJSONSamples.logs))
        seeds.append(OTLPJSON.encodeMetrics(OTLPJSONSamples.metrics))
        return seeds
    }

    @Test func randomBytes() {
        var random = OTLPJSONTestRandom(seed: 1)
        let jsonAlphabet = Array(#"{}[]":,0123456789-+.eE tfnrul\"#.utf8) + [0x0A, 0xFF, 0xC3]
        for round in 0..<4000 {
            let length = random.below(256)
            let input: [UInt8] = (0..<length).map { _ in
                round % 2 == 0 ? UInt8(truncatingIfNeeded: random.next()) : jsonAlphabet[random.below(jsonAlphabet.count)]
            }
            Self.exercise(input)
        }
    }

    /// Random streams of JSON tokens that OTLP uses, so the decoders get past the first byte.
    @Test func randomTokenStreams() {
        var random = OTLPJSONTestRandom(seed: 2)
        let keys = [
            "resourceSpans", "resourceLogs", "resourceMetrics", "scopeSpans", "scopeLogs", "scopeMetrics", "resource", "scope", "spans",
            "logRecords", "metrics", "attributes", "key", "value", "values", "stringValue", "intValue", "doubleValue", "boolValue",
            "bytesValue", "arrayValue", "kvlistValue", "traceId", "spanId", "parentSpanId", "name", "kind", "status", "code", "events",
            "links", "body", "severityNumber", "gauge", "sum", "histogram", "exponentialHistogram", "summary", "dataPoints", "asDouble",
            "asInt", "bucketCounts", "explicitBounds", "positive", "negative", "offset", "exemplars", "quantileValues", "min", "max",
            "flags", "startTimeUnixNano", "entityRefs", "idKeys", "partialSuccess", "rejectedSpans", "schema_url", "unknown",
        ]
        let scalars = [
            "0", "-1", "1.5", "1e400", "18446744073709551616", "\"5B8EFFF798038103D269B633813FC60C\"", "\"EEE19B7EC3C1B174\"",
            "\"W47/95gDgQPSabYzgT/GDA==\"", "\"7uGbfsPBsXQ=\"", "\"NaN\"", "\"-Infinity\"", "\"SPAN_KIND_SERVER\"", "\"12\"", "true",
            "false", "null", "\"\"", "\"\\u00e9\\ud83d\\ude00\"", "\"\\uD800\"", "\"a\\\"b\"", "{}", "[]", "\"AQID\"",
        ]
        for _ in 0..<6000 {
            var output = ""
            for _ in 0..<(1 + random.below(60)) {
                switch random.below(10) {
                case 0, 1: output += "{"
                case 2: output += "}"
                case 3: output += "["
                case 4: output += "]"
                case 5: output += ","
                case 6, 7: output += "\"\(keys[random.below(keys.count)])\":"
                default: output += scalars[random.below(scalars.count)]
                }
            }
            Self.exercise(Array(output.utf8))
        }
    }

    /// Grammar-driven documents: well-formed JSON with random OTLP-shaped content.
    @Test func randomWellFormedDocuments() {
        var random = OTLPJSONTestRandom(seed: 3)
        let keys = [
            "resourceSpans", "scopeSpans", "spans", "resourceLogs", "scopeLogs", "logRecords", "resourceMetrics", "scopeMetrics", "metrics",
            "attributes", "key", "value", "values", "arrayValue", "kvlistValue", "stringValue", "intValue", "body", "gauge", "sum",
            "dataPoints", "asInt", "asDouble", "traceId", "spanId", "name", "kind", "events", "links", "histogram", "bucketCounts",
        ]
        func value(_ depth: Int) -> String {
            switch random.below(depth > 0 ? 8 : 5) {
            case 0: return ["0", "7", "-3", "2.5", "1e2", "\"9\"", "\"5B8EFFF798038103D269B633813FC60C\"", "\"EEE19B7EC3C1B174\""][random.below(8)]
            case 1: return ["true", "false", "null"][random.below(3)]
            case 2: return "\"s\(random.below(100))\""
            case 3, 4: return "\"SPAN_KIND_CLIENT\""
            case 5: return "[" + (0..<random.below(4)).map { _ in value(depth - 1) }.joined(separator: ",") + "]"
            default: return "{" + (0..<random.below(5)).map { _ in "\"\(keys[random.below(keys.count)])\":\(value(depth - 1))" }.joined(separator: ",") + "}"
            }
        }
        for _ in 0..<3000 {
            let top = ["resourceSpans", "resourceLogs", "resourceMetrics", "partialSuccess"][random.below(4)]
            Self.exercise(Array("{\"\(top)\":\(value(7))}".utf8))
        }
    }

    @Test func everyTruncationOfEachExample() throws {
        for name in OTLPJSONFixtures.exampleNames {
            let example = try OTLPJSONFixtures.bundledExample(name)
            for length in 0..<example.count { Self.exercise(Array(example.prefix(length))) }
        }
        // The larger generated requests: every 7th truncation.
        for seed in try Self.seeds().dropFirst(OTLPJSONFixtures.exampleNames.count) {
            for length in stride(from: 0, to: seed.count, by: 7) { Self.exercise(Array(seed.prefix(length))) }
        }
    }

    @Test func randomSingleByteMutations() throws {
        var random = OTLPJSONTestRandom(seed: 4)
        let interesting = Array(#"{}[]",:\0-9.eE"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xFF]
        for seed in try Self.seeds() {
            for _ in 0..<1500 {
                var input = seed
                let index = random.below(input.count)
                switch random.below(4) {
                case 0: input[index] = UInt8(truncatingIfNeeded: random.next())
                case 1: input[index] = interesting[random.below(interesting.count)]
                case 2: input.remove(at: index)
                default: input.insert(interesting[random.below(interesting.count)], at: index)
                }
                Self.exercise(input)
            }
        }
    }

    @Test func splicedExamples() throws {
        var random = OTLPJSONTestRandom(seed: 5)
        let seeds = try Self.seeds()
        for _ in 0..<2000 {
            let first = seeds[random.below(seeds.count)]
            let second = seeds[random.below(seeds.count)]
            let cut = random.below(first.count)
            let resume = random.below(second.count)
            Self.exercise(Array(first.prefix(cut)) + Array(second.suffix(from: resume)))
        }
    }

    @Test(.enabled(if: OTLPJSONFixtures.hasConformance, "needs ../shared/conformance"))
    func tempoTraceMutations() throws {
        var random = OTLPJSONTestRandom(seed: 6)
        for name in OTLPJSONFixtures.tempoTraceNames {
            let seed = try OTLPJSONFixtures.tempoTrace(name)
            for _ in 0..<200 {
                Self.exercise(Array(seed.prefix(random.below(seed.count))))
                var mutated = seed
                mutated[random.below(mutated.count)] = UInt8(truncatingIfNeeded: random.next())
                Self.exercise(mutated)
            }
        }
    }

    @Test func pathologicalInputs() {
        let inputs: [String] = [
            String(repeating: "[", count: 1_000_000),
            String(repeating: "{\"a\":", count: 200_000),
            "{\"resourceSpans\":[" + String(repeating: "{},", count: 100_000) + "{}]}",
            "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":" + String(repeating: "{\"arrayValue\":{\"values\":[", count: 5000),
            "\"" + String(repeating: "\\u", count: 100_000),
            "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"" + String(repeating: "\\\"", count: 100_000) + "\"}]}]}]}",
            "{\"unknown\":" + String(repeating: "9", count: 1_000_000) + "}",
            "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":1e999999999999999999999}]}]}]}",
            "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"startTimeUnixNano\":0." + String(repeating: "0", count: 100_000) + "1}]}]}]}",
            "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"doubleValue\":1." + String(repeating: "7", count: 1_000_000) + "e-5}}]}]}]}",
            "{\"resourceLogs\":[{\"scopeLogs\":[{\"logRecords\":[{\"body\":{\"doubleValue\":\"" + String(repeating: "3", count: 1_000_000) + "\"}}]}]}]}",
        ]
        for input in inputs { Self.exercise(Array(input.utf8)) }
    }
}
