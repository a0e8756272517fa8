import LoupeModel

/// Realistic, deterministic telemetry for benchmarks, load generation and tests.
public enum OTLPSampleData {
    /// A trace export request of `spanCount` spans spread over four services (one resource and one scope each),
    /// each span with `attributesPerSpan` attributes drawn from HTTP/RPC/DB semantic conventions
    /// (`http.request.method`, `url.full`, `server.address`, `http.response.status_code`, ...: strings, ints,
    /// bools and doubles, keys repeating from span to span as they do in real traffic). Spans come in traces
    /// of eight (a call chain with a fan-out); one span in 200 is slow (0.5–2.5 s); every tenth span has an
    /// event, every fiftieth a link, failed requests an error status. The same arguments always give the same value.
    public static func makeBenchmarkTraces(spanCount: Int, attributesPerSpan: Int, seed: UInt64 = 0x5EED_0F_10_0BE) -> TraceData {
        var random = SplitMix64(seed: seed)
        let services = Self.services
        var resourceSpans = services.enumerated().map { index, service in
            ResourceSpans(
                resource: Resource(attributes: [
                    KeyValue("service.name", .string(service.name)),
                    KeyValue("service.namespace", "shop"),
                    KeyValue("service.version", .string(service.version)),
                    KeyValue("service.instance.id", .string("\(service.name)-7d9f8b6c4-\(["x2k9p", "m4q7z", "t8w3v", "b5n1c"][index])")),
                    KeyValue("deployment.environment.name", "production"),
                    KeyValue("host.name", .string("ip-10-0-\(index + 1)-17.eu-west-1.compute.internal")),
                    KeyValue("k8s.namespace.name", "shop"),
                    KeyValue("k8s.pod.name", .string("\(service.name)-7d9f8b6c4-\(["x2k9p", "m4q7z", "t8w3v", "b5n1c"][index])")),
                    KeyValue("telemetry.sdk.name", "opentelemetry"),
                    KeyValue("telemetry.sdk.language", .string(service.language)),
                    KeyValue("telemetry.sdk.version", "1.38.0"),
                ]),
                scopeSpans: [
                    ScopeSpans(
                        scope: InstrumentationScope(name: service.scope, version: "0.52.0"),
                        spans: [],
                        schemaURL: "https://opentelemetry.io/schemas/1.26.0"
                    )
                ],
                schemaURL: "https://opentelemetry.io/schemas/1.26.0"
            )
        }
        for index in resourceSpans.indices { resourceSpans[index].scopeSpans[0].spans.reserveCapacity(spanCount / services.count + 1) }

        let baseTime: UInt64 = 1_735_689_600_000_000_000  // 2025-01-01T00:00:00Z
        var traceID = TraceID.empty
        var traceSpanIDs = [SpanID](repeating: .empty, count: 8)
        var previousTraceID = TraceID.empty
        for spanIndex in 0..<spanCount {
            let positionInTrace = spanIndex % 8
            if positionInTrace == 0 {
                previousTraceID = traceID
                traceID = TraceID(high: random.next(), low: random.next())
            }
            let spanID = SpanID(value: random.next() | 1)
            traceSpanIDs[positionInTrace] = spanID
            let serviceIndex = positionInTrace % services.count
            let route = Self.routes[Int(random.next() % UInt64(Self.routes.count))]
            let method = route.method
            let statusCode: Int64 = random.next() % 20 == 0 ? 500 : (random.next() % 10 == 0 ? 404 : 200)
            let start = baseTime &+ UInt64(spanIndex) &* 1_000_000 &+ random.next() % 1_000_000
            // A latency tail: one span in 200 takes 0.5 to 2.5 s.
            let slow = random.next() % 200 == 0
            let duration = slow ? 500_000_000 &+ random.next() % 2_000_000_000 : 200_000 &+ random.next() % 50_000_000
            let kind: SpanKind = positionInTrace == 0 ? .server : (positionInTrace % 2 == 1 ? .client : .internal)

            var attributes: [KeyValue] = []
            attributes.reserveCapacity(attributesPerSpan)
            for attributeIndex in 0..<attributesPerSpan {
                attributes.append(
                    Self.attribute(
                        attributeIndex, route: route, method: method, statusCode: statusCode, duration: duration,
                        service: services[serviceIndex], random: &random
                    )
                )
            }

            var span = Span(
                traceID: traceID,
                spanID: spanID,
                traceState: positionInTrace == 0 && spanIndex % 16 == 0 ? "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE" : "",
                parentSpanID: Self.parentPositions[positionInTrace].map { traceSpanIDs[$0] } ?? .empty,
                flags: 0x101,
                name: "\(method) \(route.path)",
                kind: kind,
                startTimeUnixNano: start,
                endTimeUnixNano: start &+ duration,
                attributes: attributes,
                status: statusCode >= 500 ? SpanStatus(message: "Internal Server Error", code: .error) : SpanStatus()
            )
            if spanIndex % 10 == 9 {
                span.events.append(
                    SpanEvent(
                        timeUnixNano: start &+ duration / 2,
                        name: statusCode >= 500 ? "exception" : "cache.miss",
                        attributes: statusCode >= 500
                            ? [
                                KeyValue("exception.type", "java.net.SocketTimeoutException"),
                                KeyValue("exception.message", "Read timed out after 5000 ms"),
                                KeyValue("exception.escaped", false),
                            ]
                            : [KeyValue("cache.key", .string("cart:\(random.next() % 100_000)")), KeyValue("cache.ttl_seconds", 300)]
                    )
                )
            }
            if spanIndex % 50 == 49 && !previousTraceID.isEmpty {
                span.links.append(
                    SpanLink(
                        traceID: previousTraceID, spanID: SpanID(value: random.next() | 1),
                        attributes: [KeyValue("messaging.operation.type", "process")], flags: 0x301
                    )
                )
            }
            resourceSpans[serviceIndex].scopeSpans[0].spans.append(span)
        }
        return TraceData(resourceSpans: resourceSpans.filter { !$0.scopeSpans[0].spans.isEmpty })
    }

