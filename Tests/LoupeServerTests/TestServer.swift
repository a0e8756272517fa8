import Foundation
import Logging
@testable import LoupeCLI
import LoupeModel
import LoupePipeline
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `loupe up` running in-process on loopback ports chosen by the OS, for one test.
struct TestServer {
    let addresses: ListeningAddresses
    let runtime: LoupeRuntime
    let dataDirectory: URL

    var httpBase: String { "http://127.0.0.1:\(addresses.http.port)" }
    var otlpHTTPBase: String { "http://127.0.0.1:\(addresses.otlpHTTP.port)" }

    /// Starts a server, runs `body`, and always stops the server and removes its data.
    static func with<T: Sendable>(
        retention: RetentionPolicy = .keepEverything,
        dataDirectory: URL? = nil,
        configure: (inout LoupeConfiguration) -> Void = { _ in },
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        let directory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("loupe-test-\(UUID().uuidString)")
        defer { if dataDirectory == nil { try? FileManager.default.removeItem(at: directory) } }
        var configuration = LoupeConfiguration()
        configuration.dataDirectory = directory.path
        configuration.httpAddress = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.otlpGRPCAddress = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.otlpHTTPAddress = ListenAddress(host: "127.0.0.1", port: 0)
        configuration.retention = retention
        // Blocks are cut only when a test asks (runtime.maintenance.runOnce): a cut between two loads of
        // the same tenant would refuse the second as out of bounds, as Prometheus does.
        configuration.tsdbMaintenanceIntervalNanoseconds = 24 * 3_600 * 1_000_000_000
        configure(&configuration)
        var logger = Logger(label: "loupe-test")
        logger.logLevel = .warning
        let runtime = try LoupeRuntime(configuration: configuration, logger: logger)
        let (stream, continuation) = AsyncStream.makeStream(of: ListeningAddresses.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await runtime.run(gracefulShutdownSignals: []) { continuation.yield($0) }
            }
            var iterator = stream.makeAsyncIterator()
            guard let addresses = await iterator.next() else { throw TestFailure("server did not start") }
            let server = TestServer(addresses: addresses, runtime: runtime, dataDirectory: directory)
            do {
                let result = try await body(server)
                await runtime.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                await runtime.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    func request(
        _ method: String, _ url: String, body: [UInt8]? = nil, headers: [String: String] = [:]
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var replyHeaders: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            replyHeaders[String(describing: name).lowercased()] = String(describing: value)
        }
        return Reply(status: http.statusCode, headers: replyHeaders, body: Array(data))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
