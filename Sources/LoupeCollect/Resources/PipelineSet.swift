/// All pipelines one process runs, loaded from YAML files and directories: names unique per kind.
public struct PipelineSet: Sendable, Hashable {
    public var resources: [PipelineResource]
    /// The installation's `Telemetry` settings, if a file gives them (one at most).
    public var settings: ModuleSettings?

    public init(resources: [PipelineResource] = []) { self.resources = resources }

    public var logPipelines: [(name: String, spec: LogPipelineSpec)] {
        resources.compactMap { if case .logs(let spec) = $0.spec { ($0.name, spec) } else { nil } }
    }

    public var tracePipelines: [(name: String, spec: TracePipelineSpec)] {
        resources.compactMap { if case .traces(let spec) = $0.spec { ($0.name, spec) } else { nil } }
    }

    public var metricPipelines: [(name: String, spec: MetricPipelineSpec)] {
        resources.compactMap { if case .metrics(let spec) = $0.spec { ($0.name, spec) } else { nil } }
    }

    /// Resources of several texts (file name, contents), in order; a kind and name given twice is refused.
    public static func decode(files: [(name: String, text: String)]) throws(PipelineError) -> PipelineSet {
        var set = PipelineSet()
        var seen: [String: String] = [:]
        for (name, text) in files {
            for document in try PipelineResource.decode(yaml: text, file: name) {
                let resource: PipelineResource
                switch document {
                case .pipeline(let pipeline): resource = pipeline
                case .settings(let settings):
                    if let first = set.settings {
                        throw PipelineError(.duplicate, location: settings.location, resource: ModuleSettings.kind, "one Telemetry resource per installation (the first is at \(first.location))")
                    }
                    set.settings = settings
                    continue
                }
                if let first = seen[resource.displayName] {
                    throw PipelineError(.duplicate, location: resource.location, resource: resource.displayName, "defined again (first at \(first))")
                }
                seen[resource.displayName] = resource.location
                set.resources.append(resource)
            }
        }
        return set
    }
}
