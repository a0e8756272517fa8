import LoupeModel

/// One series line of a promqltest script or `promtool test rules` input:
/// `metric{label="value"} 1 2+3x4 _ stale {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2`.
public struct SeriesDescription: Sendable, Equatable {
    public enum Point: Sendable, Equatable {
        case float(Double)
        /// `counterResetHintGiven` is false when the description did not state the hint, in
        /// which case a comparison must not check it.
        case histogram(NativeHistogram, counterResetHintGiven: Bool)

        public static func == (lhs: Point, rhs: Point) -> Bool {
            switch (lhs, rhs) {
            case (.float(let left), .float(let right)): left.bitPattern == right.bitPattern || left == right
            case (.histogram(let left, let leftGiven), .histogram(let right, let rightGiven)): left == right && leftGiven == rightGiven
            default: false
            }
        }
    }

    public var labels: Labels
    /// One entry per interval step; nil where the description omits a point (`_`).
    public var points: [Point?]
    /// `metric{...}@st`: the points are start timestamps (as millisecond offsets from each
    /// sample's time) for the series of the same labels, not values.
    public var isStartTimestamps: Bool

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(labels: Labels, points: [Point?], isStartTimestamps: Bool = false) {
        self.labels = labels
        self.points = points
        self.isStartTimestamps = isStartTimestamps
    }

    public static func parse(_ text: String) throws(ParseError) -> SeriesDescription {
        var scanner = DescriptionScanner(Array(text.utf8))
        let labels = try scanner.parseLabels()
        scanner.durationValues = scanner.consume("@st")
        var points: [Point?] = []
        while true {
            scanner.skipSpaces()
            if scanner.atEnd { break }
            points.append(contentsOf: try scanner.parseItem())
        }
        return SeriesDescription(labels: labels, points: points, isStartTimestamps: scanner.durationValues)
    }

    /// A bare number as promqltest writes scalar results (`3`, `-Inf`, `NaN`, `0x10`).
    public static func parseNumber(_ text: some StringProtocol) -> Double? {
        var text = String(text.trimmed)
        if text.hasPrefix("+") { text.removeFirst() }
        switch text.lowercased() {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan": return .nan
        default: break
        }
        guard let first = text.unicodeScalars.first, first == "-" || first == "." || ("0"..."9").contains(first) else { return nil }
        if let value = Double(text) { return value }
        let negative = text.hasPrefix("-")
        let digits = negative ? String(text.dropFirst()) : text
        if digits.hasPrefix("0x") || digits.hasPrefix("0X"), let value = UInt64(digits.dropFirst(2), radix: 16) {
            return negative ? -Double(value) : Double(value)
        }
        return nil
    }
}

private struct DescriptionScanner {
    let bytes: [UInt8]
    var position = 0
    /// Values are durations (`-30s`, `-1m`) in milliseconds, as in start-timestamp series.
    var durationValues = false

    mutating func consume(_ literal: String) -> Bool {
        let utf8 = Array(literal.utf8)
        guard position + utf8.count <= bytes.count, Array(bytes[position..<position + utf8.count]) == utf8 else { return false }
        position += utf8.count
        return true
    }

    func number(_ text: some StringProtocol) -> Double? {
        if let value = SeriesDescription.parseNumber(text) { return value }
        let text = text.hasPrefix("+") ? String(text.dropFirst()) : String(text)
        guard durationValues, let milliseconds = try? PromQLTestTime.parseDuration(text) else { return nil }
        return Double(milliseconds)
    }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    typealias ParseError = SeriesDescription.ParseError

    var atEnd: Bool { position >= bytes.count }
    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    func error(_ message: String) -> ParseError {
        ParseError(description: "\(message) at column \(position + 1) of \"\(String(decoding: bytes, as: UTF8.self))\"")
    }

