/// A setting given inline (`value`) or by reference to a Kubernetes secret (`valueFrom.secretKeyRef`).
public enum ValueSource: Sendable, Hashable {
    case value(String)
    case secret(SecretKeyReference)

    static func read(_ node: ResourceNode) throws(PipelineError) -> ValueSource {
        try read(try node.fields(allowed: ["value", "valueFrom"]), of: node)
    }

    /// From a mapping that holds `value` or `valueFrom` among other fields (a header).
    static func read(_ fields: ResourceNode.Fields, of node: ResourceNode) throws(PipelineError) -> ValueSource {
        switch (fields["value"], fields["valueFrom"]) {
        case (let value?, nil): return .value(try value.string())
        case (nil, let from?):
            let reference = try from.fields(allowed: ["secretKeyRef"]).required("secretKeyRef")
            let parts = try reference.fields(allowed: ["name", "namespace", "key"])
            let name = try parts.required("name").string()
            let namespace = try parts.required("namespace").string()
            let key = try parts.required("key").string()
            for (field, text) in [("name", name), ("namespace", namespace), ("key", key)] where text.isEmpty {
                throw try parts.required(field).error("must not be empty")
            }
            return .secret(SecretKeyReference(name: name, namespace: namespace, key: key))
        case (nil, nil): throw node.error("needs one of value or valueFrom")
        case (_?, _?): throw node.error("value and valueFrom exclude each other; give one")
        }
    }
}

/// A key of a Kubernetes secret.
public struct SecretKeyReference: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var namespace: String
    public var key: String

    public init(name: String, namespace: String, key: String) {
        self.name = name
        self.namespace = namespace
        self.key = key
    }

    public var description: String { "secret \(namespace)/\(name) key \(key)" }
}
