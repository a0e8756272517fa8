import LoupeModel

/// Resolves a parse tree against one context: paths to fields, enums to numbers, calls to the
/// supported editors and converters with their arguments checked. Everything OTTL would refuse at
/// startup, and what could never work here (a literal of the wrong type for `set`), fails here.
struct OTTLBinder {
    let context: OTTLContextKind

    // MARK: Statements and conditions

    func statement(_ syntax: OTTLSyntaxStatement) throws(OTTLError) -> (OTTLEditor, OTTLBooleanExpression?) {
        let editor = try self.editor(syntax.editor)
        let condition = try syntax.condition.map { (condition) throws(OTTLError) in try self.condition(condition) }
        return (editor, condition)
    }

    func condition(_ syntax: OTTLSyntaxCondition) throws(OTTLError) -> OTTLBooleanExpression {
        switch syntax {
        case .value(let node):
            return try standaloneCondition(node)
        case .comparison(let left, let operation, let right):
            return .comparison(try expression(left), operation, try expression(right))
        case .not(let inner):
            return .not(try condition(inner))
        case .and(let operands):
            var bound: [OTTLBooleanExpression] = []
            for operand in operands { bound.append(try condition(operand)) }
            return .and(bound)
        case .or(let operands):
            var bound: [OTTLBooleanExpression] = []
            for operand in operands { bound.append(try condition(operand)) }
            return .or(bound)
        }
    }

    /// Only `true`, `false` and converters that give a bool stand alone.
    private func standaloneCondition(_ node: OTTLSyntaxNode) throws(OTTLError) -> OTTLBooleanExpression {
        switch node.kind {
        case .bool(let value):
            return .constant(value)
        case .call(let call):
            let signature = try converterSignature(call, position: "a condition")
            let bound = try converter(call, signature: signature)
            if call.keys.isEmpty, signature.result != .bool, signature.result != .any {
                throw OTTLError(.notACondition, column: node.column,
                                "\(signature.name) gives \(OTTLFormat.withArticle(signature.result.rawValue)), not a bool; compare it, e.g. \(signature.name)(...) == ...")
            }
            return .converter(bound)
        default:
            throw OTTLError(.notACondition, column: node.column,
                            "\(node.summary) is not a condition; compare it, e.g. \(node.summary) == ...")
        }
    }

    // MARK: Values

    func expression(_ node: OTTLSyntaxNode) throws(OTTLError) -> OTTLExpression {
        switch node.kind {
        case .string(let text): return .literal(.string(text))
        case .integer(let number): return .literal(.int(number))
        case .float(let number): return .literal(.double(number))
        case .bool(let flag): return .literal(.bool(flag))
        case .nilLiteral: return .literal(nil)
        case .bytes(let bytes): return .literal(.bytes(bytes))
        case .enumName(let name): return .literal(.int(try OTTLEnums.resolve(name, context: context, column: node.column)))
        case .path(let syntax): return .path(try path(syntax, column: node.column))
        case .call(let call):
            return .converter(try converter(call, signature: try converterSignature(call, position: "a value")))
        case .arithmetic(let operation, let left, let right):
            return .arithmetic(operation, try expression(left), try expression(right))
        case .negation(let operand):
            return .negation(try expression(operand))
        case .list(let elements):
            var bound: [OTTLExpression] = []
            for element in elements { bound.append(try expression(element)) }
            // A list of literals is one literal, built once rather than on every evaluation.
            let literals = bound.compactMap(\.literalValue)
            if literals.count == bound.count { return .literal(.array(literals.map { $0 ?? .empty })) }
            return .list(bound)
        case .map(let entries):
            var bound: [OTTLMapEntry] = []
            for entry in entries { bound.append(OTTLMapEntry(key: entry.key, value: try expression(entry.value))) }
            let literals = bound.compactMap { entry in entry.value.literalValue.map { KeyValue(key: entry.key, value: $0 ?? .empty) } }
            if literals.count == bound.count {
                var folded: [KeyValue] = []
                for entry in literals { folded.upsert(entry.key, entry.value) }
                return .literal(.keyValueList(folded))
            }
            return .map(bound)
        }
    }

