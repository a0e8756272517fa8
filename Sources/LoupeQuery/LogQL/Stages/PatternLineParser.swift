/// LogQL's `| pattern "<ip> - <_> [<ts>] ..."` stage and the pattern line filter `|> "GET <_> 200"`.
///
/// A pattern is a sequence of captures (`<name>`, or `<_>` to skip) and literal text. Follows Loki v3
/// (pkg/logql/log/pattern: lexer.rl, expr.y, ast.go, pattern.go):
/// - `<` starts a capture only when followed by `[A-Za-z_][A-Za-z0-9_]*>`; any other `<` is literal text;
/// - as a parser stage the pattern needs a named capture, no two captures in a row and no name twice;
///   as a line filter it must have no named capture and no two captures in a row;
/// - parsing is anchored at the start of the line: a leading literal must be the line's prefix. Each
///   capture takes the text up to the first occurrence of the literal after it; when that literal is
///   missing, a named capture takes the rest of the line and parsing stops, so a short line fills only
///   the leading captures. A line that fails the leading literal gives no labels (and no error);
/// - captured values are kept even when empty; names are not sanitized (they are already valid).
public struct PatternLineParser: Sendable {
    private let nodes: [PatternNode]
    private let captureNames: [String]

    /// A pattern for the `| pattern` parser stage.
    public init(_ pattern: String) throws(LogQLStageError) {
        nodes = try Self.parseNodes(pattern)
        captureNames = nodes.compactMap(\.captureName)
        guard !captureNames.isEmpty else {
            throw LogQLStageError("at least one capture is required")
        }
        try Self.rejectConsecutiveCaptures(nodes)
        var seen: Set<String> = []
        for name in captureNames where !seen.insert(name).inserted {
            throw LogQLStageError("duplicate capture name (\(name)): invalid expression")
        }
    }

    /// A pattern for the line filters `|>` and `!>`, where `<_>` is the only capture allowed. An empty
    /// pattern is valid and matches only empty lines.
    public init(filterPattern pattern: String) throws(LogQLStageError) {
        captureNames = []
        if pattern.isEmpty {
            nodes = []
            return
        }
        nodes = try Self.parseNodes(pattern)
        try Self.rejectConsecutiveCaptures(nodes)
        if let named = nodes.first(where: { $0.captureName != nil }) {
            throw LogQLStageError("named captures are not allowed: found '\(named)'")
        }
    }

    public func parse(_ line: String) -> LogLineParseOutcome {
        guard !line.isEmpty else { return LogLineParseOutcome() }
        return LogLineBytes.withBytes(of: line) { bytes in
            var outcome = LogLineParseOutcome()
            var captureIndex = 0
            forEachCapture(in: bytes) { isNamed, range in
                guard isNamed else { return }
                outcome.labels.append(LogQLExtractedLabel(name: captureNames[captureIndex], value: LogLineBytes.string(bytes, range)))
                captureIndex += 1
            }
            return outcome
        }
    }

    /// Whether the line matches the pattern as a line filter (Loki's `Matcher.Test`): every literal must
    /// occur in order, a capture must not be empty, and the line must end where the pattern ends (on a
    /// literal) or hold more text for a trailing capture. The first literal, unlike in `parse`, may occur
    /// anywhere.
    public func matches(_ line: String) -> Bool {
        guard !line.isEmpty, !nodes.isEmpty else {
            return line.isEmpty && nodes.isEmpty
        }
        return LogLineBytes.withBytes(of: line) { bytes in
            var offset = 0
            for (position, node) in nodes.enumerated() {
                guard case .literal(let literal) = node else { continue }
                guard let found = Self.firstIndex(of: literal, in: bytes, from: offset) else { return false }
                // A literal right where the previous one ended means an empty capture between them.
                if position != 0 && found == offset { return false }
                offset = found + literal.count
            }
            let endsWithCapture = nodes.last?.captureName != nil || nodes.last?.isWildcard == true
            return endsWithCapture == (offset != bytes.count)
        }
    }

