// The values a template computes with, modelled on the Go types Loki's templates meet: label values
// are strings, functions return int, int64, float64, bool or time.Time, fromJson returns maps and
// slices of interface{}, and the data (dot) is the entry's map[string]string.

extension LogQLTemplate {
    /// Go integer types that behave differently: they print alike but are not assignable to each other.
    enum IntegerKind: Sendable, Equatable {
        case int
        case int64
        case uint8
        case month      // time.Month: an int that prints its name
        case weekday    // time.Weekday

        var goName: String {
            switch self {
            case .int: return "int"
            case .int64: return "int64"
            case .uint8: return "uint8"
            case .month: return "time.Month"
            case .weekday: return "time.Weekday"
            }
        }

        var isUnsigned: Bool { self == .uint8 }
    }

    enum Value: Sendable {
        /// Go's invalid reflect.Value: no value at all (an untyped nil, a nil interface once unwrapped).
        case missing
        /// A nil interface{} still typed as such: a missing or null entry of a fromJson map or slice, read by a
        /// field chain or as a range element. Pipelines unwrap it to `missing`; as an argument it is a wrong type.
        case nilInterface
        case string(String)
        case integer(Int64, IntegerKind)
        case float(Double)
        case bool(Bool)
        case time(GoTime)
        /// map[string]interface {} (fromJson).
        case map([String: Value])
        /// []interface {} (fromJson).
        case list([Value])
        /// map[string]string with its entries sorted by name: the entry's labels, when enumerated.
        case stringMap([(name: String, value: String)])
        /// The template's data (dot) before it is enumerated: label lookups go to the context.
        case labels

        static func int(_ value: Int64) -> Value { .integer(value, .int) }
        static func int64(_ value: Int64) -> Value { .integer(value, .int64) }

        var goTypeName: String {
            switch self {
            case .missing: return "<nil>"
            case .nilInterface: return "interface {}"
            case .string: return "string"
            case .integer(_, let kind): return kind.goName
            case .float: return "float64"
            case .bool: return "bool"
            case .time: return "time.Time"
            case .map: return "map[string]interface {}"
            case .list: return "[]interface {}"
            case .stringMap, .labels: return "map[string]string"
            }
        }

        var isMissing: Bool {
            switch self {
            case .missing, .nilInterface: return true
            default: return false
            }
        }

        /// text/template's isTrue: the zero value of its type is false; structs (time) are true.
        func truth(labelCount: () -> Int) -> Bool {
            switch self {
            case .missing, .nilInterface: return false
            case .string(let text): return !text.isEmpty
            case .integer(let number, _): return number != 0
            case .float(let number): return number != 0
            case .bool(let flag): return flag
            case .time: return true
            case .map(let entries): return !entries.isEmpty
            case .list(let items): return !items.isEmpty
            case .stringMap(let entries): return !entries.isEmpty
            case .labels: return labelCount() > 0
            }
        }
    }
}

// MARK: - Go's fmt

extension LogQLTemplate {
    /// A faithful subset of Go's fmt printer: Sprint, Sprintln and Sprintf with flags, width, precision,
    /// argument indexes and the %!verb(type=value) error forms, over template values.
    struct GoPrinter {
        var output = ""

        private var plus = false
        private var minus = false
        private var sharp = false
        private var space = false
        private var zero = false
        private var plusV = false
        private var sharpV = false
        private var width = 0
        private var widthPresent = false
        private var precision = 0
        private var precisionPresent = false
        /// Set while printing a bad verb's operand, where Go does not call String methods.
        private var erroring = false

        private mutating func clearFlags() {
            plus = false; minus = false; sharp = false; space = false; zero = false
            plusV = false; sharpV = false
            width = 0; widthPresent = false; precision = 0; precisionPresent = false
        }

        // MARK: Entry points

        static func sprint(_ arguments: [Value]) -> String {
            var printer = GoPrinter()
            printer.print(arguments)
            return printer.output
        }

        static func sprintln(_ arguments: [Value]) -> String {
            var printer = GoPrinter()
            for (index, argument) in arguments.enumerated() {
                if index > 0 { printer.output += " " }
                printer.printArgument(argument, verb: "v")
            }
            printer.output += "\n"
            return printer.output
        }

