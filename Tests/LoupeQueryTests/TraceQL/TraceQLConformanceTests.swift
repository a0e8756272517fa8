import Foundation
import LoupeQuery
import Testing

/// Runs Tempo's own TraceQL examples (`shared/conformance/traceql/traceql_test_examples.yaml`, a copy of
/// pkg/traceql/test_examples.yaml): `valid` must parse and validate, `parse_fails` must not parse,
/// `validate_fails` must parse and fail validation with an error other than "unsupported", `unsupported`
/// must parse and fail validation as unsupported. `dump` is Tempo's debugging section (empty).
@Suite("TraceQL conformance: Tempo's test_examples.yaml")
struct TraceQLConformanceTests {
    /// Cases allowed to fail, each with its reason. Empty: every case passes (2026-11-23: 463 / 463).
    /// A case that fails and is not listed here fails the test; a listed case that passes is reported.
    static let knownFailures: [String: String] = [:]

    static var examplesFile: URL? {
        var candidates: [URL] = []
        let file = URL(fileURLWithPath: #filePath)
        for url in [file, file.resolvingSymlinksInPath()] {
            // Tests/LoupeQueryTests/TraceQL/<file> -> the repository root, whose sibling is shared/.
            let root = url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            candidates.append(
                root.deletingLastPathComponent().appendingPathComponent("shared/conformance/traceql/traceql_test_examples.yaml"))
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The file's sections: `name:` lines, then `  - '...'` or `  - "..."` items. There is no YAML library
    /// among this target's dependencies and the file uses nothing more than this.
    static func sections(of text: String) -> [(name: String, cases: [String])] {
        var sections: [(name: String, cases: [String])] = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if let first = line.first, first != " ", first != "#", let colon = line.firstIndex(of: ":") {
                sections.append((String(line[..<colon]), []))
                continue
            }
            let trimmed = line.drop(while: { $0 == " " })
            guard trimmed.hasPrefix("- "), !sections.isEmpty else { continue }
            if let value = scalar(trimmed.dropFirst(2)) { sections[sections.count - 1].cases.append(value) }
        }
        return sections
    }

    /// A quoted YAML scalar: single quotes double `''` for a quote; double quotes take backslash escapes.
    /// Anything after the closing quote (a `# comment`) is ignored.
    static func scalar(_ text: Substring) -> String? {
        var characters = Array(text)[...]
        guard let quote = characters.popFirst(), quote == "'" || quote == "\"" else { return nil }
        var value = ""
        while let c = characters.popFirst() {
            if quote == "'" {
                if c == "'" {
                    if characters.first == "'" {
                        value.append("'")
                        characters.removeFirst()
                        continue
                    }
                    return value
                }
                value.append(c)
            } else {
                if c == "\"" { return value }
                guard c == "\\", let escaped = characters.popFirst() else {
                    value.append(c)
                    continue
                }
                switch escaped {
                case "n": value.append("\n")
                case "t": value.append("\t")
                case "r": value.append("\r")
                case "0": value.append("\0")
                default: value.append(escaped)
                }
            }
        }
        return nil
    }

    enum Outcome: Equatable {
        case valid
        case parseError
        case invalid
        case unsupported
    }

    static func outcome(of query: String) -> Outcome {
        let engine = TraceQLEngine()
        let parsed: TraceQLQuery
        do {
            parsed = try engine.parse(query)
        } catch {
            return .parseError
        }
        do {
            try engine.validate(parsed)
            return .valid
        } catch {
            return error.code == .unsupported ? .unsupported : .invalid
        }
    }

    @Test("every section behaves as Tempo's test expects")
    func examples() throws {
        guard let file = Self.examplesFile else {
            print("TraceQL conformance: ../shared/conformance/traceql/traceql_test_examples.yaml not found, skipped")
            return
        }
        let sections = Self.sections(of: try String(contentsOf: file, encoding: .utf8))
        #expect(sections.map(\.name) == ["valid", "parse_fails", "validate_fails", "unsupported", "dump"])
        let expected: [String: Outcome] = [
            "valid": .valid, "parse_fails": .parseError, "validate_fails": .invalid, "unsupported": .unsupported,
        ]
        var passedTotal = 0
        var total = 0
        var unexpectedFailures: [String] = []
        var fixedKnownFailures: [String] = []
        for (name, cases) in sections {
            guard let want = expected[name] else {
                // `dump` only prints ASTs in Tempo; here every case of it must at least parse.
                for query in cases where Self.outcome(of: query) == .parseError { unexpectedFailures.append("\(name): \(query)") }
                print("TraceQL conformance \(name): \(cases.count) cases (parse only)")
                continue
            }
            var passed = 0
            for query in cases {
                let got = Self.outcome(of: query)
                if got == want {
                    passed += 1
                    if Self.knownFailures[query] != nil { fixedKnownFailures.append(query) }
                } else if Self.knownFailures[query] == nil {
                    unexpectedFailures.append("\(name): \(query) -> \(got)")
                }
            }
            print("TraceQL conformance \(name): \(passed) / \(cases.count)")
            passedTotal += passed
            total += cases.count
        }
        print("TraceQL conformance total: \(passedTotal) / \(total)")
        if !fixedKnownFailures.isEmpty { print("Known failures that now pass: \(fixedKnownFailures)") }
        #expect(total >= 400)
        #expect(unexpectedFailures.isEmpty, "\(unexpectedFailures.joined(separator: "\n"))")
    }

    @Test("every parsable case prints back to the same tree")
    func examplesRoundTrip() throws {
        guard let file = Self.examplesFile else { return }
        let engine = TraceQLEngine()
        for (_, cases) in Self.sections(of: try String(contentsOf: file, encoding: .utf8)) {
            for query in cases {
                guard let parsed = try? engine.parse(query) else { continue }
                let printed = parsed.description
                #expect((try? engine.parse(printed)) == parsed, "\(query) printed as \(printed)")
            }
        }
    }

    @Test("the hand-written YAML reader handles both quote styles")
    func yamlScalars() {
        #expect(Self.scalar("'{ .a = ''x'' }'") == "{ .a = 'x' }")
        #expect(Self.scalar("'{ true }'     # comment") == "{ true }")
        #expect(Self.scalar("\"{ .\\\"foo\\tbar\\\" = \\\"v\\\" }\"") == "{ .\"foo\tbar\" = \"v\" }")
        #expect(Self.scalar("bare") == nil)
        let sections = Self.sections(of: "# c\nvalid:\n  # c\n  - '{ true }'\n\n  - \"x\"\nparse_fails:\n  - 'true'\ndump:\n")
        #expect(sections.map(\.name) == ["valid", "parse_fails", "dump"])
        #expect(sections[0].cases == ["{ true }", "x"])
    }
}