    /// Loki's `Matcher.Matches`: walks the line, reporting each capture's range in pattern order.
    private func forEachCapture(in bytes: UnsafeBufferPointer<UInt8>, _ body: (_ isNamed: Bool, _ range: Range<Int>) -> Void) {
        var remaining = nodes[...]
        var offset = 0
        if case .literal(let prefix) = remaining.first {
            guard bytes.count >= prefix.count, prefix.indices.allSatisfy({ bytes[$0] == prefix[$0] }) else { return }
            offset = prefix.count
            remaining = remaining.dropFirst()
        }
        // From here the nodes alternate: capture, literal, capture, ... (consecutive captures are rejected
        // and the grammar merges adjacent literal characters).
        while let capture = remaining.first {
            let isNamed = capture.captureName != nil
            guard remaining.count > 1, case .literal(let literal) = remaining[remaining.startIndex + 1] else {
                body(isNamed, offset..<bytes.count)
                return
            }
            remaining = remaining.dropFirst(2)
            guard let found = Self.firstIndex(of: literal, in: bytes, from: offset) else {
                body(isNamed, offset..<bytes.count)
                return
            }
            body(isNamed, offset..<found)
            offset = found + literal.count
        }
    }

    private static func firstIndex(of needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let first = needle.first, bytes.count - start >= needle.count else {
            return needle.isEmpty ? start : nil
        }
        let lastStart = bytes.count - needle.count
        var index = start
        while index <= lastStart {
            if bytes[index] == first {
                var matched = 1
                while matched < needle.count && bytes[index + matched] == needle[matched] { matched += 1 }
                if matched == needle.count { return index }
            }
            index += 1
        }
        return nil
    }

    private static func rejectConsecutiveCaptures(_ nodes: [PatternNode]) throws(LogQLStageError) {
        for (node, next) in zip(nodes, nodes.dropFirst()) where node.isCapture && next.isCapture {
            throw LogQLStageError("found consecutive capture '\(node)\(next)': invalid expression")
        }
    }

    /// Splits a pattern into captures and runs of literal text, as Loki's ragel lexer and yacc grammar do.
    private static func parseNodes(_ pattern: String) throws(LogQLStageError) -> [PatternNode] {
        guard !pattern.isEmpty else {
            throw LogQLStageError("parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL")
        }
        let bytes = Array(pattern.utf8)
        var nodes: [PatternNode] = []
        var literal: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "<"), let end = captureEnd(bytes, from: index) {
                if !literal.isEmpty {
                    nodes.append(.literal(literal))
                    literal.removeAll()
                }
                let name = String(decoding: bytes[index + 1..<end], as: UTF8.self)
                nodes.append(name == "_" ? .wildcard : .capture(name))
                index = end + 1
            } else {
                literal.append(bytes[index])
                index += 1
            }
        }
        if !literal.isEmpty {
            nodes.append(.literal(literal))
        }
        return nodes
    }

    /// The index of the `>` closing a capture that opens at `start`, if `<...>` is a capture.
    private static func captureEnd(_ bytes: [UInt8], from start: Int) -> Int? {
        var index = start + 1
        guard index < bytes.count, isIdentifierStart(bytes[index]) else { return nil }
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: ">") { return index }
            guard isIdentifierStart(byte) || LogLineBytes.isASCIIDigit(byte) else { return nil }
            index += 1
        }
        return nil
    }

    private static func isIdentifierStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == UInt8(ascii: "_")
    }
}

private enum PatternNode: Sendable, CustomStringConvertible {
    case literal([UInt8])
    case capture(String)
    /// `<_>`: matches like a capture, extracts nothing.
    case wildcard

    var captureName: String? {
        if case .capture(let name) = self { return name }
        return nil
    }

    var isWildcard: Bool {
        if case .wildcard = self { return true }
        return false
    }

    var isCapture: Bool { captureName != nil || isWildcard }

    var description: String {
        switch self {
        case .literal(let bytes): String(decoding: bytes, as: UTF8.self)
        case .capture(let name): "<\(name)>"
        case .wildcard: "<_>"
        }
    }
}
