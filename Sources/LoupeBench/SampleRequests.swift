import LoupeModel
import LoupeWire

/// Realistic OTLP export requests for benchmarks and load generation.
///
/// Every builder is deterministic for a given `variant`: the same variant gives the same IDs and values, a
/// different one gives different trace/span IDs, instance IDs and values, so a pool of requests built with
/// variants 0, 1, 2, ... looks like distinct traffic to a server (no duplicate spans, fresh series values).
/// Timestamps are laid out so the newest item of a batch is at `endUnixNano`.
public enum SampleRequests {
    /// A fixed instant (2023-11-14T22:13:20Z) for deterministic requests such as the decoder benchmark's.
    public static let fixedEndUnixNano: UInt64 = 1_700_000_000_000_000_000

    // MARK: - Traces

    /// The project's benchmark trace shape (`OTLPSampleData.makeBenchmarkTraces`), its values drawn for and
    /// its IDs made unique to `variant`, and timestamps moved so the latest span ends at `endUnixNano`.
    public static func traces(spanCount: Int, attributesPerSpan: Int, variant: UInt64, endUnixNano: UInt64) -> TraceData {
        let template = OTLPSampleData.makeBenchmarkTraces(spanCount: spanCount, attributesPerSpan: attributesPerSpan, seed: variant)
        return restamped(template, variant: variant, endUnixNano: endUnixNano)
    }

    /// `data` with every non-empty trace and span ID passed through a bijection keyed by `variant` (so parent/child
    /// links and span links stay consistent) and every timestamp shifted by the same amount, so the latest span end
    /// lands on `endUnixNano`; zero timestamps (meaning "unset") stay zero.
    public static func restamped(_ data: TraceData, variant: UInt64, endUnixNano: UInt64) -> TraceData {
        var latest: UInt64 = 0
        for resource in data.resourceSpans {
            for scope in resource.scopeSpans {
                for span in scope.spans { latest = max(latest, span.endTimeUnixNano, span.startTimeUnixNano) }
            }
        }
        let shift = TimeShift(from: latest, to: endUnixNano)
        let ids = IDScrambler(variant: variant)
        var copy = data
        for resourceIndex in copy.resourceSpans.indices {
            ids.scrambleInstanceID(in: &copy.resourceSpans[resourceIndex].resource)
            for scopeIndex in copy.resourceSpans[resourceIndex].scopeSpans.indices {
                for spanIndex in copy.resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans.indices {
                    let span = copy.resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans[spanIndex]
                    var updated = span
                    updated.traceID = ids.scramble(span.traceID)
                    updated.spanID = ids.scramble(span.spanID)
                    updated.parentSpanID = ids.scramble(span.parentSpanID)
                    updated.startTimeUnixNano = shift.apply(span.startTimeUnixNano)
                    updated.endTimeUnixNano = shift.apply(span.endTimeUnixNano)
                    for eventIndex in updated.events.indices {
                        updated.events[eventIndex].timeUnixNano = shift.apply(updated.events[eventIndex].timeUnixNano)
                    }
                    for linkIndex in updated.links.indices {
                        updated.links[linkIndex].traceID = ids.scramble(updated.links[linkIndex].traceID)
                        updated.links[linkIndex].spanID = ids.scramble(updated.links[linkIndex].spanID)
                    }
                    copy.resourceSpans[resourceIndex].scopeSpans[scopeIndex].spans[spanIndex] = updated
                }
            }
        }
        return copy
    }

    // MARK: - Logs

