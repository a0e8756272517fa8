import LoupeModel

/// What the list endpoints show of a tenant's spans: tag names and values per scope, and per
/// service its operations (span name and kind) and the remote services it called. Each set is
/// capped, so an ID-like tag stops collecting instead of growing without bound.
struct TraceCatalog: Sendable, Equatable {
    var tagValues: [TraceSpanStore.TagScope: [String: Set<String>]] = [:]
    /// service.name -> operations, for Zipkin's and Jaeger's lists.
    var operations: [String: Set<TraceSpanStore.Operation>] = [:]
    /// service.name -> `peer.service` values.
    var remoteServices: [String: Set<String>] = [:]

    static let maximumValues = TraceSpanStore.maximumValuesPerTag

    /// Adds what one batch shows. Span tag values come from the spans whose attributes the digest
    /// sampled; resource tag values from every resource.
    mutating func add(_ batch: TraceBatchDigest) {
        for resource in batch.resources {
            for attribute in resource.attributes {
                guard let text = attribute.value.scalarText else { continue }
                insert(text, into: &tagValues[.resource, default: [:]][attribute.key, default: []])
            }
        }
        for attributes in batch.sampledAttributes {
            for attribute in attributes {
                guard let text = attribute.value.scalarText else { continue }
                insert(text, into: &tagValues[.span, default: [:]][attribute.key, default: []])
            }
        }
        // Distinct (resource, name, kind) first: a batch repeats its operations many times over.
        struct OperationKey: Hashable {
            var resource: Int32
            var name: Int32
            var kind: Int32
        }
        var seen: Set<OperationKey> = []
        var previous: OperationKey?
        // By pointer: iterating by value copies (retains) each digest's strings.
        batch.spans.withUnsafeBufferPointer { spans in
            for span in spans.indices {
                let key = OperationKey(resource: spans[span].resource, name: spans[span].name, kind: spans[span].kind.rawValue)
                if key != previous, seen.insert(key).inserted {
                    let operation = TraceSpanStore.Operation(name: batch.names[Int(key.name)], kind: spans[span].kind)
                    insert(operation, into: &operations[batch.serviceNames[Int(key.resource)], default: []])
                }
                previous = key
                if let peer = spans[span].peer.peerService {
                    insert(peer, into: &remoteServices[batch.serviceNames[Int(key.resource)], default: []])
                }
            }
        }
    }

    mutating func merge(_ other: TraceCatalog) {
        for (scope, names) in other.tagValues {
            for (name, values) in names {
                for value in values { insert(value, into: &tagValues[scope, default: [:]][name, default: []]) }
            }
        }
        for (service, known) in other.operations {
            for operation in known { insert(operation, into: &operations[service, default: []]) }
        }
        for (service, known) in other.remoteServices {
            for peer in known { insert(peer, into: &remoteServices[service, default: []]) }
        }
    }

    /// Merges `other` into `self` and into `wider` (the tenant's catalog, which holds everything
    /// `self` does): what `self` already holds is not looked up in `wider` again, and a batch
    /// mostly repeats what its head has seen.
    mutating func merge(_ other: TraceCatalog, alsoInto wider: inout TraceCatalog) {
        for (scope, names) in other.tagValues {
            for (name, values) in names {
                for value in values where insert(value, into: &tagValues[scope, default: [:]][name, default: []]) {
                    wider.insert(value, into: &wider.tagValues[scope, default: [:]][name, default: []])
                }
            }
        }
        for (service, known) in other.operations {
            for operation in known where insert(operation, into: &operations[service, default: []]) {
                wider.insert(operation, into: &wider.operations[service, default: []])
            }
        }
        for (service, known) in other.remoteServices {
            for peer in known where insert(peer, into: &remoteServices[service, default: []]) {
                wider.insert(peer, into: &wider.remoteServices[service, default: []])
            }
        }
    }

    /// Whether `element` was new to `set` (and there was room for it).
    @discardableResult
    private func insert<Element: Hashable>(_ element: Element, into set: inout Set<Element>) -> Bool {
        set.count < Self.maximumValues && set.insert(element).inserted
    }

    // MARK: Block index form

    func write(into sink: inout ByteSink) {
        sink.uvarint(tagValues.count)
        for (scope, names) in tagValues.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            sink.string(scope.rawValue)
            sink.uvarint(names.count)
            for (name, values) in names.sorted(by: { $0.key < $1.key }) {
                sink.string(name)
                sink.uvarint(values.count)
                for value in values.sorted() { sink.string(value) }
            }
        }
        sink.uvarint(operations.count)
        for (service, known) in operations.sorted(by: { $0.key < $1.key }) {
            sink.string(service)
            sink.uvarint(known.count)
            for operation in known.sorted(by: { ($0.name, $0.kind.rawValue) < ($1.name, $1.kind.rawValue) }) {
                sink.string(operation.name)
                sink.varint(Int64(operation.kind.rawValue))
            }
        }
        sink.uvarint(remoteServices.count)
        for (service, known) in remoteServices.sorted(by: { $0.key < $1.key }) {
            sink.string(service)
            sink.uvarint(known.count)
            for peer in known.sorted() { sink.string(peer) }
        }
    }

    init() {}

    init(reading source: inout ByteSource) throws(StorageError) {
        let limit = source.end - source.offset
        for _ in 0..<(try source.uvarintInt(limit: limit)) {
            let scopeName = try source.string()
            guard let scope = TraceSpanStore.TagScope(rawValue: scopeName) else {
                throw StorageError(.corrupt, "tag scope \"\(scopeName)\" is unknown")
            }
            for _ in 0..<(try source.uvarintInt(limit: limit)) {
                let name = try source.string()
                var values: Set<String> = []
                for _ in 0..<(try source.uvarintInt(limit: limit)) { values.insert(try source.string()) }
                tagValues[scope, default: [:]][name] = values
            }
        }
        for _ in 0..<(try source.uvarintInt(limit: limit)) {
            let service = try source.string()
            var known: Set<TraceSpanStore.Operation> = []
            for _ in 0..<(try source.uvarintInt(limit: limit)) {
                let name = try source.string()
                known.insert(TraceSpanStore.Operation(name: name, kind: SpanKind(rawValue: Int32(truncatingIfNeeded: try source.varint()))))
            }
            operations[service] = known
        }
        for _ in 0..<(try source.uvarintInt(limit: limit)) {
            let service = try source.string()
            var known: Set<String> = []
            for _ in 0..<(try source.uvarintInt(limit: limit)) { known.insert(try source.string()) }
            remoteServices[service] = known
        }
    }
}
