import LoupeModel

/// What a function is called with and what it gives back: enough to check a call's arguments, and
/// whether a converter can stand alone as a condition, before anything runs.
struct OTTLFunctionSignature: Sendable {
    enum Role: Sendable { case editor, converter }

    enum Result: String, Sendable {
        case bool, string, int, double, bytes, list, map
        /// Nothing is known until it runs (`ParseJSON` gives a map or a list).
        case any
        /// Editors give nothing.
        case none
    }

    struct Parameter: Sendable {
        var name: String
        var isOptional = false
    }

    var name: String
    var role: Role
    var parameters: [Parameter]
    var result: Result

    /// `replace_pattern(target, regex, replacement)`, with optional parameters in brackets.
    var usage: String {
        var text = ""
        for (index, parameter) in parameters.enumerated() {
            let separator = index == 0 ? "" : ", "
            text += parameter.isOptional ? "[\(separator)\(parameter.name)]" : separator + parameter.name
        }
        return "\(name)(\(text))"
    }
}

/// The functions this build supports. Names follow OTTL: editors lower-case, converters capitalised.
enum OTTLFunctions {
    private static func editor(_ name: String, _ parameters: [String], optional: [String] = []) -> OTTLFunctionSignature {
        OTTLFunctionSignature(
            name: name, role: .editor,
            parameters: parameters.map { .init(name: $0) } + optional.map { .init(name: $0, isOptional: true) }, result: .none)
    }

    private static func converter(_ name: String, _ parameters: [String], optional: [String] = [], result: OTTLFunctionSignature.Result) -> OTTLFunctionSignature {
        OTTLFunctionSignature(
            name: name, role: .converter,
            parameters: parameters.map { .init(name: $0) } + optional.map { .init(name: $0, isOptional: true) }, result: result)
    }

    static let editors: [OTTLFunctionSignature] = [
        editor("set", ["target", "value"]),
        editor("delete_key", ["target", "key"]),
        editor("delete_matching_keys", ["target", "pattern"]),
        editor("keep_keys", ["target", "keys"]),
        editor("keep_matching_keys", ["target", "pattern"]),
        editor("replace_pattern", ["target", "regex", "replacement"]),
        editor("replace_all_patterns", ["target", "mode", "regex", "replacement"]),
        editor("replace_match", ["target", "pattern", "replacement"]),
        editor("replace_all_matches", ["target", "pattern", "replacement"]),
        editor("truncate_all", ["target", "limit"]),
        editor("limit", ["target", "limit", "priority_keys"]),
        editor("merge_maps", ["target", "source", "strategy"]),
        editor("flatten", ["target"], optional: ["prefix", "depth"]),
    ]

    static let converters: [OTTLFunctionSignature] = [
        converter("IsMatch", ["target", "pattern"], result: .bool),
        converter("IsString", ["value"], result: .bool),
        converter("IsInt", ["value"], result: .bool),
        converter("IsDouble", ["value"], result: .bool),
        converter("IsBool", ["value"], result: .bool),
        converter("IsMap", ["value"], result: .bool),
        converter("IsList", ["value"], result: .bool),
        converter("Concat", ["values", "delimiter"], result: .string),
        converter("Split", ["target", "delimiter"], result: .list),
        converter("Substring", ["target", "start", "length"], result: .string),
        converter("ToLowerCase", ["target"], result: .string),
        converter("ToUpperCase", ["target"], result: .string),
        // These three give nil for what they cannot convert, which no check here depends on.
        converter("Int", ["value"], result: .int),
        converter("Double", ["value"], result: .double),
        converter("String", ["value"], result: .string),
        converter("Len", ["target"], result: .int),
        converter("ParseJSON", ["target"], result: .any),
        converter("Trim", ["target"], optional: ["replacement"], result: .string),
        converter("Hex", ["value"], result: .string),
        converter("TraceID", ["bytes"], result: .bytes),
        converter("SpanID", ["bytes"], result: .bytes),
        converter("ContainsValue", ["target", "item"], result: .bool),
        converter("HasPrefix", ["value", "prefix"], result: .bool),
        converter("HasSuffix", ["value", "suffix"], result: .bool),
    ]

    static let byName: [String: OTTLFunctionSignature] = Dictionary(
        uniqueKeysWithValues: (editors + converters).map { ($0.name, $0) })

