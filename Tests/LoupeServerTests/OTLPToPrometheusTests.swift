import LoupeModel
import LoupePipeline
import Testing

@Suite("OTLP metrics to Prometheus series")
struct OTLPToPrometheusTests {
    typealias Converter = OTLPToPrometheus

    static let t1: UInt64 = 1_700_000_000_123_456_789
    static let t1ms: Int64 = 1_700_000_000_123
    static let t2: UInt64 = 1_700_000_015_000_999_999
    static let t2ms: Int64 = 1_700_000_015_000

    static func convert(
        _ metrics: [Metric], resource: [KeyValue] = [], scope: InstrumentationScope = InstrumentationScope(),
        options: Converter.Options = Converter.Options()
    ) -> Converter.Conversion {
        let data = MetricsData(resourceMetrics: [
            ResourceMetrics(resource: Resource(attributes: resource), scopeMetrics: [ScopeMetrics(scope: scope, metrics: metrics)])
        ])
        return Converter(options: options).convert(data)
    }

    static func gauge(_ name: String, unit: String = "", _ points: [NumberDataPoint]) -> Metric {
        Metric(name: name, unit: unit, data: .gauge(Gauge(dataPoints: points)))
    }

    static func counter(_ name: String, unit: String = "", temporality: AggregationTemporality = .cumulative, monotonic: Bool = true, _ points: [NumberDataPoint]) -> Metric {
        Metric(name: name, unit: unit, data: .sum(Sum(dataPoints: points, aggregationTemporality: temporality, isMonotonic: monotonic)))
    }

    static func point(_ value: NumberValue?, at time: UInt64 = t1, _ attributes: [KeyValue] = [], flags: DataPointFlags = [], exemplars: [Exemplar] = []) -> NumberDataPoint {
        NumberDataPoint(attributes: attributes, timeUnixNano: time, value: value, exemplars: exemplars, flags: flags)
    }

    // MARK: - Metric names

    static let nameTable: [(name: String, unit: String, kind: Converter.NameKind, expected: String)] = [
        ("http.server.duration", "ms", .histogram, "http_server_duration_milliseconds"),
        ("system.cpu.time", "s", .monotonicCounter, "system_cpu_time_seconds_total"),
        ("process.memory.usage", "By", .gauge, "process_memory_usage_bytes"),
        ("cpu.utilization", "1", .gauge, "cpu_utilization_ratio"),
        ("requests", "1", .monotonicCounter, "requests_total"),
        ("queue.size", "1", .nonMonotonicCounter, "queue_size"),
        ("queue.ratio", "1", .gauge, "queue_ratio"),
        ("speed", "m/s", .gauge, "speed_meters_per_second"),
        ("throughput", "MiBy/s", .gauge, "throughput_mebibytes_per_second"),
        ("heap", "KiBy", .gauge, "heap_kibibytes"),
        ("packets", "{packets}", .monotonicCounter, "packets_total"),
        ("errors", "{error}/s", .gauge, "errors_per_second"),
        ("rate", "1/s", .gauge, "rate_per_second"),
        ("temperature", "Cel", .gauge, "temperature_celsius"),
        ("load", "%", .gauge, "load_percent"),
        ("custom", "widgets", .gauge, "custom_widgets"),
        ("request.duration.seconds", "s", .histogram, "request_duration_seconds"),
        ("http.requests.total", "", .monotonicCounter, "http_requests_total"),
        ("total.requests", "", .monotonicCounter, "requests_total"),
        ("a..b__c-d", "", .gauge, "a_b_c_d"),
        ("2xx.count", "", .gauge, "_2xx_count"),
        ("namespace:metric.name", "", .summary, "namespace:metric_name"),
        ("latency", "ms", .exponentialHistogram, "latency_milliseconds"),
        ("latency", "ms", .summary, "latency_milliseconds"),
        ("uptime", "s", .nonMonotonicCounter, "uptime_seconds"),
    ]

