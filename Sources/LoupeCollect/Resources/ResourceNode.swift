import Yams

/// A YAML node of a resource with its dotted path: typed accessors that fail with a
/// `PipelineError` naming the field, its position and what was expected.
struct ResourceNode {
    let node: Node
    let path: String
    let file: String
    let resource: String

    var location: String {
        guard let mark = node.mark else { return file }
        return "\(file):\(mark.line):\(mark.column)"
    }

    func error(_ message: String, code: PipelineError.Code = .invalid) -> PipelineError {
        PipelineError(code, location: location, resource: resource, path: path, message)
    }

    func child(_ node: Node, _ name: String) -> ResourceNode {
        ResourceNode(node: node, path: path.isEmpty ? name : path + "." + name, file: file, resource: resource)
    }

    func element(_ node: Node, _ index: Int) -> ResourceNode {
        ResourceNode(node: node, path: "\(path)[\(index)]", file: file, resource: resource)
    }

    var isNull: Bool {
        if case .scalar(let scalar) = node, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return true }
        return false
    }

    /// The fields of a mapping (`null` reads as an empty one). Keys outside `allowed` are refused,
    /// naming the allowed ones, so a misspelt field is never silently ignored.
    func fields(allowed: [String]) throws(PipelineError) -> Fields {
        if isNull { return Fields(parent: self, values: [:]) }
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, got \(kindName)") }
        var values: [String: ResourceNode] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("a key must be a string") }
            let name = scalar.string
            let field = child(value, name)
            guard allowed.contains(name) else {
                throw ResourceNode(node: key, path: field.path, file: file, resource: resource)
                    .error("unknown field; allowed here: \(allowed.joined(separator: ", "))")
            }
            guard values[name] == nil else {
                throw ResourceNode(node: key, path: field.path, file: file, resource: resource).error("given twice")
            }
            values[name] = field
        }
        return Fields(parent: self, values: values)
    }

    func string() throws(PipelineError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw error("expected a string, got \(kindName)") }
        return scalar.string
    }

    func bool() throws(PipelineError) -> Bool {
        guard case .scalar(let scalar) = node, let value = Bool(scalar.string.lowercased()), scalar.style == .plain else {
            throw error("expected true or false, got \(kindName == "a scalar" ? "\"\(node.string ?? "")\"" : kindName)")
        }
        return value
    }

    func sequence() throws(PipelineError) -> [ResourceNode] {
        if isNull { return [] }
        guard case .sequence(let sequence) = node else { throw error("expected a list, got \(kindName)") }
        return sequence.enumerated().map { element($0.element, $0.offset) }
    }

    func strings() throws(PipelineError) -> [String] {
        var result: [String] = []
        for element in try sequence() { result.append(try element.string()) }
        return result
    }

    /// A mapping of strings to strings (`params`).
    func stringMap() throws(PipelineError) -> [String: String] {
        if isNull { return [:] }
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, got \(kindName)") }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("a key must be a string") }
            result[scalar.string] = try child(value, scalar.string).string()
        }
        return result
    }

    /// A mapping of strings to a string or a list of them (URL parameters).
    func stringLists() throws(PipelineError) -> [String: [String]] {
        if isNull { return [:] }
        guard case .mapping(let mapping) = node else { throw error("expected a mapping, got \(kindName)") }
        var result: [String: [String]] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw error("a key must be a string") }
            let field = child(value, scalar.string)
            if case .sequence = value { result[scalar.string] = try field.strings() } else { result[scalar.string] = [try field.string()] }
        }
        return result
    }

    var kindName: String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar: isNull ? "null" : "a scalar"
        case .alias: "an alias"
        }
    }

    /// A mapping's fields, read by name.
    struct Fields {
        let parent: ResourceNode
        let values: [String: ResourceNode]

        subscript(_ name: String) -> ResourceNode? {
            guard let value = values[name], !value.isNull else { return nil }
            return value
        }

        func required(_ name: String) throws(PipelineError) -> ResourceNode {
            guard let value = self[name] else {
                throw PipelineError(
                    .invalid, location: parent.location, resource: parent.resource,
                    path: parent.path.isEmpty ? name : parent.path + "." + name, "required")
            }
            return value
        }

        func bool(_ name: String, default value: Bool) throws(PipelineError) -> Bool {
            try self[name]?.bool() ?? value
        }

        func string(_ name: String) throws(PipelineError) -> String? {
            try self[name]?.string()
        }
    }
}
