// The functions a Loki template can call: text/template's builtins, Loki's own (pkg/logql/log/fmt.go)
// and the Sprig functions Loki exposes, each with its Go signature so arguments are checked and
// converted as Go does. Semantics follow the Go sources, including their quirks (sprig's trunc and
// substr cut bytes, addf works in decimal, toDate ignores parse errors, b64dec returns the error text).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension LogQLTemplate {
    typealias FunctionBody = @Sendable (inout FunctionEnvironment, [Value]) throws(FunctionFailure) -> Value

    static let functions: [Function] = makeFunctions()

    static let functionIndex: [String: Int] = {
        var index: [String: Int] = [:]
        for (position, function) in functions.enumerated() { index[function.name] = position }
        return index
    }()

    // MARK: - Argument access (values are already checked against the parameter types)

    static func stringArgument(_ value: Value) -> String {
        if case .string(let text) = value { return text }
        return ""
    }

    static func integerArgument(_ value: Value) -> Int64 {
        if case .integer(let number, _) = value { return number }
        return 0
    }

    static func floatArgument(_ value: Value) -> Double {
        if case .float(let number) = value { return number }
        return 0
    }

    static func timeArgument(_ value: Value) -> GoTime {
        if case .time(let time) = value { return time }
        return .zero
    }

    // MARK: - spf13/cast and sprig helpers

    /// cast's trimDecimal: "12.7" is cast to an integer as "12".
    static func trimDecimal(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: ".")) else { return text }
        let bytes = Array(text.utf8)
        var index = 0
        if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
        while index < bytes.count && bytes[index] >= 0x30 && bytes[index] <= 0x39 { index += 1 }
        let integerEnd = index
        guard index < bytes.count, bytes[index] == UInt8(ascii: ".") else { return text }
        index += 1
        while index < bytes.count && bytes[index] >= 0x30 && bytes[index] <= 0x39 { index += 1 }
        guard index == bytes.count else { return text }
        let integer = String(decoding: bytes[0..<integerEnd], as: UTF8.self)
        switch integer {
        case "-", "+": return integer + "0"
        case "": return "0"
        default: return integer
        }
    }

    /// cast.ToInt64: numbers convert (floats truncate), bools are 0 or 1, strings parse (base prefixes
    /// allowed), anything else is 0.
    static func castToInt64(_ value: Value) -> Int64 {
        switch value {
        case .integer(let number, _): return number
        case .float(let number): return GoNumbers.truncatingInt64(number)
        case .bool(let flag): return flag ? 1 : 0
        case .missing: return 0
        case .string(let text):
            if text.isEmpty { return 0 }
            if case .success(let number) = GoNumbers.parseSigned(trimDecimal(text)) { return number }
            return 0
        default: return 0
        }
    }

    /// cast.ToFloat64.
    static func castToFloat64(_ value: Value) -> Double {
        switch value {
        case .integer(let number, let kind): return kind.isUnsigned ? Double(UInt64(bitPattern: number)) : Double(number)
        case .float(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        case .missing: return 0
        case .string(let text):
            if text.isEmpty { return 0 }
            if case .success(let number) = GoNumbers.parseFloat(text) { return number }
            return 0
        default: return 0
        }
    }

    /// sprig's empty: the zero value of the type; structs (times) are never empty.
    static func isEmpty(_ value: Value) -> Bool {
        switch value {
        case .missing, .nilInterface: return true
        case .string(let text): return text.isEmpty
        case .integer(let number, _): return number == 0
        case .float(let number): return number == 0
        case .bool(let flag): return !flag
        case .time: return false
        case .map(let entries): return entries.isEmpty
        case .list(let items): return items.isEmpty
        case .stringMap(let entries): return entries.isEmpty
        case .labels: return false
        }
    }

    /// text/template's evalArgs for html, js and urlquery.
    static func joinedArguments(_ arguments: [Value]) -> String {
        if arguments.count == 1, case .string(let text) = arguments[0] { return text }
        return GoPrinter.sprint(arguments.map { value in
            if case .missing = value { return .string("<no value>") }
            return value
        })
    }

    /// math.Max and math.Min, with their NaN and signed-zero rules.
    static func goMax(_ left: Double, _ right: Double) -> Double {
        if left.isInfinite && left > 0 || right.isInfinite && right > 0 { return .infinity }
        if left.isNaN || right.isNaN { return .nan }
        if left == 0 && right == 0 { return left.sign == .minus ? right : left }
        return left > right ? left : right
    }

    static func goMin(_ left: Double, _ right: Double) -> Double {
        if left.isInfinite && left < 0 || right.isInfinite && right < 0 { return -.infinity }
        if left.isNaN || right.isNaN { return .nan }
        if left == 0 && right == 0 { return left.sign == .minus ? left : right }
        return left < right ? left : right
    }

    /// math.Pow(10, n) for the integer powers round uses.
    static func powerOfTen(_ exponent: Double) -> Double {
        guard exponent == exponent.rounded(.towardZero), abs(exponent) < 400 else {
            return exponent > 0 ? .infinity : 0
        }
        var result = 1.0
        var remaining = Int(abs(exponent))
        var base = 10.0
        while remaining > 0 {
            if remaining & 1 == 1 { result *= base }
            base *= base
            remaining >>= 1
        }
        return exponent < 0 ? 1 / result : result
    }

    static func checkedSize(_ bytes: Int) throws(FunctionFailure) {
        if bytes > GoStrings.maximumOutputBytes { throw FunctionFailure("output of \(bytes) bytes is too large") }
    }

    /// strings.Repeat.
    static func repeated(_ text: String, _ count: Int64) throws(FunctionFailure) -> String {
        if count < 0 { throw FunctionFailure("strings: negative Repeat count") }
        if text.isEmpty || count == 0 { return "" }
        let (size, overflow) = Int64(text.utf8.count).multipliedReportingOverflow(by: count)
        if overflow { throw FunctionFailure("strings: Repeat output length overflow") }
        try checkedSize(Int(size))
        return String(repeating: text, count: Int(count))
    }

    /// Go's runtime message for a bad slice of a string of `length` bytes.
    static func sliceBoundsFailure(_ lower: Int64?, _ upper: Int64?, length: Int) -> FunctionFailure {
        let detail: String
        switch (lower, upper) {
        case (nil, let upper?):
            detail = upper < 0 ? "[:\(upper)]" : "[:\(upper)] with length \(length)"
        case (let lower?, nil):
            detail = "[\(lower):\(length)]"
        case (let lower?, let upper?):
            detail = upper > Int64(length) ? "[:\(upper)] with length \(length)" : "[\(lower):\(upper)]"
        default:
            detail = ""
        }
        return FunctionFailure("runtime error: slice bounds out of range \(detail)")
    }

    static func wallClockNanoseconds() -> Int64 {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
        #else
        return 0
        #endif
    }

    /// time.LoadLocation for the zones this engine knows; other names fall back to UTC as an unknown zone does in Loki.
    static func zone(named name: String) -> GoZone {
        switch name {
        case "", "UTC", "Local", "Etc/UTC", "Etc/UCT", "UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu":
            return .utc
        case "GMT", "Etc/GMT", "Etc/GMT+0", "Etc/GMT-0", "Etc/GMT0", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Etc/Greenwich":
            return GoZone(name: "GMT", offsetSeconds: 0)
        default:
            // Etc/GMT+N is N hours west of Greenwich (POSIX sign), abbreviated "-0N".
            if name.hasPrefix("Etc/GMT"), let hours = Int(name.dropFirst(7)), hours != 0, (-14...12).contains(hours) {
                let offset = -hours * 3600
                let sign = offset < 0 ? "-" : "+"
                let magnitude = abs(hours)
                return GoZone(name: sign + (magnitude < 10 ? "0" : "") + String(magnitude), offsetSeconds: offset)
            }
            return .utc
        }
    }

    /// strconv.ParseInt(s, 10, 64) with Go's error text.
    static func parseDecimalInt64(_ text: String) -> Result<Int64, FunctionFailure> {
        let bytes = Array(text.utf8)
        var index = 0
        var negative = false
        if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        let syntax = FunctionFailure("strconv.ParseInt: parsing \(GoText.quote(text)): invalid syntax")
        guard index < bytes.count else { return .failure(syntax) }
        var magnitude: UInt64 = 0
        var overflow = false
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= 0x30 && byte <= 0x39 else { return .failure(syntax) }
            let (product, productOverflow) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, sumOverflow) = product.addingReportingOverflow(UInt64(byte - 0x30))
            if productOverflow || sumOverflow { overflow = true } else { magnitude = sum }
            index += 1
        }
        let limit = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        if overflow || magnitude > limit {
            return .failure(FunctionFailure("strconv.ParseInt: parsing \(GoText.quote(text)): value out of range"))
        }
        if negative { return .success(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)) }
        return .success(Int64(magnitude))
    }

    // MARK: - Comparisons (text/template's eq, lt and friends)

    private enum BasicKind { case invalid, bool, int, uint, float, string }

    private static func basicKind(_ value: Value) -> BasicKind {
        switch value {
        case .bool: return .bool
        case .integer(_, let kind): return kind.isUnsigned ? .uint : .int
        case .float: return .float
        case .string: return .string
        default: return .invalid
        }
    }

    private static func equalValues(_ left: Value, _ right: Value) throws(FunctionFailure) -> Bool {
        let leftKind = basicKind(left)
        let rightKind = basicKind(right)
        if leftKind != rightKind {
            switch (left, right) {
            case (.integer(let first, _), .integer(let second, _)):
                // One signed, one unsigned: equal when the signed one is not negative and the values match.
                let signedValue = leftKind == .int ? first : second
                let unsignedValue = leftKind == .int ? second : first
                return signedValue >= 0 && UInt64(signedValue) == UInt64(bitPattern: unsignedValue)
            default:
                if !left.isMissing && !right.isMissing {
                    throw FunctionFailure("incompatible types for comparison: \(left.goTypeName) and \(right.goTypeName)")
                }
                return false
            }
        }
        switch (left, right) {
        case (.bool(let first), .bool(let second)): return first == second
        case (.float(let first), .float(let second)): return first == second
        case (.integer(let first, _), .integer(let second, _)): return first == second
        case (.string(let first), .string(let second)): return GoText.bytesEqual(first, second)
        case (.missing, .missing): return true
        case (.missing, _), (_, .missing): return false
        case (.time(let first), .time(let second)): return first == second
        default:
            if left.goTypeName != right.goTypeName {
                throw FunctionFailure(GoPrinter.sprintf("non-comparable types %s: %v, %s: %v",
                                                        [left, .string(left.goTypeName), .string(right.goTypeName), right]))
            }
            throw FunctionFailure(GoPrinter.sprintf("non-comparable type %s: %v", [right, .string(right.goTypeName)]))
        }
    }

    private static func lessThan(_ left: Value, _ right: Value) throws(FunctionFailure) -> Bool {
        let leftKind = basicKind(left)
        let rightKind = basicKind(right)
        if leftKind == .invalid || rightKind == .invalid { throw FunctionFailure("invalid type for comparison") }
        if leftKind != rightKind {
            if case .integer(let first, _) = left, case .integer(let second, _) = right {
                if leftKind == .int { return first < 0 || UInt64(first) < UInt64(bitPattern: second) }
                return second >= 0 && UInt64(bitPattern: first) < UInt64(second)
            }
            throw FunctionFailure("incompatible types for comparison: \(left.goTypeName) and \(right.goTypeName)")
        }
        switch (left, right) {
        case (.float(let first), .float(let second)): return first < second
        case (.integer(let first, let kind), .integer(let second, _)):
            return kind.isUnsigned ? UInt64(bitPattern: first) < UInt64(bitPattern: second) : first < second
        case (.string(let first), .string(let second)): return GoText.bytesLess(first, second)
        default: throw FunctionFailure("invalid type for comparison")
        }
    }

    // MARK: - index, slice and len

    private static func indexArgument(_ index: Value, limit: Int) throws(FunctionFailure) -> Int {
        switch index {
        case .integer(let number, let kind):
            let value = kind.isUnsigned ? Int64(bitPattern: UInt64(bitPattern: number)) : number
            if value < 0 || value > Int64(limit) { throw FunctionFailure("index out of range: \(value)") }
            return Int(value)
        case .missing:
            throw FunctionFailure("cannot index slice/array with nil")
        default:
            throw FunctionFailure("cannot index slice/array with type \(index.goTypeName)")
        }
    }

    private static func indexValue(_ item: Value, _ indexes: ArraySlice<Value>) throws(FunctionFailure) -> Value {
        if case .missing = item { throw FunctionFailure("index of untyped nil") }
        var current = item
        for index in indexes {
            switch current {
            case .list(let items):
                let position = try indexArgument(index, limit: items.count)
                if position == items.count { throw FunctionFailure("reflect: slice index out of range") }
                current = items[position]
            case .string(let text):
                let bytes = Array(text.utf8)
                let position = try indexArgument(index, limit: bytes.count)
                if position == bytes.count { throw FunctionFailure("reflect: string index out of range") }
                current = .integer(Int64(bytes[position]), .uint8)
            case .map(let entries):
                guard case .string(let key) = index else {
                    if case .missing = index { throw FunctionFailure("value is nil; should be of type string") }
                    throw FunctionFailure("value has type \(index.goTypeName); should be string")
                }
                current = entries[key] ?? .missing
            case .stringMap(let entries):
                guard case .string(let key) = index else {
                    if case .missing = index { throw FunctionFailure("value is nil; should be of type string") }
                    throw FunctionFailure("value has type \(index.goTypeName); should be string")
                }
                current = .string(entries.first(where: { GoText.bytesEqual($0.name, key) })?.value ?? "")
            case .missing:
                // A nil interface element cannot be indexed further.
                throw FunctionFailure("index of nil pointer")
            default:
                throw FunctionFailure("can't index item of type \(current.goTypeName)")
            }
        }
        return current
    }

    private static func sliceValue(_ item: Value, _ indexes: ArraySlice<Value>) throws(FunctionFailure) -> Value {
        if case .missing = item { throw FunctionFailure("slice of untyped nil") }
        if indexes.count > 3 { throw FunctionFailure("too many slice indexes: \(indexes.count)") }
        let length: Int
        switch item {
        case .string(let text):
            if indexes.count == 3 { throw FunctionFailure("cannot 3-index slice a string") }
            length = text.utf8.count
        case .list(let items):
            length = items.count
        default:
            throw FunctionFailure("can't slice item of type \(item.goTypeName)")
        }
        var bounds = [0, length, length]
        for (position, index) in indexes.enumerated() { bounds[position] = try indexArgument(index, limit: length) }
        if bounds[0] > bounds[1] { throw FunctionFailure("invalid slice index: \(bounds[0]) > \(bounds[1])") }
        if indexes.count == 3 && bounds[1] > bounds[2] { throw FunctionFailure("invalid slice index: \(bounds[1]) > \(bounds[2])") }
        switch item {
        case .string(let text): return .string(GoStrings.slice(text, bounds[0], bounds[1]))
        case .list(let items): return .list(Array(items[bounds[0]..<bounds[1]]))
        default: return item
        }
    }

    private static func lengthOf(_ item: Value) throws(FunctionFailure) -> Value {
        switch item {
        case .string(let text): return .int(Int64(text.utf8.count))
        case .list(let items): return .int(Int64(items.count))
        case .map(let entries): return .int(Int64(entries.count))
        case .stringMap(let entries): return .int(Int64(entries.count))
        case .missing: throw FunctionFailure("reflect: call of reflect.Value.Type on zero Value")
        default: throw FunctionFailure("len of type \(item.goTypeName)")
        }
    }

    // MARK: - Times

    private static func now(_ environment: FunctionEnvironment) -> GoTime {
        GoTime(unixNanoseconds: environment.nowNanoseconds ?? wallClockNanoseconds())
    }

    /// Loki's unixToTime: the digit count tells days, seconds, milliseconds, microseconds or nanoseconds.
    private static func unixToTime(_ epoch: String) throws(FunctionFailure) -> GoTime {
        let number: Int64
        switch parseDecimalInt64(epoch) {
        case .success(let value): number = value
        case .failure(let failure): throw FunctionFailure("unable to parse time '\(epoch)': \(failure.message)")
        }
        switch epoch.utf8.count {
        case 5: return GoTime(unixSeconds: number &* 86_400)
        case 10: return GoTime(unixSeconds: number)
        case 13: return GoTime(unixNanoseconds: number &* 1_000_000)
        case 16: return GoTime(unixNanoseconds: number &* 1000)
        case 19: return GoTime(unixNanoseconds: number)
        default: throw FunctionFailure("unable to parse time '\(epoch)': %!w(<nil>)")
        }
    }

    /// humanize.ParseBytes, as a float64.
    private static func parseBytes(_ text: String) throws(FunctionFailure) -> Double {
        let bytes = Array(text.utf8)
        var end = 0
        var hasComma = false
        while end < bytes.count {
            let byte = bytes[end]
            guard (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ",") else { break }
            if byte == UInt8(ascii: ",") { hasComma = true }
            end += 1
        }
        var number = String(decoding: bytes[0..<end], as: UTF8.self)
        if hasComma { number = GoStrings.replace(number, ",", "", limit: -1) }
        let value: Double
        switch GoNumbers.parseFloat(number) {
        case .success(let parsed): value = parsed
        case .failure(.syntax): throw FunctionFailure("strconv.ParseFloat: parsing \(GoText.quote(number)): invalid syntax")
        case .failure(.range): throw FunctionFailure("strconv.ParseFloat: parsing \(GoText.quote(number)): value out of range")
        }
        let unit = GoStrings.lower(GoStrings.trimSpace(String(decoding: bytes[end...], as: UTF8.self)))
        let multipliers: [String: Double] = [
            "b": 1, "": 1,
            "kib": 1024, "ki": 1024, "kb": 1000, "k": 1000,
            "mib": 1_048_576, "mi": 1_048_576, "mb": 1e6, "m": 1e6,
            "gib": 1_073_741_824, "gi": 1_073_741_824, "gb": 1e9, "g": 1e9,
            "tib": 1_099_511_627_776, "ti": 1_099_511_627_776, "tb": 1e12, "t": 1e12,
            "pib": 1_125_899_906_842_624, "pi": 1_125_899_906_842_624, "pb": 1e15, "p": 1e15,
            "eib": 1_152_921_504_606_846_976, "ei": 1_152_921_504_606_846_976, "eb": 1e18, "e": 1e18,
        ]
        guard let multiplier = multipliers[unit] else { throw FunctionFailure("unhandled size name: \(unit)") }
        let product = value * multiplier
        if product >= 18_446_744_073_709_551_615.0 { throw FunctionFailure("too large: \(text)") }
        return product.rounded(.towardZero)
    }

    // MARK: - The table

    private static func makeFunctions() -> [Function] {
        var table: [Function] = []
        func define(_ name: String, _ parameters: [ParameterType], variadic: ParameterType? = nil,
                    special: Function.Special = .none, _ body: @escaping FunctionBody) {
            table.append(Function(name: name, parameters: parameters, variadic: variadic, special: special, body: body))
        }
        // and, or and call are evaluated by the evaluator itself.
        let unreachable: FunctionBody = { _, _ in .missing }

        // text/template builtins.
        define("and", [.value], variadic: .value, special: .and, unreachable)
        define("or", [.value], variadic: .value, special: .or, unreachable)
        define("call", [.value], variadic: .value, special: .call, unreachable)
        define("not", [.value]) { _, arguments in .bool(!arguments[0].truth(labelCount: { 1 })) }
        define("len", [.value]) { _, arguments throws(FunctionFailure) in try lengthOf(arguments[0]) }
        define("index", [.value], variadic: .value) { _, arguments throws(FunctionFailure) in
            try indexValue(arguments[0], arguments.dropFirst())
        }
        define("slice", [.value], variadic: .value) { _, arguments throws(FunctionFailure) in
            try sliceValue(arguments[0], arguments.dropFirst())
        }
        define("print", [], variadic: .any) { _, arguments in .string(GoPrinter.sprint(arguments)) }
        define("println", [], variadic: .any) { _, arguments in .string(GoPrinter.sprintln(arguments)) }
        define("printf", [.string], variadic: .any) { _, arguments in
            .string(GoPrinter.sprintf(stringArgument(arguments[0]), Array(arguments.dropFirst())))
        }
        define("html", [], variadic: .any) { _, arguments in .string(GoStrings.htmlEscape(joinedArguments(arguments))) }
        define("js", [], variadic: .any) { _, arguments in .string(GoStrings.jsEscape(joinedArguments(arguments))) }
        define("urlquery", [], variadic: .any) { _, arguments in .string(GoStrings.queryEscape(joinedArguments(arguments))) }
        define("eq", [.value], variadic: .value) { _, arguments throws(FunctionFailure) in
            if arguments.count < 2 { throw FunctionFailure("missing argument for comparison") }
            for other in arguments.dropFirst() where try equalValues(arguments[0], other) { return .bool(true) }
            return .bool(false)
        }
        define("ne", [.value, .value]) { _, arguments throws(FunctionFailure) in
            .bool(!(try equalValues(arguments[0], arguments[1])))
        }
        define("lt", [.value, .value]) { _, arguments throws(FunctionFailure) in
            .bool(try lessThan(arguments[0], arguments[1]))
        }
        define("le", [.value, .value]) { _, arguments throws(FunctionFailure) in
            if try lessThan(arguments[0], arguments[1]) { return .bool(true) }
            return .bool(try equalValues(arguments[0], arguments[1]))
        }
        define("gt", [.value, .value]) { _, arguments throws(FunctionFailure) in
            if try lessThan(arguments[0], arguments[1]) { return .bool(false) }
            return .bool(!(try equalValues(arguments[0], arguments[1])))
        }
        define("ge", [.value, .value]) { _, arguments throws(FunctionFailure) in
            .bool(!(try lessThan(arguments[0], arguments[1])))
        }

        // Loki: the line and timestamp of the entry.
        define("__line__", []) { environment, _ in .string(environment.line) }
        define("__timestamp__", []) { environment, _ in .time(GoTime(unixNanoseconds: environment.timestampNanoseconds)) }

        // Loki: Go's strings package under its old names.
        define("ToLower", [.string]) { _, arguments in .string(GoStrings.lower(stringArgument(arguments[0]))) }
        define("ToUpper", [.string]) { _, arguments in .string(GoStrings.upper(stringArgument(arguments[0]))) }
        define("Replace", [.string, .string, .string, .int]) { _, arguments in
            .string(GoStrings.replace(stringArgument(arguments[0]), stringArgument(arguments[1]), stringArgument(arguments[2]),
                                      limit: Int(clamping: integerArgument(arguments[3]))))
        }
        define("Trim", [.string, .string]) { _, arguments in
            .string(GoStrings.trim(stringArgument(arguments[0]), cutset: stringArgument(arguments[1]), left: true, right: true))
        }
        define("TrimLeft", [.string, .string]) { _, arguments in
            .string(GoStrings.trim(stringArgument(arguments[0]), cutset: stringArgument(arguments[1]), left: true, right: false))
        }
        define("TrimRight", [.string, .string]) { _, arguments in
            .string(GoStrings.trim(stringArgument(arguments[0]), cutset: stringArgument(arguments[1]), left: false, right: true))
        }
        define("TrimPrefix", [.string, .string]) { _, arguments in
            .string(GoStrings.trimPrefix(stringArgument(arguments[0]), stringArgument(arguments[1])))
        }
        define("TrimSuffix", [.string, .string]) { _, arguments in
            .string(GoStrings.trimSuffix(stringArgument(arguments[0]), stringArgument(arguments[1])))
        }
        define("TrimSpace", [.string]) { _, arguments in .string(GoStrings.trimSpace(stringArgument(arguments[0]))) }

        // Loki: regular expressions, compiled per call as Loki does unless the pattern was a literal.
        define("regexReplaceAll", [.string, .string, .string]) { environment, arguments throws(FunctionFailure) in
            let regex = try LogQLTemplate.regex(stringArgument(arguments[0]), environment: environment)
            return .string(regex.replaceAll(in: stringArgument(arguments[1]), with: stringArgument(arguments[2]), literal: false))
        }
        define("regexReplaceAllLiteral", [.string, .string, .string]) { environment, arguments throws(FunctionFailure) in
            let regex = try LogQLTemplate.regex(stringArgument(arguments[0]), environment: environment)
            return .string(regex.replaceAll(in: stringArgument(arguments[1]), with: stringArgument(arguments[2]), literal: true))
        }
        define("count", [.string, .string]) { environment, arguments throws(FunctionFailure) in
            let regex = try LogQLTemplate.regex(stringArgument(arguments[0]), environment: environment)
            return .int(Int64(regex.countMatches(in: stringArgument(arguments[1]))))
        }

        // Loki: URLs, units, times, alignment, base64.
        define("urldecode", [.string]) { _, arguments throws(FunctionFailure) in
            switch GoStrings.queryUnescape(stringArgument(arguments[0])) {
            case .success(let text): return .string(text)
            case .failure(let failure): throw FunctionFailure(failure.message)
            }
        }
        define("urlencode", [.string]) { _, arguments in .string(GoStrings.queryEscape(stringArgument(arguments[0]))) }
        define("bytes", [.string]) { _, arguments throws(FunctionFailure) in .float(try parseBytes(stringArgument(arguments[0]))) }
        let durationSeconds: FunctionBody = { _, arguments throws(FunctionFailure) in
            switch GoTimeFormat.parseDuration(stringArgument(arguments[0])) {
            case .success(let nanoseconds):
                return .float(Double(nanoseconds / 1_000_000_000) + Double(nanoseconds % 1_000_000_000) / 1e9)
            case .failure(let failure):
                throw FunctionFailure(failure.message)
            }
        }
        define("duration", [.string], durationSeconds)
        define("duration_seconds", [.string], durationSeconds)
        define("unixEpochMillis", [.time]) { _, arguments in .string(String(timeArgument(arguments[0]).unixMilliseconds)) }
        define("unixEpochNanos", [.time]) { _, arguments in .string(String(timeArgument(arguments[0]).unixNanoseconds)) }
        define("toDateInZone", [.string, .string, .string]) { _, arguments in
            let location = zone(named: stringArgument(arguments[1]))
            switch GoTimeFormat.parse(layout: stringArgument(arguments[0]), value: stringArgument(arguments[2]), location: location) {
            case .success(let time): return .time(time)
            case .failure: return .time(.zero)
            }
        }
        define("unixToTime", [.string]) { _, arguments throws(FunctionFailure) in .time(try unixToTime(stringArgument(arguments[0]))) }
        define("alignLeft", [.int, .string]) { _, arguments throws(FunctionFailure) in
            let count = integerArgument(arguments[0])
            let text = stringArgument(arguments[1])
            let length = text.unicodeScalars.count
            if count < 0 || count == Int64(length) { return .string(text) }
            if count > Int64(length) {
                try checkedSize(Int(clamping: count))
                return .string(text + String(repeating: " ", count: Int(count) - length))
            }
            return .string(String(String.UnicodeScalarView(text.unicodeScalars.prefix(Int(count)))))
        }
        define("alignRight", [.int, .string]) { _, arguments throws(FunctionFailure) in
            let count = integerArgument(arguments[0])
            let text = stringArgument(arguments[1])
            let length = text.unicodeScalars.count
            if count < 0 || count == Int64(length) { return .string(text) }
            if count > Int64(length) {
                try checkedSize(Int(clamping: count))
                return .string(String(repeating: " ", count: Int(count) - length) + text)
            }
            return .string(String(String.UnicodeScalarView(text.unicodeScalars.suffix(Int(count)))))
        }
        define("b64dec", [.string]) { _, arguments in
            // Loki pads missing '=' and returns the decoding error's text as the result.
            var text = stringArgument(arguments[0])
            let remainder = text.utf8.count % 4
            if remainder != 0 && remainder != 1 { text += String(repeating: "=", count: 4 - remainder) }
            switch GoStrings.base64Decode(text) {
            case .success(let bytes): return .string(String(decoding: bytes, as: UTF8.self))
            case .failure(let failure): return .string(failure.message)
            }
        }

        // Sprig: strings.
        define("b64enc", [.string]) { _, arguments in .string(GoStrings.base64Encode(stringArgument(arguments[0]))) }
        define("lower", [.string]) { _, arguments in .string(GoStrings.lower(stringArgument(arguments[0]))) }
        define("upper", [.string]) { _, arguments in .string(GoStrings.upper(stringArgument(arguments[0]))) }
        define("title", [.string]) { _, arguments in .string(GoStrings.title(stringArgument(arguments[0]))) }
        define("trunc", [.int, .string]) { _, arguments in
            // Sprig cuts bytes, not runes.
            let count = integerArgument(arguments[0])
            let text = stringArgument(arguments[1])
            let length = Int64(text.utf8.count)
            if count < 0 && length + count > 0 { return .string(GoStrings.slice(text, Int(length + count), Int(length))) }
            if count >= 0 && length > count { return .string(GoStrings.slice(text, 0, Int(count))) }
            return .string(text)
        }
        define("substr", [.int, .int, .string]) { _, arguments throws(FunctionFailure) in
            let start = integerArgument(arguments[0])
            let end = integerArgument(arguments[1])
            let text = stringArgument(arguments[2])
            let length = Int64(text.utf8.count)
            if start < 0 {
                guard end >= 0 && end <= length else { throw sliceBoundsFailure(nil, end, length: Int(length)) }
                return .string(GoStrings.slice(text, 0, Int(end)))
            }
            if end < 0 || end > length {
                guard start <= length else { throw sliceBoundsFailure(start, nil, length: Int(length)) }
                return .string(GoStrings.slice(text, Int(start), Int(length)))
            }
            guard start <= end else { throw sliceBoundsFailure(start, end, length: Int(length)) }
            return .string(GoStrings.slice(text, Int(start), Int(end)))
        }
        define("contains", [.string, .string]) { _, arguments in
            .bool(GoStrings.contains(stringArgument(arguments[1]), stringArgument(arguments[0])))
        }
        define("hasPrefix", [.string, .string]) { _, arguments in
            .bool(GoStrings.hasPrefix(stringArgument(arguments[1]), stringArgument(arguments[0])))
        }
        define("hasSuffix", [.string, .string]) { _, arguments in
            .bool(GoStrings.hasSuffix(stringArgument(arguments[1]), stringArgument(arguments[0])))
        }
        let indent: FunctionBody = { _, arguments throws(FunctionFailure) in
            let padding = try repeated(" ", integerArgument(arguments[0]))
            let text = stringArgument(arguments[1])
            let lines = text.utf8.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            try checkedSize(text.utf8.count + padding.utf8.count * (lines + 1))
            return .string(padding + GoStrings.replace(text, "\n", "\n" + padding, limit: -1))
        }
        define("indent", [.int, .string], indent)
        define("nindent", [.int, .string]) { environment, arguments throws(FunctionFailure) in
            .string("\n" + stringArgument(try indent(&environment, arguments)))
        }
        define("replace", [.string, .string, .string]) { _, arguments in
            .string(GoStrings.replace(stringArgument(arguments[2]), stringArgument(arguments[0]), stringArgument(arguments[1]), limit: -1))
        }
        define("repeat", [.int, .string]) { _, arguments throws(FunctionFailure) in
            .string(try repeated(stringArgument(arguments[1]), integerArgument(arguments[0])))
        }
        define("trim", [.string]) { _, arguments in .string(GoStrings.trimSpace(stringArgument(arguments[0]))) }
        define("trimAll", [.string, .string]) { _, arguments in
            .string(GoStrings.trim(stringArgument(arguments[1]), cutset: stringArgument(arguments[0]), left: true, right: true))
        }
        define("trimSuffix", [.string, .string]) { _, arguments in
            .string(GoStrings.trimSuffix(stringArgument(arguments[1]), stringArgument(arguments[0])))
        }
        define("trimPrefix", [.string, .string]) { _, arguments in
            .string(GoStrings.trimPrefix(stringArgument(arguments[1]), stringArgument(arguments[0])))
        }

        // Sprig: numbers. Integer arithmetic wraps as Go's int64 does.
        define("int", [.any]) { _, arguments in .int(castToInt64(arguments[0])) }
        define("float64", [.any]) { _, arguments in .float(castToFloat64(arguments[0])) }
        define("add", [], variadic: .any) { _, arguments in .int64(arguments.reduce(Int64(0)) { $0 &+ castToInt64($1) }) }
        define("sub", [.any, .any]) { _, arguments in .int64(castToInt64(arguments[0]) &- castToInt64(arguments[1])) }
        define("mul", [.any], variadic: .any) { _, arguments in
            .int64(arguments.dropFirst().reduce(castToInt64(arguments[0])) { $0 &* castToInt64($1) })
        }
        define("div", [.any, .any]) { _, arguments throws(FunctionFailure) in
            let divisor = castToInt64(arguments[1])
            if divisor == 0 { throw FunctionFailure("runtime error: integer divide by zero") }
            return .int64(castToInt64(arguments[0]).dividedReportingOverflow(by: divisor).partialValue)
        }
        define("mod", [.any, .any]) { _, arguments throws(FunctionFailure) in
            let divisor = castToInt64(arguments[1])
            if divisor == 0 { throw FunctionFailure("runtime error: integer divide by zero") }
            return .int64(castToInt64(arguments[0]).remainderReportingOverflow(dividingBy: divisor).partialValue)
        }
        define("addf", [], variadic: .any) { _, arguments throws(FunctionFailure) in
            var total = GoDecimal.zero
            for argument in arguments { total = total.adding(try GoDecimal.fromFloat(castToFloat64(argument))) }
            return .float(total.doubleValue)
        }
        define("subf", [.any], variadic: .any) { _, arguments throws(FunctionFailure) in
            var total = try GoDecimal.fromFloat(castToFloat64(arguments[0]))
            for argument in arguments.dropFirst() { total = total.subtracting(try GoDecimal.fromFloat(castToFloat64(argument))) }
            return .float(total.doubleValue)
        }
        define("mulf", [.any], variadic: .any) { _, arguments throws(FunctionFailure) in
            var total = try GoDecimal.fromFloat(castToFloat64(arguments[0]))
            for argument in arguments.dropFirst() { total = total.multiplying(try GoDecimal.fromFloat(castToFloat64(argument))) }
            return .float(total.doubleValue)
        }
        define("divf", [.any], variadic: .any) { _, arguments throws(FunctionFailure) in
            var total = try GoDecimal.fromFloat(castToFloat64(arguments[0]))
            for argument in arguments.dropFirst() { total = try total.dividing(by: try GoDecimal.fromFloat(castToFloat64(argument))) }
            return .float(total.doubleValue)
        }
        define("max", [.any], variadic: .any) { _, arguments in
            .int64(arguments.dropFirst().reduce(castToInt64(arguments[0])) { Swift.max($0, castToInt64($1)) })
        }
        define("min", [.any], variadic: .any) { _, arguments in
            .int64(arguments.dropFirst().reduce(castToInt64(arguments[0])) { Swift.min($0, castToInt64($1)) })
        }
        define("maxf", [.any], variadic: .any) { _, arguments in
            .float(arguments.dropFirst().reduce(castToFloat64(arguments[0])) { goMax($0, castToFloat64($1)) })
        }
        define("minf", [.any], variadic: .any) { _, arguments in
            .float(arguments.dropFirst().reduce(castToFloat64(arguments[0])) { goMin($0, castToFloat64($1)) })
        }
        define("ceil", [.any]) { _, arguments in .float(castToFloat64(arguments[0]).rounded(.up)) }
        define("floor", [.any]) { _, arguments in .float(castToFloat64(arguments[0]).rounded(.down)) }
        define("round", [.any, .int], variadic: .float64) { _, arguments in
            // Sprig rounds up when the fraction (after scaling) reaches roundOn, which defaults to .5.
            let roundOn = arguments.count > 2 ? floatArgument(arguments[2]) : 0.5
            let value = castToFloat64(arguments[0])
            let scale = powerOfTen(Double(integerArgument(arguments[1])))
            let scaled = scale * value
            let fraction = scaled - scaled.rounded(.towardZero)
            let rounded = fraction >= roundOn ? scaled.rounded(.up) : scaled.rounded(.down)
            return .float(rounded / scale)
        }

        // Sprig: JSON, dates, defaults.
        define("fromJson", [.string]) { _, arguments in JSONDecoder.decode(stringArgument(arguments[0])) ?? .missing }
        define("date", [.string, .any]) { environment, arguments in
            var time: GoTime
            switch arguments[1] {
            case .time(let given): time = given
            case .integer(let seconds, .int), .integer(let seconds, .int64): time = GoTime(unixSeconds: seconds)
            default: time = now(environment)
            }
            // Shown in the server's Local zone, taken to be UTC.
            time.zone = .utc
            return .string(GoTimeFormat.format(time, layout: stringArgument(arguments[0])))
        }
        define("toDate", [.string, .string]) { _, arguments in
            switch GoTimeFormat.parse(layout: stringArgument(arguments[0]), value: stringArgument(arguments[1]), location: .utc) {
            case .success(let time): return .time(time)
            case .failure: return .time(.zero)
            }
        }
        define("now", []) { environment, _ in .time(now(environment)) }
        define("unixEpoch", [.time]) { _, arguments in .string(String(timeArgument(arguments[0]).unixSeconds)) }
        define("default", [.any], variadic: .any) { _, arguments in
            if arguments.count < 2 || isEmpty(arguments[1]) { return arguments[0] }
            return arguments[1]
        }
        return table
    }

    // MARK: - Methods

    private static let timeMethods: [String: Function] = {
        var methods: [String: Function] = [:]
        func method(_ name: String, _ parameters: [ParameterType] = [], _ body: @escaping @Sendable (GoTime, [Value]) -> Value) {
            methods[name] = Function(name: name, parameters: parameters, variadic: nil) { _, arguments in
                body(timeArgument(arguments[0]), Array(arguments.dropFirst()))
            }
        }
        method("Unix") { time, _ in .int64(time.unixSeconds) }
        method("UnixMilli") { time, _ in .int64(time.unixMilliseconds) }
        method("UnixMicro") { time, _ in .int64(time.unixMicroseconds) }
        method("UnixNano") { time, _ in .int64(time.unixNanoseconds) }
        method("Year") { time, _ in .int(Int64(time.civil.year)) }
        method("Month") { time, _ in .integer(Int64(time.civil.month), .month) }
        method("Day") { time, _ in .int(Int64(time.civil.day)) }
        method("Hour") { time, _ in .int(Int64(time.civil.hour)) }
        method("Minute") { time, _ in .int(Int64(time.civil.minute)) }
        method("Second") { time, _ in .int(Int64(time.civil.second)) }
        method("Nanosecond") { time, _ in .int(Int64(time.nanoseconds)) }
        method("YearDay") { time, _ in .int(Int64(time.civil.yearDay)) }
        method("Weekday") { time, _ in .integer(Int64(time.civil.weekday), .weekday) }
        method("IsZero") { time, _ in .bool(time.isZero) }
        method("String") { time, _ in .string(GoTimeFormat.string(time)) }
        method("UTC") { time, _ in
            var converted = time
            converted.zone = .utc
            return .time(converted)
        }
        method("Local") { time, _ in
            var converted = time
            converted.zone = .utc
            return .time(converted)
        }
        method("Format", [.string]) { time, arguments in .string(GoTimeFormat.format(time, layout: stringArgument(arguments[0]))) }
        method("Equal", [.time]) { time, arguments in
            let other = timeArgument(arguments[0])
            return .bool(time.unixSeconds == other.unixSeconds && time.nanoseconds == other.nanoseconds)
        }
        method("Before", [.time]) { time, arguments in
            let other = timeArgument(arguments[0])
            return .bool(time.unixSeconds < other.unixSeconds || (time.unixSeconds == other.unixSeconds && time.nanoseconds < other.nanoseconds))
        }
        method("After", [.time]) { time, arguments in
            let other = timeArgument(arguments[0])
            return .bool(time.unixSeconds > other.unixSeconds || (time.unixSeconds == other.unixSeconds && time.nanoseconds > other.nanoseconds))
        }
        return methods
    }()

    /// A method of a time.Time (or String of a time.Month or time.Weekday), as text/template calls them.
    static func method(named name: String, on receiver: Value) -> Function? {
        switch receiver {
        case .time:
            return timeMethods[name]
        case .integer(_, let kind) where name == "String" && (kind == .month || kind == .weekday):
            return Function(name: name, parameters: []) { _, arguments in
                let number = integerArgument(arguments[0])
                return .string(kind == .month ? GoTimeFormat.monthName(number) : GoTimeFormat.weekdayName(number))
            }
        default:
            return nil
        }
    }
}