        static func sprintf(_ format: String, _ arguments: [Value]) -> String {
            var printer = GoPrinter()
            printer.printFormatted(format, arguments)
            return printer.output
        }

        /// How an action prints its value: "<no value>" for nothing, else fmt.Fprint.
        static func appendActionValue(_ value: Value, to output: inout String) {
            switch value {
            case .string(let text): output += text
            case .missing, .nilInterface: output += "<no value>"
            case .integer(let number, .int), .integer(let number, .int64): output += String(number)
            default:
                var printer = GoPrinter()
                printer.printArgument(value, verb: "v")
                output += printer.output
            }
        }

        mutating func print(_ arguments: [Value]) {
            var previousWasString = false
            for (index, argument) in arguments.enumerated() {
                var isString = false
                if case .string = argument { isString = true }
                // A space between operands when neither is a string.
                if index > 0 && !isString && !previousWasString { output += " " }
                printArgument(argument, verb: "v")
                previousWasString = isString
            }
        }

        // MARK: Printf

        private static func parseNumber(_ format: [UInt8], _ start: Int, _ end: Int) -> (Int, Bool, Int) {
            if start >= end { return (0, false, end) }
            var number = 0
            var found = false
            var index = start
            while index < end && format[index] >= UInt8(ascii: "0") && format[index] <= UInt8(ascii: "9") {
                if number > 1_000_000 { return (0, false, end) }
                number = number * 10 + Int(format[index] - UInt8(ascii: "0"))
                found = true
                index += 1
            }
            return (number, found, index)
        }

        private static func integerArgument(_ arguments: [Value], _ index: Int) -> (Int, Bool, Int) {
            guard index < arguments.count else { return (0, false, index) }
            var number = 0
            var isInteger = false
            if case .integer(let value, let kind) = arguments[index] {
                if !kind.isUnsigned || value >= 0 {
                    number = Int(value)
                    isInteger = true
                }
            }
            if number > 1_000_000 || number < -1_000_000 {
                number = 0
                isInteger = false
            }
            return (number, isInteger, index + 1)
        }

