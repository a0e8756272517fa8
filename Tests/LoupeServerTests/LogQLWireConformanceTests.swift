import Foundation
import LoupeModel
import LoupeQuery
import Testing

/// The wire agrees with the in-process runner: every logqltest file of shared/conformance/logql,
/// pushed through the Loki push API into a running server (retention 0) and evaluated through
/// the Loki query API, passes the same evals as `LogQLTestRunner` in process.
@Suite("LogQL conformance files: in process and over the wire")
struct LogQLWireConformanceTests {
    static var conformanceDirectory: URL? {
        var candidates: [URL] = []
        let file = URL(fileURLWithPath: #filePath)
        for url in [file, file.resolvingSymlinksInPath()] {
            let root = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.deletingLastPathComponent().appendingPathComponent("shared/conformance/logql"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    @Test("every conformance file passes the same evals through the push API and the query API as in process")
    func wireMatchesInProcess() async throws {
        guard let directory = Self.conformanceDirectory else { return }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".logqltest") }.sorted()
        #expect(!files.isEmpty)
        try await TestServer.with(retention: .keepEverything) { server in
            var totals = (local: 0, wire: 0, total: 0)
            for (fileIndex, name) in files.enumerated() {
                let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
                let local = LogQLTestRunner.run(fileText: text, file: name)
                var backend = LogQLWireTestBackend(server: server, tenantPrefix: "logqltest\(fileIndex)")
                let wire = await LogQLTestRunner.run(fileText: text, file: name, backend: &backend)
                totals.local += local.passed
                totals.wire += wire.passed
                totals.total += local.total
                print("\(name): in-process \(local.passed)/\(local.total), wire \(wire.passed)/\(wire.total)")
                for error in backend.loadErrors { print("  push refused: \(error)") }
                #expect(backend.loadErrors.isEmpty)
                #expect(local.total == wire.total, "\(name): different numbers of evals")
                for (l, w) in zip(local.outcomes, wire.outcomes) where l.passed != w.passed {
                    print("  line \(l.line): \(l.query)\n    in-process: \(l.passed ? "pass" : l.reason)\n    wire: \(w.passed ? "pass" : w.reason)")
                }
                #expect(local.passed == wire.passed, "\(name): in process \(local.passed) passed, over the wire \(wire.passed)")
            }
            print("LogQL conformance in-process \(totals.local)/\(totals.total), wire \(totals.wire)/\(totals.total)")
        }
    }
}
