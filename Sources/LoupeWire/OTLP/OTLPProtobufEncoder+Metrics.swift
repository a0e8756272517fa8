import LoupeModel

// Encoding of metrics.proto messages (fields prepended from the highest number down; see OTLPProtobufEncoder).

extension OTLPProtobufEncoding {
    static func prependResourceMetrics(_ resourceMetrics: ResourceMetrics, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(3, resourceMetrics.schemaURL, into: &writer)
        for scopeMetrics in resourceMetrics.scopeMetrics.reversed() { prependScopeMetrics(scopeMetrics, field: 2, into: &writer) }
        prependResource(1, resourceMetrics.resource, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependScopeMetrics(_ scopeMetrics: ScopeMetrics, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependString(3, scopeMetrics.schemaURL, into: &writer)
        for metric in scopeMetrics.metrics.reversed() { prependMetric(metric, field: 2, into: &writer) }
        prependScope(1, scopeMetrics.scope, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependMetric(_ metric: Metric, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependKeyValues(12, metric.metadata, into: &writer)
        switch metric.data {
        case .none:
            break
        case .gauge(let gauge):
            let dataMark = writer.count
            prependNumberDataPoints(1, gauge.dataPoints, into: &writer)
            writer.prependLengthAndTag(field: 5, since: dataMark)
        case .sum(let sum):
            let dataMark = writer.count
            if sum.isMonotonic { writer.prependBoolField(3, true) }
            prependEnum(2, sum.aggregationTemporality.rawValue, into: &writer)
            prependNumberDataPoints(1, sum.dataPoints, into: &writer)
            writer.prependLengthAndTag(field: 7, since: dataMark)
        case .histogram(let histogram):
            let dataMark = writer.count
            prependEnum(2, histogram.aggregationTemporality.rawValue, into: &writer)
            for point in histogram.dataPoints.reversed() { prependHistogramDataPoint(point, field: 1, into: &writer) }
            writer.prependLengthAndTag(field: 9, since: dataMark)
        case .exponentialHistogram(let histogram):
            let dataMark = writer.count
            prependEnum(2, histogram.aggregationTemporality.rawValue, into: &writer)
            for point in histogram.dataPoints.reversed() { prependExponentialHistogramDataPoint(point, field: 1, into: &writer) }
            writer.prependLengthAndTag(field: 10, since: dataMark)
        case .summary(let summary):
            let dataMark = writer.count
            for point in summary.dataPoints.reversed() { prependSummaryDataPoint(point, field: 1, into: &writer) }
            writer.prependLengthAndTag(field: 11, since: dataMark)
        }
        prependString(3, metric.unit, into: &writer)
        prependString(2, metric.description, into: &writer)
        prependString(1, metric.name, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependNumberDataPoints(_ field: UInt32, _ points: [NumberDataPoint], into writer: inout ProtobufWriter) {
        points.withUnsafeBufferPointer { points in
            var index = points.count
            while index > 0 {
                index &-= 1
                prependNumberDataPoint(points[index], field: field, into: &writer)
            }
        }
    }

    static func prependNumberDataPoint(_ point: NumberDataPoint, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependUInt32(8, point.flags.rawValue, into: &writer)
        prependKeyValues(7, point.attributes, into: &writer)
        if case .int(let value) = point.value { writer.prependFixed64Field(6, UInt64(bitPattern: value)) }
        for exemplar in point.exemplars.reversed() { prependExemplar(exemplar, field: 5, into: &writer) }
        if case .double(let value) = point.value { writer.prependDoubleField(4, value) }
        prependFixed64(3, point.timeUnixNano, into: &writer)
        prependFixed64(2, point.startTimeUnixNano, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependHistogramDataPoint(_ point: HistogramDataPoint, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependOptionalDouble(12, point.max, into: &writer)
        prependOptionalDouble(11, point.min, into: &writer)
        prependUInt32(10, point.flags.rawValue, into: &writer)
        prependKeyValues(9, point.attributes, into: &writer)
        for exemplar in point.exemplars.reversed() { prependExemplar(exemplar, field: 8, into: &writer) }
        writer.prependPackedDoubleField(7, point.explicitBounds)
        writer.prependPackedFixed64Field(6, point.bucketCounts)
        prependOptionalDouble(5, point.sum, into: &writer)
        prependFixed64(4, point.count, into: &writer)
        prependFixed64(3, point.timeUnixNano, into: &writer)
        prependFixed64(2, point.startTimeUnixNano, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependExponentialHistogramDataPoint(
        _ point: ExponentialHistogramDataPoint, field: UInt32, into writer: inout ProtobufWriter
    ) {
        let mark = writer.count
        prependDouble(14, point.zeroThreshold, into: &writer)
        prependOptionalDouble(13, point.max, into: &writer)
        prependOptionalDouble(12, point.min, into: &writer)
        for exemplar in point.exemplars.reversed() { prependExemplar(exemplar, field: 11, into: &writer) }
        prependUInt32(10, point.flags.rawValue, into: &writer)
        prependBuckets(9, point.negative, into: &writer)
        prependBuckets(8, point.positive, into: &writer)
        prependFixed64(7, point.zeroCount, into: &writer)
        if point.scale != 0 { writer.prependSInt32Field(6, point.scale) }
        prependOptionalDouble(5, point.sum, into: &writer)
        prependFixed64(4, point.count, into: &writer)
        prependFixed64(3, point.timeUnixNano, into: &writer)
        prependFixed64(2, point.startTimeUnixNano, into: &writer)
        prependKeyValues(1, point.attributes, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    /// Buckets; left out when empty with offset 0 (decoding gives the same default back).
    static func prependBuckets(_ field: UInt32, _ buckets: ExponentialHistogramDataPoint.Buckets, into writer: inout ProtobufWriter) {
        guard buckets.offset != 0 || !buckets.bucketCounts.isEmpty else { return }
        let mark = writer.count
        writer.prependPackedVarintField(2, buckets.bucketCounts)
        if buckets.offset != 0 { writer.prependSInt32Field(1, buckets.offset) }
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependSummaryDataPoint(_ point: SummaryDataPoint, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependUInt32(8, point.flags.rawValue, into: &writer)
        prependKeyValues(7, point.attributes, into: &writer)
        for quantile in point.quantileValues.reversed() {
            let quantileMark = writer.count
            prependDouble(2, quantile.value, into: &writer)
            prependDouble(1, quantile.quantile, into: &writer)
            writer.prependLengthAndTag(field: 6, since: quantileMark)
        }
        prependDouble(5, point.sum, into: &writer)
        prependFixed64(4, point.count, into: &writer)
        prependFixed64(3, point.timeUnixNano, into: &writer)
        prependFixed64(2, point.startTimeUnixNano, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }

    static func prependExemplar(_ exemplar: Exemplar, field: UInt32, into writer: inout ProtobufWriter) {
        let mark = writer.count
        prependKeyValues(7, exemplar.filteredAttributes, into: &writer)
        if case .int(let value) = exemplar.value { writer.prependFixed64Field(6, UInt64(bitPattern: value)) }
        prependTraceID(5, exemplar.traceID, into: &writer)
        prependSpanID(4, exemplar.spanID, into: &writer)
        if case .double(let value) = exemplar.value { writer.prependDoubleField(3, value) }
        prependFixed64(2, exemplar.timeUnixNano, into: &writer)
        writer.prependLengthAndTag(field: field, since: mark)
    }
}