    /// The parent of each of a trace's eight spans (by position): a call chain five deep with a
    /// fan-out, as a request through a few services makes.
    private static let parentPositions: [Int?] = [nil, 0, 1, 2, 3, 4, 2, 6]

    private struct Service {
        var name: String
        var version: String
        var language: String
        var scope: String
    }

    private static let services: [Service] = [
        Service(name: "frontend-proxy", version: "2.14.1", language: "go", scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"),
        Service(name: "checkout", version: "1.8.0", language: "java", scope: "io.opentelemetry.spring-webmvc-6.0"),
        Service(name: "cart", version: "3.2.7", language: "dotnet", scope: "OpenTelemetry.Instrumentation.AspNetCore"),
        Service(name: "payment", version: "0.9.12", language: "nodejs", scope: "@opentelemetry/instrumentation-http"),
    ]

    private struct Route {
        var method: String
        var path: String
    }

    private static let routes: [Route] = [
        Route(method: "GET", path: "/api/v1/cart/{cartId}"),
        Route(method: "POST", path: "/api/v1/cart/{cartId}/items"),
        Route(method: "GET", path: "/api/v1/products/{productId}"),
        Route(method: "POST", path: "/api/v1/checkout"),
        Route(method: "GET", path: "/api/v1/recommendations"),
        Route(method: "PUT", path: "/api/v1/users/{userId}/preferences"),
        Route(method: "GET", path: "/healthz"),
    ]

    private static let userAgents = [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
        "okhttp/4.12.0",
    ]

    /// The `index`-th attribute of a span: the first ones are the common HTTP attributes, later ones cycle
    /// through further conventions so any count gives distinct keys.
    private static func attribute(
        _ index: Int, route: Route, method: String, statusCode: Int64, duration: UInt64, service: Service,
        random: inout SplitMix64
    ) -> KeyValue {
        let id = random.next() % 1_000_000
        switch index {
        case 0: return KeyValue("http.request.method", .string(method))
        case 1: return KeyValue("url.full", .string("https://shop.example.com\(route.path.replacingPlaceholders(with: id))?currency=EUR"))
        case 2: return KeyValue("server.address", .string("\(service.name).shop.svc.cluster.local"))
        case 3: return KeyValue("http.response.status_code", .int(statusCode))
        case 4: return KeyValue("http.route", .string(route.path))
        case 5: return KeyValue("server.port", 8080)
        case 6: return KeyValue("network.protocol.version", "1.1")
        case 7: return KeyValue("user_agent.original", .string(userAgents[Int(id % UInt64(userAgents.count))]))
        case 8: return KeyValue("http.server.request.duration", .double(Double(duration) / 1e9))
        case 9: return KeyValue("cache.hit", .bool(id % 3 == 0))
        case 10: return KeyValue("client.address", .string("10.1.\(id % 256).\(id / 256 % 256)"))
        case 11: return KeyValue("url.scheme", "https")
        case 12: return KeyValue("http.request.body.size", .int(Int64(id % 4096)))
        case 13: return KeyValue("thread.name", .string("http-nio-8080-exec-\(id % 16)"))
        case 14: return KeyValue("db.system.name", "postgresql")
        case 15: return KeyValue("db.query.text", "SELECT id, quantity, price FROM cart_items WHERE cart_id = $1")
        default:
            let extra = index - 16
            switch extra % 4 {
            case 0: return KeyValue("app.custom.attribute_\(extra)", .string("value-\(id % 100)"))
            case 1: return KeyValue("app.custom.counter_\(extra)", .int(Int64(id)))
            case 2: return KeyValue("app.custom.flag_\(extra)", .bool(id % 2 == 0))
            default: return KeyValue("app.custom.ratio_\(extra)", .double(Double(id) / 1e6))
            }
        }
    }
}

extension String {
    /// `/cart/{cartId}` with every `{...}` placeholder replaced by `id`.
    fileprivate func replacingPlaceholders(with id: UInt64) -> String {
        var result = ""
        var inPlaceholder = false
        for character in self {
            if character == "{" {
                inPlaceholder = true
                result += String(id)
            } else if character == "}" {
                inPlaceholder = false
            } else if !inPlaceholder {
                result.append(character)
            }
        }
        return result
    }
}