        mutating func printFormatted(_ formatText: String, _ arguments: [Value]) {
            let format = Array(formatText.utf8)
            let end = format.count
            var argumentIndex = 0
            var afterIndex = false
            var reordered = false
            var index = 0
            formatLoop: while index < end {
                var goodArgumentIndex = true
                let literalStart = index
                while index < end && format[index] != UInt8(ascii: "%") { index += 1 }
                if index > literalStart { output += String(decoding: format[literalStart..<index], as: UTF8.self) }
                if index >= end { break }
                index += 1
                clearFlags()
                flags: while index < end {
                    switch format[index] {
                    case UInt8(ascii: "#"): sharp = true
                    case UInt8(ascii: "0"): zero = true
                    case UInt8(ascii: "+"): plus = true
                    case UInt8(ascii: "-"): minus = true
                    case UInt8(ascii: " "): space = true
                    default: break flags
                    }
                    index += 1
                }
                // An explicit argument index: [n].
                func argumentNumber(_ current: Int) -> (Int, Bool) {
                    guard index < end, format[index] == UInt8(ascii: "[") else { return (current, false) }
                    reordered = true
                    var closing = index + 1
                    while closing < end && format[closing] != UInt8(ascii: "]") { closing += 1 }
                    if closing >= end || end - index < 3 {
                        index += 1
                        goodArgumentIndex = false
                        return (current, false)
                    }
                    let (number, ok, next) = GoPrinter.parseNumber(format, index + 1, closing)
                    index = closing + 1
                    if !ok || next != closing {
                        goodArgumentIndex = false
                        return (current, false)
                    }
                    if number - 1 >= 0 && number - 1 < arguments.count { return (number - 1, true) }
                    goodArgumentIndex = false
                    return (current, true)
                }
                (argumentIndex, afterIndex) = argumentNumber(argumentIndex)
                if index < end && format[index] == UInt8(ascii: "*") {
                    index += 1
                    (width, widthPresent, argumentIndex) = GoPrinter.integerArgument(arguments, argumentIndex)
                    if !widthPresent { output += "%!(BADWIDTH)" }
                    if width < 0 {
                        width = -width
                        minus = true
                        zero = false
                    }
                    afterIndex = false
                } else {
                    (width, widthPresent, index) = GoPrinter.parseNumber(format, index, end)
                    if afterIndex && widthPresent { goodArgumentIndex = false }
                }
                if index + 1 < end && format[index] == UInt8(ascii: ".") {
                    index += 1
                    if afterIndex { goodArgumentIndex = false }
                    (argumentIndex, afterIndex) = argumentNumber(argumentIndex)
                    if index < end && format[index] == UInt8(ascii: "*") {
                        index += 1
                        (precision, precisionPresent, argumentIndex) = GoPrinter.integerArgument(arguments, argumentIndex)
                        if precision < 0 {
                            precision = 0
                            precisionPresent = false
                        }
                        if !precisionPresent { output += "%!(BADPREC)" }
                        afterIndex = false
                    } else {
                        (precision, precisionPresent, index) = GoPrinter.parseNumber(format, index, end)
                        if !precisionPresent {
                            precision = 0
                            precisionPresent = true
                        }
                    }
                }
                if !afterIndex { (argumentIndex, afterIndex) = argumentNumber(argumentIndex) }
                if index >= end {
                    output += "%!(NOVERB)"
                    break formatLoop
                }
                let (verb, size) = GoText.decodeScalar(format, at: index)
                index += size
                if verb == "%" {
                    output += "%"
                } else if !goodArgumentIndex {
                    output += "%!"
                    output.unicodeScalars.append(verb)
                    output += "(BADINDEX)"
                } else if argumentIndex >= arguments.count {
                    output += "%!"
                    output.unicodeScalars.append(verb)
                    output += "(MISSING)"
                } else {
                    if verb == "v" {
                        sharpV = sharp
                        sharp = false
                        plusV = plus
                        plus = false
                    }
                    printArgument(arguments[argumentIndex], verb: verb)
                    argumentIndex += 1
                }
            }
            if !reordered && argumentIndex < arguments.count {
                clearFlags()
                output += "%!(EXTRA "
                for (position, argument) in arguments[argumentIndex...].enumerated() {
                    if position > 0 { output += ", " }
                    if argument.isMissing {
                        output += "<nil>"
                    } else {
                        output += argument.goTypeName
                        output += "="
                        printArgument(argument, verb: "v")
                    }
                }
                output += ")"
            }
        }

        // MARK: Arguments

        mutating func printArgument(_ argument: Value, verb: Unicode.Scalar) {
            if argument.isMissing {
                if verb == "T" || verb == "v" { padString("<nil>") } else { badVerb(argument, verb) }
                return
            }
            if verb == "T" {
                formatS(argument.goTypeName)
                return
            }
            if verb == "p" {
                badVerb(argument, verb)
                return
            }
            switch argument {
            case .bool(let flag):
                if verb == "t" || verb == "v" { padString(flag ? "true" : "false") } else { badVerb(argument, verb) }
            case .float(let number):
                formatFloatVerb(number, verb: verb, argument: argument)
            case .integer(let number, let kind):
                if (kind == .month || kind == .weekday) && !erroring && "vsxXq".unicodeScalars.contains(verb) {
                    formatString(kind == .month ? GoTimeFormat.monthName(number) : GoTimeFormat.weekdayName(number), verb: verb,
                                 argument: argument)
                } else {
                    formatIntegerVerb(UInt64(bitPattern: number), signed: !kind.isUnsigned, verb: verb, argument: argument)
                }
            case .string(let text):
                formatString(text, verb: verb, argument: argument)
            case .time(let time):
                if "vsxXq".unicodeScalars.contains(verb) {
                    formatString(GoTimeFormat.string(time), verb: verb, argument: argument)
                } else {
                    badVerb(argument, verb)
                }
            case .map, .list, .stringMap, .labels, .missing, .nilInterface:
                printComposite(argument, verb: verb, depth: 0)
            }
        }

