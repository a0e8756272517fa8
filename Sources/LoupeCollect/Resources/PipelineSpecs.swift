import LoupeScrape

/// Where a pipeline's data goes: an OTLP backend, or Loupe's own storage (only where the pipeline
/// engine runs inside `loupe up`).
public enum PipelineOutput: Sendable, Hashable {
    case otlp(OTLPOutput)
    case loupe

    static func read(_ node: ResourceNode, allowsTemporality: Bool) throws(PipelineError) -> PipelineOutput {
        let fields = try node.fields(allowed: ["otlp", "loupe"])
        switch (fields.values["otlp"], fields.values["loupe"]) {
        case (let otlp?, nil): return .otlp(try OTLPOutput.read(otlp, allowsTemporality: allowsTemporality))
        case (nil, let loupe?):
            _ = try loupe.fields(allowed: [])
            return .loupe
        case (nil, nil): throw node.error("needs one of otlp or loupe")
        case (_?, _?): throw node.error("otlp and loupe exclude each other; one output per pipeline")
        }
    }
}

/// Pushed OTLP: what a pipeline takes from applications (and other agents).
public struct OTLPInput: Sendable, Hashable {
    public var enabled = true
    /// Not filtered unless told (pushed data has no namespace but the one its resource names).
    public var namespaces = NamespaceSelector.all

    public init(enabled: Bool = true, namespaces: NamespaceSelector = .all) {
        self.enabled = enabled
        self.namespaces = namespaces
    }

    static func read(_ node: ResourceNode?) throws(PipelineError) -> OTLPInput {
        guard let node else { return OTLPInput() }
        let fields = try node.fields(allowed: ["enabled", "namespaces"])
        return OTLPInput(enabled: try fields.bool("enabled", default: true), namespaces: try NamespaceSelector.read(fields["namespaces"], missing: .all))
    }
}

public struct LogPipelineSpec: Sendable, Hashable {
    /// Container logs tailed on the node.
    public struct RuntimeInput: Sendable, Hashable {
        public var enabled = true
        public var namespaces = NamespaceSelector.pullDefault
        public var containers = ContainerSelector.all
        /// Keeps a JSON line's text as `log.original` after parsing it into attributes.
        public var keepOriginalBody = true
    }

    public var runtime = RuntimeInput()
    public var otlp = OTLPInput()
    public var output: PipelineOutput
    public var transform: [TransformRule] = []
    public var filter: [FilterRule] = []

    static func read(_ spec: ResourceNode) throws(PipelineError) -> LogPipelineSpec {
        let fields = try spec.fields(allowed: ["input", "output", "transform", "filter"])
        var result = LogPipelineSpec(output: try PipelineOutput.read(try fields.required("output"), allowsTemporality: false))
        if let input = fields["input"] {
            let inputs = try input.fields(allowed: ["runtime", "otlp"])
            if let runtime = inputs["runtime"] {
                let parts = try runtime.fields(allowed: ["enabled", "namespaces", "containers", "keepOriginalBody"])
                result.runtime = RuntimeInput(
                    enabled: try parts.bool("enabled", default: true),
                    namespaces: try NamespaceSelector.read(parts["namespaces"], missing: .pullDefault),
                    containers: try ContainerSelector.read(parts["containers"]),
                    keepOriginalBody: try parts.bool("keepOriginalBody", default: true))
            }
            result.otlp = try OTLPInput.read(inputs["otlp"])
        }
        result.transform = try TransformRule.readList(fields["transform"])
        result.filter = try FilterRule.readList(fields["filter"])
        return result
    }
}

public struct TracePipelineSpec: Sendable, Hashable {
    public var output: PipelineOutput
    public var transform: [TransformRule] = []
    public var filter: [FilterRule] = []

