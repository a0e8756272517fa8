/// The entity that produced telemetry: a service, a pod, a host.
public struct Resource: Sendable, Hashable {
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32
    public var entityRefs: [EntityRef]

    public init(attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0, entityRefs: [EntityRef] = []) {
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
        self.entityRefs = entityRefs
    }
}

/// A reference from a resource to an entity it describes (OTLP 1.11 `EntityRef`).
public struct EntityRef: Sendable, Hashable {
    public var schemaURL: String
    public var type: String
    public var idKeys: [String]
    public var descriptionKeys: [String]

    public init(schemaURL: String = "", type: String = "", idKeys: [String] = [], descriptionKeys: [String] = []) {
        self.schemaURL = schemaURL
        self.type = type
        self.idKeys = idKeys
        self.descriptionKeys = descriptionKeys
    }
}

/// The library or component that emitted telemetry.
public struct InstrumentationScope: Sendable, Hashable {
    public var name: String
    public var version: String
    public var attributes: [KeyValue]
    public var droppedAttributesCount: UInt32

    public init(name: String = "", version: String = "", attributes: [KeyValue] = [], droppedAttributesCount: UInt32 = 0) {
        self.name = name
        self.version = version
        self.attributes = attributes
        self.droppedAttributesCount = droppedAttributesCount
    }
}

extension Resource {
    /// The `service.name` attribute, when it is a string.
    public var serviceName: String? {
        if case .string(let name) = attributes[attribute: "service.name"] { return name }
        return nil
    }
}