        private mutating func printComposite(_ value: Value, verb: Unicode.Scalar, depth: Int) {
            switch value {
            case .map(let entries):
                output += sharpV ? "map[string]interface {}{" : "map["
                let keys = entries.keys.sorted(by: GoText.bytesLess)
                for (position, key) in keys.enumerated() {
                    if position > 0 { output += sharpV ? ", " : " " }
                    printNested(.string(key), verb: verb, depth: depth + 1)
                    output += ":"
                    printNested(entries[key] ?? .missing, verb: verb, depth: depth + 1)
                }
                output += sharpV ? "}" : "]"
            case .stringMap(let entries):
                output += sharpV ? "map[string]string{" : "map["
                for (position, entry) in entries.enumerated() {
                    if position > 0 { output += sharpV ? ", " : " " }
                    printNested(.string(entry.name), verb: verb, depth: depth + 1)
                    output += ":"
                    printNested(.string(entry.value), verb: verb, depth: depth + 1)
                }
                output += sharpV ? "}" : "]"
            case .labels:
                // Enumerated by the evaluator before printing; an unenumerated dot prints as an empty map.
                output += sharpV ? "map[string]string{}" : "map[]"
            case .list(let items):
                output += sharpV ? "[]interface {}{" : "["
                for (position, item) in items.enumerated() {
                    if position > 0 { output += sharpV ? ", " : " " }
                    printNested(item, verb: verb, depth: depth + 1)
                }
                output += sharpV ? "}" : "]"
            default:
                printNested(value, verb: verb, depth: depth)
            }
        }

        /// An element inside a map or slice: nil interfaces print "<nil>".
        private mutating func printNested(_ value: Value, verb: Unicode.Scalar, depth: Int) {
            switch value {
            case .missing, .nilInterface:
                // A nil interface{} element prints the same under every verb.
                output += sharpV ? "interface {}(nil)" : "<nil>"
            case .map, .list, .stringMap, .labels:
                printComposite(value, verb: verb, depth: depth)
            default:
                printArgument(value, verb: verb)
            }
        }

        private mutating func badVerb(_ argument: Value, _ verb: Unicode.Scalar) {
            erroring = true
            output += "%!"
            output.unicodeScalars.append(verb)
            output += "("
            if argument.isMissing {
                output += "<nil>"
            } else {
                output += argument.goTypeName
                output += "="
                printArgument(argument, verb: "v")
            }
            output += ")"
            erroring = false
        }

        // MARK: Padding

        private mutating func writePadding(_ count: Int) {
            guard count > 0 else { return }
            let padding: Unicode.Scalar = zero && !minus ? "0" : " "
            for _ in 0..<count { output.unicodeScalars.append(padding) }
        }

        private mutating func padString(_ text: String) {
            if !widthPresent || width == 0 {
                output += text
                return
            }
            let padding = width - text.unicodeScalars.count
            if !minus {
                writePadding(padding)
                output += text
            } else {
                output += text
                writePadding(padding)
            }
        }

        // MARK: Strings

        private mutating func formatString(_ text: String, verb: Unicode.Scalar, argument: Value) {
            switch verb {
            case "v": if sharpV { formatQ(text) } else { formatS(text) }
            case "s": formatS(text)
            case "x": formatHexBytes(Array(text.utf8), upper: false)
            case "X": formatHexBytes(Array(text.utf8), upper: true)
            case "q": formatQ(text)
            default: badVerb(argument, verb)
            }
        }

        private func truncated(_ text: String) -> String {
            guard precisionPresent else { return text }
            var remaining = precision
            var index = text.unicodeScalars.startIndex
            while index < text.unicodeScalars.endIndex {
                if remaining == 0 { return String(text.unicodeScalars[..<index]) }
                remaining -= 1
                index = text.unicodeScalars.index(after: index)
            }
            return text
        }

        private mutating func formatS(_ text: String) {
            padString(truncated(text))
        }

        private mutating func formatQ(_ text: String) {
            let value = truncated(text)
            if sharp && GoText.canBackquote(value) {
                padString("`" + value + "`")
                return
            }
            padString(GoText.quote(value, asciiOnly: plus))
        }

