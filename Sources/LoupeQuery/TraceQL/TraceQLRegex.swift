/// A TraceQL regular expression: Go RE2 syntax (translated by `GoRegexTranslator`), fully anchored as
/// Tempo anchors them (`^(?s:pattern)$`, so `.` also matches newlines), matched on Unicode scalars.
struct TraceQLRegex: @unchecked Sendable {
    // Regex is immutable after creation and only used for matching.
    private let regex: Regex<AnyRegexOutput>

    init?(_ pattern: String) {
        guard let translated = try? GoRegexTranslator.translate("(?s:\(pattern))"),
            let regex = try? Regex(translated.pattern)
                .matchingSemantics(.unicodeScalar)
                .asciiOnlyDigits()
                .asciiOnlyWordCharacters()
                .wordBoundaryKind(.simple)
        else { return nil }
        self.regex = regex
    }

    /// Whether the whole string matches (the anchoring).
    func matches(_ string: String) -> Bool {
        (try? regex.wholeMatch(in: string)) != nil
    }
}
