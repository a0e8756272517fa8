extension TraceQLQuery {
    /// Whether evaluating the query looks at span-level fields only (IDs, parents, names, kinds,
    /// statuses, times, resource and scope attributes), never at span, event or link attributes
    /// or event and link intrinsics: a store may then hand it spans without those.
    public var readsOnlySpanLevelFields: Bool {
        var spanLevel = true
        Self.forEachAttribute(in: self) { attribute in
            if let intrinsic = attribute.intrinsic {
                switch intrinsic {
                case .eventName, .eventTimeSinceStart, .linkSpanID, .linkTraceID: spanLevel = false
                default: break
                }
            } else {
                switch attribute.scope {
                case .resource, .instrumentation: break
                case .none, .span, .event, .link: spanLevel = false
                }
            }
        }
        return spanLevel
    }

    /// Every attribute reference anywhere in the syntax tree (found by reflection, so new node
    /// kinds are covered without a change here).
    private static func forEachAttribute(in node: Any, _ body: (TraceQLAttribute) -> Void) {
        if let attribute = node as? TraceQLAttribute {
            body(attribute)
            return
        }
        if node is String { return }
        for child in Mirror(reflecting: node).children { forEachAttribute(in: child.value, body) }
    }
}
