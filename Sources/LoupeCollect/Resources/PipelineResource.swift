import Yams

/// One pipeline resource: its kind, name and spec, as read from YAML.
public struct PipelineResource: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case logPipeline = "LogPipeline"
        case tracePipeline = "TracePipeline"
        case metricPipeline = "MetricPipeline"
    }

    public enum Spec: Sendable, Hashable {
        case logs(LogPipelineSpec)
        case traces(TracePipelineSpec)
        case metrics(MetricPipelineSpec)
    }

    /// Loupe's API group and version; Kyma's resources move over by changing `apiVersion` to it.
    public static let apiVersion = "telemetry.loupe.dev/v1beta1"

    public var name: String
    public var spec: Spec
    /// `file:line:column` of the document.
    public var location: String

    public var kind: Kind {
        switch spec {
        case .logs: .logPipeline
        case .traces: .tracePipeline
        case .metrics: .metricPipeline
        }
    }

    public var output: PipelineOutput {
        switch spec {
        case .logs(let spec): spec.output
        case .traces(let spec): spec.output
        case .metrics(let spec): spec.output
        }
    }

    /// `LogPipeline "backend"`.
    public var displayName: String { "\(kind.rawValue) \"\(name)\"" }

    /// A document of a pipelines file: a pipeline, or the installation's `Telemetry` settings.
    public enum Document: Sendable, Hashable {
        case pipeline(PipelineResource)
        case settings(ModuleSettings)
    }

    /// Every document in a YAML text (separated by `---`; empty ones skipped). `file` names the
    /// text in errors.
    public static func decode(yaml text: String, file: String) throws(PipelineError) -> [Document] {
        var documents: [Node] = []
        do {
            // The sequence ends at a syntax error and keeps it: without this check a broken
            // file would read as fewer (or no) resources.
            var sequence = try compose_all(yaml: text)
            while let document = sequence.next() { documents.append(document) }
            if let error = sequence.error { throw error }
        } catch {
            throw PipelineError(.malformed, location: file, "not YAML: \(error)")
        }
        var resources: [Document] = []
        for document in documents {
            let root = ResourceNode(node: document, path: "", file: file, resource: "")
            if root.isNull { continue }
            resources.append(try decode(root))
        }
        return resources
    }

    static func decode(_ root: ResourceNode) throws(PipelineError) -> Document {
        guard case .mapping = root.node else { throw root.error("a pipeline resource is a mapping with apiVersion, kind, metadata and spec", code: .malformed) }
        let fields = try root.fields(allowed: ["apiVersion", "kind", "metadata", "spec", "status"])
        let versionNode = try fields.required("apiVersion")
        let version = try versionNode.string()
        guard version == apiVersion else {
            throw versionNode.error("\"\(version)\" is not served here; use \(apiVersion) (the field names are those of telemetry.kyma-project.io/v1beta1)")
        }
        let kindNode = try fields.required("kind")
        let kindText = try kindNode.string()
        let kind = Kind(rawValue: kindText)
        guard kind != nil || kindText == ModuleSettings.kind else {
            throw kindNode.error("\"\(kindText)\" is not a pipeline kind; use LogPipeline, TracePipeline, MetricPipeline (or Telemetry for the installation's settings)")
        }
        let metadata = try fields.required("metadata").fields(allowed: ["name", "labels", "annotations", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp"])
        let nameNode = try metadata.required("name")
        let name = try nameNode.string()
        guard DNSName.isSubdomain(name) else {
            throw nameNode.error("\"\(name)\" is not a resource name (lowercase a-z, 0-9, - and ., at most 253 characters)")
        }
        guard let kind else {
            let specNode = try fields.required("spec")
            let spec = ResourceNode(node: specNode.node, path: specNode.path, file: specNode.file, resource: "\(ModuleSettings.kind) \"\(name)\"")
            return .settings(try ModuleSettings.read(spec, location: root.location))
        }
        let display = "\(kind.rawValue) \"\(name)\""
        let specNode = try fields.required("spec")
        let spec = ResourceNode(node: specNode.node, path: specNode.path, file: specNode.file, resource: display)
        let location = root.location
        let resource: PipelineResource
        switch kind {
        case .logPipeline: resource = PipelineResource(name: name, spec: .logs(try LogPipelineSpec.read(spec)), location: location)
        case .tracePipeline: resource = PipelineResource(name: name, spec: .traces(try TracePipelineSpec.read(spec)), location: location)
        case .metricPipeline: resource = PipelineResource(name: name, spec: .metrics(try MetricPipelineSpec.read(spec)), location: location)
        }
        // OTTL is checked now, so a pipeline with a statement this build cannot run never starts.
        _ = try resource.compiledRules()
        return .pipeline(resource)
    }

    /// The transform and filter rules compiled for the pipeline's signal.
    public func compiledRules() throws(PipelineError) -> CompiledRules {
        switch spec {
        case .logs(let spec): try CompiledRules(transform: spec.transform, filter: spec.filter, context: .log, resource: displayName)
        case .traces(let spec): try CompiledRules(transform: spec.transform, filter: spec.filter, context: .span, resource: displayName)
        case .metrics(let spec): try CompiledRules(transform: spec.transform, filter: spec.filter, context: .datapoint, resource: displayName)
        }
    }
}
