import LoupeModel

extension WireError.Code {
    /// Text that is not well-formed Prometheus text or OpenMetrics exposition.
    public static let invalidExposition = WireError.Code(rawValue: "invalid exposition")
}

/// Parses the Prometheus text format 0.0.4 and OpenMetrics 1.0 text, as the Prometheus scraper does.
///
/// What is accepted follows Prometheus 3's `textparse` (see `ExpositionFormat` for which parser a scrape uses):
///
/// **Prometheus text** — lines separated by `\n` (the last one may lack it); blank lines and `#` comments are
/// ignored except `# HELP name text` and `# TYPE name counter|gauge|histogram|summary|untyped` (whitespace after
/// `#` may be spaces or tabs; HELP text is everything after the one blank that follows the name, with `\\` and
/// `\n` unescaped). Samples are `name{label="value",...} value [timestamp]` with any blanks (spaces, tabs) between
/// tokens, optional commas between label pairs and a trailing comma, and Prometheus 3's quoted UTF-8 names:
/// `{"my.metric", "label.name"="v"}` and `# TYPE "my.metric" counter`. Label values unescape `\\`, `\"` and `\n`
/// (other backslash pairs are kept as they are). Values are Go floats (`1`, `-2.5e-3`, `0012`, `.5`, `NaN`,
/// `+Inf`, `-Inf`, `Infinity`, case-insensitive) without hex or underscores; timestamps are integer milliseconds.
///
/// **OpenMetrics** — the same samples with single spaces and nothing else between tokens, no blank lines, no
/// comments besides `# HELP`, `# TYPE` (counter, gauge, histogram, gaugehistogram, summary, info, stateset,
/// unknown), `# UNIT` (which must be a `_`-separated suffix of the family name) and a final `# EOF` (optionally
/// followed by one `\n`, and by nothing else). Timestamps are seconds (floats), converted to milliseconds as
/// Prometheus does (`int64(seconds * 1000)`, saturating). Exemplars: `value [timestamp] # {labels} value
/// [timestamp]`. `_created` samples of counters, histograms and summaries give their series' `createdTimestamp`.
///
/// Both: metric and label names must be valid (`[a-zA-Z_:][a-zA-Z0-9_:]*` and `[a-zA-Z_][a-zA-Z0-9_]*`, or any
/// non-empty UTF-8 when quoted), label values, HELP and quoted names must be UTF-8, a label name may appear once
/// per sample. Empty label values are dropped (an empty value means "no label" in Prometheus). `le` labels of
/// histograms and `quantile` labels of summaries are rewritten in canonical float form, as Prometheus 3 does
/// (`le="1"` becomes `le="1.0"`, `quantile="0"` becomes `quantile="0.0"`).
///
/// Deliberate differences from Prometheus: a raw line feed inside a quoted string is an error in OpenMetrics (as
/// in Prometheus) but accepted in the text format (as in Prometheus); carriage returns are always an error;
/// signed (also negative) text-format timestamps and blanks around a TYPE's type are accepted; a UTF-8 byte order
/// mark is skipped in the text format; a NUL byte outside label values, HELP text and comments is an error (where
/// Prometheus's text lexer silently stops reading); exemplar label values are unescaped (Prometheus keeps their
/// escapes); metadata and the `le` rewrite follow the sample's actual family (by name and type suffixes) instead
/// of the last `# TYPE` line seen; a `_created` sample is matched to its series by labels, not only when it is the
/// next `_created` line.
///
/// With `Options.validation = .strict`, OpenMetrics input must also follow the rules of the OpenMetrics 1.0
/// specification that Prometheus does not check (suffixes per type, grouping, metadata placement, histogram,
/// summary, stateset and info structure, exemplar placement and size, timestamp order); see `Options`.
///
/// Errors are `WireError`s whose `path` is the `line L, column C` of the problem (columns count characters from
/// 1), whose `offset` is the byte offset, and whose message names what was expected and what was found:
/// `invalid exposition at line 12, column 18 (byte 345): expected "=" after label name "code", got "}"`.
/// Codes: `.invalidExposition` for syntax, `.invalidValue` for well-formed but unacceptable content (duplicate
/// label names, invalid names, out-of-range numbers, strict-mode rules), `.invalidUTF8`, and `.truncated` when
/// the input ends in the middle of a line (or, for OpenMetrics, before `# EOF`).
///
/// A parser instance (`ExpositionParser()`, one per scrape target) keeps the strings and series it has seen: when
/// it parses the same target's next exposition, a series whose text is byte-for-byte the same as before gets its
/// `Labels` from the cache instead of being parsed, sorted and allocated again (as Prometheus's scrape cache
/// does), which about halves the time per page. The static `parse` functions use a fresh parser without caches.
/// The caches are bounded (emptied when they outgrow their limits). Instances are not thread-safe; results never
/// depend on what an instance parsed before.
public struct ExpositionParser {
    public struct Options: Sendable, Hashable {
        public enum Validation: Sendable, Hashable {
            /// Accept what the Prometheus scraper accepts.
            case prometheus
            /// For OpenMetrics, also enforce the OpenMetrics 1.0 specification's rules: sample name suffixes per
            /// family type; families and metric points not interleaved; at most one TYPE, UNIT and HELP per
            /// family, before its samples; no name clashes with another family's suffixed names; histogram
            /// buckets with `le`, in increasing order, cumulative, with `+Inf` equal to `_count`; no `_sum`
            /// with negative buckets; summaries with `0 ≤ quantile ≤ 1` and non-negative counts and sums;
            /// counters non-negative and not NaN; stateset samples labelled with the family name and valued 0
            /// or 1; info values 1; exemplars only on counter totals and buckets, with at most 128 characters
            /// of labels and a finite timestamp; no trailing commas in label sets; timestamps increasing
            /// within a series and present on all or none of its points. No effect on the Prometheus text format.
            case strict
        }

        public var validation: Validation
        /// Leaves out the `_created` samples of OpenMetrics counters, histograms and summaries (their value is in
        /// the other samples' `createdTimestamp`), as Prometheus does with created-timestamp ingestion enabled.
        public var dropCreatedSeries: Bool

        public init(validation: Validation = .prometheus, dropCreatedSeries: Bool = false) {
            self.validation = validation
            self.dropCreatedSeries = dropCreatedSeries
        }
    }

    public var options: Options
    let table: ExpositionStringTable
    let seriesCache: ExpositionSeriesCache?

    /// A parser for repeated use (typically one per scrape target): it remembers the strings and series it has
    /// seen, so that parsing the next exposition of the same target mostly looks them up.
    public init(options: Options = Options()) {
        self.init(options: options, caching: true)
    }

    init(options: Options, caching: Bool, expectedBytes: Int = 0) {
        self.options = options
        self.table = ExpositionStringTable(capacity: min(max(expectedBytes / 32, 128), 4096))
        self.seriesCache = caching ? ExpositionSeriesCache() : nil
    }

