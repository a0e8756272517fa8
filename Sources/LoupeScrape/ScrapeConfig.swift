import LoupeModel

/// The `global:` section: defaults for every scrape configuration.
public struct GlobalScrapeConfig: Sendable, Equatable {
    /// Milliseconds; Prometheus's default is 1m.
    public var scrapeInterval: Int64 = 60_000
    /// Milliseconds; Prometheus's default is 10s.
    public var scrapeTimeout: Int64 = 10_000
    /// Accepted for compatibility with Prometheus configuration files. Prometheus attaches them only when data
    /// leaves it (remote write, federation, alerts); Loupe stores scraped samples without them.
    public var externalLabels = Labels()

    public init() {}
}

/// `basic_auth`: an `Authorization: Basic` header.
public struct BasicAuthConfig: Sendable, Equatable {
    public var username: String
    public var password: String?
    /// Read at every scrape (so a rotated password is picked up), trailing newline removed.
    public var passwordFile: String?

    public init(username: String, password: String? = nil, passwordFile: String? = nil) {
        self.username = username
        self.password = password
        self.passwordFile = passwordFile
    }
}

/// `authorization` (and the older `bearer_token` / `bearer_token_file`): an `Authorization: <type> <credentials>` header.
public struct AuthorizationConfig: Sendable, Equatable {
    public var type = "Bearer"
    public var credentials: String?
    /// Read at every scrape, trailing newline removed.
    public var credentialsFile: String?

    public init(type: String = "Bearer", credentials: String? = nil, credentialsFile: String? = nil) {
        self.type = type
        self.credentials = credentials
        self.credentialsFile = credentialsFile
    }
}

/// `tls_config`.
public struct TLSConfig: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    public var insecureSkipVerify = false

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.insecureSkipVerify = insecureSkipVerify
    }

    public var isDefault: Bool { self == TLSConfig() }
}

/// `file_sd_configs` entry: files (the last path element may hold a `*` glob) re-read every `refresh_interval`
/// and whenever they change.
public struct FileSDConfig: Sendable, Equatable {
    public var files: [String]
    /// Milliseconds; Prometheus's default is 5m.
    public var refreshInterval: Int64 = 300_000

    public init(files: [String], refreshInterval: Int64 = 300_000) {
        self.files = files
        self.refreshInterval = refreshInterval
    }
}

/// A group of targets with common labels, as in `static_configs` and file_sd files.
public struct TargetGroup: Sendable, Equatable {
    public var targets: [String]
    public var labels: [String: String]
    /// Where the group came from (`static_configs[0]`, a file path with its index); for messages only.
    public var source: String

    public init(targets: [String], labels: [String: String] = [:], source: String = "") {
        self.targets = targets
        self.labels = labels
        self.source = source
    }
}

/// One `scrape_configs` entry.
public struct ScrapeConfig: Sendable, Equatable {
    public var jobName: String
    /// Milliseconds.
    public var scrapeInterval: Int64
    /// Milliseconds.
    public var scrapeTimeout: Int64
    public var metricsPath = "/metrics"
    public var scheme = "http"
    public var params: [String: [String]] = [:]
    public var honorLabels = false
    public var honorTimestamps = true
    /// Maximum samples per scrape after metric relabeling; 0 is no limit.
    public var sampleLimit = 0
    /// Maximum labels per sample after metric relabeling; 0 is no limit.
    public var labelLimit = 0
    /// Maximum uncompressed body bytes; 0 is no limit (Loupe still caps bodies at 256 MiB).
    public var bodySizeLimit = 0
    public var staticConfigs: [TargetGroup] = []
    public var fileSDConfigs: [FileSDConfig] = []
    public var relabelConfigs: [RelabelConfig] = []
    public var metricRelabelConfigs: [RelabelConfig] = []
    public var basicAuth: BasicAuthConfig?
    public var authorization: AuthorizationConfig?
    public var tls = TLSConfig()
    /// Loupe extension: the tenant (`X-Scope-OrgID`) the samples are written to.
    public var tenant = Tenant.default

    public init(jobName: String, scrapeInterval: Int64 = 60_000, scrapeTimeout: Int64 = 10_000) {
        self.jobName = jobName
        self.scrapeInterval = scrapeInterval
        self.scrapeTimeout = scrapeTimeout
    }
}

