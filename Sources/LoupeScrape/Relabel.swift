import LoupeModel

/// A regular expression as Prometheus uses it in relabeling: always anchored at both ends
/// (`^(?:regex)$`), with Go's `$1`/`${name}` template expansion.
public struct RelabelRegex: Sendable, Equatable, CustomStringConvertible {
    /// The pattern as configured (without the implicit anchors).
    public let pattern: String
    private let box: Box

    private final class Box: @unchecked Sendable {
        // `Regex` is an immutable value; matching from several threads at once is safe.
        let regex: Regex<AnyRegexOutput>
        init(_ regex: Regex<AnyRegexOutput>) { self.regex = regex }
    }

    /// The default, `(.*)`.
    public static let `default` = try! RelabelRegex("(.*)")

    public init(_ pattern: String) throws(ScrapeError) {
        self.pattern = pattern
        do {
            // Code points, as RE2 matches (not grapheme clusters, Swift's default).
            box = Box(try Regex(pattern).matchingSemantics(.unicodeScalar))
        } catch {
            throw ScrapeError(.invalidConfiguration, "invalid regular expression \"\(pattern)\": \(error)")
        }
    }

    public static func == (lhs: RelabelRegex, rhs: RelabelRegex) -> Bool { lhs.pattern == rhs.pattern }
    public var description: String { pattern }

    /// Whether the whole of `text` matches.
    public func matches(_ text: String) -> Bool {
        (try? box.regex.wholeMatch(in: text)) != nil
    }

    /// The match of the whole of `text`, as capture groups (index 0 is the whole match), or nil.
    func match(_ text: String) -> Captures? {
        guard let match = try? box.regex.wholeMatch(in: text) else { return nil }
        var groups: [(name: String?, value: Substring?)] = []
        groups.reserveCapacity(match.output.count)
        for element in match.output { groups.append((element.name, element.substring)) }
        return Captures(groups: groups)
    }

    struct Captures {
        var groups: [(name: String?, value: Substring?)]

        /// Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; a name is the longest run of letters,
        /// digits and `_` (so `$1x` refers to a group named `1x`); unknown or unmatched groups expand to nothing;
        /// a `$` not followed by a valid reference stays as it is.
        func expand(_ template: String) -> String {
            guard template.contains("$") else { return template }
            var out = ""
            var rest = Substring(template)
            while let dollar = rest.firstIndex(of: "$") {
                out += rest[..<dollar]
                rest = rest[rest.index(after: dollar)...]
                if rest.first == "$" {
                    out += "$"
                    rest = rest.dropFirst()
                    continue
                }
                guard let (name, remainder) = Self.reference(rest) else {
                    out += "$"
                    continue
                }
                rest = remainder
                if let number = Int(name), name.allSatisfy({ $0.isASCII && $0.isNumber }) {
                    if number < groups.count, let value = groups[number].value { out += value }
                } else if let group = groups.first(where: { $0.name == String(name) }), let value = group.value {
                    out += value
                }
            }
            out += rest
            return out
        }

        private static func reference(_ text: Substring) -> (Substring, Substring)? {
            var rest = text
            let braced = rest.first == "{"
            if braced { rest = rest.dropFirst() }
            let name = rest.prefix { $0 == "_" || $0.isLetter || $0.isNumber }
            guard !name.isEmpty else { return nil }
            rest = rest.dropFirst(name.count)
            if braced {
                guard rest.first == "}" else { return nil }
                rest = rest.dropFirst()
            }
            return (name, rest)
        }
    }
}

