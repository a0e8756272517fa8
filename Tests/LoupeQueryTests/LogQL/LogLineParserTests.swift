@testable import LoupeQuery
import Testing

/// The LogQL parser stages (json, logfmt, pattern, regexp, unpack, decolorize) against the conformance
/// inputs (parsers.logqltest, label_filters.logqltest, line_filters.logqltest) and Loki's own unit cases
/// (pkg/logql/log/parser_test.go, pattern/pattern_test.go, jsonexpr and logfmt expression tests).
@Suite("LogQL line parser stages")
struct LogLineParserTests {
    static func labels(_ pairs: KeyValuePairs<String, String>) -> [LogQLExtractedLabel] {
        pairs.map { LogQLExtractedLabel(name: $0.key, value: $0.value) }
    }

    static func placeholder(_ name: String) -> LogQLExtractedLabel {
        LogQLExtractedLabel(name: name, value: "", isPlaceholder: true)
    }

    static func jsonError(_ details: String) -> LogQLParseFailure {
        LogQLParseFailure(kind: "JSONParserErr", details: details)
    }

    static func logfmtError(_ details: String) -> LogQLParseFailure {
        LogQLParseFailure(kind: "LogfmtParserErr", details: details)
    }

    /// The message of the construction error `body` throws, nil when it succeeds.
    static func constructionError(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as LogQLStageError {
            return error.message
        } catch {
            return "unexpected error type: \(error)"
        }
    }

    // MARK: - logfmt

    @Test func logfmtExtractsEveryPair() throws {
        let parser = try LogfmtLineParser()
        #expect(parser.parse("level=info status=200") == LogLineParseOutcome(labels: Self.labels(["level": "info", "status": "200"])))
        #expect(
            parser.parse(#"at=info method=GET path=/ host=grafana.net fwd="124.133.124.161" service=8ms status=200"#).labels
                == Self.labels([
                    "at": "info", "method": "GET", "path": "/", "host": "grafana.net", "fwd": "124.133.124.161",
                    "service": "8ms", "status": "200",
                ])
        )
    }

