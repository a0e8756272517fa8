import LoupeModel
import Testing

@testable import LoupeCollect

/// OTTL text to checked statements and conditions: what parses, and every refusal with its column.
@Suite struct OTTLParserTests {
    private func statementError(_ text: String, _ context: OTTLContextKind = .log) -> OTTLError? {
        do {
            _ = try OTTLStatement.parse(text, context: context)
            return nil
        } catch {
            return error
        }
    }

    private func conditionError(_ text: String, _ context: OTTLContextKind = .log) -> OTTLError? {
        do {
            _ = try OTTLCondition.parse(text, context: context)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Lexer

    @Test func stringsTakeGoEscapes() throws {
        let tokens = try OTTLLexer.tokenize(#""a\"b" "\\d+" "tab\there" "\u00e9\x41\101""#)
        #expect(tokens.map(\.kind) == [.string, .string, .string, .string, .end])
        #expect(tokens.map(\.text) == ["a\"b", "\\d+", "tab\there", "éAA", ""])
        #expect(tokens.map(\.column) == [1, 8, 15, 27, 43])
    }

    @Test func numbersBytesAndOperators() throws {
        let tokens = try OTTLLexer.tokenize("12 1.5 .5 2e3 0x0a1B == != <= >= < > = + - * /")
        #expect(tokens.map(\.kind) == [
            .integer, .float, .float, .float, .bytes, .equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater,
            .assign, .plus, .minus, .star, .slash, .end,
        ])
        #expect(tokens[4].text == "0a1B")
    }

    @Test func lexerErrorsSayWhere() {
        let cases: [(String, Int, String)] = [
            (#"set(log.body, "abc)"#, 15, "unterminated string"),
            (#"set(log.body, "a\d")"#, 17, #"invalid escape "\d" in string; write "\\d" for a backslash followed by "d""#),
            (#"set(log.body, 0x1)"#, 15, "byte literal 0x1 has an odd number of hex digits"),
            (#"set(log.body, 0x)"#, 15, #"byte literal "0x" needs hex digits"#),
            (#"set(log.body, 12ab)"#, 15, #"malformed number "12a""#),
            (#"set(log.body, 'a')"#, 15, #"unexpected "'"; OTTL strings are written in double quotes"#),
            (#"log.flags == 1 && true"#, 16, #"unexpected "&"; combine conditions with "and" and "or""#),
            (#"!IsString(log.body)"#, 1, #"unexpected "!"; negate a condition with "not""#),
            (#"set(log.body, "\u12")"#, 16, #"escape \u needs 4 hex digits"#),
        ]
        for (text, column, message) in cases {
            let error = statementError(text) ?? conditionError(text)
            #expect(error == OTTLError(.syntax, column: column, message), "\(text)")
        }
    }

    // MARK: Grammar

    @Test func conditionsBindOrOverAndOverNot() throws {
        let condition = try OTTLParser.parseCondition("true or not false and log.flags == 1")
        guard case .or(let operands) = condition, operands.count == 2,
              case .value(let first) = operands[0], case .bool(true) = first.kind,
              case .and(let conjuncts) = operands[1], conjuncts.count == 2,
              case .not(.value(let negated)) = conjuncts[0], case .bool(false) = negated.kind,
              case .comparison(_, .equal, _) = conjuncts[1] else {
            Issue.record("unexpected tree \(condition)")
            return
        }
    }

    @Test func notCoversAWholeComparison() throws {
        guard case .not(.comparison(_, .notEqual, _)) = try OTTLParser.parseCondition(#"not log.body != "x""#) else {
            Issue.record("not should wrap the comparison")
            return
        }
    }

    @Test func parenthesesGroupConditionsOrValues() throws {
        guard case .and(let operands) = try OTTLParser.parseCondition("(true or false) and true"), operands.count == 2,
              case .or = operands[0] else {
            Issue.record("parentheses should group the or")
            return
        }
        guard case .comparison(let left, .equal, _) = try OTTLParser.parseCondition("(1 + 2) * 3 == 9"),
              case .arithmetic(.multiply, let sum, _) = left.kind, case .arithmetic(.add, _, _) = sum.kind else {
            Issue.record("parentheses should group the sum")
            return
        }
    }

    @Test func literalsParse() throws {
        let statement = try OTTLParser.parseStatement(#"set(log.cache["x"], [1, -2, 1.5, "s", true, nil, 0xff, {"k": [false]}])"#)
        guard case .list(let elements) = statement.editor.arguments[1].value.kind, elements.count == 8 else {
            Issue.record("expected a list of eight")
            return
        }
        if case .integer(-2) = elements[1].kind {} else { Issue.record("negative int \(elements[1].kind)") }
        if case .float(1.5) = elements[2].kind {} else { Issue.record("float \(elements[2].kind)") }
        if case .nilLiteral = elements[5].kind {} else { Issue.record("nil \(elements[5].kind)") }
        if case .bytes([0xff]) = elements[6].kind {} else { Issue.record("bytes \(elements[6].kind)") }
        if case .map(let entries) = elements[7].kind { #expect(entries.map(\.key) == ["k"]) } else { Issue.record("map") }
        #expect(statement.condition == nil)
    }

    @Test func theSmallestIntFits() throws {
        let condition = try OTTLParser.parseCondition("log.flags == -9223372036854775808")
        guard case .comparison(_, _, let right) = condition, case .integer(Int64.min) = right.kind else {
            Issue.record("expected Int64.min, got \(condition)")
            return
        }
        #expect(conditionError("log.flags == 9223372036854775808") == OTTLError(.syntax, column: 14, "integer 9223372036854775808 does not fit in 64 bits"))
    }

    @Test func namedArgumentsFollowPositionalOnes() throws {
        let statement = try OTTLParser.parseStatement(#"flatten(log.body, depth = 2)"#)
        #expect(statement.editor.arguments.map(\.name) == [nil, "depth"])
        #expect(statementError(#"flatten(target = log.body, "p")"#)
            == OTTLError(.arguments, column: 28, "flatten: a positional argument cannot follow named ones"))
    }

    // MARK: What parses

    @Test func kymaStyleStatementsParse() throws {
        let statements: [(String, OTTLContextKind)] = [
            (#"set(log.attributes["level"], "error") where IsMatch(log.body, "(?i)error")"#, .log),
            (#"replace_pattern(log.body, "password=[^\\s]*", "password=***")"#, .log),
            (#"merge_maps(log.attributes, ParseJSON(log.body), "upsert") where IsMatch(log.body, "^\\{")"#, .log),
            (#"set(log.severity_number, SEVERITY_NUMBER_WARN) where log.severity_text == "warning""#, .log),
            (#"delete_key(resource.attributes, "k8s.pod.uid")"#, .log),
            (#"set(span.status.code, STATUS_CODE_ERROR) where span.attributes["http.status_code"] >= 500"#, .span),
            (#"keep_keys(span.attributes, ["http.method", "http.route"]) where span.kind == SPAN_KIND_SERVER"#, .span),
            (#"set(metric.name, Concat(["kyma", metric.name], "_")) where metric.type == METRIC_DATA_TYPE_SUM"#, .datapoint),
            (#"set(datapoint.value_double, datapoint.value_double * 1000.0)"#, .datapoint),
            (#"limit(datapoint.attributes, 10, ["service.name"])"#, .datapoint),
            (#"set(scope.version, "1") where instrumentation_scope.name == "x""#, .span),
        ]
        for (text, context) in statements {
            let statement = try OTTLStatement.parse(text, context: context)
            #expect(statement.text == text && statement.context == context)
        }
    }

    @Test func everyPathParsesInItsOwnContextOnly() throws {
        let contexts: [OTTLContextKind] = [.log, .span, .datapoint]
        for context in contexts {
            for (name, field) in OTTLPaths.paths(of: context) {
                let condition = try OTTLCondition.parse("\(name) != nil", context: context)
                guard case .comparison(.path(let path), .notEqual, _) = condition.expression else {
                    Issue.record("\(name) did not bind to a path")
                    continue
                }
                #expect(path.field == field)
                for other in contexts where other != context && !name.hasPrefix("resource.") && !name.hasPrefix("scope.") {
                    #expect(conditionError("\(name) != nil", other)?.code == .wrongContext, "\(name) in \(other)")
                }
            }
            for name in OTTLPaths.shared.keys {
                #expect(conditionError("\(name) != nil", context) == nil, "\(name) in \(context)")
            }
        }
    }

    @Test func everyEnumParsesInItsOwnContextOnly() {
        let contexts: [OTTLContextKind] = [.log, .span, .datapoint]
        for context in contexts {
            for name in OTTLEnums.table(of: context).keys {
                #expect(conditionError("\(name) == 0", context) == nil, "\(name)")
                for other in contexts where other != context && OTTLEnums.table(of: other)[name] == nil {
                    #expect(conditionError("\(name) == 0", other)?.code == .wrongContext, "\(name) in \(other)")
                }
            }
        }
        #expect(OTTLEnums.log["SEVERITY_NUMBER_WARN3"] == 15 && OTTLEnums.log["SEVERITY_NUMBER_FATAL4"] == 24)
    }

    @Test func everyConverterIsAValueAndEveryEditorAStatement() {
        for signature in OTTLFunctions.converters {
            #expect(statementError("\(signature.name)(log.body)")?.code == .misplacedFunction, "\(signature.name)")
        }
        for signature in OTTLFunctions.editors {
            #expect(conditionError("\(signature.name)(log.body) == 1")?.code == .misplacedFunction, "\(signature.name)")
        }
    }

    // MARK: Refusals

    @Test func unknownFunctionsListWhatIsSupported() {
        let error = statementError(#"replace_patern(log.body, "a", "b")"#)
        #expect(error?.code == .unknownFunction)
        #expect(error?.description
            == #"column 1: unknown function "replace_patern" (did you mean "replace_pattern"?); supported editors: "#
            + OTTLFunctions.editorNames)
        let converter = statementError(#"set(log.body, SHA256(log.body))"#)
        #expect(converter?.column == 15)
        #expect(converter?.message == #"function "SHA256" is not supported; supported converters: "# + OTTLFunctions.converterNames)
        #expect(conditionError(#"isMatch(log.body, "x")"#)?.message.hasPrefix(#"unknown function "isMatch" (did you mean "IsMatch"?)"#) == true)
    }

    @Test func pathErrorsNameThePathAndItsColumn() {
        #expect(statementError(#"set(span.name, "x")"#, .log) == OTTLError(.wrongContext, column: 5,
            #"path "span.name" belongs to span statements; log statements use paths starting with "log.", "resource." and "scope.""#))
        #expect(statementError(#"set(attributes["x"], "y")"#) == OTTLError(.unknownPath, column: 5,
            #"unknown path "attributes" (did you mean "log.attributes"?); paths start with their context: "log.", "resource." and "scope.""#))
        #expect(conditionError(#"log.atributes["x"] == nil"#) == OTTLError(.unknownPath, column: 1,
            #"unknown path "log.atributes" (did you mean "log.attributes"?)"#))
        #expect(conditionError(#"span.name["x"] == nil"#, .span) == OTTLError(.syntax, column: 11, "span.name holds string values and cannot be indexed"))
        #expect(conditionError(#"log.attributes[true] == nil"#) == OTTLError(.syntax, column: 16, "a key must be a string or an int, not true"))
    }

    @Test func enumErrorsSuggest() {
        #expect(conditionError("span.kind == SPAN_KIND_SERVR", .span) == OTTLError(.unknownEnum, column: 14,
            "unknown enum SPAN_KIND_SERVR (did you mean SPAN_KIND_SERVER?)"))
        #expect(conditionError("span.kind == SEVERITY_NUMBER_INFO", .span) == OTTLError(.wrongContext, column: 14,
            "enum SEVERITY_NUMBER_INFO belongs to log statements, not span statements"))
    }

    @Test func argumentCountsAndNames() {
        #expect(statementError(#"set(log.body)"#) == OTTLError(.arguments, column: 1, #"set needs its "value" argument: set(target, value)"#))
        #expect(statementError(#"replace_pattern(log.body, "a", "b", "c")"#) == OTTLError(.arguments, column: 37,
            "replace_pattern takes at most 3 arguments: replace_pattern(target, regex, replacement)"))
        #expect(statementError(#"flatten(log.body, depht = 2)"#) == OTTLError(.arguments, column: 19,
            #"flatten has no argument named "depht": flatten(target[, prefix][, depth])"#))
        #expect(statementError(#"flatten(log.body, depth = 2, depth = 3)"#) == OTTLError(.arguments, column: 30,
            #"flatten: argument "depth" is given twice"#))
        #expect(conditionError(#"IsMatch(log.body) "#)?.message == #"IsMatch needs its "pattern" argument: IsMatch(target, pattern)"#)
    }

    @Test func literalArgumentsAreChecked() {
        let cases: [(String, OTTLContextKind, OTTLError.Code, Int, String)] = [
            (#"replace_pattern(log.body, 5, "x")"#, .log, .arguments, 27, "replace_pattern: regex must be a string literal, not the int 5"),
            (#"replace_pattern(log.body, log.severity_text, "x")"#, .log, .arguments, 27,
             "replace_pattern: regex must be a string literal, not log.severity_text"),
            (#"replace_pattern(log.body, "(", "x")"#, .log, .invalidArgument, 27, #"replace_pattern: regex is not a valid regex "(": expected ')'"#),
            (#"delete_matching_keys(log.attributes, "(?<=a)b")"#, .log, .invalidArgument, 38,
             #"delete_matching_keys: pattern is not a valid regex "(?<=a)b": lookaround and atomic groups are not supported by RE2"#),
            (#"set(log.body, "x") where IsMatch(log.body, "(a)\\1")"#, .log, .invalidArgument, 44,
             #"IsMatch: pattern is not a valid regex "(a)\1": backreferences (\1) are not supported by RE2"#),
            (#"replace_match(log.body, "[a-", "x")"#, .log, .invalidArgument, 25, #"replace_match: pattern is not a valid glob "[a-": unclosed "[""#),
            (#"truncate_all(log.attributes, -1)"#, .log, .invalidArgument, 30, "truncate_all: limit must not be negative, got -1"),
            (#"truncate_all(log.attributes, "10")"#, .log, .arguments, 30, #"truncate_all: limit must be an int literal, not the string "10""#),
            (#"limit(log.attributes, 1, ["a", "b"])"#, .log, .invalidArgument, 23, "limit: limit 1 is less than the 2 priority keys"),
            (#"limit(log.attributes, 1, [log.body])"#, .log, .arguments, 27, "limit: priority_keys must list string literals, not log.body"),
            (#"keep_keys(log.attributes, "a")"#, .log, .arguments, 27, #"keep_keys: keys must be a list of string literals, not the string "a""#),
            (#"merge_maps(log.attributes, log.cache, "merge")"#, .log, .invalidArgument, 39,
             #"merge_maps: strategy must be one of "insert", "update", "upsert", not "merge""#),
            (#"replace_all_patterns(log.attributes, "keys", "a", "b")"#, .log, .invalidArgument, 38,
             #"replace_all_patterns: mode must be one of "key", "value", not "keys""#),
            (#"set(log.body, Substring(log.body, -1, 2))"#, .log, .invalidArgument, 35, "Substring: start must be at least 0, got -1"),
            (#"set(log.body, Substring(log.body, 0, 0))"#, .log, .invalidArgument, 38, "Substring: length must be at least 1, got 0"),
            (#"set(log.body, ToUpperCase(1))"#, .log, .arguments, 27, "ToUpperCase: target must be a string, not the int 1"),
            (#"set(log.body, Concat("a", "-"))"#, .log, .arguments, 22, #"Concat: values must be a list, not the string "a""#),
            (#"set(span.name, 5)"#, .span, .arguments, 16, "set: span.name holds a string, not an int"),
            (#"set(datapoint.value_double, 5)"#, .datapoint, .arguments, 29, "set: datapoint.value_double holds a double, not an int; write 5.0"),
        ]
        for (text, context, code, column, message) in cases {
            #expect(statementError(text, context) == OTTLError(code, column: column, message), "\(text)")
        }
    }

    /// RE2 is what the Collector runs: what it refuses is refused here, what it takes is taken.
    @Test func regexesAreHeldToRE2() {
        for accepted in [#"\\++"#, #"a+?"#, #"[+*]+"#, #"(?i)x"#, #"(?P<name>\\w+)"#, #"(?s:.)"#, #"^\\d{2,3}$"#] {
            #expect(conditionError("IsMatch(log.body, \"\(accepted)\")") == nil, "\(accepted)")
        }
        for refused in [#"a++"#, #"a?+"#, #"(?=x)"#, #"(?!x)"#, #"(?<!x)"#, #"(?>x)"#, #"(a)\\1"#, #"\\k<a>"#] {
            #expect(conditionError("IsMatch(log.body, \"\(refused)\")")?.code == .invalidArgument, "\(refused)")
        }
    }

    @Test func targetsMustBeWritableFieldsOfTheRightKind() {
        #expect(statementError("set(metric.type, 1)", .datapoint) == OTTLError(.notSettable, column: 5, "set: target metric.type is read-only"))
        #expect(statementError(#"set("x", 1)"#) == OTTLError(.notSettable, column: 5, #"set: target must be a path to a field, not the string "x""#))
        #expect(statementError(#"set(ParseJSON(log.body)["a"], 1)"#)?.code == .notSettable)
        #expect(statementError(#"delete_key(span.name, "x")"#, .span) == OTTLError(.arguments, column: 12,
            "delete_key: target must be a map, and span.name holds a string"))
        #expect(statementError(#"replace_pattern(log.attributes, "a", "b")"#) == OTTLError(.arguments, column: 17,
            "replace_pattern: target must be a string field, and log.attributes holds a map"))
        #expect(statementError(#"replace_pattern(log.attributes["a"], "a", "b")"#) == nil)
        #expect(statementError(#"delete_key(log.body, "a")"#) == nil)
    }

    @Test func conditionsMustBeBoolean() {
        #expect(conditionError(#"log.body"#) == OTTLError(.notACondition, column: 1, "log.body is not a condition; compare it, e.g. log.body == ..."))
        #expect(conditionError(#"Len(log.body)"#) == OTTLError(.notACondition, column: 1,
            "Len gives an int, not a bool; compare it, e.g. Len(...) == ..."))
        #expect(conditionError(#"ParseJSON(log.body)["flag"]"#) == nil)
        #expect(conditionError(#"String(log.body)"#)?.message == "String gives a string, not a bool; compare it, e.g. String(...) == ...")
        #expect(conditionError(#"Len(log.body)["x"] == 1"#) == OTTLError(.syntax, column: 15, "Len gives an int, which cannot be indexed"))
        #expect(conditionError(#"set(log.body, "a")"#)?.message.hasPrefix("set is an editor and cannot be used as a condition") == true)
    }

    @Test func grammarErrors() {
        let cases: [(String, Int?, String)] = [
            ("", nil, "empty statement"),
            ("log.body", 1, "a statement starts with an editor call such as set(...); found \"log\""),
            (#"set(log.body, "x") extra"#, 20, #"unexpected "extra" after the editor call; a condition follows "where""#),
            (#"set(log.body, "x") where"#, 25, "expected a condition, found end of text"),
            (#"set(log.body, "x") where true false"#, 31, #"unexpected "false" after the condition"#),
            (#"set(log.body, "x""#, 18, #"expected "," or ")" in the arguments of set, found end of text"#),
            (#"set(log.body, [1, 2)"#, 20, #"expected "," or "]" in the list opened at column 15, found ")""#),
            (#"set(log.body, {1: 2})"#, 16, "expected a string key in the map literal, found \"1\""),
            (#"set(log.body, log.attributes["a")"#, 33, #"expected "]" to close the "[" at column 29, found ")""#),
            (#"set(log.body, "x") where log.flags == 1 == 2"#, 41, #"comparisons cannot be chained; join them with "and" or "or""#),
            (#"set(log.body, "x") where (true"#, 31, #"expected ")" to close the "(" at column 26, found end of text"#),
            (#"set(log.body, and)"#, 15, #"expected a value, found the keyword "and""#),
            (#"set(log.body, log.)"#, 19, #"expected a field name after ".", found ")""#),
            (#"set(log.body, x = = 1)"#, 19, #"expected a value, found "=""#),
            (#"set(log.body, "a") ["x"]"#, 21, "an editor's result cannot be indexed"),
        ]
        for (text, column, message) in cases {
            #expect(statementError(text) == OTTLError(.syntax, column: column, message), "\(text)")
        }
        #expect(conditionError("   ") == OTTLError(.syntax, column: nil, "empty condition"))
        #expect(conditionError("log.flags = 1") == OTTLError(.syntax, column: 11, #"unexpected "=" after the condition"#))
    }

    @Test func deepNestingIsRefusedNotOverflowed() {
        let depth = 10_000
        let parenthesised = String(repeating: "(", count: depth) + "true" + String(repeating: ")", count: depth)
        #expect(conditionError(parenthesised)?.message == "nested more than \(OTTLParser.maximumDepth) levels deep")
        #expect(statementError("set(log.body, " + String(repeating: "[", count: depth) + ")")?.code == .syntax)
        #expect(conditionError(String(repeating: "not ", count: depth) + "true")?.code == .syntax)
        #expect(conditionError(String(repeating: "-", count: depth) + "1 == 1")?.code == .syntax)
        #expect(conditionError(String(repeating: "(", count: 60) + "true" + String(repeating: ")", count: 60)) == nil)
    }

    // MARK: Fuzzing

    /// Random, truncated and mutated texts: a statement, a condition or an error, never a crash.
    @Test func randomAndTruncatedTextNeverCrashes() {
        var random = SplitMix64(seed: 1)
        let samples = [
            #"set(log.attributes["a"]["b"][0], Concat([log.body, 1, 2.5, nil], "-")) where IsMatch(log.body, "^a.*") and not (log.severity_number >= SEVERITY_NUMBER_WARN or log.flags == 1)"#,
            #"replace_all_patterns(span.attributes, "key", "^(k8s)\\.(.*)$", "$2.${1}") where Len(span.attributes) > 0 and span.kind == SPAN_KIND_SERVER"#,
            #"merge_maps(log.cache, ParseJSON(log.body), "upsert") where IsString(log.body)"#,
            #"set(datapoint.value_double, datapoint.value_double * 1.5 + -2.0) where metric.type == METRIC_DATA_TYPE_GAUGE"#,
            #"limit(log.attributes, 2, ["a"]) where {"k": [0x0a1b, true]} != nil"#,
        ]
        let alphabet = Array(#"abcdefgxyz_.[]()"\ ,=<>!0123456789-+*/{}:'é"#.unicodeScalars)
        var accepted = 0
        var refused = 0
        func attempt(_ text: String) {
            for context in [OTTLContextKind.log, .span, .datapoint] {
                if (try? OTTLStatement.parse(text, context: context)) != nil { accepted += 1 } else { refused += 1 }
                _ = try? OTTLCondition.parse(text, context: context)
            }
        }
        for sample in samples {
            let scalars = Array(sample.unicodeScalars)
            for length in 0...scalars.count {
                var truncated = ""
                truncated.unicodeScalars.append(contentsOf: scalars[..<length])
                attempt(truncated)
            }
            for _ in 0..<400 {
                var mutated = scalars
                for _ in 0...(random.next() % 3) where !mutated.isEmpty {
                    let position = Int(random.next() % UInt64(mutated.count))
                    let replacement = alphabet[Int(random.next() % UInt64(alphabet.count))]
                    switch random.next() % 3 {
                    case 0: mutated[position] = replacement
                    case 1: mutated.remove(at: position)
                    default: mutated.insert(replacement, at: position)
                    }
                }
                var text = ""
                text.unicodeScalars.append(contentsOf: mutated)
                attempt(text)
            }
        }
        for _ in 0..<2_000 {
            var text = ""
            for _ in 0..<(random.next() % 40) { text.unicodeScalars.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            attempt(text)
        }
        // Every full sample parses in its context, so at least those five were accepted.
        #expect(accepted >= samples.count)
        #expect(refused > accepted)
    }
}