    /// Parses one exposition. Exemplars without a timestamp get their sample's timestamp, or `defaultTimestamp`
    /// (the scrape time, in milliseconds) when the sample has none, as Prometheus stores them; sample timestamps
    /// stay nil when the line has none.
    public func parse(_ bytes: UnsafeRawBufferPointer, format: ExpositionFormat, defaultTimestamp: Int64) throws(WireError) -> ScrapeResult {
        table.trimIfNeeded()
        seriesCache?.trimIfNeeded()
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            if format == .openMetrics { throw WireError(.truncated, "the exposition is empty; OpenMetrics must end with \"# EOF\"", at: "line 1, column 1", offset: 0) }
            return ScrapeResult()
        }
        var scanner = ExpositionScanner(
            base: base.assumingMemoryBound(to: UInt8.self), count: bytes.count, format: format, options: options,
            table: table, seriesCache: seriesCache, defaultTimestamp: defaultTimestamp
        )
        try scanner.run()
        return ScrapeResult(samples: scanner.samples, metadata: scanner.metadata, families: scanner.families)
    }

    public func parse(_ bytes: [UInt8], format: ExpositionFormat, defaultTimestamp: Int64) throws(WireError) -> ScrapeResult {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(WireError) in try parse(buffer, format: format, defaultTimestamp: defaultTimestamp) }
        }.get()
    }

    /// Parses one exposition with a fresh parser; see `parse(_:format:defaultTimestamp:)`.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, format: ExpositionFormat, defaultTimestamp: Int64, options: Options = Options()
    ) throws(WireError) -> ScrapeResult {
        try ExpositionParser(options: options, caching: false, expectedBytes: bytes.count)
            .parse(bytes, format: format, defaultTimestamp: defaultTimestamp)
    }

    /// Parses one exposition with a fresh parser; see `parse(_:format:defaultTimestamp:)`.
    public static func parse(
        _ bytes: [UInt8], format: ExpositionFormat, defaultTimestamp: Int64, options: Options = Options()
    ) throws(WireError) -> ScrapeResult {
        try ExpositionParser(options: options, caching: false, expectedBytes: bytes.count)
            .parse(bytes, format: format, defaultTimestamp: defaultTimestamp)
    }

    /// The 1-based line and column (in characters) of byte `offset` of `bytes`.
    public static func location(ofByte offset: Int, in bytes: UnsafeRawBufferPointer) -> (line: Int, column: Int) {
        let text = bytes.assumingMemoryBound(to: UInt8.self)
        let limit = min(max(offset, 0), text.count)
        var line = 1
        var lineStart = 0
        for index in 0..<limit where text[index] == UInt8(ascii: "\n") {
            line += 1
            lineStart = index + 1
        }
        var column = 1
        for index in lineStart..<limit where text[index] & 0xC0 != 0x80 { column += 1 }
        return (line, column)
    }
}

// MARK: - Scanner

/// The parse state of one exposition. `base[offset]` is the next byte to look at.
struct ExpositionScanner: ~Copyable {
    let base: UnsafePointer<UInt8>
    let end: Int
    var offset = 0
    let openMetrics: Bool
    let strict: Bool
    let dropCreatedSeries: Bool
    let table: ExpositionStringTable
    let defaultTimestamp: Int64

    var samples: [ScrapedSample] = []
    var metadata: [String: MetricMetadata] = [:]
    var families: [ScrapedFamily] = []

    // The current family.
    var familyOpen = false
    var familyName = ""
    var familyBytes = ExpositionBytes()
    var familyType = MetricMetadata.MetricType.unknown
    var familyStart = 0
    var familyHasCreated = false
    var familyFromMetadata = false
    /// The current family's metadata lines, and which of them it had (1: TYPE, 2: HELP, 4: UNIT); written to
    /// `metadata` when the family ends.
    var familyMetadata = MetricMetadata()
    var familyMetadataLines: UInt8 = 0

    // Per line.
    var labels = ExpositionLabelScratch()
    var exemplarLabels = ExpositionLabelScratch()
    /// Unescaped quoted strings.
    var scratch = ExpositionBytes()
    /// The current sample's metric name when it was quoted (unescaped).
    var quotedName = ExpositionBytes()
    /// Where the current sample's metric name is (in the input, or in `quotedName`).
    var namePointer: UnsafePointer<UInt8>
    var nameCount = 0
    var nameString = ""
    var hasName = false
    /// Whether the last label set had a trailing comma (strict OpenMetrics rejects it).
    var trailingComma = false
    /// For the strict validator: the current sample's OpenMetrics timestamp in seconds, and its `le` (histograms)
    /// or `quantile` (summaries) label value as written.
    var timestampSeconds: Double?
    var rawSpecialValue: String?

    var validator: OpenMetricsValidator?
    /// Series by their bytes, kept across parses by parser instances (not in strict mode).
    var seriesCache: ExpositionSeriesCache?
    /// Where the series text of the last fully parsed sample ended.
    var seriesEnd = 0

    init(
        base: UnsafePointer<UInt8>, count: Int, format: ExpositionFormat, options: ExpositionParser.Options,
        table: ExpositionStringTable, seriesCache: ExpositionSeriesCache?, defaultTimestamp: Int64
    ) {
        self.base = base
        self.end = count
        self.openMetrics = format == .openMetrics
        self.strict = options.validation == .strict && format == .openMetrics
        self.dropCreatedSeries = options.dropCreatedSeries
        self.table = table
        self.defaultTimestamp = defaultTimestamp
        self.namePointer = base
        samples.reserveCapacity(count / 64 + 16)
        if strict { validator = OpenMetricsValidator() } else { self.seriesCache = seriesCache }
    }

    // MARK: Lines

    mutating func run() throws(WireError) {
        if openMetrics {
            while true {
                guard offset < end else {
                    throw error(.truncated, "the exposition does not end with \"# EOF\"", at: offset)
                }
                let byte = base[offset]
                if byte == UInt8(ascii: "#") {
                    if try openMetricsComment() { break }
                } else if byte == UInt8(ascii: "\n") {
                    throw error("blank lines are not allowed in OpenMetrics", at: offset)
                } else {
                    try sample()
                }
            }
        } else {
            if end >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { offset = 3 }
            while true {
                skipBlanks()
                guard offset < end else { break }
                let byte = base[offset]
                if byte == UInt8(ascii: "\n") {
                    offset += 1
                } else if byte == UInt8(ascii: "#") {
                    try textComment()
                } else {
                    try sample()
                }
            }
        }
        try closeFamily()
        if let validator { try validator.finish(self) }
    }

    /// A `#` line of the text format: HELP, TYPE, or a comment.
    mutating func textComment() throws(WireError) {
        offset += 1
        let afterHash = offset
        skipBlanks()
        if offset > afterHash && offset + 4 < end && isBlank(base[offset + 4]) {
            let keyword = keyword4(at: offset)
            if keyword == Self.help || keyword == Self.type {
                let keywordOffset = offset
                offset += 4
                skipBlanks()
                try metadataLine(keyword: keyword, keywordOffset: keywordOffset)
                return
            }
        }
        // A plain comment: skip to the end of the line.
        skipLine()
    }