    static func read(_ spec: ResourceNode) throws(PipelineError) -> TracePipelineSpec {
        let fields = try spec.fields(allowed: ["output", "transform", "filter"])
        var result = TracePipelineSpec(output: try PipelineOutput.read(try fields.required("output"), allowsTemporality: false))
        result.transform = try TransformRule.readList(fields["transform"])
        result.filter = try FilterRule.readList(fields["filter"])
        return result
    }
}

public struct MetricPipelineSpec: Sendable, Hashable {
    /// Scraping of pods annotated `prometheus.io/scrape: "true"` (when the agent knows its pods from
    /// the Kubernetes API) and of static targets.
    public struct PrometheusInput: Sendable, Hashable {
        public var enabled = false
        public var namespaces = NamespaceSelector.pullDefault
        /// `up` and the `scrape_*` series of every target.
        public var diagnosticMetrics = false
        /// Milliseconds between scrapes; nil: `metric.collectionInterval`.
        public var interval: Int64?
        /// Loupe's addition: endpoints to scrape wherever the agent runs, Kubernetes or not.
        public var staticTargets: [StaticTarget] = []
    }

    /// `input.prometheus.staticTargets[]`: addresses scraped alike, as in a Prometheus
    /// `static_configs` entry, with the annotations' `path`, `scheme` and `params`.
    public struct StaticTarget: Sendable, Hashable {
        /// `host:port` each.
        public var targets: [String]
        /// The `job` label; nil: the pipeline's name.
        public var job: String?
        public var labels: [String: String] = [:]
        public var path = "/metrics"
        public var scheme = "http"
        public var params: [String: [String]] = [:]

        public init(targets: [String], job: String? = nil) {
            self.targets = targets
            self.job = job
        }

        static func read(_ node: ResourceNode) throws(PipelineError) -> StaticTarget {
            let fields = try node.fields(allowed: ["targets", "job", "labels", "path", "scheme", "params"])
            let targetsNode = try fields.required("targets")
            var result = StaticTarget(targets: [], job: try fields.string("job"))
            for element in try targetsNode.sequence() {
                let target = try element.string()
                guard Self.isAddress(target) else {
                    throw element.error("\"\(target)\" is not host:port (no scheme, no path: those are scheme and path)")
                }
                result.targets.append(target)
            }
            guard !result.targets.isEmpty else { throw targetsNode.error("give at least one host:port") }
            if let job = result.job, job.isEmpty { throw fields["job"]!.error("job is empty") }
            if let labels = fields["labels"] {
                result.labels = try labels.stringMap()
                for name in result.labels.keys.sorted() where !LabelNames.isValid(name) || name.hasPrefix("__") {
                    throw labels.error("\"\(name)\" is not a label name (letters, digits and _, not starting with a digit or __)")
                }
            }
            if let path = try fields.string("path") {
                guard path.hasPrefix("/") else { throw fields["path"]!.error("\"\(path)\" does not start with /") }
                result.path = path
            }
            if let scheme = try fields.string("scheme") {
                guard scheme == "http" || scheme == "https" else { throw fields["scheme"]!.error("scheme is http or https, not \"\(scheme)\"") }
                result.scheme = scheme
            }
            if let params = fields["params"] { result.params = try params.stringLists() }
            return result
        }

