import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// One collection of the Kubernetes API kept current: listed, then watched from the list's
/// resource version, and listed again whenever the watch ends or fails (with a growing pause after
/// failures).
struct KubernetesListWatch<Object: Decodable & Sendable>: Sendable {
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

    let settings: KubernetesClient.Settings
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
        let client = KubernetesClient(settings: settings)
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let version = try await list(client: client)
                failures = 0
                // A watch waits on the server; the process stopping must not wait with it.
                try await cancelWhenGracefulShutdown { try await self.watch(client: client, from: version) }
            } catch {
                // A watch cut short by the process stopping is no failure.
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                failures += 1
                // Said once loudly; a missing permission would otherwise fill the log.
                logger.log(
                    level: failures == 1 ? .warning : .debug, "a Kubernetes list or watch failed; trying again",
                    metadata: ["api": "\(settings.apiServer)", "path": "\(path)", "error": "\(error)"])
                await pause(.seconds(min(30, failures * 2)))
            }
        }
        await client.shutdown()
    }

    private func query(_ extra: String) -> String {
        [query, extra].filter { !$0.isEmpty }.joined(separator: "&")
    }

    /// Lists the collection; returns the list's resource version to watch from.
    private func list(client: KubernetesClient) async throws -> String {
        let response = try await client.send(.GET, path, query: query(""))
        guard response.status == 200 else {
            throw KubernetesError(message: "listing \(path) answered \(response.status): \(response.text.prefix(300))")
        }
        let list = try JSONDecoder().decode(List.self, from: Data(buffer: response.body))
        replace(list.items)
        logger.debug("listed", metadata: ["path": "\(path)", "items": "\(list.items.count)"])
        return list.metadata.resourceVersion ?? ""
    }

    /// Applies watch events until the server ends the watch (it does every few minutes).
    private func watch(client: KubernetesClient, from version: String) async throws {
        let request = client.request(.GET, path, query: query("watch=1&allowWatchBookmarks=true&resourceVersion=" + version))
        let response = try await client.http.execute(request, timeout: .hours(1))
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
