import Foundation
import LoupeQuery
import Testing

/// Runs every promqltest file of shared/conformance/promql through `PromQLTestRunner` and checks a pass-rate floor.
@Suite("PromQL conformance files: evaluation")
struct PromQLConformanceTests {
    static var conformanceDirectory: URL? {
        var candidates: [URL] = []
        let file = URL(fileURLWithPath: #filePath)
        for url in [file, file.resolvingSymlinksInPath()] {
            let root = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.deletingLastPathComponent().appendingPathComponent("shared/conformance/promql"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The pass rate reached when this floor was set (2047/2083 = 0.983), less a small margin; raise it as the engine improves.
    static let passRateFloor = 0.98

    @Test("promqltest files pass at least the recorded rate")
    func conformanceFiles() throws {
        guard let directory = Self.conformanceDirectory else { return }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".test") }.sorted()
        var passed = 0
        var total = 0
        let verbose = ProcessInfo.processInfo.environment["PROMQL_CONFORMANCE_VERBOSE"] != nil
        for name in files {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let report = PromQLTestRunner.run(fileText: text, file: name)
            passed += report.passed
            total += report.total
            print("\(name): \(report.passed)/\(report.total)")
            if verbose { print(report.summary(maxFailures: 1000)) }
            if let error = report.scriptError { print("  script error: \(error)") }
        }
        let rate = total == 0 ? 1 : Double(passed) / Double(total)
        print("PromQL conformance total: \(passed)/\(total) (\(Int(rate * 1000)) per mille)")
        #expect(rate >= Self.passRateFloor)
    }
}