    @Test("metric names follow the OTLP → Prometheus normalisation", arguments: nameTable)
    func metricNames(_ row: (name: String, unit: String, kind: Converter.NameKind, expected: String)) {
        #expect(Converter.metricName(row.name, unit: row.unit, kind: row.kind, addSuffixes: true) == row.expected)
    }

    @Test("without suffixes names are only escaped")
    func metricNamesWithoutSuffixes() {
        #expect(Converter.metricName("http.server.duration", unit: "ms", kind: .histogram, addSuffixes: false) == "http_server_duration")
        #expect(Converter.metricName("requests", unit: "1", kind: .monotonicCounter, addSuffixes: false) == "requests")
        #expect(Converter.metricName("cpu.utilization", unit: "1", kind: .gauge, addSuffixes: false) == "cpu_utilization")
        #expect(Converter.metricName("a__b..c", unit: "", kind: .gauge, addSuffixes: false) == "a__b_c")
        #expect(Converter.metricName("9lives", unit: "", kind: .gauge, addSuffixes: false) == "_9lives")
    }

    @Test("the brief's examples end to end")
    func namesEndToEnd() {
        let histogram = Metric(name: "http.server.duration", unit: "ms", data: .histogram(Histogram(
            dataPoints: [HistogramDataPoint(timeUnixNano: Self.t1, count: 0)], aggregationTemporality: .cumulative)))
        let conversion = Self.convert([
            histogram,
            Self.counter("system.cpu.time", unit: "s", [Self.point(.double(12.5))]),
            Self.gauge("process.memory.usage", unit: "By", [Self.point(.int(4096))]),
            Self.gauge("cpu.utilization", unit: "1", [Self.point(.double(0.25))]),
        ])
        let names = conversion.series.compactMap(\.labels.metricName)
        #expect(names == [
            "http_server_duration_milliseconds_count", "http_server_duration_milliseconds_bucket",
            "system_cpu_time_seconds_total", "process_memory_usage_bytes", "cpu_utilization_ratio",
        ])
        #expect(conversion.metadata == [
            "http_server_duration_milliseconds": MetricMetadata(type: .histogram, unit: "ms"),
            "system_cpu_time_seconds_total": MetricMetadata(type: .counter, unit: "s"),
            "process_memory_usage_bytes": MetricMetadata(type: .gauge, unit: "By"),
            "cpu_utilization_ratio": MetricMetadata(type: .gauge, unit: "1"),
        ])
        #expect(conversion.skippedPoints.isEmpty)
    }

    @Test("metadata carries type, description and unit; a non-monotonic sum is a gauge")
    func metadata() {
        var metric = Self.counter("queue.size", unit: "{item}", monotonic: false, [Self.point(.int(3))])
        metric.description = "Items waiting."
        let conversion = Self.convert([metric])
        #expect(conversion.metadata == ["queue_size": MetricMetadata(type: .gauge, help: "Items waiting.", unit: "{item}")])
        #expect(conversion.series == [TimeSeries(labels: ["__name__": "queue_size"], samples: [FloatSample(timestamp: Self.t1ms, value: 3)])])
    }

    // MARK: - Labels

    static let labelTable: [(key: String, expected: String?)] = [
        ("http.method", "http_method"),
        ("http_method", "http_method"),
        ("1st.try", "key_1st_try"),
        ("__name__", "_name_"),
        ("__reserved", "_reserved"),
        ("_private", "_private"),
        ("a..b--c", "a_b_c"),
        ("ünï", "_n_"),
        ("...", nil),
        ("", nil),
    ]

    @Test("attribute keys are sanitised into label names", arguments: labelTable)
    func labelNames(_ row: (key: String, expected: String?)) {
        #expect(Converter.labelName(row.key) == row.expected)
    }

    @Test("attribute values are stringified as the collector does")
    func attributeValues() {
        #expect(Converter.attributeValueString(.string("x")) == "x")
        #expect(Converter.attributeValueString(.int(-42)) == "-42")
        #expect(Converter.attributeValueString(.double(1.5)) == "1.5")
        #expect(Converter.attributeValueString(.double(2)) == "2")
        #expect(Converter.attributeValueString(.double(1e-7)) == "1e-7")
        #expect(Converter.attributeValueString(.double(1e21)) == "1e+21")
        #expect(Converter.attributeValueString(.double(123456.789)) == "123456.789")
        #expect(Converter.attributeValueString(.bool(true)) == "true")
        #expect(Converter.attributeValueString(.bytes([1, 2, 3, 4])) == "AQIDBA==")
        #expect(Converter.attributeValueString(.array([.int(1), .string("x\"y"), .bool(false), .double(0.5)])) == #"[1,"x\"y",false,0.5]"#)
        #expect(Converter.attributeValueString(.keyValueList([KeyValue("b", 1), KeyValue("a", "x")])) == #"{"a":"x","b":1}"#)
        #expect(Converter.attributeValueString(.empty) == "")
    }

    @Test("point attributes become labels; colliding names are joined with ; in key order")
    func labelCollisions() {
        let conversion = Self.convert([Self.gauge("g", [Self.point(.int(1), [
            KeyValue("host_name", "second"), KeyValue("host.name", "first"), KeyValue("1code", 200), KeyValue("ratio", 0.5),
            KeyValue("empty", ""),
        ])])])
        #expect(conversion.series == [TimeSeries(
            labels: ["__name__": "g", "host_name": "first;second", "key_1code": "200", "ratio": "0.5"],
            samples: [FloatSample(timestamp: Self.t1ms, value: 1)]
        )])
    }

    // MARK: - Resource, scope, target_info

    static let resource: [KeyValue] = [
        KeyValue("service.name", "api"), KeyValue("service.namespace", "shop"), KeyValue("service.instance.id", "i-1"),
        KeyValue("host.name", "h1"), KeyValue("deployment.environment", "prod"),
    ]
    static let scope = InstrumentationScope(name: "io.loupe.lib", version: "1.2.0", attributes: [KeyValue("team", "core")])

    @Test("job, instance and scope labels on every series; target_info at the latest point")
    func resourceAndScope() {
        let conversion = Self.convert(
            [Self.gauge("g", [Self.point(.int(1), at: Self.t2, [KeyValue("job", "ignored")]), Self.point(.int(2), at: Self.t1)])],
            resource: Self.resource, scope: Self.scope
        )
        let base: [String: String] = [
            "job": "shop/api", "instance": "i-1", "otel_scope_name": "io.loupe.lib", "otel_scope_version": "1.2.0",
            "otel_scope_team": "core",
        ]
        #expect(conversion.series == [
            TimeSeries(
                labels: Labels((base.merging(["__name__": "g"]) { $1 }).map { Label($0.key, $0.value) }),
                samples: [FloatSample(timestamp: Self.t1ms, value: 2), FloatSample(timestamp: Self.t2ms, value: 1)]
            ),
            TimeSeries(
                labels: ["__name__": "target_info", "job": "shop/api", "instance": "i-1", "host_name": "h1", "deployment_environment": "prod"],
                samples: [FloatSample(timestamp: Self.t2ms, value: 1)]
            ),
        ])
        #expect(conversion.metadata["target_info"] == MetricMetadata(type: .gauge, help: "Target metadata"))
    }

    @Test("promoted resource attributes and kept identifying attributes")
    func promotion() {
        let options = Converter.Options(
            promoteResourceAttributes: ["host.name", "missing"], keepIdentifyingResourceAttributes: true, promoteScopeMetadata: false)
        let conversion = Self.convert(
            [Self.gauge("g", [Self.point(.int(1)), Self.point(.int(1), at: Self.t2, [KeyValue("host.name", "mine")])])],
            resource: Self.resource, scope: Self.scope, options: options
        )
        #expect(conversion.series.map(\.labels) == [
            ["__name__": "g", "job": "shop/api", "instance": "i-1", "host_name": "h1"],
            ["__name__": "g", "job": "shop/api", "instance": "i-1", "host_name": "mine"],
            [
                "__name__": "target_info", "job": "shop/api", "instance": "i-1", "host_name": "h1", "deployment_environment": "prod",
                "service_name": "api", "service_namespace": "shop", "service_instance_id": "i-1",
            ],
        ])
    }

    @Test("job without a namespace; no target_info without other attributes or without job and instance")
    func targetInfoConditions() {
        let onlyIdentity = Self.convert([Self.gauge("g", [Self.point(.int(1))])], resource: [KeyValue("service.name", "api")])
        #expect(onlyIdentity.series.map(\.labels) == [["__name__": "g", "job": "api"]])

        let noIdentity = Self.convert([Self.gauge("g", [Self.point(.int(1))])], resource: [KeyValue("host.name", "h1")])
        #expect(noIdentity.series.map(\.labels) == [["__name__": "g"]])

        let instanceOnly = Self.convert(
            [Self.gauge("g", [Self.point(.int(1))])], resource: [KeyValue("service.instance.id", "i-9"), KeyValue("os.type", "linux")])
        #expect(instanceOnly.series.map(\.labels) == [
            ["__name__": "g", "instance": "i-9"], ["__name__": "target_info", "instance": "i-9", "os_type": "linux"],
        ])

        // A resource whose points were all skipped gets no target_info.
        let allSkipped = Self.convert([Self.counter("c", temporality: .delta, [Self.point(.int(1))])], resource: Self.resource)
        #expect(allSkipped.series.isEmpty)
    }

    // MARK: - Gauges and sums

    @Test("int and double points, ns to ms, one series per label set")
    func numberPoints() {
        let conversion = Self.convert([Self.counter("http.requests", [
            Self.point(.int(7), at: Self.t2, [KeyValue("code", 200)]),
            Self.point(.double(2.5), at: Self.t1, [KeyValue("code", 200)]),
            Self.point(.int(1), at: Self.t1, [KeyValue("code", 500)]),
        ])])
        #expect(conversion.series == [
            TimeSeries(labels: ["__name__": "http_requests_total", "code": "200"], samples: [
                FloatSample(timestamp: Self.t1ms, value: 2.5), FloatSample(timestamp: Self.t2ms, value: 7),
            ]),
            TimeSeries(labels: ["__name__": "http_requests_total", "code": "500"], samples: [FloatSample(timestamp: Self.t1ms, value: 1)]),
        ])
    }

    @Test("delta and unspecified temporalities are skipped and counted")
    func deltaSkipped() {
        let deltaHistogram = Metric(name: "h", data: .histogram(Histogram(
            dataPoints: [HistogramDataPoint(timeUnixNano: Self.t1, count: 1)], aggregationTemporality: .delta)))
        let deltaExponential = Metric(name: "e", data: .exponentialHistogram(ExponentialHistogram(
            dataPoints: [ExponentialHistogramDataPoint(timeUnixNano: Self.t1)], aggregationTemporality: .delta)))
        let conversion = Self.convert([
            Self.counter("c", temporality: .delta, [Self.point(.int(1)), Self.point(.int(2), at: Self.t2)]),
            deltaHistogram, deltaExponential,
            Self.counter("u", temporality: .unspecified, [Self.point(.int(1))]),
            Self.gauge("kept", [Self.point(.int(1)), Self.point(nil, at: Self.t2)]),
        ])
        #expect(conversion.series == [TimeSeries(labels: ["__name__": "kept"], samples: [FloatSample(timestamp: Self.t1ms, value: 1)])])
        #expect(conversion.skippedPoints == [
            Converter.SkipReason.deltaTemporality: 4, Converter.SkipReason.unspecifiedTemporality: 1,
            Converter.SkipReason.missingValue: 1,
        ])
        #expect(conversion.skippedPointCount == 6)
        #expect(Array(conversion.metadata.keys) == ["kept"])
    }

    @Test("points flagged noRecordedValue become stale markers")
    func staleMarkers() {
        let histogram = Metric(name: "h", data: .histogram(Histogram(dataPoints: [
            HistogramDataPoint(timeUnixNano: Self.t1, count: 3, sum: 1, bucketCounts: [1, 2], explicitBounds: [1], flags: .noRecordedValue)
        ], aggregationTemporality: .cumulative)))
        let summary = Metric(name: "s", data: .summary(Summary(dataPoints: [
            SummaryDataPoint(timeUnixNano: Self.t1, count: 1, sum: 1, quantileValues: [.init(quantile: 0.5, value: 1)], flags: .noRecordedValue)
        ])))
        let exponential = Metric(name: "e", data: .exponentialHistogram(ExponentialHistogram(dataPoints: [
            ExponentialHistogramDataPoint(timeUnixNano: Self.t1, count: 1, sum: 1, scale: 2, positive: .init(offset: 0, bucketCounts: [1]), flags: .noRecordedValue)
        ], aggregationTemporality: .cumulative)))
        let conversion = Self.convert([
            Self.gauge("g", [Self.point(nil, flags: .noRecordedValue), Self.point(.int(5), at: Self.t2, flags: .noRecordedValue)]),
            histogram, summary, exponential,
        ])
        let floats = conversion.series.flatMap(\.samples)
        #expect(floats.count == 2 + 4 + 3)
        #expect(floats.allSatisfy { StaleMarker.isStale($0.value) })
        let natives = conversion.series.flatMap(\.histograms)
        #expect(natives.count == 1)
        #expect(natives.allSatisfy { StaleMarker.isStale($0.histogram.sum) && $0.timestamp == Self.t1ms })
        #expect(conversion.skippedPoints.isEmpty)
    }

    @Test("exemplars carry hex trace and span ids and their attributes")
    func exemplars() {
        let trace = TraceID(hex: "0102030405060708090a0b0c0d0e0f10")!
        let span = SpanID(hex: "a1a2a3a4a5a6a7a8")!
        let exemplar = Exemplar(filteredAttributes: [KeyValue("user.id", "u1")], timeUnixNano: Self.t1, value: .int(3), spanID: span, traceID: trace)
        let long = Exemplar(filteredAttributes: [KeyValue("blob", .string(String(repeating: "x", count: 100)))], timeUnixNano: 0, value: .double(1), traceID: trace)
        let noValue = Exemplar(timeUnixNano: Self.t1, traceID: trace)
        let conversion = Self.convert([Self.counter("c", [Self.point(.int(10), exemplars: [exemplar, long, noValue])])])
        #expect(conversion.series == [TimeSeries(
            labels: ["__name__": "c_total"], samples: [FloatSample(timestamp: Self.t1ms, value: 10)],
            exemplars: [
                PrometheusExemplar(
                    labels: ["trace_id": "0102030405060708090a0b0c0d0e0f10", "span_id": "a1a2a3a4a5a6a7a8", "user_id": "u1"],
                    value: 3, timestamp: Self.t1ms),
                PrometheusExemplar(labels: ["trace_id": "0102030405060708090a0b0c0d0e0f10"], value: 1, timestamp: nil),
            ]
        )])
    }

    // MARK: - Histograms

    @Test("classic histograms become cumulative _bucket series with +Inf, _sum and _count; exemplars go to their bucket")
    func classicHistogram() {
        let low = Exemplar(timeUnixNano: Self.t1, value: .double(0.05), traceID: TraceID(high: 0, low: 1))
        let high = Exemplar(timeUnixNano: Self.t1, value: .double(5), traceID: TraceID(high: 0, low: 2))
        let exact = Exemplar(timeUnixNano: Self.t1, value: .double(0.005), traceID: TraceID(high: 0, low: 3))
        let metric = Metric(name: "http.server.duration", description: "Duration.", unit: "ms", data: .histogram(Histogram(dataPoints: [
            HistogramDataPoint(
                attributes: [KeyValue("route", "/")], timeUnixNano: Self.t1, count: 10, sum: 12.5, bucketCounts: [1, 2, 3, 4],
                explicitBounds: [0.005, 0.1, 1], exemplars: [low, high, exact])
        ], aggregationTemporality: .cumulative)))
        let conversion = Self.convert([metric])
        func series(_ name: String, _ le: String? = nil, _ value: Double, _ exemplars: [PrometheusExemplar] = []) -> TimeSeries {
            var labels: Labels = ["__name__": "http_server_duration_milliseconds" + name, "route": "/"]
            if let le { labels.set("le", le) }
            return TimeSeries(labels: labels, samples: [FloatSample(timestamp: Self.t1ms, value: value)], exemplars: exemplars)
        }
        func prom(_ low: UInt64, _ value: Double) -> PrometheusExemplar {
            PrometheusExemplar(labels: ["trace_id": TraceID(high: 0, low: low).hex], value: value, timestamp: Self.t1ms)
        }
        #expect(conversion.series == [
            series("_sum", nil, 12.5),
            series("_count", nil, 10),
            series("_bucket", "0.005", 1, [prom(3, 0.005)]),
            series("_bucket", "0.1", 3, [prom(1, 0.05)]),
            series("_bucket", "1", 6),
            series("_bucket", "+Inf", 10, [prom(2, 5)]),
        ])
        #expect(conversion.metadata == ["http_server_duration_milliseconds": MetricMetadata(type: .histogram, help: "Duration.", unit: "ms")])
    }

    @Test("a histogram without a sum has no _sum series")
    func histogramWithoutSum() {
        let metric = Metric(name: "h", data: .histogram(Histogram(dataPoints: [
            HistogramDataPoint(timeUnixNano: Self.t1, count: 2, bucketCounts: [2, 0], explicitBounds: [250])
        ], aggregationTemporality: .cumulative)))
        #expect(Self.convert([metric]).series.map(\.labels) == [
            ["__name__": "h_count"], ["__name__": "h_bucket", "le": "250"], ["__name__": "h_bucket", "le": "+Inf"],
        ])
    }

    @Test("le and quantile values are written in plain decimal")
    func fixedFormatting() {
        #expect(Converter.formatFixed(0.005) == "0.005")
        #expect(Converter.formatFixed(1) == "1")
        #expect(Converter.formatFixed(250) == "250")
        #expect(Converter.formatFixed(0.1) == "0.1")
        #expect(Converter.formatFixed(-0.5) == "-0.5")
        #expect(Converter.formatFixed(1e-7) == "0.0000001")
        #expect(Converter.formatFixed(1e21) == "1000000000000000000000")
        #expect(Converter.formatFixed(123.456) == "123.456")
        #expect(Converter.formatFixed(0) == "0")
        #expect(Converter.formatFixed(.infinity) == "+Inf")
    }

    @Test("exponential histograms become native histograms with exact spans and counts")
    func exponentialHistogram() {
        let point = ExponentialHistogramDataPoint(
            attributes: [KeyValue("route", "/")], timeUnixNano: Self.t1, count: 12, sum: 3.5, scale: 3, zeroCount: 2,
            positive: .init(offset: -2, bucketCounts: [1, 0, 2, 0, 0, 0, 3]), negative: .init(offset: 0, bucketCounts: [0, 4]),
            exemplars: [Exemplar(timeUnixNano: Self.t1, value: .double(1.2), spanID: SpanID(value: 1))]
        )
        let metric = Metric(name: "request.latency", unit: "s", data: .exponentialHistogram(ExponentialHistogram(
            dataPoints: [point], aggregationTemporality: .cumulative)))
        let conversion = Self.convert([metric])
        let expected = NativeHistogram(
            counterResetHint: .unknown, schema: 3, zeroThreshold: 1e-128, zeroCount: 2, count: 12, sum: 3.5,
            positiveSpans: [.init(offset: -1, length: 3), .init(offset: 3, length: 1)], positiveBuckets: [1, 0, 2, 3],
            negativeSpans: [.init(offset: 2, length: 1)], negativeBuckets: [4], isIntegerCounts: true
        )
        #expect(conversion.series == [TimeSeries(
            labels: ["__name__": "request_latency_seconds", "route": "/"],
            histograms: [HistogramSample(timestamp: Self.t1ms, histogram: expected)],
            exemplars: [PrometheusExemplar(labels: ["span_id": "0000000000000001"], value: 1.2, timestamp: Self.t1ms)]
        )])
        #expect(conversion.metadata == ["request_latency_seconds": MetricMetadata(type: .histogram, unit: "s")])
    }

    @Test("scale 10 is downscaled to schema 8 by merging buckets; the point's zero threshold is kept")
    func exponentialDownscale() {
        let point = ExponentialHistogramDataPoint(
            timeUnixNano: Self.t1, count: 20, sum: 0, scale: 10, zeroCount: 1,
            positive: .init(offset: 0, bucketCounts: [1, 2, 3, 4, 5]), negative: .init(offset: -3, bucketCounts: [1, 1, 1, 1]),
            zeroThreshold: 0.001
        )
        let histogram = Converter.nativeHistogram(point)
        #expect(histogram == NativeHistogram(
            schema: 8, zeroThreshold: 0.001, zeroCount: 1, count: 20, sum: 0,
            positiveSpans: [.init(offset: 1, length: 2)], positiveBuckets: [10, 5],
            negativeSpans: [.init(offset: 0, length: 2)], negativeBuckets: [3, 1], isIntegerCounts: true
        ))
        // Offsets shift too: OTLP index 5 at scale 10 is index 1 at scale 8, Prometheus index 2.
        let shifted = Converter.nativeBuckets(.init(offset: 5, bucketCounts: [1, 1, 1, 1]), scaleDown: 2)
        #expect(shifted.spans == [.init(offset: 2, length: 2)])
        #expect(shifted.counts == [3, 1])
    }

    @Test("exponential histograms are skipped when native histograms are off or the scale is below -4")
    func exponentialSkipped() {
        let metric = Metric(name: "e", data: .exponentialHistogram(ExponentialHistogram(dataPoints: [
            ExponentialHistogramDataPoint(timeUnixNano: Self.t1, count: 1, scale: -5, positive: .init(offset: 0, bucketCounts: [1])),
            ExponentialHistogramDataPoint(timeUnixNano: Self.t1, count: 1, scale: -4, positive: .init(offset: 0, bucketCounts: [1])),
        ], aggregationTemporality: .cumulative)))
        let converted = Self.convert([metric])
        #expect(converted.series.map(\.labels) == [["__name__": "e"]])
        #expect(converted.series.first?.histograms.first?.histogram.schema == -4)
        #expect(converted.skippedPoints == [Converter.SkipReason.scaleBelowMinimum: 1])

        let disabled = Self.convert([metric], options: Converter.Options(exponentialHistogramsAsNative: false))
        #expect(disabled.series.isEmpty)
        #expect(disabled.metadata.isEmpty)
        #expect(disabled.skippedPoints == [Converter.SkipReason.exponentialHistogramsDisabled: 2])
    }

    // MARK: - Summaries

    @Test("summaries become quantile series plus _sum and _count")
    func summary() {
        let metric = Metric(name: "rpc.duration", description: "RPC time.", unit: "s", data: .summary(Summary(dataPoints: [
            SummaryDataPoint(
                attributes: [KeyValue("method", "Get")], timeUnixNano: Self.t1, count: 100, sum: 42.5,
                quantileValues: [.init(quantile: 0.5, value: 0.2), .init(quantile: 0.99, value: 1.5)])
        ])))
        let conversion = Self.convert([metric])
        func series(_ suffix: String, _ quantile: String?, _ value: Double) -> TimeSeries {
            var labels: Labels = ["__name__": "rpc_duration_seconds" + suffix, "method": "Get"]
            if let quantile { labels.set("quantile", quantile) }
            return TimeSeries(labels: labels, samples: [FloatSample(timestamp: Self.t1ms, value: value)])
        }
        #expect(conversion.series == [
            series("_sum", nil, 42.5), series("_count", nil, 100), series("", "0.5", 0.2), series("", "0.99", 1.5),
        ])
        #expect(conversion.metadata == ["rpc_duration_seconds": MetricMetadata(type: .summary, help: "RPC time.", unit: "s")])
    }
}
