import LoupeModel

/// RED metrics per service and operation, counted from spans as they arrive, named as Tempo's
/// metrics generator names them so dashboards built for it work: `traces_spanmetrics_calls_total`
/// and the histogram `traces_spanmetrics_latency` (seconds), labelled `service`, `span_name`,
/// `span_kind` (`SPAN_KIND_SERVER`, ...) and `status_code` (`STATUS_CODE_ERROR`, ...).
public struct SpanMetrics: Sendable {
    /// Tempo's default latency buckets (seconds): 2 ms doubling to 16.384 s.
    public static let latencyBuckets: [Double] = (1...14).map { Double(1 << $0) / 1_000 }

    struct Key: Hashable {
        var service: String
        var spanName: String
        var kind: SpanKind
        var status: StatusCode
    }

    struct Stats {
        var calls: UInt64 = 0
        /// Spans per bucket (not cumulative); the last counts those above every bound.
        var buckets = [UInt64](repeating: 0, count: SpanMetrics.latencyBuckets.count + 1)
        var sum: Double = 0

        mutating func record(bucket: Int, seconds: Double) {
            calls += 1
            buckets[bucket] += 1
            sum += seconds
        }

        mutating func add(_ other: Stats) {
            calls += other.calls
            for index in buckets.indices { buckets[index] += other.buckets[index] }
            sum += other.sum
        }
    }

    var stats: [Key: Stats] = [:]
    /// Label sets kept per tenant; spans of further ones are counted in `droppedSpans`.
    public var maximumSeries: Int
    public private(set) var droppedSpans: UInt64 = 0

    public init(maximumSeries: Int = 10_000) { self.maximumSeries = maximumSeries }

    /// Counts the spans of one batch. They are grouped by a key of the batch's indices first, so
    /// the service and span name strings are hashed once per distinct key, not once per span.
    public mutating func observe(_ batch: TraceBatchDigest) {
        struct BatchKey: Hashable {
            var resource: Int32
            var name: Int32
            var kind: Int32
            var status: Int32
        }
        var grouped: [BatchKey: Stats] = [:]
        // By pointer: iterating by value copies (retains) each digest's strings.
        batch.spans.withUnsafeBufferPointer { spans in
            for span in spans.indices {
                let seconds = Double(spans[span].durationNanos) / 1e9
                let bucket = Self.latencyBuckets.firstIndex { seconds <= $0 } ?? Self.latencyBuckets.count
                let key = BatchKey(
                    resource: spans[span].resource, name: spans[span].name, kind: spans[span].kind.rawValue, status: spans[span].statusCode.rawValue)
                if let index = grouped.index(forKey: key) {
                    grouped.values[index].record(bucket: bucket, seconds: seconds)
                } else {
                    var new = Stats()
                    new.record(bucket: bucket, seconds: seconds)
                    grouped[key] = new
                }
            }
        }
        for (key, counted) in grouped {
            let key = Key(
                service: batch.serviceNames[Int(key.resource)], spanName: batch.names[Int(key.name)], kind: SpanKind(rawValue: key.kind),
                status: StatusCode(rawValue: key.status))
            if let index = stats.index(forKey: key) {
                stats.values[index].add(counted)
            } else if stats.count < maximumSeries {
                stats[key] = counted
            } else {
                droppedSpans += counted.calls
            }
        }
    }

    /// Every series at `timestamp` (ms): cumulative since the generator started.
    public func series(timestamp: Int64) -> [TimeSeries] {
        var out: [TimeSeries] = []
        out.reserveCapacity(stats.count * (Self.latencyBuckets.count + 4))
        for (key, stats) in stats {
            let labels: [Label] = [
                Label("service", key.service), Label("span_kind", Self.kindLabel(key.kind)),
                Label("span_name", key.spanName), Label("status_code", Self.statusLabel(key.status)),
            ]
            out.append(TraceMetricSeries.sample("traces_spanmetrics_calls_total", labels, Double(stats.calls), timestamp))
            out += TraceMetricSeries.histogram(
                "traces_spanmetrics_latency", labels, bounds: Self.latencyBuckets, buckets: stats.buckets, sum: stats.sum, timestamp)
        }
        return out
    }

    static func kindLabel(_ kind: SpanKind) -> String {
        switch kind {
        case .internal: "SPAN_KIND_INTERNAL"
        case .server: "SPAN_KIND_SERVER"
        case .client: "SPAN_KIND_CLIENT"
        case .producer: "SPAN_KIND_PRODUCER"
        case .consumer: "SPAN_KIND_CONSUMER"
        default: "SPAN_KIND_UNSPECIFIED"
        }
    }

    static func statusLabel(_ status: StatusCode) -> String {
        switch status {
        case .ok: "STATUS_CODE_OK"
        case .error: "STATUS_CODE_ERROR"
        default: "STATUS_CODE_UNSET"
        }
    }
}

/// Building Prometheus series for the trace metrics.
enum TraceMetricSeries {
    static func sample(_ name: String, _ labels: [Label], _ value: Double, _ timestamp: Int64) -> TimeSeries {
        TimeSeries(labels: Labels([Label("__name__", name)] + labels), onlySample: FloatSample(timestamp: timestamp, value: value))
    }

    /// `_bucket` (cumulative, with `le`), `_sum` and `_count`.
    static func histogram(
        _ name: String, _ labels: [Label], bounds: [Double], buckets: [UInt64], sum: Double, _ timestamp: Int64
    ) -> [TimeSeries] {
        var out: [TimeSeries] = []
        var cumulative: UInt64 = 0
        for (index, count) in buckets.enumerated() {
            cumulative += count
            // Swift's shortest form ("0.002", "12.8") is what Prometheus clients write for these bounds.
            let le = index < bounds.count ? "\(bounds[index])" : "+Inf"
            out.append(sample(name + "_bucket", labels + [Label("le", le)], Double(cumulative), timestamp))
        }
        out.append(sample(name + "_sum", labels, sum, timestamp))
        out.append(sample(name + "_count", labels, Double(cumulative), timestamp))
        return out
    }
}