/// `global:` and `scrape_configs:` of Loupe's configuration file, in Prometheus's format.
public struct ScrapeConfiguration: Sendable, Equatable {
    public var global = GlobalScrapeConfig()
    public var scrapeConfigs: [ScrapeConfig] = []

    public init(global: GlobalScrapeConfig = GlobalScrapeConfig(), scrapeConfigs: [ScrapeConfig] = []) {
        self.global = global
        self.scrapeConfigs = scrapeConfigs
    }

    /// The top-level keys this decoder reads from the configuration mapping.
    public static let topLevelKeys: Set<String> = ["global", "scrape_configs"]

    /// Decodes `global` and `scrape_configs` from a loaded YAML mapping (values as Yams loads them: `String`,
    /// `Int`, `Double`, `Bool`, `[Any]`, `[String: Any]`). Other top-level keys are ignored here. Errors name
    /// the key: `scrape_configs[1].relabel_configs[0].action: unknown action "rename"; use one of ...`.
    public static func decode(_ root: [String: Any]) throws(ScrapeError) -> ScrapeConfiguration {
        var configuration = ScrapeConfiguration()
        if let global = root["global"] {
            let node = try YAMLNode(global, path: "global").mapping(allowed: ["scrape_interval", "scrape_timeout", "external_labels", "evaluation_interval"])
            if let value = node["scrape_interval"] { configuration.global.scrapeInterval = try value.duration(positive: true) }
            if let value = node["scrape_timeout"] {
                configuration.global.scrapeTimeout = try value.duration(positive: true)
            } else {
                // Prometheus: an unset global timeout is the default 10s, or the interval when that is shorter.
                configuration.global.scrapeTimeout = min(configuration.global.scrapeTimeout, configuration.global.scrapeInterval)
            }
            if let value = node["external_labels"] { configuration.global.externalLabels = Labels(try value.labelMapping().map { Label($0.key, $0.value) }) }
            if configuration.global.scrapeTimeout > configuration.global.scrapeInterval {
                throw ScrapeError(.invalidConfiguration, "global.scrape_timeout: global scrape timeout (\(PrometheusDuration.format(milliseconds: configuration.global.scrapeTimeout))) greater than scrape interval (\(PrometheusDuration.format(milliseconds: configuration.global.scrapeInterval)))")
            }
        }
        if let list = root["scrape_configs"] {
            var jobs: Set<String> = []
            for (index, item) in try YAMLNode(list, path: "scrape_configs").list().enumerated() {
                let config = try decodeScrapeConfig(item, global: configuration.global)
                guard jobs.insert(config.jobName).inserted else {
                    throw ScrapeError(.invalidConfiguration, "scrape_configs[\(index)].job_name: found multiple scrape configs with job name \"\(config.jobName)\"")
                }
                configuration.scrapeConfigs.append(config)
            }
        }
        return configuration
    }

    static let scrapeConfigKeys: Set<String> = [
        "job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params", "honor_labels", "honor_timestamps",
        "sample_limit", "label_limit", "body_size_limit", "static_configs", "file_sd_configs", "relabel_configs",
        "metric_relabel_configs", "basic_auth", "authorization", "bearer_token", "bearer_token_file", "tls_config", "tenant",
    ]

