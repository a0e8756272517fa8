import GRPCCore
import LoupeGRPC
import LoupeModel
import LoupePipeline

/// OTLP/gRPC: the `Export` method of `TraceService`, `MetricsService` and `LogsService`.
struct OTLPGRPCService: RegistrableRPCService {
    let ingestor: OTLPIngestor

    static func method(for signal: Signal) -> MethodDescriptor { OTLPGRPCMethods.export(for: signal) }

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        for signal in Signal.allCases {
            router.registerHandler(
                forMethod: Self.method(for: signal), deserializer: RawMessageDeserializer(), serializer: RawMessageSerializer()
            ) { request, _ in
                let response = await export(signal: signal, request: request)
                return StreamingServerResponse(single: response)
            }
        }
    }

    private func export(signal: Signal, request: StreamingServerRequest<[UInt8]>) async -> ServerResponse<[UInt8]> {
        let telemetry = ingestor.pipeline.telemetry
        let tenant: Tenant
        do {
            tenant = try Tenant.fromHeader(request.metadata[stringValues: "x-scope-orgid"].first(where: { _ in true }))
        } catch {
            telemetry.recordRejected(signal: signal, via: .otlpGRPC, reason: "invalid_tenant")
            return ServerResponse(error: RPCError(code: .invalidArgument, message: error.description))
        }
        var body: [UInt8]?
        do {
            for try await message in request.messages where body == nil {
                body = message
            }
        } catch {
            return ServerResponse(error: RPCError(code: .invalidArgument, message: "could not read the request: \(error)"))
        }
        guard let body else {
            return ServerResponse(error: RPCError(code: .invalidArgument, message: "the request carried no message"))
        }
        do {
            let receipt = try await ingestor.export(signal: signal, body: body, encoding: .protobuf, tenant: tenant, via: .otlpGRPC)
            return ServerResponse(message: OTLPIngestor.responseBody(signal: signal, receipt: receipt, encoding: .protobuf))
        } catch {
            return ServerResponse(error: RPCError(code: Self.statusCode(for: error.code), message: error.message))
        }
    }

    /// The gRPC status for each refusal; UNAVAILABLE is the code OTLP clients retry.
    static func statusCode(for code: IngestError.Code) -> RPCError.Code {
        switch code {
        case .badRequest: .invalidArgument
        case .tooLarge: .resourceExhausted
        case .overloaded, .unavailable: .unavailable
        case .internalError: .internalError
        }
    }
}
