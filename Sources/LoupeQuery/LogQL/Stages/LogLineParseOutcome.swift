// The result every LogQL parser stage (json, logfmt, pattern, regexp, unpack) hands to the engine.
//
// How Loki merges extracted labels into a line's label set (read in Loki v3: pkg/logql/log/parser.go,
// pkg/logql/log/labels.go `LabelsBuilder.Set`, pkg/logql/log/parser_hints.go `Hints.Extracted`). The stages
// here already apply the rules that concern one line alone; the engine applies the rest:
//
// 1. A key seen twice in one line (rule applied here, per parser):
//    - json (no parameters), logfmt (no parameters), regexp, pattern: the FIRST occurrence wins. Loki records
//      every parsed label it sets (`RecordExtracted`) and these parsers skip a name already recorded.
//      logfmt without --keep-empty never records an empty value, so there the first NON-EMPTY value wins.
//    - unpack: the LAST occurrence wins (it buffers the pairs and sets them all at the end, `Set` overwrites).
//    - json with parameters: each path takes the first occurrence of its key in the document.
//      Two parameters with the same label name: the later found value wins (here: the later parameter).
//    - logfmt with parameters: the LAST occurrence of the key wins (no `Extracted` check for requested keys).
//
// 2. Across parser stages of one pipeline (engine): the record of parsed names lives for the whole line, so
//    json (no parameters), logfmt (no parameters), regexp, pattern and unpack SKIP a name that an earlier
//    stage of the same line already extracted (`| logfmt | json` keeps logfmt's value). json and logfmt
//    WITH parameters overwrite instead. The record is reset for every line.
//
// 3. A parsed name equal to a stream label or a structured-metadata label (engine): the parser stores its
//    value under `<name>_extracted` (Loki checks `lbs.BaseHas(name) || lbs.HasInCategory(name,
//    StructuredMetadataLabel)` and appends `duplicateSuffix = "_extracted"`), and the duplicate check of
//    rule 1/2 then applies to the suffixed name. The stream or metadata label keeps the base name
//    (precedence stream > structured metadata > parsed, see parsers.logqltest).
//
// 4. Placeholders of the parameterised parsers (engine): a requested path or key missing from the line
//    gives an empty value, flagged `isPlaceholder` here. Loki adds it only under the plain name:
//    - json: only when no label of that name exists at all (`lbs.Get(id)`: stream, metadata or parsed);
//    - logfmt: before scanning, for every requested name that is neither a stream nor a metadata label,
//      overwriting a value an earlier stage parsed. No `<name>_extracted=""` is ever added.
//
// 5. Errors (engine): `error.kind` becomes `__error__` and a non-empty `error.details` becomes
//    `__error_details__` (Loki adds no details when it has none, e.g. json with parameters on a line that
//    does not start with `{`, `[` or `"`). The labels found before the error are kept: Loki sets them as
//    it goes. A later error on the same line replaces the earlier one (`SetErr` overwrites).
//
// Deliberate differences from Loki, all on inputs Loki itself mishandles: a label whose sanitized name is
// empty (json key `" "`) is dropped, where Loki emits a label with an empty name.

/// What a parser stage made of one line.
public struct LogLineParseOutcome: Sendable, Equatable {
    /// Extracted labels in the order the parser found them; names already sanitized (see LogQLLabelName).
    /// A name appears at most once: the per-line duplicate rule of the parser is already applied.
    public var labels: [LogQLExtractedLabel]
    /// Set when the line could not be parsed: kind is Loki's `__error__` value ("JSONParserErr",
    /// "LogfmtParserErr"), details is Loki's `__error_details__` text ("" when Loki gives none).
    public var error: LogQLParseFailure?
    /// unpack only: the new log line when the object had an `_entry` key.
    public var replacementLine: String?

    public init(labels: [LogQLExtractedLabel] = [], error: LogQLParseFailure? = nil, replacementLine: String? = nil) {
        self.labels = labels
        self.error = error
        self.replacementLine = replacementLine
    }
}

public struct LogQLExtractedLabel: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: String
    /// The empty value a parameterised json or logfmt stage gives a requested path or key that the line
    /// lacks. Loki adds such a placeholder under different conditions than a found value (see the notes at
    /// the top of this file, rule 4).
    public var isPlaceholder: Bool

    public init(name: String, value: String, isPlaceholder: Bool = false) {
        self.name = name
        self.value = value
        self.isPlaceholder = isPlaceholder
    }

    public var description: String { "\(name)=\"\(value)\"\(isPlaceholder ? " (placeholder)" : "")" }
}

public struct LogQLParseFailure: Sendable, Equatable {
    /// Loki's `__error__` value.
    public var kind: String
    /// Loki's `__error_details__` value; empty when Loki sets none.
    public var details: String