        private mutating func formatHexBytes(_ bytes: [UInt8], upper: Bool) {
            var length = bytes.count
            if precisionPresent && precision < length { length = precision }
            var encodedWidth = 2 * length
            if encodedWidth > 0 {
                if space {
                    if sharp { encodedWidth *= 2 }
                    encodedWidth += length - 1
                } else if sharp {
                    encodedWidth += 2
                }
            } else {
                if widthPresent { writePadding(width) }
                return
            }
            if widthPresent && width > encodedWidth && !minus { writePadding(width - encodedWidth) }
            let table = upper ? GoText.upperHexDigits : GoText.lowerHexDigits
            let marker = upper ? "0X" : "0x"
            if sharp { output += marker }
            for index in 0..<length {
                if space && index > 0 {
                    output += " "
                    if sharp { output += marker }
                }
                output.unicodeScalars.append(Unicode.Scalar(table[Int(bytes[index] >> 4)]))
                output.unicodeScalars.append(Unicode.Scalar(table[Int(bytes[index] & 0xF)]))
            }
            if widthPresent && width > encodedWidth && minus { writePadding(width - encodedWidth) }
        }

        // MARK: Integers

        private mutating func formatIntegerVerb(_ bits: UInt64, signed: Bool, verb: Unicode.Scalar, argument: Value) {
            switch verb {
            case "v":
                if sharpV && !signed {
                    let savedSharp = sharp
                    sharp = true
                    formatInteger(bits, base: 16, signed: false, verb: "v", upper: false)
                    sharp = savedSharp
                } else {
                    formatInteger(bits, base: 10, signed: signed, verb: verb, upper: false)
                }
            case "d": formatInteger(bits, base: 10, signed: signed, verb: verb, upper: false)
            case "b": formatInteger(bits, base: 2, signed: signed, verb: verb, upper: false)
            case "o", "O": formatInteger(bits, base: 8, signed: signed, verb: verb, upper: false)
            case "x": formatInteger(bits, base: 16, signed: signed, verb: verb, upper: false)
            case "X": formatInteger(bits, base: 16, signed: signed, verb: verb, upper: true)
            case "c":
                let scalar = bits <= 0x10FFFF ? Unicode.Scalar(UInt32(bits)) ?? "\u{FFFD}" : "\u{FFFD}"
                padString(String(Character(scalar)))
            case "q":
                padString(GoText.quoteRune(bits, asciiOnly: plus))
            case "U":
                formatUnicode(bits)
            default:
                badVerb(argument, verb)
            }
        }

        /// fmt's fmtInteger.
        private mutating func formatInteger(_ bits: UInt64, base: UInt64, signed: Bool, verb: Unicode.Scalar, upper: Bool) {
            let negative = signed && Int64(bitPattern: bits) < 0
            var magnitude = negative ? 0 &- bits : bits
            var minimumDigits = 0
            if precisionPresent {
                minimumDigits = precision
                // Precision 0 and value 0 print nothing but padding.
                if precision == 0 && magnitude == 0 {
                    let savedZero = zero
                    zero = false
                    writePadding(width)
                    zero = savedZero
                    return
                }
            } else if zero && !minus && widthPresent {
                minimumDigits = width
                if negative || plus || space { minimumDigits -= 1 }
            }
            let table = upper ? GoText.upperHexDigits : GoText.lowerHexDigits
            var digits: [UInt8] = []
            repeat {
                digits.append(table[Int(magnitude % base)])
                magnitude /= base
            } while magnitude > 0
            while digits.count < minimumDigits { digits.append(UInt8(ascii: "0")) }
            if sharp {
                switch base {
                case 2: digits.append(contentsOf: [UInt8(ascii: "b"), UInt8(ascii: "0")])
                case 8: if digits.last != UInt8(ascii: "0") { digits.append(UInt8(ascii: "0")) }
                case 16: digits.append(contentsOf: [upper ? UInt8(ascii: "X") : UInt8(ascii: "x"), UInt8(ascii: "0")])
                default: break
                }
            }
            if verb == "O" { digits.append(contentsOf: [UInt8(ascii: "o"), UInt8(ascii: "0")]) }
            if negative {
                digits.append(UInt8(ascii: "-"))
            } else if plus {
                digits.append(UInt8(ascii: "+"))
            } else if space {
                digits.append(UInt8(ascii: " "))
            }
            let savedZero = zero
            zero = false
            padString(String(decoding: digits.reversed(), as: UTF8.self))
            zero = savedZero
        }