/// One `relabel_configs` / `metric_relabel_configs` entry, with Prometheus's defaults.
public struct RelabelConfig: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
        case replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase
    }

    public var sourceLabels: [String] = []
    public var separator = ";"
    public var regex = RelabelRegex.default
    public var modulus: UInt64 = 0
    public var targetLabel = ""
    public var replacement = "$1"
    public var action = Action.replace

    public init(
        sourceLabels: [String] = [], separator: String = ";", regex: RelabelRegex = .default, modulus: UInt64 = 0,
        targetLabel: String = "", replacement: String = "$1", action: Action = .replace
    ) {
        self.sourceLabels = sourceLabels
        self.separator = separator
        self.regex = regex
        self.modulus = modulus
        self.targetLabel = targetLabel
        self.replacement = replacement
        self.action = action
    }

    /// Checks the combination of fields as Prometheus does when loading a configuration.
    public func validate() throws(ScrapeError) {
        switch action {
        case .replace, .hashmod, .lowercase, .uppercase, .keepequal, .dropequal:
            guard !targetLabel.isEmpty else {
                throw ScrapeError(.invalidConfiguration, "relabel configuration for \(action.rawValue) action requires 'target_label' value")
            }
        default: break
        }
        switch action {
        case .replace:
            if !targetLabel.contains("$"), !LabelNames.isValid(targetLabel) {
                throw ScrapeError(.invalidConfiguration, "\"\(targetLabel)\" is invalid 'target_label' for replace action")
            }
        case .lowercase, .uppercase, .keepequal, .dropequal, .hashmod:
            if !LabelNames.isValid(targetLabel) {
                throw ScrapeError(.invalidConfiguration, "\"\(targetLabel)\" is invalid 'target_label' for \(action.rawValue) action")
            }
        default: break
        }
        if action == .hashmod, modulus == 0 {
            throw ScrapeError(.invalidConfiguration, "relabel configuration for hashmod requires non-zero modulus")
        }
        if action == .labeldrop || action == .labelkeep {
            if !sourceLabels.isEmpty || !targetLabel.isEmpty || modulus != 0 || separator != ";" || replacement != "$1" {
                throw ScrapeError(.invalidConfiguration, "\(action.rawValue) action requires only 'regex', and no other fields")
            }
        }
        if action == .keepequal || action == .dropequal {
            if sourceLabels.isEmpty {
                throw ScrapeError(.invalidConfiguration, "\(action.rawValue) action requires 'source_labels'")
            }
            if regex != .default || modulus != 0 || replacement != "$1" {
                throw ScrapeError(.invalidConfiguration, "\(action.rawValue) action requires only 'source_labels' and `target_label`, and no other fields")
            }
        }
        if action == .labelmap, replacement.isEmpty {
            throw ScrapeError(.invalidConfiguration, "labelmap action requires a non-empty 'replacement'")
        }
    }
}

/// Label name rules (Prometheus's legacy names, which relabeling targets must follow).
public enum LabelNames {
    /// `[a-zA-Z_][a-zA-Z0-9_]*`.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        guard first == UInt8(ascii: "_") || (first | 0x20 >= UInt8(ascii: "a") && first | 0x20 <= UInt8(ascii: "z")) else { return false }
        for byte in name.utf8.dropFirst() {
            let letter = byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")
            let digit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            guard letter || digit || byte == UInt8(ascii: "_") else { return false }
        }
        return true
    }
}

/// Applies relabel configurations in order, as Prometheus's `relabel.Process`.
public enum Relabeler {
    /// The relabeled labels, or nil when a `keep`/`drop`/`keepequal`/`dropequal` step dropped them.
    public static func process(_ labels: Labels, _ configs: [RelabelConfig]) -> Labels? {
        var labels = labels
        for config in configs {
            guard apply(config, to: &labels) else { return nil }
        }
        return labels
    }

    /// Applies one step; false when the label set is dropped.
    public static func apply(_ config: RelabelConfig, to labels: inout Labels) -> Bool {
        var value = ""
        for (index, name) in config.sourceLabels.enumerated() {
            if index > 0 { value += config.separator }
            value += labels[name] ?? ""
        }
        switch config.action {
        case .drop:
            if config.regex.matches(value) { return false }
        case .keep:
            if !config.regex.matches(value) { return false }
        case .dropequal:
            if (labels[config.targetLabel] ?? "") == value { return false }
        case .keepequal:
            if (labels[config.targetLabel] ?? "") != value { return false }
        case .replace:
            guard let captures = config.regex.match(value) else { break }
            let target = captures.expand(config.targetLabel)
            guard LabelNames.isValid(target) else { break }
            labels.set(target, captures.expand(config.replacement))
        case .lowercase:
            labels.set(config.targetLabel, value.lowercased())
        case .uppercase:
            labels.set(config.targetLabel, value.uppercased())
        case .hashmod:
            labels.set(config.targetLabel, String(hashmod(value, modulus: config.modulus)))
        case .labelmap:
            let original = labels
            for label in original {
                guard let captures = config.regex.match(label.name) else { continue }
                let name = captures.expand(config.replacement)
                labels.set(name, label.value)
            }
        case .labeldrop:
            for label in labels where config.regex.matches(label.name) { labels.set(label.name, "") }
        case .labelkeep:
            for label in labels where !config.regex.matches(label.name) { labels.set(label.name, "") }
        }
        return true
    }

    /// `hashmod`: the low 8 bytes of the MD5 of `value`, read big-endian, modulo `modulus`.
    public static func hashmod(_ value: String, modulus: UInt64) -> UInt64 {
        let digest = MD5.digest(value.utf8)
        var sum: UInt64 = 0
        for byte in digest[8..<16] { sum = sum << 8 | UInt64(byte) }
        return modulus == 0 ? 0 : sum % modulus
    }
}
