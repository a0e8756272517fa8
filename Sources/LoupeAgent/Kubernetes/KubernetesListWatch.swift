import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// One collection of the Kubernetes API kept current: listed, then watched from the list's
/// resource version, and listed again whenever the watch ends or fails (with a growing pause after
/// failures). Authenticates with the service account token, read anew at each connection as it
/// rotates.
struct KubernetesListWatch<Object: Decodable & Sendable>: Sendable {
    struct Settings: Sendable {
        var apiServer: String
        var tokenFile: String?
        var caFile: String?
    }

    struct Metadata: Decodable {
        var resourceVersion: String?
    }

    struct List: Decodable {
        var metadata: Metadata
        var items: [Object]
    }

    struct Event: Decodable {
        var type: String
        var object: Object
    }

    let settings: Settings
    /// `/api/v1/pods`, `/apis/discovery.k8s.io/v1/endpointslices`, ...
    let path: String
    /// Selectors, without the leading `?`; empty for none.
    let query: String
    /// What is listed replaces everything known.
    let replace: @Sendable ([Object]) -> Void
    /// A watch event: `ADDED`, `MODIFIED` or `DELETED` and the object.
    let apply: @Sendable (String, Object) -> Void
    let logger: Logger

    func run() async {
        var configuration = HTTPClient.Configuration()
        if let caFile = settings.caFile, FileManager.default.fileExists(atPath: caFile), settings.apiServer.hasPrefix("https") {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let version = try await list(client: client)
                failures = 0
                // A watch waits on the server; the process stopping must not wait with it.
                try await cancelWhenGracefulShutdown { try await self.watch(client: client, from: version) }
            } catch {
                failures += 1
                // Said once loudly; a missing permission would otherwise fill the log.
                logger.log(
                    level: failures == 1 ? .warning : .debug, "a Kubernetes list or watch failed; trying again",
                    metadata: ["api": "\(settings.apiServer)", "path": "\(path)", "error": "\(error)"])
                await pause(.seconds(min(30, failures * 2)))
            }
        }
        try? await client.shutdown()
    }

    private func request(_ extra: String) -> HTTPClientRequest {
        let parameters = [query, extra].filter { !$0.isEmpty }.joined(separator: "&")
        var request = HTTPClientRequest(url: settings.apiServer + path + (parameters.isEmpty ? "" : "?" + parameters))
        request.headers.add(name: "Accept", value: "application/json")
        if let tokenFile = settings.tokenFile, let token = FileManager.default.contents(atPath: tokenFile) {
            let text = String(decoding: token, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { request.headers.add(name: "Authorization", value: "Bearer " + text) }
        }
        return request
    }

    /// Lists the collection; returns the list's resource version to watch from.
    private func list(client: HTTPClient) async throws -> String {
        let response = try await client.execute(request(""), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 256 << 20)
        guard response.status.code == 200 else {
            throw KubernetesError(message: "listing \(path) answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        let list = try JSONDecoder().decode(List.self, from: Data(buffer: body))
        replace(list.items)
        logger.debug("listed", metadata: ["path": "\(path)", "items": "\(list.items.count)"])
        return list.metadata.resourceVersion ?? ""
    }

    /// Applies watch events until the server ends the watch (it does every few minutes).
    private func watch(client: HTTPClient, from version: String) async throws {
        let response = try await client.execute(request("watch=1&allowWatchBookmarks=true&resourceVersion=" + version), timeout: .hours(1))
        guard response.status.code == 200 else {
            throw KubernetesError(message: "watching \(path) answered \(response.status.code)")
        }
        var pending: [UInt8] = []
        for try await chunk in response.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                guard !line.isEmpty else { continue }
                guard let event = try? JSONDecoder().decode(Event.self, from: Data(line)) else {
                    // A BOOKMARK has a bare object; an ERROR event (an expired resource version)
                    // carries a Status: list again.
                    if line.starts(with: Array(#"{"type":"BOOKMARK""#.utf8)) { continue }
                    throw KubernetesError(message: "the watch of \(path) sent \(String(decoding: line.prefix(200), as: UTF8.self))")
                }
                apply(event.type, event.object)
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
        }
    }
}

struct KubernetesError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