        static func isAddress(_ text: String) -> Bool {
            guard !text.contains("/"), let colon = text.lastIndex(of: ":") else { return false }
            let host = text[..<colon]
            guard let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port), !host.isEmpty else { return false }
            return !host.contains(":") || (host.hasPrefix("[") && host.hasSuffix("]"))
        }
    }

    /// Node, pod and container metrics from /proc and cgroups.
    public struct RuntimeInput: Sendable, Hashable {
        public static let resourceNames = ["pod", "container", "node", "volume", "daemonset", "deployment", "statefulset", "job"]
        public var enabled = false
        public var namespaces = NamespaceSelector.pullDefault
        /// Per resource name, whether its metrics are collected (all are, unless turned off).
        public var resources: [String: Bool] = Dictionary(uniqueKeysWithValues: resourceNames.map { ($0, true) })
        /// Milliseconds between collections; nil: `metric.collectionInterval`.
        public var interval: Int64?
    }

    public struct IstioInput: Sendable, Hashable {
        public var enabled = false
        public var namespaces = NamespaceSelector.pullDefault
        public var envoyMetrics = false
        /// Milliseconds between scrapes; nil: `metric.collectionInterval`.
        public var interval: Int64?
    }

    /// An input's own `interval` (overriding `metric.collectionInterval`), in milliseconds.
    static func interval(_ parts: ResourceNode.Fields) throws(PipelineError) -> Int64? {
        guard let text = try parts.string("interval") else { return nil }
        guard let milliseconds = PrometheusDuration.parseMilliseconds(text), milliseconds > 0 else {
            throw parts["interval"]!.error("\"\(text)\" is not a duration such as 15s or 1m")
        }
        return milliseconds
    }

    public var prometheus = PrometheusInput()
    public var runtime = RuntimeInput()
    public var istio = IstioInput()
    public var otlp = OTLPInput()
    public var output: PipelineOutput
    public var transform: [TransformRule] = []
    public var filter: [FilterRule] = []

    static func read(_ spec: ResourceNode) throws(PipelineError) -> MetricPipelineSpec {
        let fields = try spec.fields(allowed: ["input", "output", "transform", "filter"])
        var result = MetricPipelineSpec(output: try PipelineOutput.read(try fields.required("output"), allowsTemporality: true))
        if let input = fields["input"] {
            let inputs = try input.fields(allowed: ["prometheus", "runtime", "istio", "otlp"])
            if let prometheus = inputs["prometheus"] {
                let parts = try prometheus.fields(allowed: ["enabled", "namespaces", "diagnosticMetrics", "interval", "staticTargets"])
                result.prometheus = PrometheusInput(
                    enabled: try parts.bool("enabled", default: false),
                    namespaces: try NamespaceSelector.read(parts["namespaces"], missing: .pullDefault),
                    diagnosticMetrics: try parts["diagnosticMetrics"].map { node throws(PipelineError) in
                        try node.fields(allowed: ["enabled"]).bool("enabled", default: false)
                    } ?? false)
                result.prometheus.interval = try interval(parts)
                if let targets = parts["staticTargets"] {
                    result.prometheus.staticTargets = try targets.sequence().map { node throws(PipelineError) in try StaticTarget.read(node) }
                }
            }
            if let runtime = inputs["runtime"] {
                let parts = try runtime.fields(allowed: ["enabled", "namespaces", "resources", "interval"])
                result.runtime.enabled = try parts.bool("enabled", default: false)
                result.runtime.interval = try interval(parts)
                result.runtime.namespaces = try NamespaceSelector.read(parts["namespaces"], missing: .pullDefault)
                if let resources = parts["resources"] {
                    let kinds = try resources.fields(allowed: RuntimeInput.resourceNames)
                    for name in RuntimeInput.resourceNames {
                        if let kind = kinds[name] { result.runtime.resources[name] = try kind.fields(allowed: ["enabled"]).bool("enabled", default: true) }
                    }
                }
            }
            if let istio = inputs["istio"] {
                let parts = try istio.fields(allowed: ["enabled", "namespaces", "envoyMetrics", "interval"])
                result.istio = IstioInput(
                    enabled: try parts.bool("enabled", default: false),
                    namespaces: try NamespaceSelector.read(parts["namespaces"], missing: .pullDefault),
                    envoyMetrics: try parts["envoyMetrics"].map { node throws(PipelineError) in
                        try node.fields(allowed: ["enabled"]).bool("enabled", default: false)
                    } ?? false)
                result.istio.interval = try interval(parts)
            }
            result.otlp = try OTLPInput.read(inputs["otlp"])
        }
        result.transform = try TransformRule.readList(fields["transform"])
        result.filter = try FilterRule.readList(fields["filter"])
        return result
    }
}
