import LoupeModel

/// A value during evaluation: a single value, or the several values of an array attribute (or of the
/// events and links of a span), which comparisons treat element by element as Tempo does.
enum TraceQLValue: Equatable {
    case single(TraceQLStatic)
    case list([TraceQLStatic])

    static let missing = TraceQLValue.single(.nilValue)

    var isMissing: Bool { self == .missing }
}

/// What evaluation needs to know about a trace beyond each span: the tree and the trace-level intrinsics.
struct TraceQLTraceContext {
    let inputs: [TraceQLSpanInput]
    /// Tempo's nested-set numbering: left and right bounds from a depth-first walk from the roots, and the
    /// parent's left bound (-1 for roots). Spans not connected to a root keep 0, and 0 never relates.
    let nestedSetLeft: [Int64]
    let nestedSetRight: [Int64]
    let nestedSetParent: [Int64]
    let childCount: [Int64]
    let rootName: String?
    let rootServiceName: String?
    let traceDuration: Int64

    init(_ inputs: [TraceQLSpanInput]) {
        self.inputs = inputs
        let count = inputs.count
        var indexByID: [SpanID: Int] = [:]
        for (index, input) in inputs.enumerated() where indexByID[input.span.spanID] == nil {
            indexByID[input.span.spanID] = index
        }
        var children = [[Int]](repeating: [], count: count)
        var roots: [Int] = []
        for (index, input) in inputs.enumerated() {
            if input.span.parentSpanID.isEmpty {
                roots.append(index)
            } else if let parent = indexByID[input.span.parentSpanID], parent != index {
                children[parent].append(index)
            }
        }
        var left = [Int64](repeating: 0, count: count)
        var right = [Int64](repeating: 0, count: count)
        var parentBound = [Int64](repeating: 0, count: count)
        var visited = [Bool](repeating: false, count: count)
        var bound: Int64 = 1
        for root in roots {
            // Iterative depth-first walk: a trace may be deep, recursion could exhaust the stack.
            var stack: [(node: Int, nextChild: Int)] = [(root, 0)]
            visited[root] = true
            left[root] = bound
            parentBound[root] = -1
            bound += 1
            while let top = stack.last {
                if top.nextChild < children[top.node].count {
                    stack[stack.count - 1].nextChild += 1
                    let child = children[top.node][top.nextChild]
                    if visited[child] { continue }  // a cycle in bad data
                    visited[child] = true
                    left[child] = bound
                    parentBound[child] = left[top.node]
                    bound += 1
                    stack.append((child, 0))
                } else {
                    right[top.node] = bound
                    bound += 1
                    stack.removeLast()
                }
            }
        }
        nestedSetLeft = left
        nestedSetRight = right
        nestedSetParent = parentBound
        childCount = children.map { Int64($0.count) }

        let root = roots.first.map { inputs[$0] }
        rootName = root?.span.name
        rootServiceName = root.flatMap { root -> String? in
            if case .string(let name) = root.resource.attributes[attribute: "service.name"] { return name }
            return nil
        }
        if let start = inputs.map(\.span.startTimeUnixNano).min(), let end = inputs.map(\.span.endTimeUnixNano).max(),
            end > start
        {
            traceDuration = Int64(clamping: end - start)
        } else {
            traceDuration = 0
        }
    }

    // MARK: Attribute values

