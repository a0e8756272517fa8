import GRPCCore
import GRPCNIOTransportHTTP2
import LoupeGRPC
import LoupeModel
import LoupeStorage
import ServiceLifecycle

/// OTLP/gRPC into the router: the `Export` method of the three collector services. OK once every
/// pipeline queued its part; INVALID_ARGUMENT, UNIMPLEMENTED (no pipeline for the signal) or
/// UNAVAILABLE (a queue cannot store; OTLP clients retry it) otherwise.
struct OTLPInputGRPCService: RegistrableRPCService {
    let router: OTLPRouter

    func registerMethods<Transport: ServerTransport>(with rpcRouter: inout RPCRouter<Transport>) {
        for signal in Signal.allCases {
            rpcRouter.registerHandler(
                forMethod: OTLPGRPCMethods.export(for: signal), deserializer: RawMessageDeserializer(), serializer: RawMessageSerializer()
            ) { request, context in
                let peerIP = OTLPRouter.peerIP(grpcPeer: context.remotePeer)
                var body: [UInt8]?
                do {
                    for try await message in request.messages where body == nil { body = message }
                } catch {
                    return StreamingServerResponse(single: ServerResponse(error: RPCError(code: .invalidArgument, message: "could not read the request: \(error)")))
                }
                guard let protobuf = body else {
                    return StreamingServerResponse(single: ServerResponse(error: RPCError(code: .invalidArgument, message: "the request carried no message")))
                }
                let router = self.router
                let outcome: Result<Int, OTLPRouter.Refusal>
                do {
                    outcome = try await BlockingIO.run { () throws -> Result<Int, OTLPRouter.Refusal> in
                        do throws(OTLPRouter.Refusal) {
                            return .success(try router.route(signal: signal, protobuf: protobuf, peerIP: peerIP))
                        } catch {
                            return .failure(error)
                        }
                    }
                } catch {
                    return StreamingServerResponse(single: ServerResponse(error: RPCError(code: .unavailable, message: "the process is stopping")))
                }
                switch outcome {
                case .success: return StreamingServerResponse(single: ServerResponse(message: []))
                case .failure(let refusal):
                    let code: RPCError.Code = switch refusal.code {
                    case .malformed: .invalidArgument
                    case .noPipeline: .unimplemented
                    case .unavailable: .unavailable
                    }
                    return StreamingServerResponse(single: ServerResponse(error: RPCError(code: code, message: refusal.message)))
                }
            }
        }
    }
}

/// The OTLP/gRPC listener of the agent or gateway, as a `Service`.
public struct OTLPInputGRPCServer: Service {
    let listener: GRPCListener

    public init(host: String, port: Int, router: OTLPRouter, onListening: @escaping @Sendable (Int) async -> Void) {
        listener = GRPCListener(
            host: host, port: port, services: [OTLPInputGRPCService(router: router)], maximumRequestBytes: 64 << 20, onListening: onListening)
    }

    public func run() async throws { try await listener.run() }
}
