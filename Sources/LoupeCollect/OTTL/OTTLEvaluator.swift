import LoupeModel

/// Why an evaluation stopped: a value of the wrong type for a function, an index out of range, an
/// arithmetic overflow. OTTL reports these as statement errors; with the `ignore` error mode Kyma
/// uses, the statement does nothing and a condition does not hold, which is what callers here get.
struct OTTLRuntimeFailure: Error, Sendable, Equatable {
    var reason: String

    init(_ reason: String) { self.reason = reason }
}

/// A key evaluated for indexing: maps take strings, lists ints.
enum OTTLKey: Sendable, Equatable {
    case string(String)
    case index(Int64)
}

/// Evaluates bound expressions and conditions against an item, and reads and writes its paths.
enum OTTLEvaluator {
    /// `set(log.attributes["a"][1000000000], …)` would pad a list with a billion empties; OTTL would
    /// try, this refuses.
    static let maximumListPadding: Int64 = 65_536

    static func value<Item: OTTLItemAccess>(_ expression: OTTLExpression, in item: Item) throws(OTTLRuntimeFailure) -> AnyValue? {
        switch expression {
        case .literal(let literal):
            return literal
        case .path(let path):
            return try read(path, in: item)
        case .converter(let call):
            let result = try apply(call.converter, in: item)
            if call.keys.isEmpty { return result }
            return try index(result, by: try keys(call.keys, in: item))
        case .list(let elements):
            var values: [AnyValue] = []
            values.reserveCapacity(elements.count)
            for element in elements { values.append(try value(element, in: item) ?? .empty) }
            return .array(values)
        case .map(let entries):
            var values: [KeyValue] = []
            for entry in entries { values.upsert(entry.key, try value(entry.value, in: item) ?? .empty) }
            return .keyValueList(values)
        case .arithmetic(let operation, let left, let right):
            return try arithmetic(operation, try value(left, in: item), try value(right, in: item))
        case .negation(let operand):
            switch try value(operand, in: item) {
            case .int(let number)?:
                guard number != .min else { throw OTTLRuntimeFailure("negating \(number) overflows") }
                return .int(-number)
            case .double(let number)?:
                return .double(-number)
            case let other:
                throw OTTLRuntimeFailure("cannot negate \(OTTLFormat.typeName(other))")
            }
        }
    }

    /// `and` and `or` stop at the first operand that decides them, so a later failing operand does not matter.
    static func holds<Item: OTTLItemAccess>(_ condition: OTTLBooleanExpression, in item: Item) throws(OTTLRuntimeFailure) -> Bool {
        switch condition {
        case .constant(let flag):
            return flag
        case .comparison(let left, let operation, let right):
            return OTTLComparison.holds(try value(left, in: item), operation, try value(right, in: item))
        case .converter(let call):
            let result = try value(.converter(call), in: item)
            guard case .bool(let flag)? = result else {
                throw OTTLRuntimeFailure("a condition gave \(OTTLFormat.typeName(result)), not a bool")
            }
            return flag
        case .not(let inner):
            return !(try holds(inner, in: item))
        case .and(let operands):
            for operand in operands where !(try holds(operand, in: item)) { return false }
            return true
        case .or(let operands):
            for operand in operands where try holds(operand, in: item) { return true }
            return false
        }
    }

    private static func arithmetic(_ operation: OTTLArithmeticOperator, _ left: AnyValue?, _ right: AnyValue?) throws(OTTLRuntimeFailure) -> AnyValue {
        switch (left, right) {
        case (.int(let a)?, .int(let b)?):
            let (result, overflow): (Int64, Bool)
            switch operation {
            case .add: (result, overflow) = a.addingReportingOverflow(b)
            case .subtract: (result, overflow) = a.subtractingReportingOverflow(b)
            case .multiply: (result, overflow) = a.multipliedReportingOverflow(by: b)
            case .divide:
                guard b != 0 else { throw OTTLRuntimeFailure("division by zero") }
                (result, overflow) = a.dividedReportingOverflow(by: b)
            }
            guard !overflow else { throw OTTLRuntimeFailure("\(a) \(operation.rawValue) \(b) overflows") }
            return .int(result)
        case (.double(let a)?, .double(let b)?):
            switch operation {
            case .add: return .double(a + b)
            case .subtract: return .double(a - b)
            case .multiply: return .double(a * b)
            case .divide: return .double(a / b)
            }
        default:
            // OTTL does arithmetic on two ints or two doubles only; `1 + 2.0` fails there too.
            throw OTTLRuntimeFailure("cannot compute \(OTTLFormat.typeName(left)) \(operation.rawValue) \(OTTLFormat.typeName(right))")
        }
    }

