import LoupeScrape

/// The installation's own settings, one `Telemetry` resource beside the pipelines (the design's
/// module-level settings): which pod labels enrichment copies, the cluster's name, and how often
/// metrics are collected when an input does not say.
///
/// ```yaml
/// apiVersion: telemetry.loupe.dev/v1beta1
/// kind: Telemetry
/// metadata: {name: default}
/// spec:
///   enrichments:
///     extractPodLabels: [{key: team}, {keyPrefix: app.kubernetes.io/}]
///     cluster: {name: prod}
///   metric:
///     collectionInterval: 30s
/// ```
public struct ModuleSettings: Sendable, Hashable {
    public static let kind = "Telemetry"

    public var podLabelKeys: [String] = []
    public var podLabelPrefixes: [String] = []
    public var clusterName: String?
    /// Milliseconds; nil: the process's `--metric-interval`.
    public var metricCollectionInterval: Int64?
    /// `file:line:column` of the document.
    public var location: String

    public init(location: String) { self.location = location }

    static func read(_ spec: ResourceNode, location: String) throws(PipelineError) -> ModuleSettings {
        var settings = ModuleSettings(location: location)
        let fields = try spec.fields(allowed: ["enrichments", "metric"])
        if let enrichments = fields["enrichments"] {
            let parts = try enrichments.fields(allowed: ["extractPodLabels", "cluster"])
            for entry in try parts["extractPodLabels"]?.sequence() ?? [] {
                let label = try entry.fields(allowed: ["key", "keyPrefix"])
                switch (try label.string("key"), try label.string("keyPrefix")) {
                case (let key?, nil) where !key.isEmpty: settings.podLabelKeys.append(key)
                case (nil, let prefix?) where !prefix.isEmpty: settings.podLabelPrefixes.append(prefix)
                default: throw entry.error("give one of key and keyPrefix, not empty")
                }
            }
            if let cluster = parts["cluster"] {
                let name = try cluster.fields(allowed: ["name"]).string("name")
                guard let name, !name.isEmpty else { throw cluster.error("name: required") }
                settings.clusterName = name
            }
        }
        if let metric = fields["metric"] {
            let parts = try metric.fields(allowed: ["collectionInterval"])
            if let text = try parts.string("collectionInterval") {
                guard let milliseconds = PrometheusDuration.parseMilliseconds(text), milliseconds > 0 else {
                    throw parts["collectionInterval"]!.error("\"\(text)\" is not a duration such as 30s or 1m")
                }
                settings.metricCollectionInterval = milliseconds
            }
        }
        return settings
    }
}