    /// Application logs as an SDK or collector would batch them: a few services, request-style string bodies,
    /// mostly INFO with some DEBUG/WARN/ERROR, and trace context on most records.
    public static func logs(recordCount: Int, attributesPerRecord: Int, variant: UInt64, endUnixNano: UInt64) -> LogsData {
        var random = SplitMix64(seed: variant &* 0x9E37_79B9_7F4A_7C15 &+ 0x1065)
        let groups = resourceGroups(itemCount: recordCount)
        var resourceLogs: [ResourceLogs] = []
        var recordIndex = 0
        for (groupIndex, groupSize) in groups.enumerated() {
            var records: [LogRecord] = []
            records.reserveCapacity(groupSize)
            for _ in 0..<groupSize {
                // Spread records over the last `recordCount` milliseconds, oldest first.
                let time = endUnixNano &- UInt64(recordCount - 1 - recordIndex) &* 1_000_000
                let severity = severities[Int(random.next() % UInt64(severities.count))]
                let route = routes[Int(random.next() % UInt64(routes.count))]
                let status = severity.number >= .error ? 500 : (severity.number >= .warn ? 429 : 200)
                let latencyMillis = 1 + random.next() % 250
                let hasTraceContext = random.next() % 10 < 7
                records.append(
                    LogRecord(
                        timeUnixNano: time,
                        observedTimeUnixNano: time &+ 150_000 &+ random.next() % 1_000_000,
                        severityNumber: severity.number,
                        severityText: severity.text,
                        body: .string("\(route.method) \(route.path) completed with status \(status) in \(latencyMillis)ms"),
                        attributes: attributes(
                            count: attributesPerRecord, random: &random,
                            fixed: [
                                KeyValue("http.request.method", .string(route.method)),
                                KeyValue("url.path", .string(route.path)),
                                KeyValue("http.response.status_code", .int(Int64(status))),
                                KeyValue("duration_ms", .double(Double(latencyMillis) + Double(random.next() % 1000) / 1000)),
                                KeyValue("client.address", .string("10.\(random.next() % 256).\(random.next() % 256).\(random.next() % 256)")),
                                KeyValue("thread.name", .string("worker-\(random.next() % 16)")),
                                KeyValue("log.logger", .string("com.example.\(route.handler)")),
                                KeyValue("user_agent.original", .string(userAgents[Int(random.next() % UInt64(userAgents.count))])),
                            ]),
                        flags: hasTraceContext ? 1 : 0,
                        traceID: hasTraceContext ? TraceID(high: random.next() | 1, low: random.next()) : .empty,
                        spanID: hasTraceContext ? SpanID(value: random.next() | 1) : .empty
                    ))
                recordIndex += 1
            }
            resourceLogs.append(
                ResourceLogs(
                    resource: resource(groupIndex: groupIndex, variant: variant),
                    scopeLogs: [ScopeLogs(scope: InstrumentationScope(name: "com.example.logging", version: "2.4.1"), logRecords: records)]
                ))
        }
        return LogsData(resourceLogs: resourceLogs)
    }

    // MARK: - Metrics

    /// Service metrics as an SDK exports them: a cycle of gauges, monotonic sums and explicit-bucket histograms,
    /// each with several series (attribute sets). `dataPointCount` counts data points, the unit OTLP counts items in.
    public static func metrics(dataPointCount: Int, attributesPerPoint: Int, variant: UInt64, endUnixNano: UInt64) -> MetricsData {
        var random = SplitMix64(seed: variant &* 0xBF58_476D_1CE4_E5B9 &+ 0x3E7)
        let seriesPerMetric = 10
        // Cumulative series started an hour before the batch.
        let startTime = endUnixNano &- 3_600_000_000_000
        let groups = resourceGroups(itemCount: dataPointCount)
        var resourceMetrics: [ResourceMetrics] = []
        var metricNumber = 0
        for (groupIndex, groupSize) in groups.enumerated() {
            var metrics: [Metric] = []
            var remaining = groupSize
            while remaining > 0 {
                let pointCount = min(seriesPerMetric, remaining)
                remaining -= pointCount
                let shape = metricShapes[metricNumber % metricShapes.count]
                let cycle = metricNumber / metricShapes.count
                metricNumber += 1
                let name = cycle == 0 ? shape.name : "\(shape.name).\(cycle)"
                let seriesAttributes = (0..<pointCount).map { series in
                    attributes(
                        count: attributesPerPoint, random: &random,
                        fixed: [
                            KeyValue("http.route", .string(routes[series % routes.count].path)),
                            KeyValue("http.request.method", .string(routes[series % routes.count].method)),
                            KeyValue("http.response.status_code", .int(series % 5 == 4 ? 500 : 200)),
                            KeyValue("server.address", .string("api.example.com")),
                            KeyValue("network.protocol.version", .string("1.1")),
                            KeyValue("url.scheme", .string("https")),
                            KeyValue("series", .int(Int64(series))),
                        ])
                }
                let data: MetricData
                switch shape.kind {
                case .gauge:
                    data = .gauge(
                        Gauge(
                            dataPoints: seriesAttributes.map { attributes in
                                NumberDataPoint(
                                    attributes: attributes, timeUnixNano: endUnixNano,
                                    value: .double(Double(random.next() % 10_000) / 100))
                            }))
                case .sum:
                    data = .sum(
                        Sum(
                            dataPoints: seriesAttributes.map { attributes in
                                NumberDataPoint(
                                    attributes: attributes, startTimeUnixNano: startTime, timeUnixNano: endUnixNano,
                                    value: .int(Int64(random.next() % 1_000_000)))
                            },
                            aggregationTemporality: .cumulative, isMonotonic: true))
                case .histogram:
                    data = .histogram(
                        Histogram(
                            dataPoints: seriesAttributes.map { attributes in
                                var buckets = (0...histogramBounds.count).map { _ in random.next() % 500 }
                                buckets[0] = 0
                                let count = buckets.reduce(0, +)
                                return HistogramDataPoint(
                                    attributes: attributes, startTimeUnixNano: startTime, timeUnixNano: endUnixNano,
                                    count: count, sum: Double(count) * 0.087, bucketCounts: buckets,
                                    explicitBounds: histogramBounds, min: 0.0007, max: 9.3)
                            },
                            aggregationTemporality: .cumulative))
                }
                metrics.append(Metric(name: name, description: shape.description, unit: shape.unit, data: data))
            }
            resourceMetrics.append(
                ResourceMetrics(
                    resource: resource(groupIndex: groupIndex, variant: variant),
                    scopeMetrics: [ScopeMetrics(scope: InstrumentationScope(name: "io.opentelemetry.http", version: "1.38.0"), metrics: metrics)]
                ))
        }
        return MetricsData(resourceMetrics: resourceMetrics)
    }