    /// OTTL functions this build does not have, so a message can say "not supported" rather than "unknown".
    static let unsupportedOTTLFunctions: Set<String> = [
        "append", "delete_index", "stringify_all", "Base64Decode", "Base64Encode", "Bool", "Coalesce", "CommunityID",
        "ConvertCase", "Day", "Decode", "Duration", "ExtractPatterns", "ExtractGrokPatterns", "FNV", "Format", "FormatTime",
        "GetXML", "Hour", "Hours", "Index", "InsertXML", "IsEmpty", "IsInCIDR", "IsRootSpan", "IsValidLuhn", "Keys", "Log",
        "MD5", "Microseconds", "Milliseconds", "Minute", "Minutes", "Month", "Murmur3Hash", "Murmur3Hash128", "Nanosecond",
        "Nanoseconds", "Now", "ParseCSV", "ParseInt", "ParseKeyValue", "ParseSeverity", "ParseSimplifiedXML", "ParseXML",
        "ProfileID", "RemoveXML", "Second", "Seconds", "SHA1", "SHA256", "SHA512", "SliceToMap", "Sort", "Time",
        "ToCamelCase", "ToKeyValueString", "ToSnakeCase", "TrimPrefix", "TrimSuffix", "TruncateTime", "Unix", "UnixMicro",
        "UnixMilli", "UnixNano", "UnixSeconds", "URL", "UserAgent", "UUID", "UUIDv7", "Values", "Weekday", "XXH3", "XXH128",
        "Year",
    ]

    static let editorNames = editors.map(\.name).joined(separator: ", ")
    static let converterNames = converters.map(\.name).joined(separator: ", ")

    /// The error for a name no supported function has, listing what the caller's position allows.
    static func unknown(_ name: String, column: Int, expecting role: OTTLFunctionSignature.Role) -> OTTLError {
        let candidates = role == .editor ? editors : converters
        var message = unsupportedOTTLFunctions.contains(name)
            ? "function \"\(name)\" is not supported"
            : "unknown function \"\(name)\""
        if let suggestion = OTTLSpelling.closest(to: name, among: candidates.map(\.name)) {
            message += " (did you mean \"\(suggestion)\"?)"
        }
        message += role == .editor ? "; supported editors: \(editorNames)" : "; supported converters: \(converterNames)"
        return OTTLError(.unknownFunction, column: column, message)
    }
}

/// A call's arguments matched to its signature's parameters, with the checks each kind of parameter
/// needs. Every error names the function and the parameter, at the argument's column.
struct OTTLArguments {
    let signature: OTTLFunctionSignature
    let call: OTTLSyntaxCall
    let binder: OTTLBinder
    private var slots: [OTTLSyntaxArgument?]

    init(_ call: OTTLSyntaxCall, signature: OTTLFunctionSignature, binder: OTTLBinder) throws(OTTLError) {
        self.signature = signature
        self.call = call
        self.binder = binder
        slots = Array(repeating: nil, count: signature.parameters.count)
        let positional = call.arguments.filter { $0.name == nil }
        if positional.count > signature.parameters.count {
            throw OTTLError(.arguments, column: positional[signature.parameters.count].column,
                            "\(signature.name) takes at most \(signature.parameters.count) arguments: \(signature.usage)")
        }
        for (index, argument) in positional.enumerated() { slots[index] = argument }
        for argument in call.arguments {
            guard let name = argument.name else { continue }
            guard let index = signature.parameters.firstIndex(where: { $0.name == name }) else {
                throw OTTLError(.arguments, column: argument.column,
                                "\(signature.name) has no argument named \"\(name)\": \(signature.usage)")
            }
            guard slots[index] == nil else {
                throw OTTLError(.arguments, column: argument.column, "\(signature.name): argument \"\(name)\" is given twice")
            }
            slots[index] = argument
        }
        for (index, parameter) in signature.parameters.enumerated() where !parameter.isOptional && slots[index] == nil {
            throw OTTLError(.arguments, column: call.column,
                            "\(signature.name) needs its \"\(parameter.name)\" argument: \(signature.usage)")
        }
    }

    func isPresent(_ index: Int) -> Bool { slots[index] != nil }

    func column(_ index: Int) -> Int { argument(index).column }

    func summary(_ index: Int) -> String { argument(index).value.summary }

    private func argument(_ index: Int) -> OTTLSyntaxArgument {
        // The initializer has checked that every required parameter has its argument.
        slots[index]!
    }

    private func parameterName(_ index: Int) -> String { signature.parameters[index].name }

    private func refuse(_ index: Int, _ code: OTTLError.Code, _ problem: String) -> OTTLError {
        OTTLError(code, column: argument(index).column, "\(signature.name): \(parameterName(index)) \(problem)")
    }

    // MARK: Values

    func value(_ index: Int) throws(OTTLError) -> OTTLExpression {
        try binder.expression(argument(index).value)
    }