    static func decodeScrapeConfig(_ item: YAMLNode, global: GlobalScrapeConfig) throws(ScrapeError) -> ScrapeConfig {
        let node = try item.mapping(allowed: scrapeConfigKeys)
        guard let jobNode = node["job_name"] else { throw item.error("job_name is required") }
        let jobName = try jobNode.string()
        guard !jobName.isEmpty else { throw jobNode.error("job_name must not be empty") }
        var config = ScrapeConfig(jobName: jobName, scrapeInterval: global.scrapeInterval, scrapeTimeout: global.scrapeTimeout)
        if let value = node["scrape_interval"] { config.scrapeInterval = try value.duration(positive: true) }
        if let value = node["scrape_timeout"] {
            config.scrapeTimeout = try value.duration(positive: true)
            if config.scrapeTimeout > config.scrapeInterval {
                throw value.error("scrape timeout (\(PrometheusDuration.format(milliseconds: config.scrapeTimeout))) greater than scrape interval (\(PrometheusDuration.format(milliseconds: config.scrapeInterval))) for scrape config with job name \"\(jobName)\"")
            }
        } else {
            config.scrapeTimeout = min(global.scrapeTimeout, config.scrapeInterval)
        }
        if let value = node["metrics_path"] {
            config.metricsPath = try value.string()
            guard config.metricsPath.hasPrefix("/") else { throw value.error("metrics_path must start with \"/\", got \"\(config.metricsPath)\"") }
        }
        if let value = node["scheme"] {
            config.scheme = try value.string()
            guard config.scheme == "http" || config.scheme == "https" else {
                throw value.error("unknown scheme \"\(config.scheme)\"; use http or https")
            }
        }
        if let value = node["params"] {
            for (name, values) in try value.mapping(allowed: nil).entries {
                config.params[name] = try values.list().map { item throws(ScrapeError) in try item.string() }
            }
        }
        if let value = node["honor_labels"] { config.honorLabels = try value.bool() }
        if let value = node["honor_timestamps"] { config.honorTimestamps = try value.bool() }
        if let value = node["sample_limit"] { config.sampleLimit = try value.count() }
        if let value = node["label_limit"] { config.labelLimit = try value.count() }
        if let value = node["body_size_limit"] { config.bodySizeLimit = try value.byteSize() }
        if let value = node["static_configs"] {
            for (index, group) in try value.list().enumerated() {
                config.staticConfigs.append(try decodeTargetGroup(group, source: "static_configs[\(index)]"))
            }
        }
        if let value = node["file_sd_configs"] {
            for entry in try value.list() {
                let mapping = try entry.mapping(allowed: ["files", "refresh_interval"])
                guard let filesNode = mapping["files"] else { throw entry.error("files is required") }
                var fileSD = FileSDConfig(files: [])
                for file in try filesNode.list() {
                    let path = try file.string()
                    try FileSD.validatePattern(path, node: file)
                    fileSD.files.append(path)
                }
                if let interval = mapping["refresh_interval"] { fileSD.refreshInterval = try interval.duration(positive: true) }
                config.fileSDConfigs.append(fileSD)
            }
        }
        if let value = node["relabel_configs"] { config.relabelConfigs = try decodeRelabelConfigs(value) }
        if let value = node["metric_relabel_configs"] { config.metricRelabelConfigs = try decodeRelabelConfigs(value) }
        if let value = node["basic_auth"] {
            let mapping = try value.mapping(allowed: ["username", "password", "password_file"])
            let username = try mapping["username"]?.string() ?? ""
            let password = try mapping["password"]?.string()
            let passwordFile = try mapping["password_file"]?.string()
            if password != nil, passwordFile != nil {
                throw value.error("at most one of basic_auth password & password_file must be configured")
            }
            config.basicAuth = BasicAuthConfig(username: username, password: password, passwordFile: passwordFile)
        }
        if let value = node["authorization"] {
            let mapping = try value.mapping(allowed: ["type", "credentials", "credentials_file"])
            var authorization = AuthorizationConfig()
            if let type = mapping["type"] {
                authorization.type = try type.string()
                if authorization.type.lowercased() == "basic" { throw type.error("authorization type cannot be set to \"basic\", use \"basic_auth\" instead") }
                if authorization.type.isEmpty { authorization.type = "Bearer" }
            }
            authorization.credentials = try mapping["credentials"]?.string()
            authorization.credentialsFile = try mapping["credentials_file"]?.string()
            if authorization.credentials != nil, authorization.credentialsFile != nil {
                throw value.error("at most one of authorization credentials & credentials_file must be configured")
            }
            config.authorization = authorization
        }
        let bearerToken = try node["bearer_token"]?.string()
        let bearerTokenFile = try node["bearer_token_file"]?.string()
        if bearerToken != nil || bearerTokenFile != nil {
            if bearerToken != nil, bearerTokenFile != nil {
                throw item.error("at most one of bearer_token & bearer_token_file must be configured")
            }
            if config.authorization != nil {
                throw item.error("at most one of authorization and bearer_token & bearer_token_file must be configured")
            }
            config.authorization = AuthorizationConfig(type: "Bearer", credentials: bearerToken, credentialsFile: bearerTokenFile)
        }
        if config.basicAuth != nil, config.authorization != nil {
            throw item.error("at most one of basic_auth, authorization, bearer_token & bearer_token_file must be configured")
        }
        if let value = node["tls_config"] {
            let mapping = try value.mapping(allowed: ["ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"])
            config.tls.caFile = try mapping["ca_file"]?.string()
            config.tls.certFile = try mapping["cert_file"]?.string()
            config.tls.keyFile = try mapping["key_file"]?.string()
            config.tls.serverName = try mapping["server_name"]?.string()
            config.tls.insecureSkipVerify = try mapping["insecure_skip_verify"]?.bool() ?? false
            if (config.tls.certFile == nil) != (config.tls.keyFile == nil) {
                throw value.error("cert_file and key_file must both be given (a client certificate needs its key)")
            }
        }
        if let value = node["tenant"] {
            do {
                config.tenant = try Tenant(validating: try value.string())
            } catch let error as ScrapeError {
                throw error
            } catch {
                throw value.error("\(error)")
            }
        }
        return config
    }

