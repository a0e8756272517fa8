/// An OTTL text as written in a resource, with where it was written (errors in it point there).
public struct OTTLText: Sendable, Hashable {
    public var text: String
    /// `file:line:column` of the string.
    public var location: String
    /// The field path (`transform[0].statements[1]`).
    public var path: String
}

/// `transform: [{conditions, statements}]`: the statements run on an item when any condition
/// holds, or always when there are none.
public struct TransformRule: Sendable, Hashable {
    public var conditions: [OTTLText]
    public var statements: [OTTLText]
}

/// `filter: [{conditions}]`: an item for which any condition holds is dropped.
public struct FilterRule: Sendable, Hashable {
    public var conditions: [OTTLText]
}

extension TransformRule {
    static func readList(_ node: ResourceNode?) throws(PipelineError) -> [TransformRule] {
        guard let node else { return [] }
        var rules: [TransformRule] = []
        for element in try node.sequence() {
            let fields = try element.fields(allowed: ["conditions", "statements"])
            let statements = try OTTLText.readList(try fields.required("statements"))
            guard !statements.isEmpty else { throw try fields.required("statements").error("needs at least one statement") }
            rules.append(TransformRule(conditions: try OTTLText.readList(fields["conditions"]), statements: statements))
        }
        return rules
    }
}

extension FilterRule {
    static func readList(_ node: ResourceNode?) throws(PipelineError) -> [FilterRule] {
        guard let node else { return [] }
        var rules: [FilterRule] = []
        for element in try node.sequence() {
            let fields = try element.fields(allowed: ["conditions"])
            let conditions = try OTTLText.readList(try fields.required("conditions"))
            guard !conditions.isEmpty else { throw try fields.required("conditions").error("needs at least one condition") }
            rules.append(FilterRule(conditions: conditions))
        }
        return rules
    }
}

extension OTTLText {
    static func readList(_ node: ResourceNode?) throws(PipelineError) -> [OTTLText] {
        guard let node else { return [] }
        var texts: [OTTLText] = []
        for element in try node.sequence() {
            texts.append(OTTLText(text: try element.string(), location: element.location, path: element.path))
        }
        return texts
    }
}
