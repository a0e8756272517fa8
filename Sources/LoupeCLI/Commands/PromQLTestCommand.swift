import ArgumentParser
import Foundation
import LoupeQuery

/// `loupe promql-test FILE...`: runs promqltest scripts (Prometheus's PromQL test format)
/// against Loupe's PromQL engine and prints per-file pass counts.
struct PromQLTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promql-test",
        abstract: "Run promqltest files against Loupe's PromQL engine.",
        discussion: "The format is Prometheus's promql/promqltest (load, clear, eval ... expect ...). Exits non-zero when an eval fails.")

    @Argument(help: "promqltest files (.test).")
    var files: [String]

    @Option(help: "Failures to show per file.")
    var showFailures: Int = 5

    func run() throws {
        try ConformanceFileRunner.run(files: files) { text, name in
            let report = PromQLTestRunner.run(fileText: text, file: name)
            return (report.summary(maxFailures: showFailures), report.passed, report.total)
        }
    }
}

/// Runs script files one by one, prints each file's summary and the total, and fails when any eval did.
enum ConformanceFileRunner {
    static func run(files: [String], _ body: (_ text: String, _ name: String) -> (summary: String, passed: Int, total: Int)) throws {
        var passed = 0
        var total = 0
        for file in files {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read \(file): \(error.localizedDescription)")
            }
            let outcome = body(text, (file as NSString).lastPathComponent)
            print(outcome.summary)
            passed += outcome.passed
            total += outcome.total
        }
        print("\(passed) passed, \(total - passed) failed")
        if passed != total { throw ExitCode(1) }
    }
}