    /// A `#` line of OpenMetrics; returns true after `# EOF`.
    mutating func openMetricsComment() throws(WireError) -> Bool {
        guard offset + 1 < end, base[offset + 1] == UInt8(ascii: " ") else {
            if offset + 1 >= end { throw error(.truncated, "the exposition ends after \"#\"", at: end) }
            throw error("expected a space after \"#\", got \(describe(offset + 1))", at: offset + 1)
        }
        offset += 2
        if offset + 3 <= end && base[offset] == UInt8(ascii: "E") && base[offset + 1] == UInt8(ascii: "O")
            && base[offset + 2] == UInt8(ascii: "F")
        {
            offset += 3
            if offset < end && base[offset] == UInt8(ascii: "\n") { offset += 1 }
            if offset < end { throw error("unexpected data after \"# EOF\": \(describe(offset))", at: offset) }
            return true
        }
        if offset + 5 <= end && base[offset + 4] == UInt8(ascii: " ") {
            let keyword = keyword4(at: offset)
            if keyword == Self.help || keyword == Self.type || keyword == Self.unit {
                let keywordOffset = offset
                offset += 5
                try metadataLine(keyword: keyword, keywordOffset: keywordOffset)
                return false
            }
        }
        throw error(
            "OpenMetrics allows only \"# HELP\", \"# TYPE\", \"# UNIT\" and \"# EOF\" lines, got \(describe(offset - 2, line: true))",
            at: offset - 2
        )
    }

    static let help = UInt32(ascii4: "HELP")
    static let type = UInt32(ascii4: "TYPE")
    static let unit = UInt32(ascii4: "UNIT")