    // MARK: - Encoded

    /// The protobuf export request (`Export*ServiceRequest`) of `signal` with `itemCount` items.
    public static func encodedRequest(
        signal: Signal, itemCount: Int, attributesPerItem: Int, variant: UInt64, endUnixNano: UInt64
    ) -> [UInt8] {
        switch signal {
        case .traces:
            OTLPProtobuf.encodeTraces(traces(spanCount: itemCount, attributesPerSpan: attributesPerItem, variant: variant, endUnixNano: endUnixNano))
        case .logs:
            OTLPProtobuf.encodeLogs(logs(recordCount: itemCount, attributesPerRecord: attributesPerItem, variant: variant, endUnixNano: endUnixNano))
        case .metrics:
            OTLPProtobuf.encodeMetrics(metrics(dataPointCount: itemCount, attributesPerPoint: attributesPerItem, variant: variant, endUnixNano: endUnixNano))
        }
    }

    // MARK: - Building blocks

    /// How many items each resource gets: batches from a collector usually mix a few services.
    static func resourceGroups(itemCount: Int) -> [Int] {
        guard itemCount > 0 else { return [] }
        let groupCount = max(1, min(4, itemCount / 250))
        return (0..<groupCount).map { index in itemCount / groupCount + (index < itemCount % groupCount ? 1 : 0) }
    }

    static func resource(groupIndex: Int, variant: UInt64) -> Resource {
        let service = services[groupIndex % services.count]
        return Resource(attributes: [
            KeyValue("service.name", .string(service)),
            KeyValue("service.namespace", .string("shop")),
            KeyValue("service.version", .string("1.\(groupIndex + 4).2")),
            KeyValue("service.instance.id", .string(HexCoding.encode(IDScrambler(variant: variant).scramble(SpanID(value: UInt64(groupIndex) + 1)).bytes))),
            KeyValue("host.name", .string("node-\(groupIndex + 1).eu-west-1.compute.internal")),
            KeyValue("k8s.pod.name", .string("\(service)-7d9f8c6b5-\(groupIndex)x\(variant % 1000)")),
            KeyValue("deployment.environment.name", .string("production")),
            KeyValue("telemetry.sdk.name", .string("opentelemetry")),
            KeyValue("telemetry.sdk.language", .string("java")),
            KeyValue("telemetry.sdk.version", .string("1.38.0")),
        ])
    }

