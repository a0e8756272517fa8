import Foundation
import Testing

@testable import LoupeQuery

@Suite struct LogQLPrinterTests {
    @Test(arguments: [
        #"{app="api", env=~"prod|stg"} |= "a" or "b" != "c" |~ `\d+` | json | logfmt --strict host, fwd="x" | status >= 500 and duration > 1s or size > 20KB | line_format "{{.msg}}" | label_format a=b, c="{{.d}}" | drop x, y="1" | keep z | decolorize"#,
        #"quantile_over_time(0.99, {app="a"} | regexp "(?P<x>\\d+)" | unwrap bytes(x) | __error__="" [1m] offset 5m) by (pod)"#,
        #"sum by (level) (count_over_time({namespace="y"} | json [1m])) / ignoring (x) group_left (pool) sum(rate({a="b"}[5m]))"#,
        #"-2 ^ 2 + 1 - -1 > bool 2"#,
        #"topk(3, sum without (pod) (bytes_rate({app="a"} |= ip("10.0.0.0/8") [30s]))) or vector(0)"#,
        #"label_replace(sort_desc(rate({a="b"}[1m])), "dst", "$1", "src", "(.*)")"#,
        #"{app="a"} | pattern "<ip> - <_>" | addr != ip("1.2.3.4") | unpack"#,
    ])
    func printsTextThatParsesBackToTheSameTree(query: String) throws {
        let parsed = try LogQLParser.parse(query)
        let printed = LogQLPrinter.print(parsed)
        #expect(try LogQLParser.parse(printed) == parsed, "\(printed)")
    }

    @Test func printsDurationsAndSizesCompactly() throws {
        #expect(LogQLPrinter.print(try LogQLParser.parse(#"count_over_time({a="b"}[90m] offset 1500ms)"#)) == #"count_over_time({a="b"} [1h30m] offset 1s500ms)"#)
        #expect(LogQLPrinter.print(try LogQLParser.parse(#"{a="b"} | size > 1KiB"#)) == #"{a="b"} | size > 1024B"#)
    }

    /// Every query of the conformance files that parses prints back to an equal tree.
    @Test func conformanceQueriesRoundTrip() throws {
        guard let directory = LogQLConformanceTests.conformanceDirectory else { return }
        var checked = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".logqltest") {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let script = try LogQLTestScript.parse(text)
            for command in script.commands {
                guard case .eval(let eval) = command, let parsed = try? LogQLParser.parse(eval.query) else { continue }
                let printed = LogQLPrinter.print(parsed)
                #expect((try? LogQLParser.parse(printed)) == parsed, "\(name):\(eval.line): \(eval.query) -> \(printed)")
                checked += 1
            }
        }
        #expect(checked > 800)
    }
}