    static func decodeTargetGroup(_ node: YAMLNode, source: String) throws(ScrapeError) -> TargetGroup {
        let mapping = try node.mapping(allowed: ["targets", "labels"])
        var group = TargetGroup(targets: [], source: source)
        if let targets = mapping["targets"] {
            group.targets = try targets.list().map { item throws(ScrapeError) in try item.string() }
        }
        if let labels = mapping["labels"] { group.labels = try labels.labelMapping() }
        return group
    }

    static func decodeRelabelConfigs(_ node: YAMLNode) throws(ScrapeError) -> [RelabelConfig] {
        var configs: [RelabelConfig] = []
        for item in try node.list() {
            let mapping = try item.mapping(allowed: ["source_labels", "separator", "regex", "modulus", "target_label", "replacement", "action"])
            var config = RelabelConfig()
            if let value = mapping["source_labels"] {
                config.sourceLabels = try value.list().map { label throws(ScrapeError) in
                    let name = try label.string()
                    guard LabelNames.isValid(name) else { throw label.error("\"\(name)\" is not a valid label name") }
                    return name
                }
            }
            if let value = mapping["separator"] { config.separator = try value.string() }
            if let value = mapping["regex"] {
                do {
                    config.regex = try RelabelRegex(try value.string())
                } catch {
                    throw value.error(error.message)
                }
            }
            if let value = mapping["modulus"] {
                let number = try value.count()
                config.modulus = UInt64(number)
            }
            if let value = mapping["target_label"] { config.targetLabel = try value.string() }
            if let value = mapping["replacement"] { config.replacement = try value.string() }
            if let value = mapping["action"] {
                let name = try value.string()
                guard let action = RelabelConfig.Action(rawValue: name.lowercased()) else {
                    throw value.error("unknown relabel action \"\(name)\"; use one of \(RelabelConfig.Action.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                config.action = action
            }
            do {
                try config.validate()
            } catch {
                throw item.error(error.message)
            }
            configs.append(config)
        }
        return configs
    }
}

/// A value of a loaded YAML document with the path it was found at, for errors that name the key.
struct YAMLNode {
    let value: Any
    let path: String

    init(_ value: Any, path: String) {
        self.value = value
        self.path = path
    }

    /// YAML's `null` (Yams gives `NSNull`, which this module, free of Foundation, cannot name).
    var isNull: Bool { String(describing: type(of: value)) == "NSNull" }

    func error(_ message: String) -> ScrapeError {
        ScrapeError(.invalidConfiguration, path.isEmpty ? message : "\(path): \(message)")
    }

    struct Mapping {
        let entries: [(key: String, value: YAMLNode)]
        subscript(key: String) -> YAMLNode? { entries.first { $0.key == key }?.value }
    }

    /// The entries of a mapping, sorted by key; with `allowed`, any other key is an error naming it.
    func mapping(allowed: Set<String>?) throws(ScrapeError) -> Mapping {
        guard let dictionary = value as? [String: Any] else {
            if isNull { return Mapping(entries: []) }
            throw error("must be a mapping")
        }
        var entries: [(key: String, value: YAMLNode)] = []
        for key in dictionary.keys.sorted() {
            let childPath = path.isEmpty ? key : "\(path).\(key)"
            if let allowed, !allowed.contains(key) {
                throw ScrapeError(
                    .invalidConfiguration,
                    "unknown key \"\(childPath)\"; known keys here: \(allowed.sorted().joined(separator: ", "))")
            }
            entries.append((key, YAMLNode(dictionary[key]!, path: childPath)))
        }
        return Mapping(entries: entries)
    }

    func list() throws(ScrapeError) -> [YAMLNode] {
        if isNull { return [] }
        guard let array = value as? [Any] else { throw error("must be a list") }
        return array.enumerated().map { YAMLNode($0.element, path: "\(path)[\($0.offset)]") }
    }

    func string() throws(ScrapeError) -> String {
        switch value {
        case let text as String: return text
        case let flag as Bool: return flag ? "true" : "false"
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        default: throw error("must be a string")
        }
    }

    func bool() throws(ScrapeError) -> Bool {
        if let flag = value as? Bool { return flag }
        if let text = value as? String {
            switch text.lowercased() {
            case "true": return true
            case "false": return false
            default: break
            }
        }
        throw error("must be true or false")
    }

    func count() throws(ScrapeError) -> Int {
        if let number = value as? Int, !(value is Bool), number >= 0 { return number }
        if let text = value as? String, let number = Int(text), number >= 0 { return number }
        throw error("must be a whole number of at least 0")
    }

    func duration(positive: Bool) throws(ScrapeError) -> Int64 {
        let text = try string()
        guard let milliseconds = PrometheusDuration.parseMilliseconds(text) else {
            throw error("not a valid duration string: \"\(text)\" (use e.g. 15s, 1m30s, 500ms)")
        }
        if positive, milliseconds == 0 { throw error("must be greater than 0") }
        return milliseconds
    }

    func byteSize() throws(ScrapeError) -> Int {
        if let number = value as? Int, number >= 0 { return number }
        let text = try string()
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1)]
        for (suffix, size) in units where text.hasSuffix(suffix) {
            if let number = Int(text.dropLast(suffix.count)), number >= 0 { return number * size }
        }
        if let number = Int(text), number >= 0 { return number }
        throw error("\"\(text)\" is not a byte size such as 10MB")
    }

