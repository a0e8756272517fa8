import HTTPTypes
import Hummingbird
import LoupeModel
import NIOCore

/// A read API's refusal: the status and what was wrong, shown to the client.
struct QueryFailure: Error {
    var status: HTTPResponse.Status = .badRequest
    var message: String
}

/// What the trace query APIs (Tempo, Jaeger, Zipkin) share: running a handler with the request's
/// tenant and query (and form) parameters, and answering its refusals in the API's own shape.
enum QueryAPI {
    static func run(
        _ request: Request, refusal: (QueryFailure) -> Response, _ handler: ([String: [String]], Tenant) throws -> Response
    ) async -> Response {
        do {
            let tenant: Tenant
            do {
                tenant = try Tenant.fromHeader(request.headers[HTTPField.Name.scopeOrgID])
            } catch {
                throw QueryFailure(message: error.description)
            }
            return try handler(try await PrometheusAPIRoutes.parameters(of: request), tenant)
        } catch let failure as QueryFailure {
            return refusal(failure)
        } catch {
            return refusal(QueryFailure(status: .internalServerError, message: "\(error)"))
        }
    }

    static func plainText(_ status: HTTPResponse.Status, _ message: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: message + "\n")))
    }

    static func plainText(_ failure: QueryFailure) -> Response { plainText(failure.status, failure.message) }
}
