import LoupeModel

// Decoding of metrics.proto / metrics_service.proto.

extension OTLPProtobufDecoding {
    /// `ExportMetricsServiceRequest` / `MetricsData`: `repeated ResourceMetrics resource_metrics = 1`.
    func decodeMetricsData(_ reader: inout ProtobufReader) throws(WireError) -> MetricsData {
        var data = MetricsData()
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    var nested = try reader.readMessage()
                    var resourceMetrics = ResourceMetrics()
                    try decodeResourceMetrics(&nested, into: &resourceMetrics)
                    data.resourceMetrics.append(consume resourceMetrics)
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "resourceMetrics", index: data.resourceMetrics.count) : error
        }
        return data
    }

    func decodeResourceMetrics(_ reader: inout ProtobufReader, into resourceMetrics: inout ResourceMetrics) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // resource
                    var nested = try reader.readMessage()
                    try decodeResource(&nested, into: &resourceMetrics.resource)
                case 2 << 3 | 2:  // scope_metrics
                    var nested = try reader.readMessage()
                    var scopeMetrics = ScopeMetrics()
                    try decodeScopeMetrics(&nested, into: &scopeMetrics)
                    resourceMetrics.scopeMetrics.append(consume scopeMetrics)
                case 3 << 3 | 2:  // schema_url
                    resourceMetrics.schemaURL = try reader.readString()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "resource")
            case 2: throw error.prefixed(with: "scopeMetrics", index: resourceMetrics.scopeMetrics.count)
            case 3: throw error.prefixed(with: "schemaUrl")
            default: throw error
            }
        }
    }

    func decodeScopeMetrics(_ reader: inout ProtobufReader, into scopeMetrics: inout ScopeMetrics) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:  // scope
                    var nested = try reader.readMessage()
                    try decodeScope(&nested, into: &scopeMetrics.scope)
                case 2 << 3 | 2:  // metrics
                    var nested = try reader.readMessage()
                    if scopeMetrics.metrics.isEmpty { scopeMetrics.metrics.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    var metric = Metric()
                    try decodeMetric(&nested, into: &metric)
                    scopeMetrics.metrics.append(consume metric)
                case 3 << 3 | 2:  // schema_url
                    scopeMetrics.schemaURL = try reader.readString()
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "scope")
            case 2: throw error.prefixed(with: "metrics", index: scopeMetrics.metrics.count)
            case 3: throw error.prefixed(with: "schemaUrl")
            default: throw error
            }
        }
    }

    /// `Metric`. The `data` oneof: the last kind on the wire wins; the same kind seen twice merges.
    func decodeMetric(_ reader: inout ProtobufReader, into metric: inout Metric) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: metric.name = try readValueString(&reader)
                case 2 << 3 | 2: metric.description = try readValueString(&reader)
                case 3 << 3 | 2: metric.unit = try readValueString(&reader)
                case 5 << 3 | 2:
                    var nested = try reader.readMessage()
                    var gauge = Gauge()
                    if case .gauge(let existing) = metric.data { gauge = existing }
                    metric.data = .none
                    try decodeGauge(&nested, into: &gauge)
                    metric.data = .gauge(gauge)
                case 7 << 3 | 2:
                    var nested = try reader.readMessage()
                    var sum = Sum()
                    if case .sum(let existing) = metric.data { sum = existing }
                    metric.data = .none
                    try decodeSum(&nested, into: &sum)
                    metric.data = .sum(sum)
                case 9 << 3 | 2:
                    var nested = try reader.readMessage()
                    var histogram = Histogram()
                    if case .histogram(let existing) = metric.data { histogram = existing }
                    metric.data = .none
                    try decodeHistogram(&nested, into: &histogram)
                    metric.data = .histogram(histogram)
                case 10 << 3 | 2:
                    var nested = try reader.readMessage()
                    var histogram = ExponentialHistogram()
                    if case .exponentialHistogram(let existing) = metric.data { histogram = existing }
                    metric.data = .none
                    try decodeExponentialHistogram(&nested, into: &histogram)
                    metric.data = .exponentialHistogram(histogram)
                case 11 << 3 | 2:
                    var nested = try reader.readMessage()
                    var summary = Summary()
                    if case .summary(let existing) = metric.data { summary = existing }
                    metric.data = .none
                    try decodeSummary(&nested, into: &summary)
                    metric.data = .summary(summary)
                case 12 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &metric.metadata)
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "name")
            case 2: throw error.prefixed(with: "description")
            case 3: throw error.prefixed(with: "unit")
            case 5: throw error.prefixed(with: "gauge")
            case 7: throw error.prefixed(with: "sum")
            case 9: throw error.prefixed(with: "histogram")
            case 10: throw error.prefixed(with: "exponentialHistogram")
            case 11: throw error.prefixed(with: "summary")
            case 12: throw error.prefixed(with: "metadata", index: metric.metadata.count)
            default: throw error
            }
        }
    }

    // MARK: - Data kinds

    func decodeGauge(_ reader: inout ProtobufReader, into gauge: inout Gauge) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    try appendNumberDataPoint(&reader, tag: tag, to: &gauge.dataPoints)
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "dataPoints", index: gauge.dataPoints.count) : error
        }
    }

    func decodeSum(_ reader: inout ProtobufReader, into sum: inout Sum) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: try appendNumberDataPoint(&reader, tag: tag, to: &sum.dataPoints)
                case 2 << 3 | 0: sum.aggregationTemporality = AggregationTemporality(rawValue: try reader.readVarintInt32())
                case 3 << 3 | 0: sum.isMonotonic = try reader.readBool()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "dataPoints", index: sum.dataPoints.count)
            case 2: throw error.prefixed(with: "aggregationTemporality")
            case 3: throw error.prefixed(with: "isMonotonic")
            default: throw error
            }
        }
    }

    func decodeHistogram(_ reader: inout ProtobufReader, into histogram: inout Histogram) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:
                    var nested = try reader.readMessage()
                    if histogram.dataPoints.isEmpty { histogram.dataPoints.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    var point = HistogramDataPoint()
                    try decodeHistogramDataPoint(&nested, into: &point)
                    histogram.dataPoints.append(consume point)
                case 2 << 3 | 0:
                    histogram.aggregationTemporality = AggregationTemporality(rawValue: try reader.readVarintInt32())
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "dataPoints", index: histogram.dataPoints.count)
            case 2: throw error.prefixed(with: "aggregationTemporality")
            default: throw error
            }
        }
    }

    func decodeExponentialHistogram(_ reader: inout ProtobufReader, into histogram: inout ExponentialHistogram) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2:
                    var nested = try reader.readMessage()
                    if histogram.dataPoints.isEmpty { histogram.dataPoints.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    var point = ExponentialHistogramDataPoint()
                    try decodeExponentialHistogramDataPoint(&nested, into: &point)
                    histogram.dataPoints.append(consume point)
                case 2 << 3 | 0:
                    histogram.aggregationTemporality = AggregationTemporality(rawValue: try reader.readVarintInt32())
                default:
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "dataPoints", index: histogram.dataPoints.count)
            case 2: throw error.prefixed(with: "aggregationTemporality")
            default: throw error
            }
        }
    }

    func decodeSummary(_ reader: inout ProtobufReader, into summary: inout Summary) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                if tag == 1 << 3 | 2 {
                    var nested = try reader.readMessage()
                    if summary.dataPoints.isEmpty { summary.dataPoints.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
                    var point = SummaryDataPoint()
                    try decodeSummaryDataPoint(&nested, into: &point)
                    summary.dataPoints.append(consume point)
                } else {
                    try reader.skipField(tag: tag)
                }
            }
        } catch {
            throw tag >> 3 == 1 ? error.prefixed(with: "dataPoints", index: summary.dataPoints.count) : error
        }
    }

    // MARK: - Data points

    @inline(__always)
    func appendNumberDataPoint(_ reader: inout ProtobufReader, tag: UInt32, to points: inout [NumberDataPoint]) throws(WireError) {
        var nested = try reader.readMessage()
        if points.isEmpty { points.reserveCapacity(reader.estimatedRepeatCount(firstElement: nested)) }
        var point = NumberDataPoint()
        try decodeNumberDataPoint(&nested, into: &point)
        points.append(consume point)
    }

    func decodeNumberDataPoint(_ reader: inout ProtobufReader, into point: inout NumberDataPoint) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 2 << 3 | 1: point.startTimeUnixNano = try reader.readFixed64()
                case 3 << 3 | 1: point.timeUnixNano = try reader.readFixed64()
                case 4 << 3 | 1: point.value = .double(try reader.readDouble())
                case 5 << 3 | 2: try appendExemplar(&reader, tag: tag, to: &point.exemplars)
                case 6 << 3 | 1: point.value = .int(try reader.readSFixed64())
                case 7 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &point.attributes)
                case 8 << 3 | 0: point.flags = DataPointFlags(rawValue: try reader.readVarintUInt32())
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 2: throw error.prefixed(with: "startTimeUnixNano")
            case 3: throw error.prefixed(with: "timeUnixNano")
            case 4: throw error.prefixed(with: "asDouble")
            case 5: throw error.prefixed(with: "exemplars", index: point.exemplars.count)
            case 6: throw error.prefixed(with: "asInt")
            case 7: throw error.prefixed(with: "attributes", index: point.attributes.count)
            case 8: throw error.prefixed(with: "flags")
            default: throw error
            }
        }
    }

    func decodeHistogramDataPoint(_ reader: inout ProtobufReader, into point: inout HistogramDataPoint) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 2 << 3 | 1: point.startTimeUnixNano = try reader.readFixed64()
                case 3 << 3 | 1: point.timeUnixNano = try reader.readFixed64()
                case 4 << 3 | 1: point.count = try reader.readFixed64()
                case 5 << 3 | 1: point.sum = try reader.readDouble()
                case 6 << 3 | 2: try reader.readPackedFixed64(into: &point.bucketCounts)
                case 6 << 3 | 1: point.bucketCounts.append(try reader.readFixed64())
                case 7 << 3 | 2: try reader.readPackedDouble(into: &point.explicitBounds)
                case 7 << 3 | 1: point.explicitBounds.append(try reader.readDouble())
                case 8 << 3 | 2: try appendExemplar(&reader, tag: tag, to: &point.exemplars)
                case 9 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &point.attributes)
                case 10 << 3 | 0: point.flags = DataPointFlags(rawValue: try reader.readVarintUInt32())
                case 11 << 3 | 1: point.min = try reader.readDouble()
                case 12 << 3 | 1: point.max = try reader.readDouble()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 2: throw error.prefixed(with: "startTimeUnixNano")
            case 3: throw error.prefixed(with: "timeUnixNano")
            case 4: throw error.prefixed(with: "count")
            case 5: throw error.prefixed(with: "sum")
            case 6: throw error.prefixed(with: "bucketCounts")
            case 7: throw error.prefixed(with: "explicitBounds")
            case 8: throw error.prefixed(with: "exemplars", index: point.exemplars.count)
            case 9: throw error.prefixed(with: "attributes", index: point.attributes.count)
            case 10: throw error.prefixed(with: "flags")
            case 11: throw error.prefixed(with: "min")
            case 12: throw error.prefixed(with: "max")
            default: throw error
            }
        }
    }

    func decodeExponentialHistogramDataPoint(
        _ reader: inout ProtobufReader, into point: inout ExponentialHistogramDataPoint
    ) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &point.attributes)
                case 2 << 3 | 1: point.startTimeUnixNano = try reader.readFixed64()
                case 3 << 3 | 1: point.timeUnixNano = try reader.readFixed64()
                case 4 << 3 | 1: point.count = try reader.readFixed64()
                case 5 << 3 | 1: point.sum = try reader.readDouble()
                case 6 << 3 | 0: point.scale = try reader.readSInt32()
                case 7 << 3 | 1: point.zeroCount = try reader.readFixed64()
                case 8 << 3 | 2:
                    var nested = try reader.readMessage()
                    try decodeBuckets(&nested, into: &point.positive)
                case 9 << 3 | 2:
                    var nested = try reader.readMessage()
                    try decodeBuckets(&nested, into: &point.negative)
                case 10 << 3 | 0: point.flags = DataPointFlags(rawValue: try reader.readVarintUInt32())
                case 11 << 3 | 2: try appendExemplar(&reader, tag: tag, to: &point.exemplars)
                case 12 << 3 | 1: point.min = try reader.readDouble()
                case 13 << 3 | 1: point.max = try reader.readDouble()
                case 14 << 3 | 1: point.zeroThreshold = try reader.readDouble()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "attributes", index: point.attributes.count)
            case 2: throw error.prefixed(with: "startTimeUnixNano")
            case 3: throw error.prefixed(with: "timeUnixNano")
            case 4: throw error.prefixed(with: "count")
            case 5: throw error.prefixed(with: "sum")
            case 6: throw error.prefixed(with: "scale")
            case 7: throw error.prefixed(with: "zeroCount")
            case 8: throw error.prefixed(with: "positive")
            case 9: throw error.prefixed(with: "negative")
            case 10: throw error.prefixed(with: "flags")
            case 11: throw error.prefixed(with: "exemplars", index: point.exemplars.count)
            case 12: throw error.prefixed(with: "min")
            case 13: throw error.prefixed(with: "max")
            case 14: throw error.prefixed(with: "zeroThreshold")
            default: throw error
            }
        }
    }

    func decodeBuckets(_ reader: inout ProtobufReader, into buckets: inout ExponentialHistogramDataPoint.Buckets) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 0: buckets.offset = try reader.readSInt32()
                case 2 << 3 | 2: try reader.readPackedVarint(into: &buckets.bucketCounts)
                case 2 << 3 | 0: buckets.bucketCounts.append(try reader.readVarint())
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "offset")
            case 2: throw error.prefixed(with: "bucketCounts")
            default: throw error
            }
        }
    }

    func decodeSummaryDataPoint(_ reader: inout ProtobufReader, into point: inout SummaryDataPoint) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 2 << 3 | 1: point.startTimeUnixNano = try reader.readFixed64()
                case 3 << 3 | 1: point.timeUnixNano = try reader.readFixed64()
                case 4 << 3 | 1: point.count = try reader.readFixed64()
                case 5 << 3 | 1: point.sum = try reader.readDouble()
                case 6 << 3 | 2:
                    var nested = try reader.readMessage()
                    point.quantileValues.append(try decodeValueAtQuantile(&nested))
                case 7 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &point.attributes)
                case 8 << 3 | 0: point.flags = DataPointFlags(rawValue: try reader.readVarintUInt32())
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 2: throw error.prefixed(with: "startTimeUnixNano")
            case 3: throw error.prefixed(with: "timeUnixNano")
            case 4: throw error.prefixed(with: "count")
            case 5: throw error.prefixed(with: "sum")
            case 6: throw error.prefixed(with: "quantileValues", index: point.quantileValues.count)
            case 7: throw error.prefixed(with: "attributes", index: point.attributes.count)
            case 8: throw error.prefixed(with: "flags")
            default: throw error
            }
        }
    }

    func decodeValueAtQuantile(_ reader: inout ProtobufReader) throws(WireError) -> SummaryDataPoint.ValueAtQuantile {
        var value = SummaryDataPoint.ValueAtQuantile(quantile: 0, value: 0)
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 1 << 3 | 1: value.quantile = try reader.readDouble()
                case 2 << 3 | 1: value.value = try reader.readDouble()
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 1: throw error.prefixed(with: "quantile")
            case 2: throw error.prefixed(with: "value")
            default: throw error
            }
        }
        return value
    }

    // MARK: - Exemplars

    @inline(__always)
    func appendExemplar(_ reader: inout ProtobufReader, tag: UInt32, to exemplars: inout [Exemplar]) throws(WireError) {
        var nested = try reader.readMessage()
        var exemplar = Exemplar()
        try decodeExemplar(&nested, into: &exemplar)
        exemplars.append(consume exemplar)
    }

    func decodeExemplar(_ reader: inout ProtobufReader, into exemplar: inout Exemplar) throws(WireError) {
        var tag: UInt32 = 0
        do {
            while !reader.isAtEnd {
                tag = 0
                tag = try reader.readTag()
                switch tag {
                case 2 << 3 | 1: exemplar.timeUnixNano = try reader.readFixed64()
                case 3 << 3 | 1: exemplar.value = .double(try reader.readDouble())
                case 4 << 3 | 2: exemplar.spanID = try readSpanID(&reader, field: "span_id")
                case 5 << 3 | 2: exemplar.traceID = try readTraceID(&reader, field: "trace_id")
                case 6 << 3 | 1: exemplar.value = .int(try reader.readSFixed64())
                case 7 << 3 | 2: try appendKeyValue(&reader, tag: tag, to: &exemplar.filteredAttributes)
                default: try reader.skipField(tag: tag)
                }
            }
        } catch {
            switch tag >> 3 {
            case 2: throw error.prefixed(with: "timeUnixNano")
            case 3: throw error.prefixed(with: "asDouble")
            case 4: throw error.prefixed(with: "spanId")
            case 5: throw error.prefixed(with: "traceId")
            case 6: throw error.prefixed(with: "asInt")
            case 7: throw error.prefixed(with: "filteredAttributes", index: exemplar.filteredAttributes.count)
            default: throw error
            }
        }
    }
}