    @inline(__always)
    func keyword4(at position: Int) -> UInt32 {
        UInt32(littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt32.self))
    }

    /// The rest of a HELP, TYPE or UNIT line, after the keyword and the blank(s) after it.
    mutating func metadataLine(keyword: UInt32, keywordOffset: Int) throws(WireError) {
        let what = keyword == Self.help ? "HELP" : keyword == Self.type ? "TYPE" : "UNIT"
        // The metric family name, plain or quoted.
        let nameOffset = offset
        let name: String
        let nameBytes: UnsafeBufferPointer<UInt8>
        if offset < end && isMetricNameStart(base[offset]) {
            let start = offset
            offset += 1
            while offset < end && isMetricNameCharacter(base[offset]) { offset += 1 }
            nameBytes = UnsafeBufferPointer(start: base + start, count: offset - start)
            name = table.string(base + start, count: offset - start)
        } else if offset < end && base[offset] == UInt8(ascii: "\"") {
            let quoted = try quotedString(allowNewlines: false)
            guard quoted.count > 0 else { throw error(.invalidValue, "empty metric name in \(what)", at: nameOffset) }
            quotedName.removeAll()
            quotedName.append(quoted)
            nameBytes = quotedName.view
            name = table.string(quotedName.pointer, count: quotedName.count)
        } else {
            if offset >= end { throw error(.truncated, "expected a metric name after \(what), got the end of the input", at: offset) }
            throw error("expected a metric name after \(what), got \(describe(offset))", at: offset)
        }
        // The text: after exactly one space in OpenMetrics, after one blank in the text format.
        let textStart: Int
        if openMetrics {
            guard offset < end else { throw error(.truncated, "the exposition ends in the middle of a \(what) line", at: offset) }
            guard base[offset] == UInt8(ascii: " ") else {
                throw error("expected a space and the \(what == "HELP" ? "help text" : what == "TYPE" ? "type" : "unit") after \(what) \(quote(name)), got \(describe(offset))", at: offset)
            }
            textStart = offset + 1
        } else if offset >= end || base[offset] == UInt8(ascii: "\n") {
            textStart = offset
        } else if isBlank(base[offset]) {
            textStart = offset + 1
        } else {
            throw error("expected a blank after \(what) \(quote(name)), got \(describe(offset))", at: offset)
        }
        offset = textStart
        while offset < end && base[offset] != UInt8(ascii: "\n") { offset += 1 }
        let textEnd = offset
        if offset < end {
            offset += 1
        } else if openMetrics {
            throw error(.truncated, "the exposition ends in the middle of a \(what) line", at: offset)
        }
        let text = UnsafeBufferPointer(start: base + textStart, count: textEnd - textStart)

        try familyForMetadata(name: name, bytes: nameBytes, lineStart: keywordOffset - 2)
        switch keyword {
        case Self.type:
            var trimmed = text
            if !openMetrics {
                while let first = trimmed.first, isBlank(first) { trimmed = UnsafeBufferPointer(rebasing: trimmed.dropFirst()) }
                while let last = trimmed.last, isBlank(last) { trimmed = UnsafeBufferPointer(rebasing: trimmed.dropLast()) }
            }
            guard let type = Self.metricType(trimmed, openMetrics: openMetrics) else {
                let valid = openMetrics
                    ? "counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown"
                    : "counter, gauge, histogram, summary or untyped"
                throw error(.invalidValue, "invalid metric type \(quote(trimmed)) for \(quote(name)); expected \(valid)", at: textStart)
            }
            familyType = type
            familyMetadata.type = type
            familyMetadataLines |= 1
        case Self.help:
            familyMetadata.help = try helpText(text, at: textStart)
            familyMetadataLines |= 2
        default:
            // UNIT: a suffix of the family name, after an underscore.
            if !text.isEmpty {
                let unitOK = nameBytes.count > text.count
                    && nameBytes[nameBytes.count - text.count - 1] == UInt8(ascii: "_")
                    && ExpositionStringTable.equal(nameBytes.baseAddress! + (nameBytes.count - text.count), text.baseAddress!, count: text.count)
                guard unitOK else {
                    throw error(.invalidValue, "unit \(quote(text)) is not a suffix of the metric name \(quote(name))", at: textStart)
                }
                if strict {
                    for (index, byte) in text.enumerated() where !isMetricNameCharacter(byte) {
                        throw error(.invalidValue, "invalid character \(describeByte(byte)) in unit", at: textStart + index)
                    }
                }
            }
            guard UTF8Validation.isValid(UnsafeRawPointer(base + textStart), count: text.count) else {
                throw error(.invalidUTF8, "the unit is not valid UTF-8", at: textStart)
            }
            familyMetadata.unit = text.isEmpty ? "" : table.string(text.baseAddress!, count: text.count)
            familyMetadataLines |= 4
        }
        if let validator {
            try validator.metadata(keyword: what, name: name, at: keywordOffset - 2, self)
        }
    }

    static func metricType(_ text: UnsafeBufferPointer<UInt8>, openMetrics: Bool) -> MetricMetadata.MetricType? {
        func equals(_ word: StaticString) -> Bool {
            text.count == word.utf8CodeUnitCount
                && (text.isEmpty || ExpositionStringTable.equal(text.baseAddress!, word.utf8Start, count: text.count))
        }
        if equals("counter") { return .counter }
        if equals("gauge") { return .gauge }
        if equals("histogram") { return .histogram }
        if equals("summary") { return .summary }
        if openMetrics {
            if equals("unknown") { return .unknown }
            if equals("gaugehistogram") { return .gaugehistogram }
            if equals("info") { return .info }
            if equals("stateset") { return .stateset }
        } else if equals("untyped") {
            return .unknown
        }
        return nil
    }

    /// HELP text, unescaped: `\\` and `\n`, and in OpenMetrics also `\"`; other backslashes stay.
    mutating func helpText(_ text: UnsafeBufferPointer<UInt8>, at position: Int) throws(WireError) -> String {
        guard !text.isEmpty else { return "" }
        guard UTF8Validation.isValid(UnsafeRawPointer(text.baseAddress!), count: text.count) else {
            throw error(.invalidUTF8, "the help text is not valid UTF-8", at: position)
        }
        guard text.contains(UInt8(ascii: "\\")) else { return table.string(text.baseAddress!, count: text.count) }
        scratch.removeAll()
        var index = 0
        while index < text.count {
            let byte = text[index]
            if byte == UInt8(ascii: "\\") && index + 1 < text.count {
                let next = text[index + 1]
                if next == UInt8(ascii: "\\") || next == UInt8(ascii: "n") || (openMetrics && next == UInt8(ascii: "\"")) {
                    scratch.append(next == UInt8(ascii: "n") ? UInt8(ascii: "\n") : next)
                    index += 2
                    continue
                }
            }
            scratch.append(byte)
            index += 1
        }
        return table.string(scratch.pointer, count: scratch.count)
    }

    // MARK: Samples

    /// One sample line.
    mutating func sample() throws(WireError) {
        let lineStart = offset
        var series: Labels
        // A series seen in an earlier parse (or earlier in this one) is taken from the cache by its bytes.
        let span = seriesCache != nil ? seriesSpan(from: lineStart) : nil
        if let span, let entry = seriesCache!.lookup(base + lineStart, count: span.end - lineStart, openMetrics: openMetrics) {
            namePointer = base + lineStart
            nameCount = span.nameEnd - lineStart
            nameString = entry.name
            hasName = true
            offset = span.end
            if span.end == span.nameEnd { try afterName() } else { try afterLabelSet() }
            try familyForSample(lineStart: lineStart)
            if entry.familyType == familyType {
                series = entry.labels
            } else {
                offset = lineStart
                series = try parseSeries(lineStart: lineStart)
                seriesCache!.insert(base + lineStart, count: span.end - lineStart, labels: series, name: nameString, familyType: familyType, openMetrics: openMetrics)
            }
        } else {
            series = try parseSeries(lineStart: lineStart)
            if let span, let seriesCache, span.end == seriesEnd {
                seriesCache.insert(base + lineStart, count: span.end - lineStart, labels: series, name: nameString, familyType: familyType, openMetrics: openMetrics)
            }
        }

        // Value.
        let valueStart = offset
        if openMetrics {
            while offset < end && base[offset] != UInt8(ascii: " ") && base[offset] != UInt8(ascii: "\n") { offset += 1 }
        } else {
            while offset < end && !isBlankOrNewline(base[offset]) { offset += 1 }
        }
        let value = try number(from: valueStart, to: offset, what: "value")

        // Timestamp and exemplar.
        var timestamp: Int64?
        var exemplar: PrometheusExemplar?
        var exemplarOffset = -1
        timestampSeconds = nil
        if openMetrics {
            guard offset < end else { throw error(.truncated, "the exposition ends in the middle of a sample (no \"# EOF\")", at: offset) }
            if base[offset] == UInt8(ascii: " ") && !isExemplarStart(offset) {
                offset += 1
                let start = offset
                while offset < end && base[offset] != UInt8(ascii: " ") && base[offset] != UInt8(ascii: "\n") { offset += 1 }
                let seconds = try openMetricsSeconds(from: start, to: offset, what: "timestamp")
                timestamp = ExpositionNumbers.milliseconds(fromSeconds: seconds)
                timestampSeconds = seconds
                guard offset < end else { throw error(.truncated, "the exposition ends in the middle of a sample (no \"# EOF\")", at: offset) }
            }
            if base[offset] == UInt8(ascii: " ") {
                guard isExemplarStart(offset) else {
                    throw error("expected a line feed or \" # {\" and an exemplar, got \(describe(offset, line: true))", at: offset)
                }
                exemplarOffset = offset + 1
                offset += 4
                exemplar = try exemplarRest(sampleTimestamp: timestamp)
            } else if base[offset] != UInt8(ascii: "\n") {
                throw error("expected a line feed after the sample, got \(describe(offset))", at: offset)
            }
            offset += 1
        } else {
            skipBlanks()
            if offset < end && base[offset] != UInt8(ascii: "\n") {
                let start = offset
                while offset < end && !isBlankOrNewline(base[offset]) { offset += 1 }
                switch ExpositionNumbers.parseInt64(base + start, count: offset - start) {
                case .some(.some(let milliseconds)): timestamp = milliseconds
                case .some(.none):
                    throw error(.invalidValue, "timestamp \(quote(start, offset)) is out of range for 64-bit milliseconds", at: start)
                case .none:
                    throw error("expected an integer timestamp (milliseconds) or the end of the line, got \(quote(start, offset))", at: start)
                }
                skipBlanks()
                if offset < end && base[offset] != UInt8(ascii: "\n") {
                    throw error("expected the end of the line after the timestamp, got \(describe(offset))", at: offset)
                }
            }
            offset += 1
        }

        if let validator {
            try validator.sample(
                labels: series, value: value, timestamp: timestamp, exemplar: exemplar, exemplarOffset: exemplarOffset,
                trailingComma: trailingComma, lineStart: lineStart, self
            )
        }
        samples.append(ScrapedSample(labels: series, value: value, timestamp: timestamp, exemplar: exemplar))
    }

    /// The metric name and label set at the start of a sample line, parsed; leaves `offset` at the value and
    /// `seriesEnd` just after the name or the `}`.
    mutating func parseSeries(lineStart: Int) throws(WireError) -> Labels {
        hasName = false
        labels.removeAll()
        trailingComma = false
        let first = base[offset]
        if isMetricNameStart(first) {
            let start = offset
            offset += 1
            while offset < end && isMetricNameCharacter(base[offset]) { offset += 1 }
            namePointer = base + start
            nameCount = offset - start
            nameString = table.string(namePointer, count: nameCount)
            hasName = true
            labels.append(Label(Labels.metricNameLabel, nameString), key: ExpositionLabelScratch.metricNameKey, ascii: true, offset: lineStart)
            seriesEnd = offset
            if !openMetrics && offset < end && isBlank(base[offset]) {
                var next = offset
                while next < end && isBlank(base[next]) { next += 1 }
                if next < end && base[next] == UInt8(ascii: "{") { offset = next }
            }
        } else if first != UInt8(ascii: "{") {
            throw error("expected a metric name, \"{\" or \"#\", got \(describe(offset))", at: offset)
        }
        if offset < end && base[offset] == UInt8(ascii: "{") {
            offset += 1
            try labelSet(exemplar: false)
            guard hasName else { throw error(.invalidValue, "the sample has no metric name", at: lineStart) }
            seriesEnd = offset
            try afterLabelSet()
        } else {
            try afterName()
        }
        // The family decides the canonical forms of `le` and `quantile`.
        try familyForSample(lineStart: lineStart)
        return try finishLabels(lineStart: lineStart)
    }

    /// After a metric name without labels: the blank(s) before the value.
    @inline(__always)
    mutating func afterName() throws(WireError) {
        guard offset < end else {
            throw error(.truncated, "expected a value after metric name \(quote(nameString)), got the end of the input", at: offset)
        }
        let next = base[offset]
        if openMetrics {
            guard next == UInt8(ascii: " ") else {
                throw error("expected \"{\" or a space and a value after metric name \(quote(nameString)), got \(describe(offset))", at: offset)
            }
            offset += 1
        } else {
            guard isBlank(next) else {
                throw error("expected \"{\" or a blank and a value after metric name \(quote(nameString)), got \(describe(offset))", at: offset)
            }
            skipBlanks()
        }
    }

    /// After the `}` of a label set: the blank(s) before the value.
    @inline(__always)
    mutating func afterLabelSet() throws(WireError) {
        if openMetrics {
            guard offset < end else { throw error(.truncated, "expected a space and a value, got the end of the input", at: offset) }
            guard base[offset] == UInt8(ascii: " ") else {
                throw error("expected a space and a value after the labels, got \(describe(offset))", at: offset)
            }
            offset += 1
        } else {
            skipBlanks()
        }
    }

    /// Where the series text of the sample line at `start` ends (just after its name, or after the `}` of its label
    /// set), found without parsing it, for the series cache; nil unless the line starts with a plain metric name.
    @inline(__always)
    func seriesSpan(from start: Int) -> (nameEnd: Int, end: Int)? {
        var position = start
        guard position < end, isMetricNameStart(base[position]) else { return nil }
        position += 1
        while position < end && isMetricNameCharacter(base[position]) { position += 1 }
        let nameEnd = position
        if !openMetrics { while position < end && isBlank(base[position]) { position += 1 } }
        guard position < end else { return nil }
        guard base[position] == UInt8(ascii: "{") else { return (nameEnd, nameEnd) }
        position += 1
        while position < end {
            let byte = base[position]
            if byte == UInt8(ascii: "}") { return (nameEnd, position + 1) }
            if byte == UInt8(ascii: "\n") { return nil }
            if byte == UInt8(ascii: "\"") {
                position += 1
                while position < end {
                    let inner = base[position]
                    if inner == UInt8(ascii: "\"") { break }
                    if inner == UInt8(ascii: "\\") { position += 1 } else if inner == UInt8(ascii: "\n") && openMetrics { return nil }
                    position += 1
                }
                guard position < end else { return nil }
            }
            position += 1
        }
        return nil
    }

    @inline(__always)
    func isExemplarStart(_ position: Int) -> Bool {
        position + 3 < end && base[position + 1] == UInt8(ascii: "#") && base[position + 2] == UInt8(ascii: " ")
            && base[position + 3] == UInt8(ascii: "{")
    }

    /// After `# {`: the exemplar's labels, value and optional timestamp; leaves `offset` at the line feed.
    mutating func exemplarRest(sampleTimestamp: Int64?) throws(WireError) -> PrometheusExemplar {
        exemplarLabels.removeAll()
        let saveTrailing = trailingComma
        trailingComma = false
        try labelSet(exemplar: true)
        if strict && trailingComma {
            throw error(.invalidValue, "trailing comma in the exemplar's labels", at: offset - 2)
        }
        trailingComma = saveTrailing
        guard offset < end else { throw error(.truncated, "expected a space and the exemplar's value, got the end of the input", at: offset) }
        guard base[offset] == UInt8(ascii: " ") else {
            throw error("expected a space and the exemplar's value, got \(describe(offset))", at: offset)
        }
        offset += 1
        let valueStart = offset
        while offset < end && base[offset] != UInt8(ascii: " ") && base[offset] != UInt8(ascii: "\n") { offset += 1 }
        let value = try number(from: valueStart, to: offset, what: "exemplar value")
        var timestamp: Int64?
        if offset < end && base[offset] == UInt8(ascii: " ") {
            offset += 1
            let start = offset
            while offset < end && base[offset] != UInt8(ascii: " ") && base[offset] != UInt8(ascii: "\n") { offset += 1 }
            timestamp = ExpositionNumbers.milliseconds(fromSeconds: try openMetricsSeconds(from: start, to: offset, what: "exemplar timestamp"))
        }
        guard offset < end else { throw error(.truncated, "the exposition ends in the middle of an exemplar (no \"# EOF\")", at: offset) }
        guard base[offset] == UInt8(ascii: "\n") else {
            throw error("expected a line feed after the exemplar, got \(describe(offset))", at: offset)
        }
        if let duplicate = exemplarLabels.sort() {
            throw duplicateLabelError(exemplarLabels.labels[duplicate].name, at: exemplarLabels.offsets[duplicate], what: "exemplar label")
        }
        return PrometheusExemplar(labels: exemplarLabels.take(), value: value, timestamp: timestamp ?? sampleTimestamp ?? defaultTimestamp)
    }

    /// A float value (or exemplar value) in `[start, stop)`.
    @inline(__always)
    func number(from start: Int, to stop: Int, what: String) throws(WireError) -> Double {
        switch ExpositionNumbers.parseFloat(base + start, count: stop - start) {
        case .value(let value): return value
        case .invalid: throw invalidNumber(from: start, to: stop, what: what)
        case .outOfRange: throw error(.invalidValue, "\(what) \(quote(start, stop)) is out of the range of a 64-bit float", at: start)
        }
    }

    @inline(never)
    func invalidNumber(from start: Int, to stop: Int, what: String) -> WireError {
        if start == stop {
            if start >= end { return error(.truncated, "expected a \(what), got the end of the input", at: start) }
            return error("expected a \(what), got \(describe(start))", at: start)
        }
        if base[start] == UInt8(ascii: "#") && what == "value" && !openMetrics {
            return error("expected a value, got \(quote(start, stop)) (exemplars need the OpenMetrics format)", at: start)
        }
        return error("invalid \(what) \(quote(start, stop)): expected a float such as 1, -2.5e-3, NaN or +Inf", at: start)
    }

    /// An OpenMetrics timestamp (float seconds) in `[start, stop)`.
    func openMetricsSeconds(from start: Int, to stop: Int, what: String) throws(WireError) -> Double {
        let seconds = try number(from: start, to: stop, what: what)
        guard seconds.isFinite else {
            throw error(.invalidValue, "\(what) \(quote(start, stop)) is not a finite number of seconds", at: start)
        }
        return seconds
    }

    // MARK: Labels

    /// After `{`: label pairs up to and including `}`, into `labels` (and the quoted metric name, if any).
    mutating func labelSet(exemplar: Bool) throws(WireError) {
        var first = true
        while true {
            if !openMetrics { skipBlanks() }
            guard offset < end else { throw error(.truncated, "the exposition ends inside a label set", at: offset) }
            var byte = base[offset]
            if byte == UInt8(ascii: "}") {
                if !first { trailingComma = true }
                offset += 1
                return
            }
            first = false
            let nameOffset = offset
            let name: String
            let key: UInt64
            var ascii = true
            var quoted = false
            if isLabelNameStart(byte) {
                let start = offset
                offset += 1
                while offset < end && isLabelNameCharacter(base[offset]) { offset += 1 }
                name = table.string(base + start, count: offset - start)
                key = ExpositionLabelScratch.key(base + start, count: offset - start)
            } else if byte == UInt8(ascii: "\"") {
                let text = try quotedString(allowNewlines: !openMetrics)
                quoted = true
                if !exemplar && hasNextSeparator(afterQuoted: true) {
                    // A quoted metric name: `{"my.metric", ...}`.
                    guard !hasName else {
                        throw error(.invalidValue, "the metric name is already set (to \(quote(nameString))); expected \"=\" after label name \(quote(text))", at: nameOffset)
                    }
                    guard text.count > 0 else { throw error(.invalidValue, "empty metric name", at: nameOffset) }
                    quotedName.removeAll()
                    quotedName.append(text)
                    namePointer = UnsafePointer(quotedName.pointer)
                    nameCount = quotedName.count
                    nameString = table.string(namePointer, count: nameCount)
                    hasName = true
                    labels.append(Label(Labels.metricNameLabel, nameString), key: ExpositionLabelScratch.metricNameKey, ascii: true, offset: nameOffset)
                    if !openMetrics { skipBlanks() }
                    if base[offset] == UInt8(ascii: ",") {
                        offset += 1
                    } else {
                        offset += 1  // "}"
                        return
                    }
                    continue
                }
                guard text.count > 0 else { throw error(.invalidValue, "empty label name", at: nameOffset) }
                name = table.string(text.baseAddress!, count: text.count)
                key = ExpositionLabelScratch.key(text.baseAddress!, count: text.count)
                for byte in text where byte >= 0x80 { ascii = false }
            } else if byte == UInt8(ascii: ",") && !first {
                throw error("expected a label name or \"}\", got \(describe(offset))", at: offset)
            } else {
                if isDigit(byte) || byte >= 0x80 || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") {
                    throw error(.invalidValue, "invalid label name \(describe(offset)): label names are [a-zA-Z_][a-zA-Z0-9_]*, or quoted", at: offset)
                }
                throw error("expected a label name or \"}\", got \(describe(offset))", at: offset)
            }
            _ = quoted
            if !openMetrics { skipBlanks() }
            guard offset < end else { throw error(.truncated, "the exposition ends inside a label set", at: offset) }
            guard base[offset] == UInt8(ascii: "=") else {
                if !quoted && offset < end && (base[offset] >= 0x80 || base[offset] == UInt8(ascii: ".") || base[offset] == UInt8(ascii: "-")) {
                    throw error(.invalidValue, "invalid character \(describe(offset)) in label name \(quote(name)) (quote names that are not [a-zA-Z_][a-zA-Z0-9_]*)", at: offset)
                }
                throw error("expected \"=\" after label name \(quote(name)), got \(describe(offset))", at: offset)
            }
            offset += 1
            if !openMetrics { skipBlanks() }
            guard offset < end else { throw error(.truncated, "the exposition ends inside a label set", at: offset) }
            guard base[offset] == UInt8(ascii: "\"") else {
                throw error("expected a quoted label value after \(quote(name + "=")), got \(describe(offset))", at: offset)
            }
            let value = try quotedString(allowNewlines: !openMetrics)
            let label = Label(name, table.string(value.baseAddress ?? base, count: value.count))
            if exemplar {
                exemplarLabels.append(label, key: key, ascii: ascii, offset: nameOffset)
            } else {
                labels.append(label, key: key, ascii: ascii, offset: nameOffset)
            }
            if !openMetrics {
                skipBlanks()
                if offset < end && base[offset] == UInt8(ascii: ",") { offset += 1 }
                continue
            }
            guard offset < end else { throw error(.truncated, "the exposition ends inside a label set", at: offset) }
            byte = base[offset]
            if byte == UInt8(ascii: ",") {
                offset += 1
            } else if byte != UInt8(ascii: "}") {
                throw error("expected \",\" or \"}\" after the value of label \(quote(name)), got \(describe(offset))", at: offset)
            } else {
                offset += 1
                return
            }
        }
    }

    /// Whether the next token (after blanks, in the text format) is `,` or `}`.
    @inline(__always)
    func hasNextSeparator(afterQuoted: Bool) -> Bool {
        var position = offset
        if !openMetrics { while position < end && isBlank(base[position]) { position += 1 } }
        return position < end && (base[position] == UInt8(ascii: ",") || base[position] == UInt8(ascii: "}"))
    }

    /// At `"`: a quoted, escaped string; returns its unescaped bytes (in the input when there were no escapes,
    /// otherwise in `scratch`, valid until the next call), checked to be UTF-8.
    @inline(__always)
    mutating func quotedString(allowNewlines: Bool) throws(WireError) -> UnsafeBufferPointer<UInt8> {
        let open = offset
        offset += 1
        let start = offset
        var ascii = true
        // Fast path: find the closing quote eight bytes at a time.
        while offset &+ 8 <= end {
            let word = UnsafeRawPointer(base + offset).loadUnaligned(as: UInt64.self)
            if quotedWordNeedsAttention(word) { break }
            offset &+= 8
        }
        while offset < end {
            let byte = base[offset]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeBufferPointer(start: base + start, count: offset - start)
                offset += 1
                if !ascii { try checkUTF8(text, at: start) }
                return text
            }
            if byte == UInt8(ascii: "\\") { return try escapedString(open: open, start: start) }
            if byte == UInt8(ascii: "\n") && !allowNewlines {
                throw error("unterminated quoted string: line feeds in strings must be escaped as \\n", at: offset)
            }
            if byte >= 0x80 { ascii = false }
            offset += 1
            if byte < 0x80 {
                // Back to eight at a time.
                while offset &+ 8 <= end {
                    let word = UnsafeRawPointer(base + offset).loadUnaligned(as: UInt64.self)
                    if quotedWordNeedsAttention(word) { break }
                    offset &+= 8
                }
            }
        }
        throw error(.truncated, "unterminated quoted string (opened at \(locationText(open)))", at: offset)
    }

    /// The slow path of `quotedString`: copies into `scratch`, unescaping `\\`, `\"` and `\n`.
    @inline(never)
    mutating func escapedString(open: Int, start: Int) throws(WireError) -> UnsafeBufferPointer<UInt8> {
        scratch.removeAll()
        scratch.append(UnsafeBufferPointer(start: base + start, count: offset - start))
        var ascii = true
        for index in start..<offset where base[index] >= 0x80 { ascii = false }
        while offset < end {
            let byte = base[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                let text = scratch.view
                if !ascii { try checkUTF8(text, at: start) }
                return text
            }
            if byte == UInt8(ascii: "\\") {
                guard offset + 1 < end else { break }
                let next = base[offset + 1]
                switch next {
                case UInt8(ascii: "\\"), UInt8(ascii: "\""): scratch.append(next)
                case UInt8(ascii: "n"): scratch.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\n"): throw error("a backslash may not escape a line feed", at: offset)
                default:
                    // Not an escape: both bytes stay, as in Prometheus.
                    scratch.append(byte)
                    scratch.append(next)
                    if next >= 0x80 { ascii = false }
                }
                offset += 2
                continue
            }
            if byte == UInt8(ascii: "\n") && openMetrics {
                throw error("unterminated quoted string: line feeds in strings must be escaped as \\n", at: offset)
            }
            if byte >= 0x80 { ascii = false }
            scratch.append(byte)
            offset += 1
        }
        throw error(.truncated, "unterminated quoted string (opened at \(locationText(open)))", at: offset)
    }

    func checkUTF8(_ text: UnsafeBufferPointer<UInt8>, at start: Int) throws(WireError) {
        guard let pointer = text.baseAddress, !UTF8Validation.isValid(UnsafeRawPointer(pointer), count: text.count) else { return }
        throw error(.invalidUTF8, "the quoted string is not valid UTF-8", at: start)
    }

    /// Sorts the labels of the current line (the metric name among them), checks for duplicates, canonicalizes
    /// `le` and `quantile`, and drops empty values.
    mutating func finishLabels(lineStart: Int) throws(WireError) -> Labels {
        let special: (key: UInt64, name: String)?
        switch familyType {
        case .histogram, .gaugehistogram: special = (ExpositionLabelScratch.leKey, "le")
        case .summary: special = (ExpositionLabelScratch.quantileKey, "quantile")
        default: special = nil
        }
        if strict { rawSpecialValue = nil }
        if let special {
            for index in 0..<labels.count where labels.key(at: index) == special.key && labels.labels[index].name == special.name {
                let value = labels.labels[index].value
                if strict && !value.isEmpty { rawSpecialValue = value }
                if familyType != .gaugehistogram { labels.setValue(table.canonicalFloat(value), at: index) }
            }
        }
        if let duplicate = labels.sort() {
            throw duplicateLabelError(labels.labels[duplicate].name, at: labels.offsets[duplicate], what: "label")
        }
        return labels.take()
    }

    @inline(never)
    func duplicateLabelError(_ name: String, at position: Int, what: String) -> WireError {
        if name == Labels.metricNameLabel {
            return error(.invalidValue, "label \"__name__\" repeats the metric name", at: position)
        }
        return error(.invalidValue, "duplicate \(what) name \(quote(name))", at: position)
    }

    // MARK: Families

    /// Whether `name` (a sample's metric name) belongs to the current family.
    @inline(__always)
    func belongsToFamily(_ name: UnsafePointer<UInt8>, count: Int) -> Bool {
        let familyCount = familyBytes.count
        guard familyOpen, count >= familyCount,
            familyCount == 0 || ExpositionStringTable.equal(name, familyBytes.pointer, count: familyCount)
        else { return false }
        let suffixCount = count - familyCount
        if suffixCount == 0 { return familyType.allowsNoSuffix(strict: strict) }
        return familyType.allowsSuffix(UnsafeBufferPointer(start: name + familyCount, count: suffixCount), strict: strict)
    }

    mutating func familyForSample(lineStart: Int) throws(WireError) {
        if belongsToFamily(namePointer, count: nameCount) {
            if familyHasCreatedCandidate() { familyHasCreated = true }
            return
        }
        try closeFamily()
        openFamily(name: nameString, bytes: UnsafeBufferPointer(start: namePointer, count: nameCount), fromMetadata: false)
        if let validator { try validator.newFamily(name: nameString, implicit: true, at: lineStart, self) }
    }

    @inline(__always)
    func familyHasCreatedCandidate() -> Bool {
        guard openMetrics, familyType == .counter || familyType == .histogram || familyType == .summary,
            nameCount == familyBytes.count + 8
        else { return false }
        return ExpositionStringTable.equal(namePointer + familyBytes.count, Self.createdSuffix.utf8Start, count: 8)
    }

    static let createdSuffix: StaticString = "_created"

    mutating func familyForMetadata(name: String, bytes: UnsafeBufferPointer<UInt8>, lineStart: Int) throws(WireError) {
        if familyOpen && familyBytes.count == bytes.count
            && (bytes.isEmpty || ExpositionStringTable.equal(bytes.baseAddress!, familyBytes.pointer, count: bytes.count))
        {
            return
        }
        try closeFamily()
        openFamily(name: name, bytes: bytes, fromMetadata: true)
        if let validator { try validator.newFamily(name: name, implicit: false, at: lineStart, self) }
    }

    mutating func openFamily(name: String, bytes: UnsafeBufferPointer<UInt8>, fromMetadata: Bool) {
        familyOpen = true
        familyName = name
        familyBytes.removeAll()
        familyBytes.append(bytes)
        familyType = .unknown
        familyStart = samples.count
        familyHasCreated = false
        familyFromMetadata = fromMetadata
        familyMetadata = MetricMetadata()
        familyMetadataLines = 0
    }

    mutating func closeFamily() throws(WireError) {
        guard familyOpen else { return }
        familyOpen = false
        if familyMetadataLines != 0 {
            // One hash: update in place (a family that appears twice keeps what its second appearance lacks).
            let lines = familyMetadataLines
            let found = familyMetadata
            Self.merge(&metadata[familyName, default: MetricMetadata()], lines, found)
        }
        if let validator { try validator.closeFamily(self) }
        if familyHasCreated { applyCreatedTimestamps() }
        families.append(ScrapedFamily(name: familyName, type: familyType, samples: familyStart..<samples.count))
    }

    @inline(__always)
    static func merge(_ entry: inout MetricMetadata, _ lines: UInt8, _ found: MetricMetadata) {
        if lines & 1 != 0 { entry.type = found.type }
        if lines & 2 != 0 { entry.help = found.help }
        if lines & 4 != 0 { entry.unit = found.unit }
    }

    /// Copies each `_created` sample's value (seconds) into the `createdTimestamp` of the family's samples with the
    /// same labels (ignoring `le` and `quantile`), and drops the `_created` samples if asked to.
    ///
    /// Prometheus pairs a sample with the first `_created` sample after it, if that has the same labels; so does
    /// this, and failing that it takes the one just before, then any with the same labels.
    mutating func applyCreatedTimestamps() {
        let createdName = familyName + "_created"
        let ignored = familyType == .histogram ? "le" : familyType == .summary ? "quantile" : ""
        let range = familyStart..<samples.count
        var createdIndices: [Int] = []
        for index in range where samples[index].labels.metricName == createdName { createdIndices.append(index) }
        guard !createdIndices.isEmpty else { return }

        func sameSeries(_ a: Labels, _ b: Labels) -> Bool {
            var left = 0
            var right = 0
            while true {
                while left < a.count && (a[left].name == Labels.metricNameLabel || a[left].name == ignored) { left += 1 }
                while right < b.count && (b[right].name == Labels.metricNameLabel || b[right].name == ignored) { right += 1 }
                if left == a.count || right == b.count { return left == a.count && right == b.count }
                if a[left] != b[right] { return false }
                left += 1
                right += 1
            }
        }
        var byKey: [[Label]: Int]? = nil
        var cursor = 0
        for index in range {
            while cursor < createdIndices.count && createdIndices[cursor] <= index { cursor += 1 }
            if cursor > 0 && createdIndices[cursor - 1] == index { continue }
            let labels = samples[index].labels
            var match: Int? = nil
            if cursor < createdIndices.count && sameSeries(labels, samples[createdIndices[cursor]].labels) {
                match = createdIndices[cursor]
            } else if cursor > 0 && sameSeries(labels, samples[createdIndices[cursor - 1]].labels) {
                match = createdIndices[cursor - 1]
            } else {
                if byKey == nil {
                    var built: [[Label]: Int] = [:]
                    for created in createdIndices {
                        built[samples[created].labels.storage.filter { $0.name != Labels.metricNameLabel && $0.name != ignored }] = created
                    }
                    byKey = built
                }
                match = byKey![labels.storage.filter { $0.name != Labels.metricNameLabel && $0.name != ignored }]
            }
            if let match { samples[index].createdTimestamp = ExpositionNumbers.milliseconds(fromSeconds: samples[match].value) }
        }
        guard dropCreatedSeries else { return }
        var kept = familyStart
        var next = 0
        for index in range {
            if next < createdIndices.count && createdIndices[next] == index {
                next += 1
                continue
            }
            if kept != index { samples.swapAt(kept, index) }
            kept += 1
        }
        samples.removeSubrange(kept...)
    }

    // MARK: Bytes

    @inline(__always)
    mutating func skipBlanks() {
        while offset < end && isBlank(base[offset]) { offset += 1 }
    }

    /// Skips to just after the next line feed (or to the end).
    mutating func skipLine() {
        while offset < end && base[offset] != UInt8(ascii: "\n") { offset += 1 }
        if offset < end { offset += 1 }
    }

    // MARK: Errors

    @inline(never)
    func error(_ code: WireError.Code, _ message: String, at position: Int) -> WireError {
        WireError(code, message, at: locationText(position), offset: position)
    }

    func error(_ message: String, at position: Int) -> WireError {
        error(.invalidExposition, message, at: position)
    }

    func locationText(_ position: Int) -> String {
        let (line, column) = ExpositionParser.location(ofByte: position, in: UnsafeRawBufferPointer(start: base, count: end))
        return "line \(line), column \(column)"
    }

    /// The text at `position` for an error message: the token there (quoted), "a line feed", or "the end of the
    /// input"; with `line`, the rest of the line.
    func describe(_ position: Int, line: Bool = false) -> String {
        guard position < end else { return "the end of the input" }
        let byte = base[position]
        if byte == UInt8(ascii: "\n") { return "a line feed" }
        if byte == UInt8(ascii: "\r") { return "a carriage return (lines must end with \\n alone)" }
        if byte == UInt8(ascii: "\t") { return "a tab" }
        if byte == UInt8(ascii: " ") { return "a space" }
        var stop = position + 1
        if line {
            while stop < end && base[stop] != UInt8(ascii: "\n") { stop += 1 }
        } else if isMetricNameCharacter(byte) {
            while stop < end && isMetricNameCharacter(base[stop]) { stop += 1 }
        } else if byte >= 0x80 {
            while stop < end && base[stop] & 0xC0 == 0x80 { stop += 1 }
        }
        return quote(position, stop)
    }

    func describeByte(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "\"\(Character(Unicode.Scalar(byte)))\"" : "0x" + String(byte, radix: 16, uppercase: true)
    }

    /// Bytes `[start, stop)` of the input in quotes (shortened, control characters and invalid UTF-8 escaped).
    func quote(_ start: Int, _ stop: Int) -> String {
        quote(UnsafeBufferPointer(start: base + start, count: max(0, min(stop, end) - start)))
    }

    func quote(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let limit = 48
        let shown = UnsafeBufferPointer(rebasing: bytes.prefix(limit))
        return quote(String(decoding: shown, as: UTF8.self), ellipsis: bytes.count > limit)
    }

    func quote(_ text: String, ellipsis: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16, uppercase: true)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + (ellipsis ? "…\"" : "\"")
    }
}