    /// `count` attributes: the `fixed` ones first (as many as fit), then generic ones of mixed value kinds.
    static func attributes(count: Int, random: inout SplitMix64, fixed: [KeyValue]) -> [KeyValue] {
        var result = Array(fixed.prefix(count))
        var extra = 0
        while result.count < count {
            let key = "app.attribute_\(extra)"
            let value: AnyValue
            switch extra % 4 {
            case 0: value = .string("value-\(random.next() % 1000)")
            case 1: value = .int(Int64(random.next() % 100_000))
            case 2: value = .bool(random.next() % 2 == 0)
            default: value = .double(Double(random.next() % 100_000) / 100)
            }
            result.append(KeyValue(key, value))
            extra += 1
        }
        return result
    }

    static let services = ["checkout", "cart", "payment", "inventory"]
    static let userAgents = [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
        "okhttp/4.12.0", "curl/8.5.0", "Go-http-client/1.1",
    ]
    static let routes: [(method: String, path: String, handler: String)] = [
        ("GET", "/api/v1/products", "ProductController"), ("GET", "/api/v1/products/{id}", "ProductController"),
        ("POST", "/api/v1/cart/items", "CartController"), ("DELETE", "/api/v1/cart/items/{id}", "CartController"),
        ("POST", "/api/v1/checkout", "CheckoutController"), ("GET", "/api/v1/orders/{id}", "OrderController"),
        ("GET", "/healthz", "HealthController"),
    ]
    /// Mostly INFO, as real services log.
    static let severities: [(number: SeverityNumber, text: String)] = [
        (.info, "INFO"), (.info, "INFO"), (.info, "INFO"), (.info, "INFO"), (.info, "INFO"), (.info, "INFO"),
        (.debug, "DEBUG"), (.debug, "DEBUG"), (.warn, "WARN"), (.error, "ERROR"),
    ]

    enum MetricKind { case gauge, sum, histogram }
    static let metricShapes: [(name: String, kind: MetricKind, unit: String, description: String)] = [
        ("http.server.request.duration", .histogram, "s", "Duration of HTTP server requests."),
        ("http.server.active_requests", .gauge, "{request}", "Number of active HTTP server requests."),
        ("http.server.request.count", .sum, "{request}", "Number of HTTP server requests."),
        ("process.cpu.utilization", .gauge, "1", "CPU utilization of the process."),
        ("db.client.operation.duration", .histogram, "s", "Duration of database client operations."),
        ("jvm.memory.used", .gauge, "By", "Measure of memory used."),
        ("messaging.client.sent.messages", .sum, "{message}", "Number of messages sent."),
    ]
    /// The OpenTelemetry semantic-convention buckets for request durations in seconds.
    static let histogramBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]
}

/// Maps IDs to variant-specific IDs, one-to-one, keeping "empty" (all-zero) IDs empty.
struct IDScrambler {
    let key: UInt64

    init(variant: UInt64) { key = SplitMix64.mix(variant &+ 0x5851_F42D_4C95_7F2D) }

    func scramble(_ id: TraceID) -> TraceID {
        guard !id.isEmpty else { return id }
        // mix is a bijection and xor with a key is too, so different IDs never collide within one variant.
        let scrambled = TraceID(high: SplitMix64.mix(id.high ^ key), low: SplitMix64.mix(id.low ^ key ^ 0xA5A5))
        return scrambled.isEmpty ? id : scrambled
    }

    func scramble(_ id: SpanID) -> SpanID {
        guard !id.isEmpty else { return id }
        let scrambled = SpanID(value: SplitMix64.mix(id.value ^ key))
        return scrambled.isEmpty ? id : scrambled
    }

    /// Gives the resource a variant-specific `service.instance.id` if it has one, as a restarted process would.
    func scrambleInstanceID(in resource: inout Resource) {
        guard let index = resource.attributes.firstIndex(where: { $0.key == "service.instance.id" }),
            case .string(let original) = resource.attributes[index].value
        else { return }
        resource.attributes[index].value = .string("\(original)-\(String(key >> 40, radix: 16))")
    }
}

/// Moves timestamps by a fixed offset (forwards or backwards) without touching unset (zero) ones.
struct TimeShift {
    let forward: Bool
    let amount: UInt64

    init(from latest: UInt64, to target: UInt64) {
        forward = target >= latest
        amount = forward ? target - latest : latest - target
    }

    func apply(_ time: UInt64) -> UInt64 {
        guard time != 0 else { return 0 }
        return forward ? time &+ amount : (time > amount ? time - amount : 1)
    }
}