    func path(_ syntax: OTTLSyntaxPath, column: Int) throws(OTTLError) -> OTTLPath {
        let name = syntax.dottedName
        let field = try OTTLPaths.resolve(name, firstSegment: syntax.segments[0], context: context, column: column)
        if !syntax.keys.isEmpty && !field.acceptsKeys {
            throw OTTLError(.syntax, column: syntax.keys[0].column, "\(name) holds \(field.valueType.rawValue) values and cannot be indexed")
        }
        var keys: [OTTLExpression] = []
        for key in syntax.keys { keys.append(try self.key(key)) }
        return OTTLPath(field: field, keys: keys, name: name, column: column)
    }

    /// Keys index maps by string and lists by int; a literal of any other type can never index anything.
    private func key(_ node: OTTLSyntaxNode) throws(OTTLError) -> OTTLExpression {
        let bound = try expression(node)
        switch bound {
        case .literal(.string?), .literal(.int?), .path, .converter, .arithmetic, .negation:
            return bound
        default:
            throw OTTLError(.syntax, column: node.column, "a key must be a string or an int, not \(node.summary)")
        }
    }

    // MARK: Calls

    private func converterSignature(_ call: OTTLSyntaxCall, position: String) throws(OTTLError) -> OTTLFunctionSignature {
        guard let signature = OTTLFunctions.byName[call.name] else {
            throw OTTLFunctions.unknown(call.name, column: call.column, expecting: .converter)
        }
        guard signature.role == .converter else {
            throw OTTLError(.misplacedFunction, column: call.column,
                            "\(call.name) is an editor and cannot be used as \(position); converters are: \(OTTLFunctions.converterNames)")
        }
        return signature
    }

    func editor(_ call: OTTLSyntaxCall) throws(OTTLError) -> OTTLEditor {
        guard let signature = OTTLFunctions.byName[call.name] else {
            throw OTTLFunctions.unknown(call.name, column: call.column, expecting: .editor)
        }
        guard signature.role == .editor else {
            throw OTTLError(.misplacedFunction, column: call.column,
                            "\(call.name) is a converter and cannot be a statement; statements start with an editor: \(OTTLFunctions.editorNames)")
        }
        let arguments = try OTTLArguments(call, signature: signature, binder: self)
        switch call.name {
        case "set":
            let target = try arguments.target(0, .anyField)
            let value = try arguments.value(1)
            try checkLiteral(value, fitting: target, column: arguments.column(1))
            return .set(target, value)
        case "delete_key":
            return .deleteKey(try arguments.target(0, .mapField), key: try arguments.stringValue(1))
        case "delete_matching_keys":
            return .deleteMatchingKeys(try arguments.target(0, .mapField), try arguments.regex(1))
        case "keep_keys":
            return .keepKeys(try arguments.target(0, .mapField), Set(try arguments.stringList(1)))
        case "keep_matching_keys":
            return .keepMatchingKeys(try arguments.target(0, .mapField), try arguments.regex(1))
        case "replace_pattern":
            return .replacePattern(try arguments.target(0, .stringField), try arguments.regex(1), replacement: try arguments.stringValue(2))
        case "replace_all_patterns":
            return .replaceAllPatterns(
                try arguments.target(0, .mapField), mode: try arguments.choice(1, OTTLReplaceMode.self, among: [.key, .value]),
                try arguments.regex(2), replacement: try arguments.stringValue(3))
        case "replace_match":
            return .replaceMatch(try arguments.target(0, .stringField), try arguments.glob(1), replacement: try arguments.stringValue(2))
        case "replace_all_matches":
            return .replaceAllMatches(try arguments.target(0, .mapField), try arguments.glob(1), replacement: try arguments.stringValue(2))
        case "truncate_all":
            return .truncateAll(try arguments.target(0, .mapField), limit: Int(try arguments.intLiteral(1, minimum: 0)))
        case "limit":
            let target = try arguments.target(0, .mapField)
            let limit = try arguments.intLiteral(1, minimum: 0)
            let priorityKeys = try arguments.stringList(2)
            if limit < priorityKeys.count {
                throw OTTLError(.invalidArgument, column: arguments.column(1),
                                "limit: limit \(limit) is less than the \(priorityKeys.count) priority keys")
            }
            return .limit(target, limit: Int(limit), priorityKeys: priorityKeys)
        case "merge_maps":
            return .mergeMaps(
                try arguments.target(0, .mapField), source: try arguments.value(1),
                strategy: try arguments.choice(2, OTTLMergeStrategy.self, among: [.insert, .update, .upsert]))
        case "flatten":
            let target = try arguments.target(0, .mapField)
            let prefix = arguments.isPresent(1) ? try arguments.stringLiteral(1) : ""
            let depth = arguments.isPresent(2) ? Int(try arguments.intLiteral(2, minimum: 0)) : nil
            return .flatten(target, prefix: prefix, depth: depth)
        default:
            // Every editor in the catalog has a case above.
            throw OTTLFunctions.unknown(call.name, column: call.column, expecting: .editor)
        }
    }