// MARK: - Helpers

extension UInt32 {
    /// Four ASCII characters as a little-endian word, for comparing keywords with one load.
    fileprivate init(ascii4 text: StaticString) {
        let bytes = text.utf8Start
        self = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }
}

extension MetricMetadata.MetricType {
    /// Whether a sample named exactly as the family belongs to it.
    @inline(__always)
    fileprivate func allowsNoSuffix(strict: Bool) -> Bool {
        switch self {
        case .counter, .histogram, .gaugehistogram, .info: !strict
        default: true
        }
    }

    /// Whether a sample named family name + `suffix` belongs to a family of this type.
    @inline(__always)
    fileprivate func allowsSuffix(_ suffix: UnsafeBufferPointer<UInt8>, strict: Bool) -> Bool {
        @inline(__always) func equals(_ word: StaticString) -> Bool {
            suffix.count == word.utf8CodeUnitCount && ExpositionStringTable.equal(suffix.baseAddress!, word.utf8Start, count: suffix.count)
        }
        switch self {
        case .counter: return equals("_total") || equals("_created")
        case .histogram: return equals("_bucket") || equals("_count") || equals("_sum") || equals("_created")
        case .gaugehistogram: return equals("_bucket") || equals("_gcount") || equals("_gsum")
        case .summary: return equals("_count") || equals("_sum") || equals("_created")
        case .info: return equals("_info")
        case .gauge, .stateset, .unknown: return false
        }
    }
}

