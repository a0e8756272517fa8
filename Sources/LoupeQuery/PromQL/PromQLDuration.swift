#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A span of time in nanoseconds, as Prometheus's `time.Duration`.
public struct PromQLDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public init(milliseconds: Int64) {
        self.nanoseconds = milliseconds.multipliedReportingOverflow(by: 1_000_000).overflow
            ? (milliseconds < 0 ? .min : .max) : milliseconds * 1_000_000
    }

    /// Rounds `seconds` to the nanosecond, saturating at the bounds of Int64.
    public init(seconds: Double) {
        self.nanoseconds = PromQLDuration.saturatingInt64((seconds * 1e9).rounded())
    }

    public static let zero = PromQLDuration(nanoseconds: 0)

    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// As Go's `Duration.Seconds()`.
    public var seconds: Double {
        Double(nanoseconds / 1_000_000_000) + Double(nanoseconds % 1_000_000_000) / 1e9
    }

    public static func < (lhs: PromQLDuration, rhs: PromQLDuration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Prometheus's duration text (`1h30m`, `90d`, `1w`, `500ms`, `0s`), to the millisecond.
    public var description: String {
        var milliseconds = nanoseconds / 1_000_000
        if milliseconds == 0 { return "0s" }
        var text = ""
        if milliseconds < 0 {
            text = "-"
            milliseconds = milliseconds == .min ? .max : -milliseconds
        }
        let units: [(String, Int64, Bool)] = [
            ("y", 1000 * 60 * 60 * 24 * 365, true), ("w", 1000 * 60 * 60 * 24 * 7, true),
            ("d", 1000 * 60 * 60 * 24, false), ("h", 1000 * 60 * 60, false), ("m", 1000 * 60, false),
            ("s", 1000, false), ("ms", 1, false),
        ]
        for (unit, multiple, exact) in units {
            if exact && milliseconds % multiple != 0 { continue }
            let count = milliseconds / multiple
            if count > 0 {
                text += "\(count)\(unit)"
                milliseconds -= count * multiple
            }
        }
        return text
    }

    /// Parses Prometheus's duration syntax (`5m`, `1h30m`, `2y`, `100ms`; units from largest to smallest,
    /// each at most once; `0` alone is allowed), with Prometheus's error messages.
    public static func parse(_ text: String) -> Result<PromQLDuration, PromQLDurationParseError> {
        if text == "0" { return .success(.zero) }
        if text.isEmpty { return .failure(.init(message: "empty duration string")) }
        let bytes = Array(text.utf8)
        let invalid = PromQLDurationParseError(message: "not a valid duration string: \(goQuote(text))")
        var index = 0
        var total: UInt64 = 0
        var lastUnitRank = 0
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        while index < bytes.count {
            guard isDigit(bytes[index]) else { return .failure(invalid) }
            var value: UInt64 = 0
            var overflow = false
            while index < bytes.count, isDigit(bytes[index]) {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times.addingReportingOverflow(UInt64(bytes[index] - 0x30))
                overflow = overflow || o1 || o2
                value = plus
                index += 1
            }
            if overflow { return .failure(invalid) }
            let unitStart = index
            while index < bytes.count, !isDigit(bytes[index]) { index += 1 }
            if unitStart == index { return .failure(invalid) }
            let unit = String(decoding: bytes[unitStart..<index], as: UTF8.self)
            let table: [String: (rank: Int, multiple: UInt64)] = [
                "ms": (7, 1_000_000), "s": (6, 1_000_000_000), "m": (5, 60_000_000_000), "h": (4, 3_600_000_000_000),
                "d": (3, 86_400_000_000_000), "w": (2, 604_800_000_000_000), "y": (1, 31_536_000_000_000_000),
            ]
            guard let (rank, multiple) = table[unit] else {
                return .failure(.init(message: "unknown unit \(goQuote(unit)) in duration \(goQuote(text))"))
            }
            if rank <= lastUnitRank { return .failure(invalid) }
            lastUnitRank = rank
            if value > (UInt64(1) << 63) / multiple { return .failure(.init(message: "duration out of range")) }
            total += value * multiple
            if total > UInt64(Int64.max) { return .failure(.init(message: "duration out of range")) }
        }
        return .success(PromQLDuration(nanoseconds: Int64(total)))
    }

    static func saturatingInt64(_ value: Double) -> Int64 {
        if value.isNaN { return .min }
        if value >= 9_223_372_036_854_775_807.0 { return .max }
        if value <= -9_223_372_036_854_775_808.0 { return .min }
        return Int64(value)
    }
}

public struct PromQLDurationParseError: Error, Sendable, Equatable {
    public var message: String
}

/// Operators of duration expressions.
public enum PromQLDurationOperator: String, Sendable, Equatable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case modulo = "%"
    case power = "^"

    var precedence: Int {
        switch self {
        case .add, .subtract: return 4
        case .multiply, .divide, .modulo: return 5
        case .power: return 6
        }
    }
}

