/// What is wrong with a pipeline resource, and where: the file, line and column, the resource,
/// and the field's path (`spec.output.otlp.endpoint`).
public struct PipelineError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Not YAML, or a document that is not a resource.
        case malformed
        /// A field with a wrong value, missing or unknown.
        case invalid
        /// Two resources of one kind with one name.
        case duplicate
        /// A feature this build does not have (an OTTL function, a compression).
        case unsupported
        /// A secret reference that does not resolve.
        case secretMissing
    }

    public var code: Code
    /// `file:line:column`, or the file alone when the position is unknown.
    public var location: String
    /// `LogPipeline "backend"`, or empty before the kind and name are known.
    public var resource: String
    /// The field, dotted from the document's root; empty for the whole document.
    public var path: String
    public var message: String

    public init(_ code: Code, location: String, resource: String = "", path: String = "", _ message: String) {
        self.code = code
        self.location = location
        self.resource = resource
        self.path = path
        self.message = message
    }

    public var description: String {
        var text = location + ": "
        if !resource.isEmpty { text += resource + ": " }
        if !path.isEmpty { text += path + ": " }
        return text + message
    }
}