    /// `set(span.name, 5)` could never do anything: OTTL would fail it on every item, so it is refused now.
    private func checkLiteral(_ value: OTTLExpression, fitting target: OTTLPath, column: Int) throws(OTTLError) {
        guard target.keys.isEmpty, case .literal(let literal?) = value else { return }
        let fits = switch (target.field.valueType, literal) {
        case (.any, _): true
        case (.string, .string), (.int, .int), (.double, .double), (.bytes, .bytes), (.map, .keyValueList): true
        default: false
        }
        if !fits {
            var message = "set: \(target.name) holds \(OTTLFormat.withArticle(target.field.valueType.rawValue)), not \(OTTLFormat.withArticle(OTTLFormat.typeName(literal)))"
            if target.field.valueType == .double, case .int(let number) = literal { message += "; write \(number).0" }
            throw OTTLError(.arguments, column: column, message)
        }
    }

    private func converter(_ call: OTTLSyntaxCall, signature: OTTLFunctionSignature) throws(OTTLError) -> OTTLConverterCall {
        let arguments = try OTTLArguments(call, signature: signature, binder: self)
        if !call.keys.isEmpty, signature.result != .any, signature.result != .list, signature.result != .map {
            throw OTTLError(.syntax, column: call.keys[0].column, "\(call.name) gives \(OTTLFormat.withArticle(signature.result.rawValue)), which cannot be indexed")
        }
        let converter: OTTLConverter
        switch call.name {
        case "IsMatch": converter = .isMatch(try arguments.value(0), try arguments.regex(1))
        case "IsString": converter = .isType(try arguments.value(0), .string)
        case "IsInt": converter = .isType(try arguments.value(0), .int)
        case "IsDouble": converter = .isType(try arguments.value(0), .double)
        case "IsBool": converter = .isType(try arguments.value(0), .bool)
        case "IsMap": converter = .isType(try arguments.value(0), .map)
        case "IsList": converter = .isType(try arguments.value(0), .list)
        case "Concat":
            let values = try arguments.value(0)
            if case .literal(let literal) = values, !(literal.map { if case .array = $0 { true } else { false } } ?? false) {
                throw OTTLError(.arguments, column: arguments.column(0), "Concat: values must be a list, not \(arguments.summary(0))")
            }
            converter = .concat(values: values, delimiter: try arguments.stringValue(1))
        case "Split": converter = .split(try arguments.stringValue(0), delimiter: try arguments.stringValue(1))
        case "Substring":
            converter = .substring(
                try arguments.stringValue(0), start: try arguments.intValue(1, minimum: 0), length: try arguments.intValue(2, minimum: 1))
        case "ToLowerCase": converter = .toLowerCase(try arguments.stringValue(0))
        case "ToUpperCase": converter = .toUpperCase(try arguments.stringValue(0))
        case "Int": converter = .int(try arguments.value(0))
        case "Double": converter = .double(try arguments.value(0))
        case "String": converter = .string(try arguments.value(0))
        case "Len": converter = .len(try arguments.value(0))
        case "ParseJSON": converter = .parseJSON(try arguments.stringValue(0))
        case "Trim":
            converter = .trim(try arguments.stringValue(0), characters: arguments.isPresent(1) ? try arguments.stringValue(1) : nil)
        case "Hex": converter = .hex(try arguments.value(0))
        case "TraceID": converter = .traceID(try arguments.value(0))
        case "SpanID": converter = .spanID(try arguments.value(0))
        case "ContainsValue": converter = .containsValue(try arguments.value(0), item: try arguments.value(1))
        case "HasPrefix": converter = .hasPrefix(try arguments.stringValue(0), prefix: try arguments.stringValue(1))
        case "HasSuffix": converter = .hasSuffix(try arguments.stringValue(0), suffix: try arguments.stringValue(1))
        default:
            // Every converter in the catalog has a case above.
            throw OTTLFunctions.unknown(call.name, column: call.column, expecting: .converter)
        }
        var keys: [OTTLExpression] = []
        for key in call.keys { keys.append(try self.key(key)) }
        return OTTLConverterCall(converter: converter, keys: keys)
    }
}