    /// parsers.logqltest: sanitized keys, a leading digit, first duplicate wins, quoted spaces, empty values.
    @Test func logfmtConformanceEdgeCases() throws {
        let line = #"a-b=1 9x=2 dup=first dup=second msg="hi there" empty="#
        #expect(try LogfmtLineParser().parse(line).labels == Self.labels(["a_b": "1", "_9x": "2", "dup": "first", "msg": "hi there"]))
        #expect(
            try LogfmtLineParser(keepEmpty: true).parse(line).labels
                == Self.labels(["a_b": "1", "_9x": "2", "dup": "first", "msg": "hi there", "empty": ""])
        )
    }

    /// label_filters.logqltest: `name=` only becomes a label with --keep-empty; a standalone key likewise.
    @Test func logfmtEmptyValues() throws {
        #expect(try LogfmtLineParser().parse("name=").labels.isEmpty)
        #expect(try LogfmtLineParser(keepEmpty: true).parse("name=").labels == Self.labels(["name": ""]))
        #expect(try LogfmtLineParser().parse("foo bar=buzz").labels == Self.labels(["bar": "buzz"]))
        #expect(try LogfmtLineParser(keepEmpty: true).parse("foo bar=buzz").labels == Self.labels(["foo": "", "bar": "buzz"]))
        #expect(try LogfmtLineParser(keepEmpty: true).parse(#"q="""#).labels == Self.labels(["q": ""]))
        // An empty value is never recorded, so the first non-empty one wins.
        #expect(try LogfmtLineParser().parse("dup= dup=x").labels == Self.labels(["dup": "x"]))
        #expect(try LogfmtLineParser(keepEmpty: true).parse("dup= dup=x").labels == Self.labels(["dup": ""]))
    }

    /// parsers.logqltest: a bad pair is skipped, or ends the line with LogfmtParserErr under --strict.
    @Test func logfmtMalformedPairs() throws {
        let line = #"good=1 bad="unterminated"#
        #expect(try LogfmtLineParser().parse(line) == LogLineParseOutcome(labels: Self.labels(["good": "1"])))
        #expect(
            try LogfmtLineParser(strict: true).parse(line)
                == LogLineParseOutcome(
                    labels: Self.labels(["good": "1"]),
                    error: Self.logfmtError("logfmt syntax error at pos 25 : unterminated quoted value")
                )
        )
    }

    /// Loki's TestLogfmtParser_parse cases, with the decoder's positions and messages.
    @Test(arguments: [
        ("foobar====wqe=sdad1r", [], "logfmt syntax error at pos 8 : unexpected '='"),
        (#"foo="foo bar" =notkey bar=10ms"#, ["foo=foo bar", "bar=10ms"], "logfmt syntax error at pos 15 : unexpected '='"),
        ("foo=\"foo bar\" b\u{FFFD}r=10ms", ["foo=foo bar"], "logfmt syntax error at pos 20 : invalid key"),
        (#"foo="foo bar" bu"zz=10ms"#, ["foo=foo bar"], #"logfmt syntax error at pos 17 : unexpected '"'"#),
        (#"bar=bu=zz foo="foo bar""#, ["foo=foo bar"], "logfmt syntax error at pos 7 : unexpected '='"),
        (#"a="\q" b=1"#, ["b=1"], "logfmt syntax error at pos 7 : invalid quoted value"),
    ] as [(String, [String], String)])
    func logfmtSyntaxErrors(line: String, lenientLabels: [String], strictDetails: String) throws {
        let lenient = try LogfmtLineParser().parse(line)
        #expect(lenient.error == nil)
        #expect(lenient.labels.map { "\($0.name)=\($0.value)" } == lenientLabels)
        let strict = try LogfmtLineParser(strict: true).parse(line)
        #expect(strict.error == Self.logfmtError(strictDetails))
    }

    @Test func logfmtStrictKeepsPairsBeforeTheError() throws {
        let outcome = try LogfmtLineParser(strict: true).parse(#"foo="foo bar" =notkey bar=10ms"#)
        #expect(outcome.labels == Self.labels(["foo": "foo bar"]))
    }

    @Test func logfmtQuotedValuesAndEscapes() throws {
        let parser = try LogfmtLineParser()
        #expect(parser.parse(#"foobar="foo\nbar\tbaz""#).labels == Self.labels(["foobar": "foo\nbar\tbaz"]))
        #expect(parser.parse("foobar=\"foo\nbar\tbaz\"").labels == Self.labels(["foobar": "foo\nbar\tbaz"]))
        #expect(parser.parse(#"foobar="foo ba\\r baz""#).labels == Self.labels(["foobar": #"foo ba\r baz"#]))
        #expect(parser.parse(#"q="say \"hi\" \/ \'x\'""#).labels == Self.labels(["q": #"say "hi" / 'x'"#]))
        #expect(parser.parse(#"a="x"b=2"#).labels == Self.labels(["a": "x", "b": "2"]))
    }

    @Test func logfmtUnicode() throws {
        let parser = try LogfmtLineParser()
        #expect(parser.parse(#"a="\u00e9\ud83d\ude00" b=ÜFT8👌"#).labels == Self.labels(["a": "é😀", "b": "ÜFT8👌"]))
        // A lone surrogate becomes U+FFFD, which Loki stores as a space.
        #expect(parser.parse(#"b="\ud83dx""#).labels == Self.labels(["b": " x"]))
        #expect(parser.parse("buzz=foo bar=\u{FFFD}f").labels == Self.labels(["buzz": "foo", "bar": " f"]))
        #expect(parser.parse("ключ=значение").labels == Self.labels(["____": "значение"]))
    }

    /// parsers.logqltest: `| logfmt level, code="status"`.
    @Test func logfmtExpressions() throws {
        let parser = try LogfmtLineParser(expressions: [("level", "level"), ("code", "status")])
        #expect(parser.parse("level=info status=200 msg=hi").labels == Self.labels(["level": "info", "code": "200"]))
        #expect(parser.parse("msg=hi").labels == [Self.placeholder("level"), Self.placeholder("code")])
        // Requested keys keep their last value and their empty values.
        #expect(parser.parse("level=a level=b status=").labels == Self.labels(["level": "b", "code": ""]))
        // U+FFFD empties the value instead of becoming a space.
        #expect(parser.parse("level=a\u{FFFD}").labels == [LogQLExtractedLabel(name: "level", value: ""), Self.placeholder("code")])
    }

    @Test func logfmtExpressionsStrict() throws {
        let parser = try LogfmtLineParser(strict: true, expressions: [("level", "level")])
        let outcome = parser.parse("level=info x=a=b")
        #expect(outcome.labels == Self.labels(["level": "info"]))
        #expect(outcome.error == Self.logfmtError("logfmt syntax error at pos 15 : unexpected '='"))
    }

    @Test func logfmtExpressionErrors() {
        #expect(
            Self.constructionError { _ = try LogfmtLineParser(expressions: [("app", "field with spaces")]) }
                == "cannot parse expression [field with spaces]: syntax error: unexpected KEY"
        )
        #expect(
            Self.constructionError { _ = try LogfmtLineParser(expressions: [("app", "fieldwithÜFT8👌")]) }
                == "cannot parse expression [fieldwithÜFT8👌]: unexpected char Ü"
        )
        #expect(
            Self.constructionError { _ = try LogfmtLineParser(expressions: [("app", "")]) }
                == "cannot parse expression []: syntax error: unexpected $end, expecting STRING or KEY"
        )
        #expect(Self.constructionError { _ = try LogfmtLineParser(expressions: [("", "app")]) } == "invalid extracted label name ''")
        #expect(Self.constructionError { _ = try LogfmtLineParser(expressions: [("id8", "id8"), ("q", #""quoted key""#)]) } == nil)
    }

    // MARK: - json

    @Test func jsonExtractsEveryField() throws {
        let parser = try JSONLineParser()
        #expect(parser.parse(#"{"level":"info","status":200}"#) == LogLineParseOutcome(labels: Self.labels(["level": "info", "status": "200"])))
    }

    /// parsers.logqltest: nested objects flatten, numbers keep their text, booleans, null and arrays drop.
    @Test func jsonConformanceEdgeCases() throws {
        let parser = try JSONLineParser()
        #expect(
            parser.parse(#"{"lvl":"warn","obj":{"x":1,"y":{"z":2}},"ok":true,"no":false,"nil":null,"arr":[1,2],"f":1.5}"#).labels
                == Self.labels(["lvl": "warn", "obj_x": "1", "obj_y_z": "2", "ok": "true", "no": "false", "f": "1.5"])
        )
        #expect(
            parser.parse(#"{"level":"parsed","a.b":1,"dup":"first","dup":"second"}"#).labels
                == Self.labels(["level": "parsed", "a_b": "1", "dup": "first"])
        )
        #expect(parser.parse(#"{"n":-1.5e+3,"big":123456789012345678901234567890}"#).labels == Self.labels(["n": "-1.5e+3", "big": "123456789012345678901234567890"]))
    }

    /// The documentation's example of flattening.
    @Test func jsonDocumentationExample() throws {
        let line = #"""
            {"protocol": "HTTP/2.0", "servers": ["129.0.1.1","10.2.1.3"], "request": {"time": "6.032", "method": "GET",
             "host": "foo.grafana.net", "size": "55", "headers": {"Accept": "*/*", "User-Agent": "curl/7.68.0"}},
             "response": {"status": 401, "size": "228", "latency_seconds": "6.031"}}
            """#
        #expect(
            try JSONLineParser().parse(line).labels
                == Self.labels([
                    "protocol": "HTTP/2.0", "request_time": "6.032", "request_method": "GET",
                    "request_host": "foo.grafana.net", "request_size": "55", "request_headers_Accept": "*/*",
                    "request_headers_User_Agent": "curl/7.68.0", "response_status": "401", "response_size": "228",
                    "response_latency_seconds": "6.031",
                ])
        )
    }

    @Test func jsonKeysAndEscapes() throws {
        let parser = try JSONLineParser()
        #expect(parser.parse(#"{" ": {"foo":"bar"}}"#).labels == Self.labels(["foo": "bar"]))
        #expect(parser.parse(#"{"cou-nter":1, "1":{"2":3}, "é":"x", "a\u0062":"y"}"#).labels == Self.labels(["cou_nter": "1", "_1_2": "3", "_": "x", "ab": "y"]))
        #expect(
            parser.parse(#"{"counter":1,"foo":"foo\\\"bar", "price": {"_net_":5.56909}}"#).labels
                == Self.labels(["counter": "1", "foo": #"foo\"bar"#, "price__net_": "5.56909"])
        )
        #expect(parser.parse(#"{"s":"\ud83d\ude00\u00e9\n\t\/"}"#).labels == Self.labels(["s": "😀é\n\t/"]))
        #expect(parser.parse("{\"foo\":\"\u{FFFD}\"}").labels == Self.labels(["foo": " "]))
        // An invalid escape empties the value rather than failing the line.
        #expect(parser.parse(#"{"a":"x\q","b":"\ud800"}"#) == LogLineParseOutcome(labels: Self.labels(["a": "", "b": ""])))
        #expect(parser.parse(#"{"a":"", "b":"ünïcödé 🤷"}"#).labels == Self.labels(["a": "", "b": "ünïcödé 🤷"]))
    }

    /// grafana/jsonparser is tolerant: what it does not walk through, it does not check.
    @Test func jsonToleratesWhatLokiTolerates() throws {
        let parser = try JSONLineParser()
        #expect(parser.parse(#"{"a":1,}"#) == LogLineParseOutcome(labels: Self.labels(["a": "1"])))
        #expect(parser.parse(#"{"foo":{"cou-nter":1}}" trailing"#) == LogLineParseOutcome(labels: Self.labels(["foo_cou_nter": "1"])))
        #expect(parser.parse(#"{"skipped":[not json],"b":2}"#) == LogLineParseOutcome(labels: Self.labels(["b": "2"])))
        #expect(parser.parse(#"  {"a" : "b" }"#) == LogLineParseOutcome(labels: Self.labels(["a": "b"])))
    }

    @Test(arguments: [
        ("broken", [], "Value looks like object, but can't find closing '}' symbol"),
        ("", [], "Value looks like object, but can't find closing '}' symbol"),
        ("{n}", [], "Value looks like object, but can't find closing '}' symbol"),
        ("[1,2]", [], "Value looks like object, but can't find closing '}' symbol"),
        ("{", [], "Malformed JSON error"),
        (#"{"a":1"#, ["a=1"], "Value is array, but can't find closing ']' symbol"),
        (#"{"a":"1","b":tru}"#, ["a=1"], "Unknown value type"),
        (#"{"a":"unterminated}"#, [], "Value is string, but can't find closing '\"' symbol"),
        (#"{"x":1,"a":{"b":1"#, ["x=1"], "Value looks like object, but can't find closing '}' symbol"),
        (#"{"a\q":1}"#, [], "Encountered an invalid escape sequence in a string"),
    ] as [(String, [String], String)])
    func jsonErrors(line: String, labelsBeforeError: [String], details: String) throws {
        let outcome = try JSONLineParser().parse(line)
        #expect(outcome.error == Self.jsonError(details))
        #expect(outcome.labels.map { "\($0.name)=\($0.value)" } == labelsBeforeError)
    }

    /// parsers.logqltest: `| json who="user.id", tag="tags[0]"`, and a missing path.
    @Test func jsonExpressions() throws {
        let line = #"{"user":{"id":"u1","name":"alice"},"tags":["x","y"]}"#
        let parser = try JSONLineParser(expressions: [("who", "user.id"), ("tag", "tags[0]")])
        #expect(parser.parse(line) == LogLineParseOutcome(labels: Self.labels(["who": "u1", "tag": "x"])))
        #expect(try JSONLineParser(expressions: [("age", "user.age")]).parse(line).labels == [Self.placeholder("age")])
    }

    static let expressionTestLine = #"{"app":"foo","field with space":"value","field with ÜFT8👌":"value","null_field":null,"bool_field":false,"namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar", "params": [1,2,3,"string_value"]}}}"#

    /// Loki's TestJSONExpressionParser paths.
    @Test(arguments: [
        ("app", "foo"),
        (#"["field with space"]"#, "value"),
        (#"["field with ÜFT8👌"]"#, "value"),
        ("pod.uuid", "foo"),
        (#"pod["uuid"]"#, "foo"),
        (#"["pod"]["uuid"]"#, "foo"),
        (#"["pod"].uuid"#, "foo"),
        ("pod.deployment.params[0]", "1"),
        ("pod.deployment.params[3]", "string_value"),
        ("pod.deployment.params", #"[1,2,3,"string_value"]"#),
        ("pod.deployment", #"{"ref":"foobar", "params": [1,2,3,"string_value"]}"#),
        ("null_field", ""),
        ("bool_field", "false"),
    ])
    func jsonExpressionPaths(path: String, value: String) throws {
        let outcome = try JSONLineParser(expressions: [("x", path)]).parse(Self.expressionTestLine)
        #expect(outcome == LogLineParseOutcome(labels: [LogQLExtractedLabel(name: "x", value: value)]))
    }

    @Test(arguments: [#"pod[""]"#, #"pod.deployment.params[""]"#, "pod.nope", "pod.deployment.params[9]", "app.deeper"])
    func jsonExpressionMissingPaths(path: String) throws {
        let outcome = try JSONLineParser(expressions: [("x", path)]).parse(Self.expressionTestLine)
        #expect(outcome == LogLineParseOutcome(labels: [Self.placeholder("x")]))
    }

    @Test func jsonExpressionValues() throws {
        let app = try JSONLineParser(expressions: [("app", "app")])
        #expect(app.parse(#"{"app":"{ \"key\": \"value\"}"}"#).labels == Self.labels(["app": #"{ "key": "value"}"#]))
        #expect(app.parse(#"{"app":{"name":"great \"loki\""}}"#).labels == Self.labels(["app": #"{"name":"great \"loki\""}"#]))
        #expect(app.parse(#"{"app":"foo","app":"duplicate"}"#).labels == Self.labels(["app": "foo"]))
        // Loki unescapes the text of an array (not of an object).
        let nested = try JSONLineParser(expressions: [("whole", "a"), ("list", "a.b")])
        #expect(nested.parse(#"{"a":{"b":[1, "q\"r"]}}"#).labels == Self.labels(["whole": #"{"b":[1, "q\"r"]}"#, "list": #"[1, "q"r"]"#]))
        // Repeated intermediate keys are all searched.
        let split = try JSONLineParser(expressions: [("x", "a.x"), ("y", "a.y")])
        #expect(split.parse(#"{"a":{"x":1},"a":{"y":2}}"#).labels == Self.labels(["x": "1", "y": "2"]))
        let arrays = try JSONLineParser(expressions: [("x", "a[0][1]"), ("y", "a[1].b"), ("z", "[0]")])
        #expect(arrays.parse(#"{"a":[[1,2],{"b":"c"}]}"#).labels == [LogQLExtractedLabel(name: "x", value: "2"), LogQLExtractedLabel(name: "y", value: "c"), Self.placeholder("z")])
        #expect(arrays.parse(#"["first"]"#).labels == [Self.placeholder("x"), Self.placeholder("y"), LogQLExtractedLabel(name: "z", value: "first")])
    }

    @Test func jsonExpressionLineErrors() throws {
        let parser = try JSONLineParser(expressions: [("uuid", "pod.uuid")])
        #expect(parser.parse("invalid json") == LogLineParseOutcome(error: LogQLParseFailure(kind: "JSONParserErr", details: "")))
        #expect(parser.parse(" {}") == LogLineParseOutcome(error: LogQLParseFailure(kind: "JSONParserErr", details: "")))
        #expect(parser.parse("") == LogLineParseOutcome())
        #expect(parser.parse("{}") == LogLineParseOutcome(labels: [Self.placeholder("uuid")]))
        let truncated = try JSONLineParser(expressions: [("a", "a"), ("b", "b")]).parse(#"{"a":1,"b":"xyz"#)
        #expect(truncated.labels == [LogQLExtractedLabel(name: "a", value: "1"), Self.placeholder("b")])
        #expect(truncated.error == Self.jsonError("Value is string, but can't find closing '\"' symbol"))
    }

    /// Loki's TestJSONExpressionParserFailures and the jsonexpr grammar's messages.
    @Test(arguments: [
        ("field with space", "syntax error: unexpected FIELD"),
        (#""pod"]"#, "syntax error: unexpected STRING, expecting LSB or FIELD"),
        (#"["pod""#, "syntax error: unexpected $end, expecting RSB"),
        (#"["pod""uuid"]"#, "syntax error: unexpected STRING, expecting RSB"),
        ("pod..uuid", "syntax error: unexpected DOT, expecting FIELD"),
        ("user[", "syntax error: unexpected $end, expecting STRING or INDEX"),
        ("", "syntax error: unexpected $end, expecting LSB or FIELD"),
        ("a-b", "unexpected char -"),
    ])
    func jsonExpressionSyntaxErrors(expression: String, message: String) {
        #expect(
            Self.constructionError { _ = try JSONLineParser(expressions: [("x", expression)]) }
                == "cannot parse expression [\(expression)]: \(message)"
        )
    }

    @Test func jsonExpressionSyntax() throws {
        #expect(try JSONPathSegment.parse(#"pod.deployment.params[0]["param"]"#) == [.key("pod"), .key("deployment"), .key("params"), .index(0), .key("param")])
        #expect(try JSONPathSegment.parse(" a . b [ 1 ] ") == [.key("a"), .key("b"), .index(1)])
        #expect(Self.constructionError { _ = try JSONLineParser(expressions: [("", "a")]) } == "invalid extracted label name ''")
    }

    // MARK: - unpack

    /// parsers.logqltest: string fields become labels, `_entry` the new line, other types are skipped.
    @Test func unpackPromotesStringFields() {
        let parser = UnpackLineParser()
        #expect(
            parser.parse(#"{"lvl":"info","cluster":"eu","num":5,"_entry":"real message"}"#)
                == LogLineParseOutcome(labels: Self.labels(["lvl": "info", "cluster": "eu"]), replacementLine: "real message")
        )
        #expect(parser.parse(#"{"lvl":"packed","_entry":"code=42"}"#).replacementLine == "code=42")
        #expect(
            parser.parse(#"{"foo.bar":"10ms","test-dash":"foo","_entry":"some message","pod":{"uid":"1"}}"#)
                == LogLineParseOutcome(labels: Self.labels(["foo_bar": "10ms", "test_dash": "foo"]), replacementLine: "some message")
        )
    }

    @Test func unpackEdgeCases() {
        let parser = UnpackLineParser()
        // Without `_entry` Loki changes neither the line nor the labels.
        #expect(parser.parse(#"{"bar":1,"app":"foo","namespace":"prod","pod":{"uid":"1"}}"#) == LogLineParseOutcome())
        #expect(parser.parse("") == LogLineParseOutcome())
        #expect(
            parser.parse(#"{"_entry":"I0303 \"Pod status updated\" pod=\"x\" \u00e9"}"#).replacementLine
                == #"I0303 "Pod status updated" pod="x" é"#
        )
        #expect(parser.parse(#"{"a":"1","a":"2","_entry":"x","_entry":"y"}"#) == LogLineParseOutcome(labels: Self.labels(["a": "2"]), replacementLine: "y"))
        // Nested objects are skipped without being checked, as in Loki.
        #expect(parser.parse(#"{"a":{"x":tru},"_entry":"m"}"#) == LogLineParseOutcome(replacementLine: "m"))
    }

    @Test(arguments: [
        ("not json", "expecting json object(6), but it is not"),
        (#"["foo","bar"]"#, "expecting json object(6), but it is not"),
        (#" {"_entry":"x"}"#, "expecting json object(6), but it is not"),
        (#"{"a":"1","_entry":"x\q"}"#, "Encountered an invalid escape sequence in a string"),
        (#"{"a":"1","_entry":"x""#, "Value is array, but can't find closing ']' symbol"),
    ])
    func unpackErrors(line: String, details: String) {
        #expect(UnpackLineParser().parse(line) == LogLineParseOutcome(error: Self.jsonError(details)))
    }

    // MARK: - pattern

    /// parsers.logqltest.
    @Test func patternConformance() throws {
        #expect(try PatternLineParser("<method> <path> <status>").parse("GET /home 200").labels == Self.labels(["method": "GET", "path": "/home", "status": "200"]))
        #expect(try PatternLineParser("<method> <_> <status>").parse("GET /home 200").labels == Self.labels(["method": "GET", "status": "200"]))
        // A short line fills only the leading captures.
        #expect(try PatternLineParser("<method> <path>").parse("POST").labels == Self.labels(["method": "POST"]))
        // A leading literal anchors the pattern: no match, no labels, no error.
        #expect(try PatternLineParser("GET <path>").parse("POST /x") == LogLineParseOutcome())
        #expect(try PatternLineParser("<a>").parse("") == LogLineParseOutcome())
    }

    /// The documentation's NGINX example.
    @Test func patternDocumentationExample() throws {
        let line = #"0.191.12.2 - - [10/Jun/2021:09:14:29 +0000] "GET /api/plugins/versioncheck HTTP/1.1" 200 2 "-" "Go-http-client/2.0" "13.76.247.102, 34.120.177.193" "TLSv1.2" "US" """#
        let parser = try PatternLineParser(#"<ip> - - <_> "<method> <uri> <_>" <status> <size> <_> "<agent>" <_>"#)
        #expect(
            parser.parse(line).labels
                == Self.labels(["ip": "0.191.12.2", "method": "GET", "uri": "/api/plugins/versioncheck", "status": "200", "size": "2", "agent": "Go-http-client/2.0"])
        )
    }

    /// Loki's pattern_test.go fixtures: the captured values and `Test` (the line filter's match).
    @Test(arguments: [
        ("foo <foo> bar", "foo buzz bar", ["buzz"], true),
        ("foo <foo> bar<fuzz>", "foo buzz bar", ["buzz", ""], false),
        ("<foo>foo <bar> bar", "foo buzz bar", ["", "buzz"], false),
        ("<foo> bar<fuzz>", " bar", ["", ""], false),
        ("<foo>bar<baz>", " bar ", [" ", " "], true),
        ("<foo> bar<baz>", " bar ", ["", " "], false),
        ("<foo>bar <baz>", " bar ", [" ", ""], false),
        ("<foo>", " bar ", [" bar "], true),
        ("<path>?<_>", "/api/plugins/versioncheck?slugIn=snuids&grafanaVersion=7.0.0-beta1", ["/api/plugins/versioncheck"], true),
        ("<path>?<_>", "/api/plugins/status", ["/api/plugins/status"], false),
        (#"<_> <id> [<level>] "#, "2021-05-19T07:40:12.215792Z 42761518 [Note] Aborted connection 42761518", ["42761518", "Note"], false),
        (#"<_> msg="<method> <path> (<status>) <duration>""#, #"level=debug caller=logging.go:66 msg="POST /loki/api/v1/push (204) 1.238734ms""#, ["POST", "/loki/api/v1/push", "204", "1.238734ms"], true),
        ("unicode <emoji> character", "unicode 🤷 character", ["🤷"], true),
        ("unicode ▶ <what>", "unicode ▶ character", ["character"], true),
        ("<a><b", "x<b", ["x"], true),
    ] as [(String, String, [String], Bool)])
    func patternFixtures(pattern: String, line: String, values: [String], matches: Bool) throws {
        let parser = try PatternLineParser(pattern)
        #expect(parser.parse(line).labels.map(\.value) == values)
        #expect(parser.matches(line) == matches)
    }

    @Test(arguments: [
        ("", "parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL"),
        ("no captures here", "at least one capture is required"),
        ("<_>", "at least one capture is required"),
        ("foo <_> bar <_>", "at least one capture is required"),
        ("<f><f>", "found consecutive capture '<f><f>': invalid expression"),
        ("<f> f<d><b>", "found consecutive capture '<d><b>': invalid expression"),
        ("<f> f<f>", "duplicate capture name (f): invalid expression"),
        ("f<f><_>", "found consecutive capture '<f><_>': invalid expression"),
        ("<f>f<f><_>", "found consecutive capture '<f><_>': invalid expression"),
    ])
    func patternErrors(pattern: String, message: String) {
        #expect(Self.constructionError { _ = try PatternLineParser(pattern) } == message)
    }

    /// line_filters.logqltest: `|> "GET <_> 200"`.
    @Test func patternLineFilter() throws {
        let filter = try PatternLineParser(filterPattern: "GET <_> 200")
        #expect(filter.matches("GET /api 200"))
        #expect(!filter.matches("POST /api 500"))
        // Without a trailing capture the pattern must reach the end of the line.
        #expect(try !PatternLineParser(filterPattern: "GET /api").matches("GET /api 200"))
        #expect(try PatternLineParser(filterPattern: "level=error <_>").matches("level=error x"))
        // An empty pattern matches only empty lines; `<_>` alone any non-empty line.
        #expect(try PatternLineParser(filterPattern: "").matches(""))
        #expect(try !PatternLineParser(filterPattern: "").matches("x"))
        #expect(try PatternLineParser(filterPattern: "<_>").matches("x"))
        #expect(try !PatternLineParser(filterPattern: "<_>").matches(""))
        #expect(Self.constructionError { _ = try PatternLineParser(filterPattern: "<verb> /api 200") } == "named captures are not allowed: found '<verb>'")
        #expect(Self.constructionError { _ = try PatternLineParser(filterPattern: "<_><_>") } == "found consecutive capture '<_><_>': invalid expression")
    }

    // MARK: - regexp

    /// parsers.logqltest.
    @Test func regexpConformance() throws {
        let parser = try RegexpLineParser(#"(?P<method>\w+) (?P<path>\S+) (?P<status>\d+)"#)
        #expect(parser.parse("GET /home 200").labels == Self.labels(["method": "GET", "path": "/home", "status": "200"]))
        #expect(try RegexpLineParser(#"(?P<num>\d+)"#).parse("PUT /x") == LogLineParseOutcome())
        #expect(try RegexpLineParser(#"(?P<method>\w+) (?P<path>\S+)"#).parse("PUT /x").labels == Self.labels(["method": "PUT", "path": "/x"]))
    }

    @Test func regexpDocumentationExample() throws {
        let parser = try RegexpLineParser(#"(?P<method>\w+) (?P<path>[\w|/]+) \((?P<status>\d+?)\) (?P<duration>.*)"#)
        #expect(
            parser.parse("POST /api/prom/api/v1/query_range (200) 1.5s").labels
                == Self.labels(["method": "POST", "path": "/api/prom/api/v1/query_range", "status": "200", "duration": "1.5s"])
        )
    }

    @Test(arguments: [
        ("nocapture", "at least one named capture must be supplied"),
        ("(a)(b)", "at least one named capture must be supplied"),
        ("(?P<x>.)(?P<x>.)", "duplicate extracted label name 'x'"),
        ("(", "error parsing regexp: missing closing ): `(`"),
        ("(?P<x>a))", "error parsing regexp: unexpected ): `(?P<x>a))`"),
        ("(?P<x>[a)", "error parsing regexp: missing closing ]: `[a)`"),
        ("(?P<x-y>a)", "error parsing regexp: invalid named capture: `(?P<x-y>`"),
        ("(?=a)(?P<x>b)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        (#"(?P<x>a)\1"#, #"error parsing regexp: invalid escape sequence: `\1`"#),
        ("(?P<x>a**)", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("(?P<x>*)", "error parsing regexp: missing argument to repetition operator: `*`"),
        ("(?P<x>a{1001})", "error parsing regexp: invalid repeat count: `{1001}`"),
    ])
    func regexpErrors(regex: String, message: String) {
        #expect(Self.constructionError { _ = try RegexpLineParser(regex) } == message)
    }

    /// Go RE2 semantics where Swift's regex syntax or matching differ.
    @Test(arguments: [
        (#"(?P<a>x)|(?P<b>y)"#, "y", ["a=", "b=y"]),
        (#"(?P<1a>.)"#, "y", ["_1a=y"]),
        (#"(?P<a>.+)"#, "a\rb\nc", ["a=a\rb"]),
        (#"(?s)(?P<a>.+)"#, "a\rb\nc", ["a=a\rb\nc"]),
        (#"(?P<a>\pL+)"#, "1héllo2", ["a=héllo"]),
        (#"(?P<a>a{,2})"#, "xa{,2}", ["a=a{,2}"]),
        (#"(?P<a>[[:word:]]+)"#, "-ab_1-", ["a=ab_1"]),
        (#"(?P<a>[]a]+)"#, "x]a]", ["a=]a]"]),
        (#"(?P<a>e)"#, "e\u{301}", ["a=e"]),
        (#"(?P<a>\d+)"#, "١٢3", ["a=3"]),
        (#"(?P<a>\s+)"#, "x\u{0B} \u{0B}", ["a= "]),
        (#"(?P<a>\Q.*(\E)"#, "x.*(", ["a=.*("]),
        (#"(?P<a>\x41\101#&~)"#, "xAA#&~", ["a=AA#&~"]),
        (#"(?U)(?P<a>a+)"#, "aaa", ["a=a"]),
        (#"(?P<a>x$)"#, "x\n", []),
        (#"(?i)(?P<a>é+)"#, "xéÉ", ["a=éÉ"]),
        (#"(?<name>\w+)"#, "hi", ["name=hi"]),
        // Names that sanitize alike: the first group keeps the label.
        (#"(?P<_1a>x)?(?P<1a>y)"#, "y", ["_1a="]),
    ] as [(String, String, [String])])
    func regexpGoSemantics(regex: String, line: String, labels: [String]) throws {
        #expect(try RegexpLineParser(regex).parse(line).labels.map { "\($0.name)=\($0.value)" } == labels)
    }

    // MARK: - decolorize

    @Test(arguments: [
        ("sample text", "sample text"),
        ("\u{1B}[0;32mgreen\u{1B}[0m \u{1B}[0;31mred\u{1B}[0m", "green red"),
        ("\u{1B}]0;title\u{07}after", "after"),
        // The expression stops an OSC title at a space, as Loki does.
        ("\u{1B}]0;window title\u{07}after", ";window title\u{07}after"),
        ("a\u{9B}1;2mb", "ab"),
        ("a\u{1B}b", "a\u{1B}b"),
        ("trailing\u{1B}", "trailing\u{1B}"),
        ("\u{1B}[1;2;3;4;5;66666x", "x"),
        ("\u{1B}[12;x", ";x"),
        ("\u{1B}[?25h\u{1B}[2J\u{1B}(Bü", "ü"),
    ])
    func decolorize(line: String, expected: String) {
        #expect(Decolorizer.decolorize(line) == expected)
    }

    // MARK: - label names

    @Test(arguments: [
        ("valid_Name1", "valid_Name1"),
        ("a-b", "a_b"),
        ("a.b", "a_b"),
        ("a:b", "a_b"),
        ("9x", "_9x"),
        (" \u{A0}key\u{3000} ", "key"),
        ("ÜFT8👌x", "_FT8_x"),
        ("   ", ""),
        ("", ""),
    ])
    func labelNames(key: String, name: String) {
        #expect(LogQLLabelName.sanitize(key) == name)
    }

    // MARK: - robustness

    /// SplitMix64, so runs are reproducible.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    struct AllStages {
        let json = try! JSONLineParser()
        let jsonPaths = try! JSONLineParser(expressions: [("a", "a"), ("b", "a.b"), ("c", "c[1]"), ("d", #"["x y"][0].z"#), ("e", "[0]")])
        let logfmt = try! LogfmtLineParser()
        let logfmtStrict = try! LogfmtLineParser(strict: true, keepEmpty: true)
        let logfmtKeys = try! LogfmtLineParser(strict: true, expressions: [("a", "a"), ("b", #""b""#)])
        let unpack = UnpackLineParser()
        let pattern = try! PatternLineParser("<a> <_> [<b>]<c>")
        let filter = try! PatternLineParser(filterPattern: "<_> x <_>")
        let regexp = try! RegexpLineParser(#"(?P<a>\w+)=(?P<b>[^ ]*)|(?P<c>\d)"#)

        /// Runs every stage; returns a description of any outcome that breaks an invariant.
        func exercise(_ line: String) -> String? {
            let outcomes = [
                json.parse(line), jsonPaths.parse(line), logfmt.parse(line), logfmtStrict.parse(line),
                logfmtKeys.parse(line), unpack.parse(line), pattern.parse(line), regexp.parse(line),
            ]
            _ = filter.matches(line)
            _ = Decolorizer.decolorize(line)
            for outcome in outcomes {
                let names = outcome.labels.map(\.name)
                if Set(names).count != names.count { return "\(line.debugDescription): duplicate names \(names)" }
                if names.contains("") { return "\(line.debugDescription): empty name" }
                if let error = outcome.error, error.kind != "JSONParserErr" && error.kind != "LogfmtParserErr" {
                    return "\(line.debugDescription): unknown error kind \(error.kind)"
                }
            }
            return nil
        }
    }

    @Test func randomBytesNeverCrash() {
        let stages = AllStages()
        var generator = Generator(state: 0x10C0_1DE5)
        let alphabet = Array(#"{}[]":,\ u0123456789abcdefnrtABCDEF-.=_<>?;#()"#.utf8)
            + [0x1B, 0x07, 0x0A, 0x09, 0xC2, 0x9B, 0xE2, 0x82, 0xAC, 0xEF, 0xBF, 0xBD, 0xF0, 0x9F, 0x98, 0x80]
        var problems: [String] = []
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0..<48, using: &generator) {
                bytes.append(Bool.random(using: &generator) ? alphabet.randomElement(using: &generator)! : UInt8.random(in: 0...255, using: &generator))
            }
            if let problem = stages.exercise(String(decoding: bytes, as: UTF8.self)) { problems.append(problem) }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test func everyPrefixAndMutationOfValidLinesIsHandled() {
        let stages = AllStages()
        var generator = Generator(state: 42)
        let lines = [
            #"{"lvl":"warn","obj":{"x":1,"y":{"z":"\ud83d\ude00\u00e9\"q"}},"ok":true,"nil":null,"arr":[1,{"a":[2]}],"a":{"b":"c"},"c":[0,"x"],"x y":[{"z":1}]}"#,
            #"{"_entry":"m\u00e9ssage","a":"1","b":{"c":2}}"#,
            #"level=info msg="hello \"world\" \u00e9" empty= key a=b=c fo"o=bar x="unterminated"#,
            "\u{1B}[0;32mgreen\u{1B}[0m \u{1B}]0;title\u{07} \u{9B}12;34;56m x",
            #"10.0.0.1 - [x] "GET / HTTP/1.1" 200"#,
        ]
        var problems: [String] = []
        for line in lines {
            let bytes = Array(line.utf8)
            for end in 0...bytes.count {
                if let problem = stages.exercise(String(decoding: bytes[0..<end], as: UTF8.self)) { problems.append(problem) }
                guard end < bytes.count else { continue }
                var mutated = bytes
                mutated[end] = UInt8.random(in: 0...255, using: &generator)
                if let problem = stages.exercise(String(decoding: mutated, as: UTF8.self)) { problems.append(problem) }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    /// Nesting is walked without recursion: a deeply nested line must not exhaust the stack.
    @Test func deeplyNestedJSON() throws {
        let depth = 5_000
        let line = String(repeating: #"{"a":"#, count: depth) + "1" + String(repeating: "}", count: depth)
        let outcome = try JSONLineParser().parse(line)
        #expect(outcome.error == nil)
        #expect(outcome.labels.first?.name == Array(repeating: "a", count: depth).joined(separator: "_"))
        #expect(try JSONLineParser().parse(String(repeating: "{\"a\":", count: depth)).error != nil)
    }

    /// Random construction inputs either build a stage or throw a LogQLStageError.
    @Test func randomExpressionsNeverCrash() {
        var generator = Generator(state: 7)
        let alphabet = Array(#"ab_1.[]"\ ()?P<>:*+{},|^$-=siU\pLQEx0#&~"#.unicodeScalars) + ["é", "\n"]
        for _ in 0..<5_000 {
            var scalars = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0..<14, using: &generator) { scalars.append(alphabet.randomElement(using: &generator)!) }
            let text = String(scalars)
            _ = try? JSONLineParser(expressions: [("x", text)]).parse(#"{"a":{"b":[1,{"c":"d"}]},"ab":"x"}"#)
            _ = try? LogfmtLineParser(expressions: [("x", text)]).parse("a=1 ab=2")
            _ = try? PatternLineParser(text).parse("ab 1 [x] y")
            _ = try? PatternLineParser(filterPattern: text).matches("ab 1 [x] y")
            _ = try? RegexpLineParser(text).parse("ab_1.x é\n")
        }
    }
}