    mutating func skipSpaces() {
        while let byte = current, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { position += 1 }
    }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ":")
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    mutating func parseName() -> String? {
        guard let byte = current, Self.isNameStart(byte) else { return nil }
        let start = position
        while let byte = current, Self.isNameByte(byte) { position += 1 }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    /// A double-, single- or back-quoted string with Go escapes (none inside backticks).
    mutating func parseQuoted() throws(ParseError) -> String {
        guard let quote = current, quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") || quote == UInt8(ascii: "`") else {
            throw error("expected a quoted string")
        }
        position += 1
        var out: [UInt8] = []
        while true {
            guard let byte = current else { throw error("unterminated string") }
            position += 1
            if byte == quote { break }
            if byte == UInt8(ascii: "\\") && quote != UInt8(ascii: "`") {
                guard let escaped = current else { throw error("unterminated escape") }
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "a"): out.append(7)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "v"): out.append(11)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let count = escaped == UInt8(ascii: "x") ? 2 : escaped == UInt8(ascii: "u") ? 4 : 8
                    guard position + count <= bytes.count,
                          let value = UInt32(String(decoding: bytes[position..<position + count], as: UTF8.self), radix: 16)
                    else { throw error("invalid \\\(Character(Unicode.Scalar(escaped))) escape") }
                    position += count
                    if escaped == UInt8(ascii: "x") {
                        out.append(UInt8(value))
                    } else {
                        guard let scalar = Unicode.Scalar(value) else { throw error("invalid Unicode escape") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    }
                case UInt8(ascii: "0")...UInt8(ascii: "7"):
                    guard position + 2 <= bytes.count,
                          let value = UInt8(String(decoding: bytes[position - 1..<position + 2], as: UTF8.self), radix: 8)
                    else { throw error("invalid octal escape") }
                    position += 2
                    out.append(value)
                default:
                    out.append(escaped)
                }
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseLabels() throws(ParseError) -> Labels {
        skipSpaces()
        var labels: [Label] = []
        if let name = parseName() { labels.append(Label(Labels.metricNameLabel, name)) }
        guard current == UInt8(ascii: "{") else {
            if labels.isEmpty { throw error("expected a metric name or \"{\"") }
            return Labels(labels)
        }
        position += 1
        while true {
            skipSpaces()
            if current == UInt8(ascii: "}") {
                position += 1
                break
            }
            let name: String
            if let byte = current, byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") || byte == UInt8(ascii: "`") {
                name = try parseQuoted()
            } else if let plain = parseName() {
                name = plain
            } else {
                throw error("expected a label name")
            }
            skipSpaces()
            if current == UInt8(ascii: ",") || current == UInt8(ascii: "}") {
                // A lone quoted string is the metric name (UTF-8 names syntax).
                labels.append(Label(Labels.metricNameLabel, name))
            } else {
                guard current == UInt8(ascii: "=") else { throw error("expected \"=\" after label \(name)") }
                position += 1
                skipSpaces()
                labels.append(Label(name, try parseQuoted()))
            }
            skipSpaces()
            if current == UInt8(ascii: ",") { position += 1 }
        }
        return Labels(labels)
    }

    /// The next whitespace-separated token, keeping `{{ ... }}` histograms whole.
    mutating func nextToken() -> String {
        let start = position
        var depth = 0
        while let byte = current {
            if byte == UInt8(ascii: "{") { depth += 1 }
            if byte == UInt8(ascii: "}") { depth -= 1 }
            if depth == 0 && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) { break }
            position += 1
        }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    mutating func parseItem() throws(ParseError) -> [SeriesDescription.Point?] {
        let token = nextToken()
        if token.hasPrefix("{{") { return try Self.histogramItem(token, error: error) }
        if token == "_" { return [nil] }
        if token.hasPrefix("_x") {
            guard let count = Int(token.dropFirst(2)) else { throw error("invalid repetition \"\(token)\"") }
            return Array(repeating: nil, count: count)
        }
        if token == "stale" { return [.float(StaleMarker.value)] }
        // `0x59` in a series description is 0 repeated (as promqltest reads it), not a hex number.
        let isZeroRepetition = token.hasPrefix("0x") && token.count > 2 && token.dropFirst(2).allSatisfy { ("0"..."9").contains($0) }
        if !isZeroRepetition, let value = number(token) { return [.float(value)] }
        // a x n, a+b x n, a-b x n
        guard let times = token.lastIndex(of: "x"), let count = Int(token[token.index(after: times)...]) else {
            throw error("invalid value \"\(token)\"")
        }
        let head = token[..<times]
        var split: String.Index?
        var index = head.index(after: head.startIndex)
        while index < head.endIndex {
            let character = head[index]
            let previous = head[head.index(before: index)]
            if (character == "+" || character == "-") && previous != "e" && previous != "E" { split = index }
            index = head.index(after: index)
        }
        let start: Double
        var step = 0.0
        if let split {
            guard let base = number(head[..<split]), let delta = number(head[split...]) else {
                throw error("invalid value \"\(token)\"")
            }
            start = base
            step = delta
        } else {
            guard let base = head == "stale" ? StaleMarker.value : number(head) else {
                throw error("invalid value \"\(token)\"")
            }
            start = base
        }
        var values: [SeriesDescription.Point?] = []
        var value = start
        for _ in 0...count {
            values.append(.float(value))
            value += step
        }
        return values
    }

    static func histogramItem(_ token: String, error: (String) -> ParseError) throws(ParseError) -> [SeriesDescription.Point?] {
        // {{...}}, {{...}}xN, {{...}}+{{...}}xN, {{...}}-{{...}}xN
        guard let firstEnd = closingBraces(in: token[...]) else { throw error("unterminated histogram \"\(token)\"") }
        let (base, baseHintGiven) = try parseHistogram(String(token[..<firstEnd]), error: error)
        let rest = token[firstEnd...]
        if rest.isEmpty { return [.histogram(base, counterResetHintGiven: baseHintGiven)] }
        if rest.first == "x" {
            guard let count = Int(rest.dropFirst()) else { throw error("invalid repetition in \"\(token)\"") }
            return Array(repeating: .histogram(base, counterResetHintGiven: baseHintGiven), count: count + 1)
        }
        guard let sign = rest.first, sign == "+" || sign == "-", let secondEnd = closingBraces(in: rest) else {
            throw error("invalid histogram series \"\(token)\"")
        }
        let (increment, _) = try parseHistogram(String(rest[rest.index(after: rest.startIndex)..<secondEnd]), error: error)
        let tail = rest[secondEnd...]
        guard tail.first == "x", let count = Int(tail.dropFirst()) else { throw error("expected xN after \"\(token)\"") }
        var values: [SeriesDescription.Point?] = []
        var current = base
        for _ in 0...count {
            values.append(.histogram(current, counterResetHintGiven: baseHintGiven))
            current = current.combined(with: increment, sign: sign == "+" ? 1 : -1) ?? current.adding(increment, sign: sign == "+" ? 1 : -1)
        }
        return values
    }

    /// The index just past the first `}}` in `text`.
    static func closingBraces(in text: Substring) -> String.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(after: index)
            if text[index] == "}" && next < text.endIndex && text[next] == "}" { return text.index(after: next) }
            index = next
        }
        return nil
    }

    static func parseHistogram(_ text: String, error: (String) -> ParseError) throws(ParseError) -> (NativeHistogram, Bool) {
        var inner = Substring(text.dropFirst(2).dropLast(2))
        var histogram = NativeHistogram()
        var positiveOffset: Int32 = 0
        var negativeOffset: Int32 = 0
        var positive: [Double] = []
        var negative: [Double] = []
        var hintGiven = false
        while true {
            inner = inner.drop { $0 == " " || $0 == "\t" }
            if inner.isEmpty { break }
            guard let colon = inner.firstIndex(of: ":") else { throw error("expected key:value in histogram \"\(text)\"") }
            let key = String(inner[..<colon])
            inner = inner[inner.index(after: colon)...]
            let rawValue: Substring
            if inner.first == "[" {
                guard let close = inner.firstIndex(of: "]") else { throw error("unterminated list in histogram \"\(text)\"") }
                rawValue = inner[inner.index(after: inner.startIndex)..<close]
                inner = inner[inner.index(after: close)...]
            } else {
                rawValue = inner.prefix { $0 != " " && $0 != "\t" }
                inner = inner.dropFirst(rawValue.count)
            }
            func number() throws(ParseError) -> Double {
                guard let value = SeriesDescription.parseNumber(rawValue) else { throw error("invalid \(key) \"\(rawValue)\" in histogram") }
                return value
            }
            func list() throws(ParseError) -> [Double] {
                var values: [Double] = []
                for item in rawValue.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                    guard let value = SeriesDescription.parseNumber(item) else { throw error("invalid \(key) entry \"\(item)\" in histogram") }
                    values.append(value)
                }
                return values
            }
            switch key {
            case "schema": histogram.schema = Int32(try number())
            case "sum": histogram.sum = try number()
            case "count": histogram.count = try number()
            case "z_bucket": histogram.zeroCount = try number()
            case "z_bucket_w": histogram.zeroThreshold = try number()
            case "offset": positiveOffset = Int32(try number())
            case "n_offset": negativeOffset = Int32(try number())
            case "buckets": positive = try list()
            case "n_buckets": negative = try list()
            case "custom_values": histogram.customValues = try list()
            case "counter_reset_hint":
                hintGiven = true
                switch rawValue {
                case "unknown": histogram.counterResetHint = .unknown
                case "reset": histogram.counterResetHint = .yes
                case "not_reset": histogram.counterResetHint = .no
                case "gauge": histogram.counterResetHint = .gauge
                default: throw error("invalid counter_reset_hint \"\(rawValue)\"")
                }
            default:
                throw error("unknown histogram field \"\(key)\"")
            }
        }
        if !positive.isEmpty {
            histogram.positiveSpans = [.init(offset: positiveOffset, length: UInt32(positive.count))]
            histogram.positiveBuckets = positive
        }
        if !negative.isEmpty {
            histogram.negativeSpans = [.init(offset: negativeOffset, length: UInt32(negative.count))]
            histogram.negativeBuckets = negative
        }
        return (histogram, hintGiven)
    }
}

extension NativeHistogram {
    /// Bucket index → count for one side, expanded from spans.
    public static func bucketMap(spans: [BucketSpan], buckets: [Double]) -> [Int32: Double] {
        var map: [Int32: Double] = [:]
        var index: Int32 = 0
        var bucket = 0
        for span in spans {
            index += span.offset
            for _ in 0..<span.length where bucket < buckets.count {
                map[index, default: 0] += buckets[bucket]
                index += 1
                bucket += 1
            }
        }
        return map
    }

    /// Spans and buckets for a bucket map, one span per run of consecutive indexes.
    public static func spansAndBuckets(from map: [Int32: Double]) -> ([BucketSpan], [Double]) {
        var spans: [BucketSpan] = []
        var buckets: [Double] = []
        var previous: Int32?
        for index in map.keys.sorted() {
            if let last = previous, index == last + 1 {
                spans[spans.count - 1].length += 1
            } else {
                spans.append(BucketSpan(offset: index - (previous.map { $0 + 1 } ?? 0), length: 1))
            }
            buckets.append(map[index]!)
            previous = index
        }
        return (spans, buckets)
    }

    /// `self + sign × other`, bucket by bucket (the layouts may differ; schemas must match).
    public func adding(_ other: NativeHistogram, sign: Double) -> NativeHistogram {
        var result = self
        result.count += sign * other.count
        result.sum += sign * other.sum
        result.zeroCount += sign * other.zeroCount
        var positive = Self.bucketMap(spans: positiveSpans, buckets: positiveBuckets)
        for (index, value) in Self.bucketMap(spans: other.positiveSpans, buckets: other.positiveBuckets) { positive[index, default: 0] += sign * value }
        var negative = Self.bucketMap(spans: negativeSpans, buckets: negativeBuckets)
        for (index, value) in Self.bucketMap(spans: other.negativeSpans, buckets: other.negativeBuckets) { negative[index, default: 0] += sign * value }
        (result.positiveSpans, result.positiveBuckets) = Self.spansAndBuckets(from: positive)
        (result.negativeSpans, result.negativeBuckets) = Self.spansAndBuckets(from: negative)
        return result
    }
}
