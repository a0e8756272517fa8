import ArgumentParser
import Foundation
import LoupeQuery

/// `loupe logql-test FILE...`: runs logqltest scripts (Loki's LogQL test format) against
/// Loupe's LogQL engine and prints per-file pass counts.
struct LogQLTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logql-test",
        abstract: "Run logqltest files against Loupe's LogQL engine.",
        discussion: "The format is Loki's logqltest (load, clear, eval instant|range ... expect ...), epoch 2026-01-01T00:00:00Z. Exits non-zero when an eval fails.")

    @Argument(help: "logqltest files (.logqltest).")
    var files: [String]

    @Option(help: "Failures to show per file.")
    var showFailures: Int = 5

    func run() throws {
        try ConformanceFileRunner.run(files: files) { text, name in
            let report = LogQLTestRunner.run(fileText: text, file: name)
            return (report.summary(maxFailures: showFailures), report.passed, report.total)
        }
    }
}