/// Byte classes of the exposition formats.
enum ExpositionSyntax {
    @inline(__always) static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    @inline(__always) static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always) static func isLabelNameStart(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- UInt8(ascii: "a") < 26 || byte == UInt8(ascii: "_")
    }

    @inline(__always) static func isLabelNameCharacter(_ byte: UInt8) -> Bool { isLabelNameStart(byte) || isDigit(byte) }

    @inline(__always) static func isMetricNameStart(_ byte: UInt8) -> Bool { isLabelNameStart(byte) || byte == UInt8(ascii: ":") }

    @inline(__always) static func isMetricNameCharacter(_ byte: UInt8) -> Bool { isMetricNameStart(byte) || isDigit(byte) }
}

@inline(__always) fileprivate func isBlank(_ byte: UInt8) -> Bool { ExpositionSyntax.isBlank(byte) }

@inline(__always) fileprivate func isBlankOrNewline(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
}

@inline(__always) fileprivate func isDigit(_ byte: UInt8) -> Bool { ExpositionSyntax.isDigit(byte) }

@inline(__always) fileprivate func isLabelNameStart(_ byte: UInt8) -> Bool { ExpositionSyntax.isLabelNameStart(byte) }

@inline(__always) fileprivate func isLabelNameCharacter(_ byte: UInt8) -> Bool { ExpositionSyntax.isLabelNameCharacter(byte) }