        /// %U: "U+0078", with # also " 'x'".
        private mutating func formatUnicode(_ bits: UInt64) {
            var digits = ""
            var rest = bits
            repeat {
                digits.unicodeScalars.append(Unicode.Scalar(GoText.upperHexDigits[Int(rest & 0xF)]))
                rest >>= 4
            } while rest > 0
            let minimum = precisionPresent && precision > 4 ? precision : 4
            var text = "U+" + String(repeating: "0", count: max(0, minimum - digits.count)) + String(digits.reversed())
            if sharp, bits <= 0x10FFFF, let scalar = Unicode.Scalar(UInt32(bits)), GoText.isPrint(scalar) {
                text += " '"
                text.unicodeScalars.append(scalar)
                text += "'"
            }
            let savedZero = zero
            zero = false
            padString(text)
            zero = savedZero
        }

        // MARK: Floats

        private mutating func formatFloatVerb(_ number: Double, verb: Unicode.Scalar, argument: Value) {
            switch verb {
            case "v": formatFloat(number, verb: UInt8(ascii: "g"), defaultPrecision: -1)
            case "b", "g", "G", "x", "X": formatFloat(number, verb: UInt8(verb.value), defaultPrecision: -1)
            case "f", "e", "E": formatFloat(number, verb: UInt8(verb.value), defaultPrecision: 6)
            case "F": formatFloat(number, verb: UInt8(ascii: "f"), defaultPrecision: 6)
            default: badVerb(argument, verb)
            }
        }

        /// fmt's fmtFloat.
        private mutating func formatFloat(_ number: Double, verb: UInt8, defaultPrecision: Int) {
            let digitsPrecision = precisionPresent ? precision : defaultPrecision
            var text = Array(GoNumbers.formatFloat(number, format: verb, precision: digitsPrecision).utf8)
            if text.first == UInt8(ascii: "-") || text.first == UInt8(ascii: "+") {
                // already signed
            } else {
                text.insert(UInt8(ascii: "+"), at: 0)
            }
            if space && text[0] == UInt8(ascii: "+") && !plus { text[0] = UInt8(ascii: " ") }
            if text.count > 1 && (text[1] == UInt8(ascii: "I") || text[1] == UInt8(ascii: "N")) {
                let savedZero = zero
                zero = false
                if text[1] == UInt8(ascii: "N") && !space && !plus { text.removeFirst() }
                padString(String(decoding: text, as: UTF8.self))
                zero = savedZero
                return
            }
            if sharp && verb != UInt8(ascii: "b") {
                var digits = 0
                if verb == UInt8(ascii: "v") || verb == UInt8(ascii: "g") || verb == UInt8(ascii: "G") || verb == UInt8(ascii: "x") {
                    digits = digitsPrecision == -1 ? 6 : digitsPrecision
                }
                var tail: [UInt8] = []
                var hasDecimalPoint = false
                var sawNonzeroDigit = false
                var index = 1
                while index < text.count {
                    let byte = text[index]
                    if byte == UInt8(ascii: ".") {
                        hasDecimalPoint = true
                    } else if byte == UInt8(ascii: "p") || byte == UInt8(ascii: "P") {
                        tail = Array(text[index...])
                        text.removeSubrange(index...)
                        break
                    } else if (byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")) && verb != UInt8(ascii: "x") && verb != UInt8(ascii: "X") {
                        tail = Array(text[index...])
                        text.removeSubrange(index...)
                        break
                    } else {
                        if byte != UInt8(ascii: "0") { sawNonzeroDigit = true }
                        if sawNonzeroDigit { digits -= 1 }
                    }
                    index += 1
                }
                if !hasDecimalPoint {
                    if text.count == 2 && text[1] == UInt8(ascii: "0") { digits -= 1 }
                    text.append(UInt8(ascii: "."))
                }
                while digits > 0 {
                    text.append(UInt8(ascii: "0"))
                    digits -= 1
                }
                text.append(contentsOf: tail)
            }
            if plus || text[0] != UInt8(ascii: "+") {
                if zero && !minus && widthPresent && width > text.count {
                    output.unicodeScalars.append(Unicode.Scalar(text[0]))
                    writePadding(width - text.count)
                    output += String(decoding: text[1...], as: UTF8.self)
                    return
                }
                padString(String(decoding: text, as: UTF8.self))
                return
            }
            padString(String(decoding: text[1...], as: UTF8.self))
        }
    }
}