    public init(kind: String, details: String) {
        self.kind = kind
        self.details = details
    }

    public static let jsonParserErrorKind = "JSONParserErr"
    public static let logfmtParserErrorKind = "LogfmtParserErr"
}

/// Construction errors (bad expression, bad pattern, bad regex): the message Loki's stage constructor gives.
///
/// Loki's query parser wraps some of them: regexp errors become "invalid regexp parser: <message>" and
/// pattern errors "invalid pattern parser: <message>" (pkg/logql/syntax/ast.go `newLabelParserExpr`);
/// json and logfmt expression errors are reported as they are.
public struct LogQLStageError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(_ message: String) {
        self.message = message
    }
}

// MARK: - Shared helpers of the parser stages

/// Byte-level access to log lines: every stage scans UTF-8 bytes rather than Characters, because grapheme
/// breaking would cost more than the parsing itself and Loki's parsers are byte-oriented too.
enum LogLineBytes {
    static func withBytes<Result>(of line: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let result = line.utf8.withContiguousStorageIfAvailable(body) {
            return result
        }
        // Bridged or otherwise non-native strings: copy once into contiguous storage.
        var copy = line
        return copy.withUTF8(body)
    }

    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Whether the bytes hold U+FFFD (EF BF BD), which Go's `bytes.ContainsRune(b, utf8.RuneError)` detects.
    static func containsReplacementCharacter(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 3 else { return false }
        var index = 0
        let last = bytes.count - 3
        while index <= last {
            if bytes[index] == 0xEF && bytes[index + 1] == 0xBF && bytes[index + 2] == 0xBD { return true }
            index += 1
        }
        return false
    }

    /// A label value as Loki's json and logfmt parsers store it: Prometheus rejects U+FFFD, so Loki replaces
    /// each one with a space (`removeInvalidUtf` in parser.go).
    static func labelValue(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard containsReplacementCharacter(bytes) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        var replaced: [UInt8] = []
        replaced.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if index + 2 < bytes.count && bytes[index] == 0xEF && bytes[index + 1] == 0xBF && bytes[index + 2] == 0xBD {
                replaced.append(UInt8(ascii: " "))
                index += 3
            } else {
                replaced.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: replaced, as: UTF8.self)
    }

    static func isASCIIDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

/// The labels of one line, with the duplicate rule chosen per call. Names are looked up by a hash of their
/// bytes, so a parser can test a name it has only built as bytes before paying for a String.
struct ExtractedLabelList {
    private(set) var labels: [LogQLExtractedLabel] = []
    private var nameHashes: [UInt64] = []
    /// Built once a line has many labels, to keep lookups constant-time; hash collisions fall back to a scan.
    private var hashSet: Set<UInt64> = []
    private static let linearScanLimit = 64

    /// FNV-1a: cheap over the short byte strings label names are.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    func position(ofName name: UnsafeBufferPointer<UInt8>, hash: UInt64) -> Int? {
        if labels.count > Self.linearScanLimit && !hashSet.contains(hash) { return nil }
        for index in nameHashes.indices where nameHashes[index] == hash && labels[index].name.utf8.elementsEqual(name) {
            return index
        }
        return nil
    }

    func position(of name: String) -> Int? {
        LogLineBytes.withBytes(of: name) { position(ofName: $0, hash: Self.hash($0)) }
    }

    func contains(_ name: String) -> Bool { position(of: name) != nil }

    /// Adds the label unless the name is already present (first occurrence wins).
    mutating func appendIfAbsent(_ label: LogQLExtractedLabel) {
        LogLineBytes.withBytes(of: label.name) { name in
            let hash = Self.hash(name)
            guard position(ofName: name, hash: hash) == nil else { return }
            append(label, hash: hash)
        }
    }

    /// Adds the label or replaces the value of an existing one in place (last occurrence wins).
    mutating func set(_ label: LogQLExtractedLabel) {
        LogLineBytes.withBytes(of: label.name) { name in
            let hash = Self.hash(name)
            if let position = position(ofName: name, hash: hash) {
                labels[position] = label
            } else {
                append(label, hash: hash)
            }
        }
    }

    /// Appends a label whose name the caller has checked to be absent, with the hash of its name.
    mutating func append(_ label: LogQLExtractedLabel, hash: UInt64) {
        if labels.isEmpty {
            labels.reserveCapacity(16)
            nameHashes.reserveCapacity(16)
        }
        labels.append(label)
        nameHashes.append(hash)
        if labels.count > Self.linearScanLimit {
            if hashSet.isEmpty {
                hashSet = Set(nameHashes)
            } else {
                hashSet.insert(hash)
            }
        }
    }
}
