import LoupeModel
import LoupeWire

/// Measures the OTLP protobuf decoder: one fixed export request per signal, encoded once, then decoded
/// `iterations` times on the calling thread.
///
/// Single-threaded on purpose: the figure is the decoder's cost per byte and per item, which is what the ingest
/// path pays per request; server throughput then scales it by cores. Each iteration is timed on its own so the
/// median (typical) and best (least disturbed by the rest of the machine) can both be reported.
public struct DecodeBenchmark: Sendable {
    /// Spans in the trace request; the log and metric requests carry as many log records and data points.
    public var spanCount: Int
    /// Attributes per span (and per log record and data point).
    public var attributesPerSpan: Int
    /// Timed decodes per signal.
    public var iterations: Int

    public init(spanCount: Int = 5000, attributesPerSpan: Int = 10, iterations: Int = 200) {
        self.spanCount = max(1, spanCount)
        self.attributesPerSpan = max(0, attributesPerSpan)
        self.iterations = max(1, iterations)
    }

    /// Untimed decodes first, so caches, the allocator and branch predictors reach a steady state.
    public var warmUpIterations: Int { max(3, iterations / 10) }

    public func run() -> DecodeBenchmarkResult {
        // The trace request is the project's benchmark shape, unmodified, so figures compare across changes.
        let traces = OTLPProtobuf.encodeTraces(
            OTLPSampleData.makeBenchmarkTraces(spanCount: spanCount, attributesPerSpan: attributesPerSpan))
        let logs = OTLPProtobuf.encodeLogs(
            SampleRequests.logs(
                recordCount: spanCount, attributesPerRecord: attributesPerSpan, variant: 0, endUnixNano: SampleRequests.fixedEndUnixNano))
        let metrics = OTLPProtobuf.encodeMetrics(
            SampleRequests.metrics(
                dataPointCount: spanCount, attributesPerPoint: attributesPerSpan, variant: 0, endUnixNano: SampleRequests.fixedEndUnixNano))

        return DecodeBenchmarkResult(
            traces: measure(.traces, request: traces) { (bytes) throws(WireError) in try OTLPProtobuf.decodeTraces(bytes).itemCount },
            logs: measure(.logs, request: logs) { (bytes) throws(WireError) in try OTLPProtobuf.decodeLogs(bytes).itemCount },
            metrics: measure(.metrics, request: metrics) { (bytes) throws(WireError) in try OTLPProtobuf.decodeMetrics(bytes).itemCount },
            itemCount: spanCount, attributesPerItem: attributesPerSpan, iterations: iterations, warmUpIterations: warmUpIterations
        )
    }

    /// Decodes `request` repeatedly; `decode` returns the number of items decoded, which is checked against the
    /// request's size so a decoder that silently drops items cannot post a good figure.
    private func measure(
        _ signal: Signal, request: [UInt8], decode: ([UInt8]) throws(WireError) -> Int
    ) -> SignalDecodeMeasurement {
        var measurement = SignalDecodeMeasurement(
            signal: signal, itemCount: 0, attributesPerItem: attributesPerSpan, requestBytes: request.count, iterations: 0)
        do {
            let decodedItems = try decode(request)
            measurement.itemCount = decodedItems
            guard decodedItems == spanCount else {
                measurement.failure = "decoded \(decodedItems) \(signal.itemName) but the request carries \(spanCount)"
                return measurement
            }
            for _ in 0..<warmUpIterations { _ = try decode(request) }

            let clock = ContinuousClock()
            var durations: [Duration] = []
            durations.reserveCapacity(iterations)
            var checksum = 0
            for _ in 0..<iterations {
                let start = clock.now
                // The item count feeds `checksum`, which is checked below, so the decode cannot be optimised away.
                checksum &+= try decode(request)
                durations.append(start.duration(to: clock.now))
            }
            guard checksum == decodedItems &* iterations else {
                measurement.failure = "decodes returned different item counts"
                return measurement
            }
            measurement.record(durations)
        } catch {
            measurement.failure = "decode failed: \(error)"
        }
        return measurement
    }
}

/// The decode figures of one signal.
public struct SignalDecodeMeasurement: Sendable, Hashable {
    public var signal: Signal
    /// Spans, log records or data points in the request.
    public var itemCount: Int
    public var attributesPerItem: Int
    /// Size of the encoded (uncompressed) export request.
    public var requestBytes: Int
    /// Timed decodes.
    public var iterations: Int
    public var medianDuration: Duration = .zero
    public var bestDuration: Duration = .zero
    /// Items per second of the median and of the fastest iteration.
    public var itemsPerSecondMedian: Double = 0
    public var itemsPerSecondBest: Double = 0
    /// Request bytes per second (decimal megabytes) of the median and of the fastest iteration.
    public var megabytesPerSecondMedian: Double = 0
    public var megabytesPerSecondBest: Double = 0
    /// Why there are no figures, if the request could not be decoded correctly.
    public var failure: String?

