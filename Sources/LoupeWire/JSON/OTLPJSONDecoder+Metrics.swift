import LoupeModel

extension OTLPJSONDecoder {
    mutating func decodeMetricsRequest() throws(WireError) -> MetricsData {
        var data = MetricsData()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .resourceMetrics:
                    data.resourceMetrics = try decodeArray { (decoder) throws(WireError) in try decoder.decodeResourceMetrics() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return data
    }

    mutating func decodeResourceMetrics() throws(WireError) -> ResourceMetrics {
        var resourceMetrics = ResourceMetrics()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .resource: resourceMetrics.resource = try decodeResource()
                case .scopeMetrics:
                    resourceMetrics.scopeMetrics = try decodeArray { (decoder) throws(WireError) in try decoder.decodeScopeMetrics() }
                case .schemaUrl: resourceMetrics.schemaURL = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return resourceMetrics
    }

    mutating func decodeScopeMetrics() throws(WireError) -> ScopeMetrics {
        var scopeMetrics = ScopeMetrics()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .scope: scopeMetrics.scope = try decodeScope()
                case .metrics: scopeMetrics.metrics = try decodeArray { (decoder) throws(WireError) in try decoder.decodeMetric() }
                case .schemaUrl: scopeMetrics.schemaURL = try readInternedString()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return scopeMetrics
    }

    mutating func decodeMetric() throws(WireError) -> Metric {
        var metric = Metric()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .name: metric.name = try readInternedString()
                case .description: metric.description = try readInternedString()
                case .unit: metric.unit = try readInternedString()
                case .metadata: metric.metadata = try decodeAttributes()
                case .gauge: metric.data = .gauge(try decodeGauge())
                case .sum: metric.data = .sum(try decodeSum())
                case .histogram: metric.data = .histogram(try decodeHistogram())
                case .exponentialHistogram: metric.data = .exponentialHistogram(try decodeExponentialHistogram())
                case .summary: metric.data = .summary(try decodeSummary())
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return metric
    }

    // MARK: - Data kinds

    mutating func decodeGauge() throws(WireError) -> Gauge {
        var gauge = Gauge()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .dataPoints: gauge.dataPoints = try decodeArray { (decoder) throws(WireError) in try decoder.decodeNumberDataPoint() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return gauge
    }

    mutating func decodeSum() throws(WireError) -> Sum {
        var sum = Sum()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .dataPoints: sum.dataPoints = try decodeArray { (decoder) throws(WireError) in try decoder.decodeNumberDataPoint() }
                case .aggregationTemporality:
                    sum.aggregationTemporality = AggregationTemporality(rawValue: try readEnum(OTLPJSONEnumNames.aggregationTemporality))
                case .isMonotonic: sum.isMonotonic = try reader.readBool()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return sum
    }

    mutating func decodeHistogram() throws(WireError) -> Histogram {
        var histogram = Histogram()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .dataPoints:
                    histogram.dataPoints = try decodeArray { (decoder) throws(WireError) in try decoder.decodeHistogramDataPoint() }
                case .aggregationTemporality:
                    histogram.aggregationTemporality = AggregationTemporality(
                        rawValue: try readEnum(OTLPJSONEnumNames.aggregationTemporality))
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return histogram
    }

    mutating func decodeExponentialHistogram() throws(WireError) -> ExponentialHistogram {
        var histogram = ExponentialHistogram()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .dataPoints:
                    histogram.dataPoints = try decodeArray { (decoder) throws(WireError) in
                        try decoder.decodeExponentialHistogramDataPoint()
                    }
                case .aggregationTemporality:
                    histogram.aggregationTemporality = AggregationTemporality(
                        rawValue: try readEnum(OTLPJSONEnumNames.aggregationTemporality))
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return histogram
    }

    mutating func decodeSummary() throws(WireError) -> Summary {
        var summary = Summary()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .dataPoints:
                    summary.dataPoints = try decodeArray { (decoder) throws(WireError) in try decoder.decodeSummaryDataPoint() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return summary
    }

    // MARK: - Data points

    mutating func decodeNumberDataPoint() throws(WireError) -> NumberDataPoint {
        var point = NumberDataPoint()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .attributes: point.attributes = try decodeAttributes()
                case .startTimeUnixNano: point.startTimeUnixNano = try reader.readUInt64()
                case .timeUnixNano: point.timeUnixNano = try reader.readUInt64()
                case .asDouble: point.value = .double(try reader.readDouble())
                case .asInt: point.value = .int(try reader.readInt64())
                case .exemplars: point.exemplars = try decodeArray { (decoder) throws(WireError) in try decoder.decodeExemplar() }
                case .flags: point.flags = DataPointFlags(rawValue: try reader.readUInt32())
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return point
    }

    mutating func decodeHistogramDataPoint() throws(WireError) -> HistogramDataPoint {
        var point = HistogramDataPoint()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .attributes: point.attributes = try decodeAttributes()
                case .startTimeUnixNano: point.startTimeUnixNano = try reader.readUInt64()
                case .timeUnixNano: point.timeUnixNano = try reader.readUInt64()
                case .count: point.count = try reader.readUInt64()
                case .sum: point.sum = try reader.readDouble()
                case .bucketCounts: point.bucketCounts = try decodeScalarArray { (reader) throws(WireError) in try reader.readUInt64() }
                case .explicitBounds: point.explicitBounds = try decodeScalarArray { (reader) throws(WireError) in try reader.readDouble() }
                case .exemplars: point.exemplars = try decodeArray { (decoder) throws(WireError) in try decoder.decodeExemplar() }
                case .flags: point.flags = DataPointFlags(rawValue: try reader.readUInt32())
                case .min: point.min = try reader.readDouble()
                case .max: point.max = try reader.readDouble()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return point
    }

    mutating func decodeExponentialHistogramDataPoint() throws(WireError) -> ExponentialHistogramDataPoint {
        var point = ExponentialHistogramDataPoint()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .attributes: point.attributes = try decodeAttributes()
                case .startTimeUnixNano: point.startTimeUnixNano = try reader.readUInt64()
                case .timeUnixNano: point.timeUnixNano = try reader.readUInt64()
                case .count: point.count = try reader.readUInt64()
                case .sum: point.sum = try reader.readDouble()
                case .scale: point.scale = try reader.readInt32()
                case .zeroCount: point.zeroCount = try reader.readUInt64()
                case .positive: point.positive = try decodeBuckets()
                case .negative: point.negative = try decodeBuckets()
                case .flags: point.flags = DataPointFlags(rawValue: try reader.readUInt32())
                case .exemplars: point.exemplars = try decodeArray { (decoder) throws(WireError) in try decoder.decodeExemplar() }
                case .min: point.min = try reader.readDouble()
                case .max: point.max = try reader.readDouble()
                case .zeroThreshold: point.zeroThreshold = try reader.readDouble()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return point
    }

    mutating func decodeBuckets() throws(WireError) -> ExponentialHistogramDataPoint.Buckets {
        var buckets = ExponentialHistogramDataPoint.Buckets()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .offset: buckets.offset = try reader.readInt32()
                case .bucketCounts: buckets.bucketCounts = try decodeScalarArray { (reader) throws(WireError) in try reader.readUInt64() }
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return buckets
    }

    mutating func decodeSummaryDataPoint() throws(WireError) -> SummaryDataPoint {
        var point = SummaryDataPoint()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .attributes: point.attributes = try decodeAttributes()
                case .startTimeUnixNano: point.startTimeUnixNano = try reader.readUInt64()
                case .timeUnixNano: point.timeUnixNano = try reader.readUInt64()
                case .count: point.count = try reader.readUInt64()
                case .sum: point.sum = try reader.readDouble()
                case .quantileValues:
                    point.quantileValues = try decodeArray { (decoder) throws(WireError) in try decoder.decodeValueAtQuantile() }
                case .flags: point.flags = DataPointFlags(rawValue: try reader.readUInt32())
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return point
    }

    mutating func decodeValueAtQuantile() throws(WireError) -> SummaryDataPoint.ValueAtQuantile {
        var quantile = SummaryDataPoint.ValueAtQuantile(quantile: 0, value: 0)
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .quantile: quantile.quantile = try reader.readDouble()
                case .value: quantile.value = try reader.readDouble()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return quantile
    }

    mutating func decodeExemplar() throws(WireError) -> Exemplar {
        var exemplar = Exemplar()
        var cursor = try reader.beginObject()
        while let field = try nextField(&cursor) {
            do throws(WireError) {
                switch field {
                case .filteredAttributes: exemplar.filteredAttributes = try decodeAttributes()
                case .timeUnixNano: exemplar.timeUnixNano = try reader.readUInt64()
                case .asDouble: exemplar.value = .double(try reader.readDouble())
                case .asInt: exemplar.value = .int(try reader.readInt64())
                case .spanId: exemplar.spanID = try readSpanID()
                case .traceId: exemplar.traceID = try readTraceID()
                default: try reader.skipValue()
                }
            } catch {
                throw error.prependingJSONPath(field)
            }
        }
        return exemplar
    }
}