    // MARK: Paths

    static func keys<Item: OTTLItemAccess>(_ expressions: [OTTLExpression], in item: Item) throws(OTTLRuntimeFailure) -> [OTTLKey] {
        var keys: [OTTLKey] = []
        keys.reserveCapacity(expressions.count)
        for expression in expressions {
            switch try value(expression, in: item) {
            case .string(let name)?: keys.append(.string(name))
            case .int(let position)?: keys.append(.index(position))
            case let other: throw OTTLRuntimeFailure("a key must be a string or an int, not \(OTTLFormat.typeName(other))")
            }
        }
        return keys
    }

    static func read<Item: OTTLItemAccess>(_ path: OTTLPath, in item: Item) throws(OTTLRuntimeFailure) -> AnyValue? {
        let root = item.read(path.field)
        if path.keys.isEmpty { return root }
        return try index(root, by: try keys(path.keys, in: item))
    }

    /// pdata's indexing: a missing map key is nil; a list index out of range, or indexing anything
    /// but a map or a list, fails.
    static func index(_ root: AnyValue?, by keys: [OTTLKey]) throws(OTTLRuntimeFailure) -> AnyValue? {
        var current = root
        for key in keys {
            switch (current, key) {
            case (.keyValueList(let entries)?, .string(let name)):
                guard let entry = entries.first(where: { $0.key == name }) else { return nil }
                current = entry.value
            case (.array(let elements)?, .index(let position)):
                guard position >= 0, position < elements.count else {
                    throw OTTLRuntimeFailure("index \(position) is out of range for a list of \(elements.count)")
                }
                current = elements[Int(position)]
            case (.keyValueList?, .index):
                throw OTTLRuntimeFailure("a map is indexed by a string")
            case (.array?, .string):
                throw OTTLRuntimeFailure("a list is indexed by an int")
            default:
                throw OTTLRuntimeFailure("\(OTTLFormat.typeName(current)) cannot be indexed")
            }
        }
        if case .empty? = current { return nil }
        return current
    }

    static func write<Item: OTTLItemAccess>(_ value: AnyValue, to path: OTTLPath, in item: inout Item) throws(OTTLRuntimeFailure) {
        var newValue = value
        if !path.keys.isEmpty {
            let keys = try keys(path.keys, in: item)
            newValue = try setting(value, at: keys[...], in: item.read(path.field))
        }
        guard item.write(path.field, newValue) else {
            throw OTTLRuntimeFailure("\(path.name) cannot hold \(OTTLFormat.typeName(newValue)) \(OTTLFormat.stringLike(newValue))")
        }
    }

    /// pdata's `setIndexableValue`: missing map keys are created, and so are the maps and lists
    /// that a nil or empty value must become for the remaining keys.
    static func setting(_ value: AnyValue, at keys: ArraySlice<OTTLKey>, in container: AnyValue?) throws(OTTLRuntimeFailure) -> AnyValue {
        guard let key = keys.first else { return value }
        let rest = keys.dropFirst()
        switch (container, key) {
        case (.keyValueList(var entries)?, .string(let name)):
            if let position = entries.firstIndex(where: { $0.key == name }) {
                entries[position].value = try setting(value, at: rest, in: entries[position].value)
            } else {
                entries.append(KeyValue(key: name, value: try setting(value, at: rest, in: nil)))
            }
            return .keyValueList(entries)
        case (.array(var elements)?, .index(let position)):
            guard position >= 0, position < elements.count else {
                throw OTTLRuntimeFailure("index \(position) is out of range for a list of \(elements.count)")
            }
            elements[Int(position)] = try setting(value, at: rest, in: elements[Int(position)])
            return .array(elements)
        case (nil, .string(let name)), (.empty?, .string(let name)):
            return .keyValueList([KeyValue(key: name, value: try setting(value, at: rest, in: nil))])
        case (nil, .index(let position)), (.empty?, .index(let position)):
            guard position >= 0, position < maximumListPadding else {
                throw OTTLRuntimeFailure("index \(position) is out of range")
            }
            var elements = Array(repeating: AnyValue.empty, count: Int(position))
            elements.append(try setting(value, at: rest, in: nil))
            return .array(elements)
        case (.keyValueList?, .index):
            throw OTTLRuntimeFailure("a map is indexed by a string")
        case (.array?, .string):
            throw OTTLRuntimeFailure("a list is indexed by an int")
        default:
            throw OTTLRuntimeFailure("\(OTTLFormat.typeName(container)) cannot be indexed")
        }
    }
}
