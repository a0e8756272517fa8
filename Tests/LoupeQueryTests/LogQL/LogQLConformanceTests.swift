import Foundation
import LoupeQuery
import Testing

/// Runs every logqltest file of shared/conformance/logql through `LogQLTestRunner` and checks a pass-rate floor.
@Suite("LogQL conformance files: evaluation")
struct LogQLConformanceTests {
    static var conformanceDirectory: URL? {
        var candidates: [URL] = []
        let file = URL(fileURLWithPath: #filePath)
        for url in [file, file.resolvingSymlinksInPath()] {
            // Tests/LoupeQueryTests/LogQL/<file> -> the repository root's parent.
            let root = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.deletingLastPathComponent().appendingPathComponent("shared/conformance/logql"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The pass rate reached when this floor was set (935/935 on 2026-11-22), less a small margin.
    static let passRateFloor = 0.99

    @Test("logqltest files pass at least the recorded rate")
    func conformanceFiles() throws {
        guard let directory = Self.conformanceDirectory else { return }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".logqltest") }.sorted()
        #expect(!files.isEmpty)
        var passed = 0
        var total = 0
        let verbose = ProcessInfo.processInfo.environment["LOGQL_CONFORMANCE_VERBOSE"] != nil
        for name in files {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let report = LogQLTestRunner.run(fileText: text, file: name)
            #expect(report.scriptError == nil, "\(name): \(report.scriptError ?? "")")
            passed += report.passed
            total += report.total
            print("\(name): \(report.passed)/\(report.total)")
            if verbose { print(report.summary(maxFailures: 1000)) }
        }
        let rate = total == 0 ? 1 : Double(passed) / Double(total)
        print("LogQL conformance total: \(passed)/\(total) (\(Int(rate * 1000)) per mille)")
        #expect(rate >= Self.passRateFloor)
    }
}
