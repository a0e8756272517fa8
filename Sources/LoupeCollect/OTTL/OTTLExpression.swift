import LoupeModel

/// A value expression with every name resolved: paths to fields of the context, enums to ints,
/// calls to converters with their arguments checked and their patterns compiled.
indirect enum OTTLExpression: Sendable {
    /// A literal, or a list or map of literals folded at parse time; nil is OTTL's nil.
    case literal(AnyValue?)
    case path(OTTLPath)
    case converter(OTTLConverterCall)
    case list([OTTLExpression])
    case map([OTTLMapEntry])
    case arithmetic(OTTLArithmeticOperator, OTTLExpression, OTTLExpression)
    case negation(OTTLExpression)

    /// The literal's value (itself nil for OTTL's nil), or nil when the expression is not a literal.
    var literalValue: AnyValue?? {
        if case .literal(let value) = self { return .some(value) }
        return nil
    }
}

struct OTTLMapEntry: Sendable {
    var key: String
    var value: OTTLExpression
}

/// A field of the item and the keys that index into it (`log.attributes["a"][0]`).
struct OTTLPath: Sendable {
    var field: OTTLField
    var keys: [OTTLExpression]
    /// As written, for messages: `log.attributes`.
    var name: String
    var column: Int
}

struct OTTLConverterCall: Sendable {
    var converter: OTTLConverter
    /// Indexes into the converter's result: `ParseJSON(log.body)["level"]`.
    var keys: [OTTLExpression]
}

enum OTTLTypeCheck: Sendable {
    case string, int, double, bool, map, list
}

/// The converters this build supports, each with its bound arguments.
indirect enum OTTLConverter: Sendable {
    case isMatch(OTTLExpression, OTTLRegex)
    case isType(OTTLExpression, OTTLTypeCheck)
    case concat(values: OTTLExpression, delimiter: OTTLExpression)
    case split(OTTLExpression, delimiter: OTTLExpression)
    case substring(OTTLExpression, start: OTTLExpression, length: OTTLExpression)
    case toLowerCase(OTTLExpression)
    case toUpperCase(OTTLExpression)
    case int(OTTLExpression)
    case double(OTTLExpression)
    case string(OTTLExpression)
    case len(OTTLExpression)
    case parseJSON(OTTLExpression)
    case trim(OTTLExpression, characters: OTTLExpression?)
    case hex(OTTLExpression)
    case traceID(OTTLExpression)
    case spanID(OTTLExpression)
    case containsValue(OTTLExpression, item: OTTLExpression)
    case hasPrefix(OTTLExpression, prefix: OTTLExpression)
    case hasSuffix(OTTLExpression, suffix: OTTLExpression)
}

enum OTTLReplaceMode: String, Sendable {
    case key, value
}

enum OTTLMergeStrategy: String, Sendable {
    case insert, update, upsert
}

/// The editors this build supports, each with its bound arguments.
enum OTTLEditor: Sendable {
    case set(OTTLPath, OTTLExpression)
    case deleteKey(OTTLPath, key: OTTLExpression)
    case deleteMatchingKeys(OTTLPath, OTTLRegex)
    case keepKeys(OTTLPath, Set<String>)
    case keepMatchingKeys(OTTLPath, OTTLRegex)
    case replacePattern(OTTLPath, OTTLRegex, replacement: OTTLExpression)
    case replaceAllPatterns(OTTLPath, mode: OTTLReplaceMode, OTTLRegex, replacement: OTTLExpression)
    case replaceMatch(OTTLPath, OTTLGlob, replacement: OTTLExpression)
    case replaceAllMatches(OTTLPath, OTTLGlob, replacement: OTTLExpression)
    case truncateAll(OTTLPath, limit: Int)
    case limit(OTTLPath, limit: Int, priorityKeys: [String])
    case mergeMaps(OTTLPath, source: OTTLExpression, strategy: OTTLMergeStrategy)
    case flatten(OTTLPath, prefix: String, depth: Int?)
}

indirect enum OTTLBooleanExpression: Sendable {
    case constant(Bool)
    case comparison(OTTLExpression, OTTLComparisonOperator, OTTLExpression)
    /// A converter that yields a bool (`IsMatch(...)`), or an indexed one whose value is checked at run time.
    case converter(OTTLConverterCall)
    case not(OTTLBooleanExpression)
    case and([OTTLBooleanExpression])
    case or([OTTLBooleanExpression])
}