@inline(__always) fileprivate func isMetricNameStart(_ byte: UInt8) -> Bool { ExpositionSyntax.isMetricNameStart(byte) }

@inline(__always) fileprivate func isMetricNameCharacter(_ byte: UInt8) -> Bool { ExpositionSyntax.isMetricNameCharacter(byte) }

/// Whether any of the eight bytes is `"`, `\`, a line feed, or not ASCII.
@inline(__always)
private func quotedWordNeedsAttention(_ word: UInt64) -> Bool {
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let quotes = word ^ (ones &* 0x22)
    let backslashes = word ^ (ones &* 0x5C)
    let newlines = word ^ (ones &* 0x0A)
    let hasQuote = (quotes &- ones) & ~quotes
    let hasBackslash = (backslashes &- ones) & ~backslashes
    let hasNewline = (newlines &- ones) & ~newlines
    return (hasQuote | hasBackslash | hasNewline | word) & highs != 0
}

/// A growable byte buffer with manually managed memory, so views into it can be handed out without copying (they
/// stay valid until the next mutation).
struct ExpositionBytes: ~Copyable {
    private(set) var pointer: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init() {
        capacity = 64
        pointer = .allocate(capacity: capacity)
    }

    deinit { pointer.deallocate() }

    var view: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: pointer, count: count) }

    mutating func removeAll() { count = 0 }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        pointer[count] = byte
        count += 1
    }

    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (pointer + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    private mutating func grow(to minimum: Int) {
        var newCapacity = capacity * 2
        while newCapacity < minimum { newCapacity *= 2 }
        let newPointer = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newPointer.update(from: pointer, count: count)
        pointer.deallocate()
        pointer = newPointer
        capacity = newCapacity
    }
}
