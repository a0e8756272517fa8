import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Requests to the Kubernetes API as the service account: the bearer token is read anew for
/// every request (kubelets rotate projected tokens), the API's CA is trusted when given.
struct KubernetesClient: Sendable {
    struct Settings: Sendable {
        var apiServer: String
        var tokenFile: String?
        var caFile: String?
    }

    struct Response: Sendable {
        var status: Int
        var body: ByteBuffer

        var text: String { String(buffer: body) }
    }

    let settings: Settings
    let http: HTTPClient

    init(settings: Settings) {
        self.settings = settings
        var configuration = HTTPClient.Configuration()
        if let caFile = settings.caFile, FileManager.default.fileExists(atPath: caFile), settings.apiServer.hasPrefix("https") {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            configuration.tlsConfiguration = tls
        }
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func shutdown() async { try? await http.shutdown() }

    /// `path` from the API's root (`/api/v1/pods`); `query` without the `?`.
    func request(_ method: HTTPMethod = .GET, _ path: String, query: String = "", json: [UInt8]? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: settings.apiServer + path + (query.isEmpty ? "" : "?" + query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let tokenFile = settings.tokenFile, let token = FileManager.default.contents(atPath: tokenFile) {
            let text = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { request.headers.add(name: "Authorization", value: "Bearer " + text) }
        }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        return request
    }

    /// One request and its whole answer (up to `limit` bytes).
    func send(_ method: HTTPMethod = .GET, _ path: String, query: String = "", json: [UInt8]? = nil, timeout: TimeAmount = .seconds(30), limit: Int = 256 << 20) async throws -> Response {
        let response = try await http.execute(request(method, path, query: query, json: json), timeout: timeout)
        return Response(status: Int(response.status.code), body: try await response.body.collect(upTo: limit))
    }
}

struct KubernetesError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