    /// Any value; a literal must be a string (a path or converter is checked when it runs).
    func stringValue(_ index: Int) throws(OTTLError) -> OTTLExpression {
        try typedValue(index, expected: "a string") { if case .string = $0 { true } else { false } }
    }

    /// Any value; a literal must be an int, and at least `minimum`.
    func intValue(_ index: Int, minimum: Int64) throws(OTTLError) -> OTTLExpression {
        let expression = try typedValue(index, expected: "an int") { if case .int = $0 { true } else { false } }
        if case .literal(.int(let number)?) = expression, number < minimum {
            throw refuse(index, .invalidArgument, "must be at least \(minimum), got \(number)")
        }
        return expression
    }

    private func typedValue(_ index: Int, expected: String, _ accepts: (AnyValue) -> Bool) throws(OTTLError) -> OTTLExpression {
        let expression = try value(index)
        if case .literal(let literal) = expression, !(literal.map(accepts) ?? false) {
            throw refuse(index, .arguments, "must be \(expected), not \(argument(index).value.summary)")
        }
        return expression
    }

    // MARK: Literals

    func stringLiteral(_ index: Int) throws(OTTLError) -> String {
        guard case .string(let text) = argument(index).value.kind else {
            throw refuse(index, .arguments, "must be a string literal, not \(argument(index).value.summary)")
        }
        return text
    }

    func intLiteral(_ index: Int, minimum: Int64) throws(OTTLError) -> Int64 {
        guard case .integer(let number) = argument(index).value.kind else {
            throw refuse(index, .arguments, "must be an int literal, not \(argument(index).value.summary)")
        }
        guard number >= minimum else {
            throw refuse(index, .invalidArgument, minimum == 0 ? "must not be negative, got \(number)" : "must be at least \(minimum), got \(number)")
        }
        return number
    }

    func stringList(_ index: Int) throws(OTTLError) -> [String] {
        guard case .list(let elements) = argument(index).value.kind else {
            throw refuse(index, .arguments, "must be a list of string literals, not \(argument(index).value.summary)")
        }
        var strings: [String] = []
        for element in elements {
            guard case .string(let text) = element.kind else {
                throw OTTLError(.arguments, column: element.column,
                                "\(signature.name): \(parameterName(index)) must list string literals, not \(element.summary)")
            }
            strings.append(text)
        }
        return strings
    }

    func choice<Choice: RawRepresentable>(_ index: Int, _ type: Choice.Type, among options: [Choice]) throws(OTTLError) -> Choice
    where Choice.RawValue == String {
        let text = try stringLiteral(index)
        guard let choice = Choice(rawValue: text) else {
            let listed = options.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw refuse(index, .invalidArgument, "must be one of \(listed), not \"\(text)\"")
        }
        return choice
    }

    func regex(_ index: Int) throws(OTTLError) -> OTTLRegex {
        let pattern = try stringLiteral(index)
        switch OTTLRegex.compile(pattern) {
        case .success(let regex): return regex
        case .failure(let error): throw refuse(index, .invalidArgument, "is not a valid regex \"\(pattern)\": \(error.reason)")
        }
    }

    func glob(_ index: Int) throws(OTTLError) -> OTTLGlob {
        let pattern = try stringLiteral(index)
        switch OTTLGlob.compile(pattern) {
        case .success(let glob): return glob
        case .failure(let error): throw refuse(index, .invalidArgument, "is not a valid glob \"\(pattern)\": \(error.reason)")
        }
    }

    // MARK: Targets

    enum TargetKind {
        /// `set`: any field but a read-only one.
        case anyField
        /// A field that holds a string, or may (the body, an indexed value).
        case stringField
        /// A field that holds a map, or may.
        case mapField
    }

    func target(_ index: Int, _ kind: TargetKind) throws(OTTLError) -> OTTLPath {
        let node = argument(index).value
        guard case .path(let syntax) = node.kind else {
            throw refuse(index, .notSettable, "must be a path to a field, not \(node.summary)")
        }
        let path = try binder.path(syntax, column: node.column)
        if path.field.isReadOnly {
            throw refuse(index, .notSettable, "\(path.name) is read-only")
        }
        let type = path.keys.isEmpty ? path.field.valueType : .any
        switch kind {
        case .anyField:
            break
        case .stringField where type != .string && type != .any:
            throw refuse(index, .arguments, "must be a string field, and \(path.name) holds \(OTTLFormat.withArticle(type.rawValue))")
        case .mapField where type != .map && type != .any:
            throw refuse(index, .arguments, "must be a map, and \(path.name) holds \(OTTLFormat.withArticle(type.rawValue))")
        default:
            break
        }
        return path
    }
}
