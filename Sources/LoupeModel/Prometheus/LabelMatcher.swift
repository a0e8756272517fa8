/// A label matcher of a series selector: `name="v"`, `!=`, `=~` or `!~`.
///
/// Regular expressions are fully anchored, as in Prometheus. Common shapes take fast
/// paths that never run the regex engine: `.*`, `.+`, and alternations of literals
/// such as `GET|POST` (the bulk of selector regexes in dashboards).
public struct LabelMatcher: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case equal = "="
        case notEqual = "!="
        case regexMatch = "=~"
        case regexNoMatch = "!~"
    }

    public let name: String
    public let kind: Kind
    public let value: String
    private let pattern: CompiledPattern?

    public struct InvalidRegex: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        public var description: String { "invalid regular expression \"\(pattern)\": \(reason)" }
    }

    public init(_ name: String, _ kind: Kind, _ value: String) throws(InvalidRegex) {
        self.name = name
        self.kind = kind
        self.value = value
        switch kind {
        case .equal, .notEqual: pattern = nil
        case .regexMatch, .regexNoMatch: pattern = try CompiledPattern(value)
        }
    }

    public static func equal(_ name: String, _ value: String) -> LabelMatcher {
        // Equality matchers never compile a regex, so this cannot fail.
        try! LabelMatcher(name, .equal, value)
    }

    /// Whether a label value satisfies the matcher; an absent label has the value "".
    public func matches(_ candidate: String) -> Bool {
        switch kind {
        case .equal: candidate == value
        case .notEqual: candidate != value
        case .regexMatch: pattern!.matches(candidate)
        case .regexNoMatch: !pattern!.matches(candidate)
        }
    }

    /// True when the matcher also selects series that lack the label (it matches "").
    public var matchesEmpty: Bool { matches("") }

    public var description: String {
        "\(name)\(kind.rawValue)\"\(value.replacingBackslashesAndQuotes)\""
    }

    public static func == (lhs: LabelMatcher, rhs: LabelMatcher) -> Bool {
        lhs.name == rhs.name && lhs.kind == rhs.kind && lhs.value == rhs.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(kind)
        hasher.combine(value)
    }

    /// The values an `=~` matcher can only match, when its pattern is a plain alternation of literals.
    public var literalAlternatives: Set<String>? {
        if case .literals(let set) = pattern?.shape { return set }
        return nil
    }
}

/// An anchored regular expression with fast paths for the common shapes.
struct CompiledPattern: @unchecked Sendable {
    enum Shape {
        case anything
        case anythingNonEmpty
        case literals(Set<String>)
        case regex
    }

    let shape: Shape
    // Regex is immutable after creation and only used for matching.
    private let regex: Regex<AnyRegexOutput>?

    init(_ source: String) throws(LabelMatcher.InvalidRegex) {
        if source == ".*" {
            shape = .anything
            regex = nil
            return
        }
        if source == ".+" {
            shape = .anythingNonEmpty
            regex = nil
            return
        }
        if let literals = Self.literalAlternation(source) {
            shape = .literals(literals)
            regex = nil
            return
        }
        do {
            regex = try Regex("^(?s:\(source))$")
            shape = .regex
        } catch {
            throw LabelMatcher.InvalidRegex(pattern: source, reason: "\(error)")
        }
    }

    func matches(_ candidate: String) -> Bool {
        switch shape {
        case .anything: return true
        case .anythingNonEmpty: return !candidate.isEmpty
        case .literals(let set): return set.contains(candidate)
        case .regex: return (try? regex!.wholeMatch(in: candidate)) != nil
        }
    }

    /// `a|b|c` where every branch is free of regex metacharacters.
    static func literalAlternation(_ source: String) -> Set<String>? {
        let metacharacters = Set("\\^$.|?*+()[]{}")
        var literals: Set<String> = []
        for branch in source.split(separator: "|", omittingEmptySubsequences: false) {
            guard !branch.contains(where: { metacharacters.contains($0) }) else { return nil }
            literals.insert(String(branch))
        }
        return literals
    }
}

extension String {
    var replacingBackslashesAndQuotes: String {
        var out = ""
        for character in self {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }
}
