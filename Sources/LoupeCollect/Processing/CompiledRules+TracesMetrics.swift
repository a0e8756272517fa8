import LoupeModel

extension CompiledRules {
    /// Runs the transform rules on an item, then says whether a filter rule drops it.
    private func keeps<Item>(_ item: inout Item, evaluate: (OTTLCondition, inout Item) -> Bool, execute: (OTTLStatement, inout Item) -> Void) -> Bool {
        for transform in transforms where transform.conditions.isEmpty || transform.conditions.contains(where: { evaluate($0, &item) }) {
            for statement in transform.statements { execute(statement, &item) }
        }
        return !filters.contains { rule in rule.contains { evaluate($0, &item) } }
    }

    /// Transforms and filters every span; spans whose resource a statement changed are regrouped.
    public func process(_ traces: TraceData) -> (traces: TraceData, dropped: Int) {
        guard !isEmpty else { return (traces, 0) }
        var output = TraceData()
        var dropped = 0
        for resourceSpans in traces.resourceSpans {
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    var item = OTTLSpanItem(span: span, resource: resourceSpans.resource, scope: scopeSpans.scope)
                    guard keeps(&item, evaluate: { $0.evaluate(&$1) }, execute: { $0.execute(&$1) }) else {
                        dropped += 1
                        continue
                    }
                    if let last = output.resourceSpans.indices.last, output.resourceSpans[last].resource == item.resource,
                        output.resourceSpans[last].schemaURL == resourceSpans.schemaURL,
                        let lastScope = output.resourceSpans[last].scopeSpans.indices.last, output.resourceSpans[last].scopeSpans[lastScope].scope == item.scope
                    {
                        output.resourceSpans[last].scopeSpans[lastScope].spans.append(item.span)
                    } else {
                        output.resourceSpans.append(ResourceSpans(
                            resource: item.resource, scopeSpans: [ScopeSpans(scope: item.scope, spans: [item.span], schemaURL: scopeSpans.schemaURL)],
                            schemaURL: resourceSpans.schemaURL))
                    }
                }
            }
        }
        return (output, dropped)
    }

    /// Transforms and filters every data point (`dropped` counts points). A statement may change
    /// a point's attributes, times and number value, and its metric's name, description and unit
    /// (the last point's say); resource and scope changes apply to the whole group, from its first
    /// point. A metric left without points is dropped.
    public func process(_ metrics: MetricsData) -> (metrics: MetricsData, dropped: Int) {
        guard !isEmpty else { return (metrics, 0) }
        var output = metrics
        var dropped = 0
        for r in output.resourceMetrics.indices {
            var resource = output.resourceMetrics[r].resource
            var resourceChanged: Resource?
            for s in output.resourceMetrics[r].scopeMetrics.indices {
                let scope = output.resourceMetrics[r].scopeMetrics[s].scope
                var scopeChanged: InstrumentationScope?
                var kept: [Metric] = []
                for var metric in output.resourceMetrics[r].scopeMetrics[s].metrics {
                    var name = metric.name
                    var description = metric.description
                    var unit = metric.unit
                    func run(_ type: String, attributes: inout [KeyValue], start: inout UInt64, time: inout UInt64, value: inout NumberValue?) -> Bool {
                        var item = OTTLDataPointItem(
                            metricName: metric.name, metricDescription: metric.description, metricUnit: metric.unit, metricType: type,
                            attributes: attributes, startTimeUnixNano: start, timeUnixNano: time, value: value, resource: resource, scope: scope)
                        guard keeps(&item, evaluate: { $0.evaluate(&$1) }, execute: { $0.execute(&$1) }) else {
                            dropped += 1
                            return false
                        }
                        attributes = item.attributes
                        start = item.startTimeUnixNano
                        time = item.timeUnixNano
                        value = item.value
                        name = item.metricName
                        description = item.metricDescription
                        unit = item.metricUnit
                        if item.resource != resource && resourceChanged == nil { resourceChanged = item.resource }
                        if item.scope != scope && scopeChanged == nil { scopeChanged = item.scope }
                        return true
                    }
                    func numberPoints(_ points: [NumberDataPoint], _ type: String) -> [NumberDataPoint] {
                        points.compactMap { point in
                            var point = point
                            var value = point.value
                            guard run(type, attributes: &point.attributes, start: &point.startTimeUnixNano, time: &point.timeUnixNano, value: &value) else { return nil }
                            point.value = value
                            return point
                        }
                    }
                    var none: NumberValue?
                    switch metric.data {
                    case .none: break
                    case .gauge(var gauge):
                        gauge.dataPoints = numberPoints(gauge.dataPoints, "Gauge")
                        metric.data = .gauge(gauge)
                    case .sum(var sum):
                        sum.dataPoints = numberPoints(sum.dataPoints, "Sum")
                        metric.data = .sum(sum)
                    case .histogram(var histogram):
                        histogram.dataPoints = histogram.dataPoints.compactMap { point in
                            var point = point
                            return run("Histogram", attributes: &point.attributes, start: &point.startTimeUnixNano, time: &point.timeUnixNano, value: &none) ? point : nil
                        }
                        metric.data = .histogram(histogram)
                    case .exponentialHistogram(var histogram):
                        histogram.dataPoints = histogram.dataPoints.compactMap { point in
                            var point = point
                            return run("ExponentialHistogram", attributes: &point.attributes, start: &point.startTimeUnixNano, time: &point.timeUnixNano, value: &none) ? point : nil
                        }
                        metric.data = .exponentialHistogram(histogram)
                    case .summary(var summary):
                        summary.dataPoints = summary.dataPoints.compactMap { point in
                            var point = point
                            return run("Summary", attributes: &point.attributes, start: &point.startTimeUnixNano, time: &point.timeUnixNano, value: &none) ? point : nil
                        }
                        metric.data = .summary(summary)
                    }
                    metric.name = name
                    metric.description = description
                    metric.unit = unit
                    if metric.data.dataPointCount > 0 || metric.data == .none { kept.append(metric) }
                }
                output.resourceMetrics[r].scopeMetrics[s].metrics = kept
                if let scopeChanged { output.resourceMetrics[r].scopeMetrics[s].scope = scopeChanged }
            }
            if let resourceChanged {
                resource = resourceChanged
                output.resourceMetrics[r].resource = resource
            }
            output.resourceMetrics[r].scopeMetrics.removeAll { $0.metrics.isEmpty }
        }
        output.resourceMetrics.removeAll { $0.scopeMetrics.isEmpty }
        return (output, dropped)
    }
}