    /// A mapping of label names to values (numbers and booleans are written as text).
    func labelMapping() throws(ScrapeError) -> [String: String] {
        var labels: [String: String] = [:]
        for (name, value) in try mapping(allowed: nil).entries {
            guard LabelNames.isValid(name) else { throw value.error("\"\(name)\" is not a valid label name") }
            labels[name] = try value.string()
        }
        return labels
    }
}


extension ScrapeConfiguration {
    /// Makes relative file paths (file_sd files, TLS files, password and credentials files) relative to
    /// `directory`, as Prometheus resolves them against the configuration file's directory.
    public func resolvingPaths(relativeTo directory: String) -> ScrapeConfiguration {
        guard !directory.isEmpty else { return self }
        func resolve(_ path: String?) -> String? {
            guard let path, !path.isEmpty, !path.hasPrefix("/") else { return path }
            return directory.hasSuffix("/") ? directory + path : directory + "/" + path
        }
        var copy = self
        for index in copy.scrapeConfigs.indices {
            var config = copy.scrapeConfigs[index]
            config.fileSDConfigs = config.fileSDConfigs.map { FileSDConfig(files: $0.files.map { resolve($0)! }, refreshInterval: $0.refreshInterval) }
            config.tls.caFile = resolve(config.tls.caFile)
            config.tls.certFile = resolve(config.tls.certFile)
            config.tls.keyFile = resolve(config.tls.keyFile)
            let passwordFile = resolve(config.basicAuth?.passwordFile)
            config.basicAuth?.passwordFile = passwordFile
            let credentialsFile = resolve(config.authorization?.credentialsFile)
            config.authorization?.credentialsFile = credentialsFile
            copy.scrapeConfigs[index] = config
        }
        return copy
    }
}
