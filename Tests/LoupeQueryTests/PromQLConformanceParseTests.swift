import Foundation
import LoupeQuery
import Testing

/// Every query of Prometheus's promqltest files in shared/conformance/promql, through the parser and printer.
///
/// promqltest parses each `eval` query when it loads a file and stops on a parse error, so every query in
/// these files must parse; their `expect fail` lines are evaluation failures. A fail expectation whose message
/// reads like a parse error is counted as an expected parse failure instead.
@Suite("PromQL conformance files: parsing and printing")
struct PromQLConformanceParseTests {
    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var line: Int
        var query: String
        /// The `expect fail msg:`/`regex:` (or `expected_fail_message`/`expected_fail_regexp`) text, if any.
        var failMessage: String?
        var failIsRegex = false
        var expectsFailure = false

        var description: String { "\(file):\(line): \(query)" }

        /// Whether the expected failure is a parse error rather than an evaluation error.
        var expectsParseError: Bool {
            guard expectsFailure, let failMessage else { return false }
            return failMessage.contains("parse error") || failMessage.hasPrefix("unexpected ")
                || failMessage.hasPrefix("no expression found")
        }
    }

    static var conformanceDirectory: URL? {
        var candidates: [URL] = []
        let file = URL(fileURLWithPath: #filePath)
        for url in [file, file.resolvingSymlinksInPath()] {
            let root = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            candidates.append(root.deletingLastPathComponent().appendingPathComponent("shared/conformance/promql"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("README.promqltest.md").path) }
    }

    /// Reads the eval commands of a promqltest file as README.promqltest.md describes them.
    static func cases(in url: URL) throws -> [Case] {
        let data = try Data(contentsOf: url)
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let instant = try Regex(#"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"#)
        let range = try Regex(#"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"#)
        let expectFail = try Regex(#"^\s*expect\s+fail(?:\s+(regex|msg):(.+))?$"#)
        var result: [Case] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            var query: String?
            var modifier: Substring?
            if let match = try instant.wholeMatch(in: line) {
                modifier = match.output[1].substring
                query = match.output[3].substring.map(String.init)
            } else if let match = try range.wholeMatch(in: line) {
                modifier = match.output[1].substring
                query = match.output[5].substring.map(String.init)
            }
            guard let query else {
                index += 1
                continue
            }
            var item = Case(file: url.lastPathComponent, line: index + 1, query: query)
            item.expectsFailure = modifier == "fail"
            var next = index + 1
            while next < lines.count, !lines[next].isEmpty, !lines[next].hasPrefix("eval") {
                let body = lines[next]
                if let match = try expectFail.wholeMatch(in: body) {
                    item.expectsFailure = true
                    if let message = match.output[2].substring {
                        item.failMessage = message.trimmingCharacters(in: .whitespaces)
                        item.failIsRegex = match.output[1].substring == "regex"
                    }
                } else if item.expectsFailure, body.hasPrefix("expected_fail_message") {
                    item.failMessage = String(body.dropFirst("expected_fail_message".count)).trimmingCharacters(in: .whitespaces)
                } else if item.expectsFailure, body.hasPrefix("expected_fail_regexp") {
                    item.failMessage = String(body.dropFirst("expected_fail_regexp".count)).trimmingCharacters(in: .whitespaces)
                    item.failIsRegex = true
                }
                next += 1
            }
            result.append(item)
            index = next
        }
        return result
    }

    static func allCases() throws -> [Case] {
        guard let directory = conformanceDirectory else { return [] }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".test") }.sorted()
        return try files.flatMap { try cases(in: directory.appendingPathComponent($0)) }
    }

    @Test("every conformance query parses (or fails to parse where a parse error is expected)")
    func conformanceQueriesParse() throws {
        let cases = try Self.allCases()
        guard !cases.isEmpty else {
            print("conformance files not found; skipping")
            return
        }
        var perFile: [String: (parsed: Int, failedAsExpected: Int, mismatched: Int)] = [:]
        var mismatches: [String] = []
        for item in cases {
            var counts = perFile[item.file] ?? (0, 0, 0)
            do {
                _ = try PromQLParser.parse(item.query)
                if item.expectsParseError {
                    counts.mismatched += 1
                    mismatches.append("\(item): parsed, but expected parse failure \(item.failMessage ?? "")")
                } else {
                    counts.parsed += 1
                }
            } catch {
                if item.expectsParseError {
                    counts.failedAsExpected += 1
                } else {
                    counts.mismatched += 1
                    mismatches.append("\(item): \(error)")
                }
            }
            perFile[item.file] = counts
        }
        var total = (parsed: 0, failedAsExpected: 0, mismatched: 0)
        for file in perFile.keys.sorted() {
            let counts = perFile[file]!
            print("\(file): parsed ok \(counts.parsed), expected-fail matched \(counts.failedAsExpected), mismatched \(counts.mismatched)")
            total.parsed += counts.parsed
            total.failedAsExpected += counts.failedAsExpected
            total.mismatched += counts.mismatched
        }
        print("total: \(cases.count) queries: parsed ok \(total.parsed), expected-fail matched \(total.failedAsExpected), mismatched \(total.mismatched)")
        for mismatch in mismatches { print("mismatch: \(mismatch)") }
        let good = Double(total.parsed + total.failedAsExpected) / Double(cases.count)
        #expect(good >= 0.98)
        #expect(cases.count > 2000)
    }

    @Test("printing a parsed conformance query and parsing it again gives the same tree")
    func printerRoundTrip() throws {
        let cases = try Self.allCases()
        guard !cases.isEmpty else { return }
        var checked = 0
        var failures: [String] = []
        for item in cases {
            guard let expression = try? PromQLParser.parse(item.query) else { continue }
            checked += 1
            let printed = expression.description
            do {
                let reparsed = try PromQLParser.parse(printed)
                if reparsed.canonicalized() != expression.canonicalized() {
                    failures.append("\(item): printed \(printed) parses to a different tree")
                } else if reparsed.description != printed {
                    failures.append("\(item): printing is not stable: \(printed) then \(reparsed.description)")
                }
                let pretty = expression.format(pretty: true)
                let fromPretty = try PromQLParser.parse(pretty)
                if fromPretty.canonicalized() != expression.canonicalized() {
                    failures.append("\(item): pretty text \(pretty) parses to a different tree")
                }
            } catch {
                failures.append("\(item): printed \(printed) does not parse: \(error)")
            }
        }
        print("round trip: \(checked) queries, \(failures.count) failures")
        for failure in failures { print("round trip failure: \(failure)") }
        #expect(failures.isEmpty)
    }
}
