import Hummingbird
import Logging
import LoupeModel
import LoupeStorage
import LoupeWire
import NIOCore
import ServiceLifecycle

/// OTLP/HTTP into the router: `POST /v1/logs`, `/v1/traces`, `/v1/metrics`, protobuf or JSON,
/// gzip bodies. 200 once every pipeline queued its part; 400 for what is not OTLP, 404 when no
/// pipeline takes the signal, 413 over the size limit, 503 + Retry-After when a queue cannot store.
public enum OTLPInputHTTP {
    /// A request's context with the address it came from: the pod a pushed resource is from when
    /// it does not say.
    struct Context: RequestContext, RemoteAddressRequestContext {
        var coreContext: CoreRequestContextStorage
        let remoteAddress: SocketAddress?

        init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            remoteAddress = source.channel.remoteAddress
        }
    }

    public static func application(
        host: String, port: Int, router otlp: OTLPRouter, maximumBodyBytes: Int = 16 << 20, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> some Service {
        let router = Router(context: Context.self)
        for signal in Signal.allCases {
            let path: RouterPath = switch signal {
            case .logs: "/v1/logs"
            case .traces: "/v1/traces"
            case .metrics: "/v1/metrics"
            }
            router.post(path) { request, context -> Response in
                let peerIP = context.remoteAddress?.ipAddress
                let json = request.headers[.contentType]?.lowercased().hasPrefix("application/json") ?? false
                var buffer: ByteBuffer
                do {
                    buffer = try await request.body.collect(upTo: maximumBodyBytes)
                } catch {
                    return reply(.contentTooLarge, "the body is over \(maximumBodyBytes) bytes")
                }
                var body = buffer.readBytes(length: buffer.readableBytes) ?? []
                if let header = request.headers[.contentEncoding] {
                    guard let encoding = ContentEncoding(header: header) else {
                        return reply(.unsupportedMediaType, "Content-Encoding \(header) is not supported; use \(ContentEncoding.supportedNames)")
                    }
                    do throws(ContentEncoding.Failure) {
                        body = try encoding.decode(body, maximumOutputBytes: maximumBodyBytes)
                    } catch {
                        return error.tooLarge ? reply(.contentTooLarge, "decompressed, the body is over \(maximumBodyBytes) bytes") : reply(.badRequest, error.message)
                    }
                }
                if json {
                    do throws(WireError) {
                        body = switch signal {
                        case .logs: OTLPProtobuf.encodeLogs(try OTLPJSON.decodeLogs(body))
                        case .traces: OTLPProtobuf.encodeTraces(try OTLPJSON.decodeTraces(body))
                        case .metrics: OTLPProtobuf.encodeMetrics(try OTLPJSON.decodeMetrics(body))
                        }
                    } catch {
                        return reply(.badRequest, "not an OTLP/JSON \(signal) request: \(error)")
                    }
                }
                let protobuf = body
                let outcome: Result<Int, OTLPRouter.Refusal>
                do {
                    outcome = try await BlockingIO.run { () throws -> Result<Int, OTLPRouter.Refusal> in
                        do throws(OTLPRouter.Refusal) {
                            return .success(try otlp.route(signal: signal, protobuf: protobuf, peerIP: peerIP))
                        } catch {
                            return .failure(error)
                        }
                    }
                } catch {
                    return reply(.serviceUnavailable, "the process is stopping", retryAfter: true)
                }
                switch outcome {
                case .success:
                    // An empty Export*ServiceResponse: everything was taken.
                    return Response(
                        status: .ok, headers: [.contentType: json ? "application/json" : "application/x-protobuf"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: json ? "{}" : "")))
                case .failure(let refusal):
                    switch refusal.code {
                    case .malformed: return reply(.badRequest, refusal.message)
                    case .noPipeline: return reply(.notFound, refusal.message)
                    case .unavailable: return reply(.serviceUnavailable, refusal.message, retryAfter: true)
                    }
                }
            }
        }
        return Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "loupe"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    private static func reply(_ status: HTTPResponse.Status, _ message: String, retryAfter: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
        if retryAfter { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}
