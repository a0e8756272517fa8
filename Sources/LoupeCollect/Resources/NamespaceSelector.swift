/// Which namespaces an input takes: all, only some, or all but some.
public enum NamespaceSelector: Sendable, Hashable {
    case all
    case include([String])
    case exclude([String])

    /// The namespaces of the cluster's own machinery, left out by pull inputs unless named.
    public static let systemNamespaces = ["kube-system", "istio-system", "loupe-system"]

    /// What a pull input (container logs, scraping, runtime metrics) takes when not told.
    public static let pullDefault = NamespaceSelector.exclude(systemNamespaces)

    public func admits(_ namespace: String) -> Bool {
        switch self {
        case .all: true
        case .include(let names): names.contains(namespace)
        case .exclude(let names): !names.contains(namespace)
        }
    }

    /// `{}` is every namespace; a missing selector is `missing` (the input's default).
    static func read(_ node: ResourceNode?, missing: NamespaceSelector) throws(PipelineError) -> NamespaceSelector {
        guard let node else { return missing }
        let fields = try node.fields(allowed: ["include", "exclude"])
        switch (fields["include"], fields["exclude"]) {
        case (nil, nil): return .all
        case (_?, _?): throw node.error("include and exclude exclude each other; give one")
        case (let include?, nil): return .include(try Self.names(include))
        case (nil, let exclude?): return .exclude(try Self.names(exclude))
        }
    }

    private static func names(_ node: ResourceNode) throws(PipelineError) -> [String] {
        let elements = try node.sequence()
        var names: [String] = []
        for element in elements {
            let name = try element.string()
            guard DNSName.isLabel(name) else {
                throw element.error("\"\(name)\" is not a namespace name (a DNS label: at most 63 of a-z, 0-9 and -, starting and ending alphanumeric)")
            }
            names.append(name)
        }
        return names
    }
}

/// Include or exclude lists of container names.
public enum ContainerSelector: Sendable, Hashable {
    case all
    case include([String])
    case exclude([String])

    public func admits(_ container: String) -> Bool {
        switch self {
        case .all: true
        case .include(let names): names.contains(container)
        case .exclude(let names): !names.contains(container)
        }
    }

    static func read(_ node: ResourceNode?) throws(PipelineError) -> ContainerSelector {
        guard let node else { return .all }
        let fields = try node.fields(allowed: ["include", "exclude"])
        switch (fields["include"], fields["exclude"]) {
        case (nil, nil): return .all
        case (_?, _?): throw node.error("include and exclude exclude each other; give one")
        case (let include?, nil): return .include(try include.strings())
        case (nil, let exclude?): return .exclude(try exclude.strings())
        }
    }
}

enum DNSName {
    /// An RFC 1123 label: at most 63 characters of a-z, 0-9 and '-', alphanumeric at both ends.
    static func isLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count) else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        return alphanumeric(bytes.first!) && alphanumeric(bytes.last!) && bytes.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// An RFC 1123 subdomain (a resource name): dot-separated labels, at most 253 characters.
    static func isSubdomain(_ text: String) -> Bool {
        text.utf8.count <= 253 && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isLabel(String($0)) }
    }
}