    mutating func record(_ durations: [Duration]) {
        iterations = durations.count
        let sorted = durations.sorted()
        guard let best = sorted.first else { return }
        // The median of per-iteration rates is the rate of the median duration (rate falls as duration rises);
        // for an even count take the mean of the two middle rates, as a median of rates would.
        let middle = sorted.count / 2
        let medianSeconds =
            sorted.count % 2 == 1
            ? sorted[middle].inSeconds
            : 2 / (1 / max(sorted[middle - 1].inSeconds, 1e-12) + 1 / max(sorted[middle].inSeconds, 1e-12))
        medianDuration = .seconds(medianSeconds)
        bestDuration = best
        let bestSeconds = max(best.inSeconds, 1e-12)
        itemsPerSecondMedian = Double(itemCount) / medianSeconds
        itemsPerSecondBest = Double(itemCount) / bestSeconds
        megabytesPerSecondMedian = Double(requestBytes) / medianSeconds / 1e6
        megabytesPerSecondBest = Double(requestBytes) / bestSeconds / 1e6
    }
}

public struct DecodeBenchmarkResult: Sendable, Hashable {
    public var traces: SignalDecodeMeasurement
    public var logs: SignalDecodeMeasurement
    public var metrics: SignalDecodeMeasurement
    /// Items per request, attributes per item, timed and untimed decodes per signal.
    public var itemCount: Int
    public var attributesPerItem: Int
    public var iterations: Int
    public var warmUpIterations: Int

    public var measurements: [SignalDecodeMeasurement] { [traces, logs, metrics] }

    // The trace figures, the headline numbers of the benchmark.
    public var requestBytes: Int { traces.requestBytes }
    public var spansPerSecondMedian: Double { traces.itemsPerSecondMedian }
    public var spansPerSecondBest: Double { traces.itemsPerSecondBest }
    public var megabytesPerSecondMedian: Double { traces.megabytesPerSecondMedian }
    public var megabytesPerSecondBest: Double { traces.megabytesPerSecondBest }

    /// A table of all three signals, e.g.
    ///
    ///     OTLP protobuf decode, single-threaded: 5,000 items with 10 attributes each, 200 timed decodes per signal (20 warm-up)
    ///     signal   request      median time   items/s (median)   items/s (best)   MB/s (median)   MB/s (best)
    ///     traces   1.62 MiB     4.10ms        1,219,512 spans    1,280,000 spans  414.9           435.0
    public var report: String {
        var lines = [
            "OTLP protobuf decode, single-threaded: \(BenchFormat.grouped(itemCount)) items per request "
                + "with \(attributesPerItem) attributes each, \(iterations) timed decodes per signal (\(warmUpIterations) warm-up)"
        ]
        #if DEBUG
        lines.append("note: this is a debug build; build with -c release for meaningful figures")
        #endif
        var table: [[String]] = [["signal", "request", "median time", "items/s median", "items/s best", "MB/s median", "MB/s best"]]
        var failures: [String] = []
        for measurement in measurements {
            if let failure = measurement.failure {
                table.append([measurement.signal.description, BenchFormat.bytes(measurement.requestBytes), "-", "-", "-", "-", "-"])
                failures.append("\(measurement.signal): \(failure)")
                continue
            }
            table.append([
                measurement.signal.description,
                BenchFormat.bytes(measurement.requestBytes),
                measurement.medianDuration.shortText,
                BenchFormat.rate(measurement.itemsPerSecondMedian) + " " + measurement.signal.itemName,
                BenchFormat.rate(measurement.itemsPerSecondBest),
                BenchFormat.fixed(measurement.megabytesPerSecondMedian, decimals: 1),
                BenchFormat.fixed(measurement.megabytesPerSecondBest, decimals: 1),
            ])
        }
        lines.append(contentsOf: TextTable.render(table))
        lines.append(contentsOf: failures.map { "FAILED \($0)" })
        return lines.joined(separator: "\n")
    }
}

/// Left-aligned columns separated by two spaces.
enum TextTable {
    static func render(_ rows: [[String]]) -> [String] {
        let columnCount = rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columnCount)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                line += cell
                if index < row.count - 1 { line += String(repeating: " ", count: widths[index] - cell.count + 2) }
            }
            return line
        }
    }
}