/// A duration expression (Prometheus 3's experimental `[5m+1m]`, `offset (1h*2)`, `[step()]`,
/// `min_of(…, …)`), in seconds. The shapes follow Prometheus's `DurationExpr` so printing matches:
/// a parenthesised expression is marked once, however many parentheses surround it.
public indirect enum PromQLDurationExpression: Sendable, Equatable {
    /// A number of seconds or a duration literal.
    case number(PromQLNumberLiteral)
    case binary(PromQLDurationOperator, PromQLDurationExpression, PromQLDurationExpression)
    /// Unary minus over a non-literal; `start` is the position of the `-`.
    case negate(PromQLDurationExpression, start: Int)
    /// `step()`: the query's resolution step.
    case step(PromQLError.Position)
    /// `range()`: the query's range (end - start).
    case range(PromQLError.Position)
    case minOf(PromQLDurationExpression, PromQLDurationExpression, PromQLError.Position)
    case maxOf(PromQLDurationExpression, PromQLDurationExpression, PromQLError.Position)
    /// Written in parentheses.
    case parenthesized(PromQLDurationExpression, PromQLError.Position)

    /// The byte range, computed as Prometheus does for its messages.
    public var position: PromQLError.Position {
        switch self {
        case .number(let literal): return literal.position
        case .binary(_, let lhs, let rhs), .minOf(let lhs, let rhs, _), .maxOf(let lhs, let rhs, _):
            return .init(start: lhs.position.start, end: rhs.position.end)
        case .negate(let operand, let start): return .init(start: start, end: operand.position.end)
        case .step(let position), .range(let position), .parenthesized(_, let position): return position
        }
    }

    /// The value in seconds for a query with the given step and range (both zero for an instant query),
    /// with Prometheus's errors for division and modulo by zero.
    public func seconds(step: PromQLDuration, range: PromQLDuration) throws(PromQLError) -> Double {
        switch self {
        case .number(let literal): return literal.value
        case .step: return step.seconds
        case .range: return range.seconds
        case .parenthesized(let inner, _): return try inner.seconds(step: step, range: range)
        case .negate(let operand, _): return -(try operand.seconds(step: step, range: range))
        case .minOf(let lhs, let rhs, _):
            let left = try lhs.seconds(step: step, range: range)
            let right = try rhs.seconds(step: step, range: range)
            return goMin(left, right)
        case .maxOf(let lhs, let rhs, _):
            let left = try lhs.seconds(step: step, range: range)
            let right = try rhs.seconds(step: step, range: range)
            return goMax(left, right)
        case .binary(let op, let lhs, let rhs):
            let left = try lhs.seconds(step: step, range: range)
            let right = try rhs.seconds(step: step, range: range)
            switch op {
            case .add: return left + right
            case .subtract: return left - right
            case .multiply: return left * right
            case .divide:
                if right == 0 { throw durationError("division by zero") }
                return left / right
            case .modulo:
                if right == 0 { throw durationError("modulo by zero") }
                return goFmod(left, right)
            case .power: return goPow(left, right)
            }
        }
    }

    /// The duration, truncated to the millisecond as Prometheus does; negative values only when allowed
    /// (offsets).
    public func resolve(step: PromQLDuration, range: PromQLDuration, allowNegative: Bool) throws(PromQLError)
        -> PromQLDuration
    {
        let value = try seconds(step: step, range: range)
        if value.isNaN || value.isInfinite { throw durationError("duration is NaN or infinite") }
        if value <= 0 && !allowNegative { throw durationError("duration must be greater than 0") }
        if value > 9_223_372_036.854775807 || value < -9_223_372_036.854775808 {
            throw durationError("duration is out of range")
        }
        let milliseconds = PromQLDuration.saturatingInt64(value * 1000)
        return PromQLDuration(milliseconds: milliseconds)
    }

    private func durationError(_ message: String) -> PromQLError {
        PromQLError(.execution, "\(position.start):\(position.end): \(message)")
    }

    func strippingPositions() -> PromQLDurationExpression {
        let zero = PromQLError.Position(start: 0, end: 0)
        switch self {
        case .number(var literal):
            literal.position = zero
            return .number(literal)
        case .binary(let op, let lhs, let rhs): return .binary(op, lhs.strippingPositions(), rhs.strippingPositions())
        case .negate(let operand, _): return .negate(operand.strippingPositions(), start: 0)
        case .step: return .step(zero)
        case .range: return .range(zero)
        case .minOf(let lhs, let rhs, _): return .minOf(lhs.strippingPositions(), rhs.strippingPositions(), zero)
        case .maxOf(let lhs, let rhs, _): return .maxOf(lhs.strippingPositions(), rhs.strippingPositions(), zero)
        case .parenthesized(let inner, _): return .parenthesized(inner.strippingPositions(), zero)
        }
    }
}

extension PromQLDurationSpec {
    /// The duration for a query with the given step and range: fixed values as they are, expressions
    /// computed (see `PromQLDurationExpression.resolve`).
    public func resolve(step: PromQLDuration, range: PromQLDuration, allowNegative: Bool) throws(PromQLError)
        -> PromQLDuration
    {
        switch self {
        case .fixed(let duration): return duration
        case .expression(let expression):
            return try expression.resolve(step: step, range: range, allowNegative: allowNegative)
        }
    }
}

// MARK: - Go float semantics used by the parser and duration expressions

/// Go's math.Min: NaN if either is NaN, -0 preferred over +0.
func goMin(_ left: Double, _ right: Double) -> Double {
    if left.isNaN || right.isNaN { return .nan }
    if left == 0 && right == 0 { return left.sign == .minus ? left : right }
    return left < right ? left : right
}

/// Go's math.Max: NaN if either is NaN, +0 preferred over -0.
func goMax(_ left: Double, _ right: Double) -> Double {
    if left.isNaN || right.isNaN { return .nan }
    if left == 0 && right == 0 { return left.sign == .plus ? left : right }
    return left > right ? left : right
}

/// Go's math.Mod: the result has the sign of `x`.
func goFmod(_ x: Double, _ y: Double) -> Double { fmod(x, y) }

/// Go's math.Pow (the C library agrees on the special cases PromQL meets).
func goPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