    func value(of attribute: TraceQLAttribute, span index: Int) -> TraceQLValue {
        let input = inputs[index]
        let span = input.span
        if let intrinsic = attribute.intrinsic {
            switch intrinsic {
            case .duration: return .single(.duration(Int64(clamping: span.durationNanos)))
            case .name: return .single(.string(span.name))
            case .status: return .single(.status(span.status.code))
            case .statusMessage: return .single(.string(span.status.message))
            case .kind: return .single(.kind(span.kind))
            case .childCount: return .single(.int(childCount[index]))
            case .rootName: return rootName.map { .single(.string($0)) } ?? .missing
            case .rootServiceName: return rootServiceName.map { .single(.string($0)) } ?? .missing
            case .traceDuration: return .single(.duration(traceDuration))
            case .nestedSetLeft: return .single(.int(nestedSetLeft[index]))
            case .nestedSetRight: return .single(.int(nestedSetRight[index]))
            case .nestedSetParent: return .single(.int(nestedSetParent[index]))
            case .eventName: return Self.several(span.events.map { .string($0.name) })
            case .eventTimeSinceStart:
                return Self.several(span.events.map {
                    .duration(Int64(clamping: $0.timeUnixNano) &- Int64(clamping: span.startTimeUnixNano))
                })
            case .linkTraceID: return Self.several(span.links.map { .string(Self.trimmedHex($0.traceID.hex)) })
            case .linkSpanID: return Self.several(span.links.map { .string($0.spanID.hex) })
            case .instrumentationName: return .single(.string(input.scope.name))
            case .instrumentationVersion: return .single(.string(input.scope.version))
            case .parent: return .missing
            // Tempo keeps trace IDs as hex without leading zeros, and compares them that way.
            case .traceID: return .single(.string(Self.trimmedHex(span.traceID.hex)))
            case .spanID: return .single(.string(span.spanID.hex))
            case .parentID: return span.parentSpanID.isEmpty ? .missing : .single(.string(span.parentSpanID.hex))
            }
        }
        if attribute.parent { return .missing }
        switch attribute.scope {
        case .span: return Self.lookup(attribute.name, in: span.attributes)
        case .resource: return Self.lookup(attribute.name, in: input.resource.attributes)
        case .instrumentation: return Self.lookup(attribute.name, in: input.scope.attributes)
        case .event: return Self.combined(span.events.map { Self.lookup(attribute.name, in: $0.attributes) })
        case .link: return Self.combined(span.links.map { Self.lookup(attribute.name, in: $0.attributes) })
        case .none:
            // Unscoped: the span first, then its resource, events, links and scope, as Tempo looks them up.
            for candidate in [
                Self.lookup(attribute.name, in: span.attributes), Self.lookup(attribute.name, in: input.resource.attributes),
                Self.combined(span.events.map { Self.lookup(attribute.name, in: $0.attributes) }),
                Self.combined(span.links.map { Self.lookup(attribute.name, in: $0.attributes) }),
                Self.lookup(attribute.name, in: input.scope.attributes),
            ] where !candidate.isMissing {
                return candidate
            }
            return .missing
        }
    }

    static func trimmedHex(_ hex: String) -> String {
        let trimmed = hex.drop(while: { $0 == "0" })
        return String(trimmed)
    }

    private static func several(_ values: [TraceQLStatic]) -> TraceQLValue {
        switch values.count {
        case 0: .missing
        case 1: .single(values[0])
        default: .list(values)
        }
    }

    /// The values of one attribute over several events or links, as one value or a list.
    private static func combined(_ values: [TraceQLValue]) -> TraceQLValue {
        var all: [TraceQLStatic] = []
        for value in values {
            switch value {
            case .single(.nilValue): continue
            case .single(let one): all.append(one)
            case .list(let many): all += many
            }
        }
        return several(all)
    }

    static func lookup(_ key: String, in attributes: [KeyValue]) -> TraceQLValue {
        guard let value = attributes[attribute: key] else { return .missing }
        return convert(value)
    }

    static func convert(_ value: AnyValue) -> TraceQLValue {
        switch value {
        case .string(let string): return .single(.string(string))
        case .bool(let bool): return .single(.bool(bool))
        case .int(let int): return .single(.int(int))
        case .double(let double): return .single(.float(double))
        case .array(let elements):
            // Arrays of scalars compare element by element; nested arrays and maps are not queryable.
            return .list(elements.compactMap { element -> TraceQLStatic? in
                if case .single(let value) = convert(element), value != .nilValue { return value }
                return nil
            })
        case .empty, .bytes, .keyValueList:
            return .missing
        }
    }
}
