import LoupeModel
import LoupePipeline
import LoupeScrape
import LoupeStorage
import Yams

/// Everything `loupe up` can be told, from the YAML file given by `--config` and then
/// from flags, which override it.
public struct LoupeConfiguration: Sendable, Equatable {
    public var dataDirectory = "./loupe-data"
    public var httpAddress = ListenAddress(host: "0.0.0.0", port: 8080)
    public var otlpGRPCAddress = ListenAddress(host: "0.0.0.0", port: 4317)
    public var otlpHTTPAddress = ListenAddress(host: "0.0.0.0", port: 4318)
    public var retention = RetentionPolicy.defaultPeriod
    /// `global:` and `scrape_configs:`, in Prometheus's format (see `ScrapeConfiguration`).
    public var scrape = ScrapeConfiguration()
    public var logLevel = "info"
    public var maximumRequestBytes = 16 << 20
    public var memoryBudgetBytes = 512 << 20
    /// OTLP logs and metrics kept as they arrived for `/loupe/api/v1/{logs,metrics}`, per signal,
    /// the most recent (`limits.otlp_read_back_bytes`); LogQL and PromQL read the log and
    /// Prometheus stores, which keep everything until retention.
    public var otlpReadBackBytes = 64 << 20
    /// Active Prometheus series per tenant; writes creating more are refused with 400.
    public var maximumSeriesPerTenant = 1_000_000
    public var walSyncPolicy = WALSyncPolicy.groupCommit
    /// Loki push: lines longer than this are refused (or cut with `logLineTruncate`); 0: no limit.
    public var maximumLogLineBytes = 256 << 10
    public var logLineTruncate = false
    /// Loki push: bytes of lines per second and tenant (0: no limit), and the burst allowed.
    public var logIngestionRateBytes = 0
    public var logIngestionBurstBytes = 0
    /// OTLP resource attributes that become Loki stream labels (`logs.otlp_stream_labels`); the
    /// other attributes become structured metadata.
    public var otlpLogStreamLabels = OTLPLogsToStreams.defaultStreamLabelAttributes
    /// Pipeline resources `loupe up` runs itself (`collect.pipelines`, files or directories): container
    /// logs and node metrics of this machine, into its own storage with `output.loupe`.
    public var pipelinePaths: [String] = []
    /// Where the kubelet keeps pod logs, for those pipelines (`collect.pod_log_root`).
    public var podLogRoot = "/var/log/pods"
    /// When log heads are cut into blocks (`logs.flush_size`, `logs.flush_age`) and how much block
    /// data each tenant keeps (`logs.retention_size_per_tenant`).
    public var logMaintenance = LogMaintenanceOptions()
    /// When the trace head is cut into blocks (`traces.flush_size`, `traces.flush_age`) and how much
    /// block data each tenant keeps (`traces.retention_size_per_tenant`).
    /// Cuts of about a second of spans at a benchmark's rate (100 MB/s of OTLP): a head is cut
    /// within 50 ms of reaching the size and written while the next fills. Smaller cuts made many
    /// small blocks, and every search and trace lookup pays per block (32 MiB: 278 blocks at 12 M
    /// spans, a search for every match 1.4 s; 128 MiB: about a third as many).
    public var traceMaintenance = HeadMaintenanceOptions(flushBytes: 128 << 20)
    /// How often the trace store checks whether to cut (`traces.maintenance_interval`).
    public var traceMaintenanceIntervalNanoseconds: UInt64 = 1_000_000_000
    /// Where the Jaeger query API lives (`traces.jaeger_path_prefix`).
    public var jaegerPathPrefix = "/jaeger"
    /// Span metrics and the service graph written into the TSDB (`traces.metrics_generator`), and how often (`traces.metrics_interval`).
    public var traceMetricsEnabled = true
    public var traceMetricsIntervalNanoseconds: UInt64 = 15 * 1_000_000_000
    /// Tenants' own log retention (`logs.tenants.NAME.retention`, `.retention_size`).
    public var logTenantRetention: [Tenant: LogStreamStore.TenantRetention] = [:]
    /// How often the log store checks whether to cut (`logs.maintenance_interval`).
    public var logMaintenanceIntervalNanoseconds: UInt64 = 10 * 1_000_000_000
    public var walSegmentBytes = 128 << 20
    /// Zeros kept written ahead of the WAL's records (`wal.reserved_space`; see `WALOptions.reservedSpaceBytes`).
    public var walReservedSpaceBytes = 1 << 20
    /// Time range of a block cut from the TSDB head (Prometheus: 2h).
    public var blockDurationNanoseconds: UInt64 = 2 * 3_600 * 1_000_000_000
    /// Out-of-order samples up to this far behind a tenant's newest sample are accepted; 0 refuses them.
    public var outOfOrderWindowNanoseconds: UInt64 = 0
    /// Blocks are removed, oldest first, while they take more than this; nil: no size limit.
    public var retentionBytes: Int?
    /// How often heads are cut into blocks, blocks compacted and retention applied.
    public var tsdbMaintenanceIntervalNanoseconds: UInt64 = 60 * 1_000_000_000

    public init() {}

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// Reads a YAML configuration on top of the defaults. Unknown keys are errors, so a
    /// typo never silently falls back to a default.
    public static func load(yaml text: String, source: String) throws(Error) -> LoupeConfiguration {
        var configuration = LoupeConfiguration()
        var root: [String: Any]
        do {
            guard let loaded = try Yams.load(yaml: text) else { return configuration }
            guard let mapping = loaded as? [String: Any] else {
                throw Error(description: "\(source): the configuration must be a YAML mapping")
            }
            root = mapping
        } catch let error as Error {
            throw error
        } catch {
            throw Error(description: "\(source): invalid YAML: \(error)")
        }
        // `global` and `scrape_configs` are Prometheus's sections, read by the scrape configuration decoder below.
        let fullRoot = root
        root = root.filter { !ScrapeConfiguration.topLevelKeys.contains($0.key) }
        let reader = YAMLReader(source: source)
        try reader.checkKeys(root, allowed: ["data_dir", "http_address", "otlp_grpc_address", "otlp_http_address", "retention", "retention_size", "log_level", "limits", "wal", "tsdb", "logs", "traces", "collect"], at: "")
        if let collect = try reader.mapping(root, "collect") {
            try reader.checkKeys(collect, allowed: ["pipelines", "pod_log_root"], at: "collect.")
            if let paths = collect["pipelines"] {
                guard let list = paths as? [Any], let strings = list as? [String] else {
                    throw Error(description: "\(source): collect.pipelines must be a list of files or directories")
                }
                configuration.pipelinePaths = strings
            }
            if let value = try reader.string(collect, "pod_log_root") { configuration.podLogRoot = value }
        }
        if let value = try reader.string(root, "data_dir") { configuration.dataDirectory = value }
        if let value = try reader.string(root, "http_address") { configuration.httpAddress = try reader.address(value, key: "http_address") }
        if let value = try reader.string(root, "otlp_grpc_address") { configuration.otlpGRPCAddress = try reader.address(value, key: "otlp_grpc_address") }
        if let value = try reader.string(root, "otlp_http_address") { configuration.otlpHTTPAddress = try reader.address(value, key: "otlp_http_address") }
        if let value = try reader.string(root, "retention") { configuration.retention = try parseRetention(value, source: "\(source): retention") }
        if let value = try reader.string(root, "retention_size") {
            configuration.retentionBytes = try reader.bytes(value, key: "retention_size")
        }
        if let tsdb = try reader.mapping(root, "tsdb") {
            try reader.checkKeys(tsdb, allowed: ["block_duration", "out_of_order_time_window", "maintenance_interval"], at: "tsdb.")
            func duration(_ key: String) throws(Error) -> UInt64? {
                guard let value = try reader.string(tsdb, key) else { return nil }
                do {
                    return try DurationText.parseNanoseconds(value)
                } catch {
                    throw Error(description: "\(source): tsdb.\(key): \(error)")
                }
            }
            if let value = try duration("block_duration") {
                guard value >= 60 * 1_000_000_000 else { throw Error(description: "\(source): tsdb.block_duration must be at least 1m") }
                configuration.blockDurationNanoseconds = value
            }
            if let value = try duration("out_of_order_time_window") { configuration.outOfOrderWindowNanoseconds = value }
            if let value = try duration("maintenance_interval") {
                guard value >= 100_000_000 else { throw Error(description: "\(source): tsdb.maintenance_interval must be at least 100ms") }
                configuration.tsdbMaintenanceIntervalNanoseconds = value
            }
        }
        if let value = try reader.string(root, "log_level") { configuration.logLevel = try parseLogLevel(value, source: "\(source): log_level") }
        if let limits = try reader.mapping(root, "limits") {
            try reader.checkKeys(
                limits,
                allowed: [
                    "max_request_bytes", "memory_budget_bytes", "max_series_per_tenant", "max_line_size", "max_line_size_truncate",
                    "ingestion_rate_mb", "ingestion_burst_size_mb", "otlp_read_back_bytes",
                ], at: "limits.")
            if let value = try reader.string(limits, "max_line_size") {
                configuration.maximumLogLineBytes = value == "0" ? 0 : try reader.bytes(value, key: "limits.max_line_size")
            }
            if let value = limits["max_line_size_truncate"] {
                guard let truncate = value as? Bool else { throw Error(description: "\(source): limits.max_line_size_truncate must be true or false") }
                configuration.logLineTruncate = truncate
            }
            for (key, keyPath) in [("ingestion_rate_mb", \LoupeConfiguration.logIngestionRateBytes), ("ingestion_burst_size_mb", \LoupeConfiguration.logIngestionBurstBytes)] {
                guard let value = try reader.string(limits, key) else { continue }
                guard let megabytes = Double(value), megabytes >= 0, megabytes.isFinite else {
                    throw Error(description: "\(source): limits.\(key): \"\(value)\" is not a number of megabytes per second")
                }
                configuration[keyPath: keyPath] = Int(megabytes * 1_048_576)
            }
            if let value = try reader.string(limits, "max_series_per_tenant") {
                guard let count = Int(value), count > 0 else {
                    throw Error(description: "\(source): limits.max_series_per_tenant: \"\(value)\" is not a positive whole number")
                }
                configuration.maximumSeriesPerTenant = count
            }
            if let value = try reader.string(limits, "max_request_bytes") { configuration.maximumRequestBytes = try reader.bytes(value, key: "limits.max_request_bytes") }
            if let value = try reader.string(limits, "memory_budget_bytes") { configuration.memoryBudgetBytes = try reader.bytes(value, key: "limits.memory_budget_bytes") }
            if let value = try reader.string(limits, "otlp_read_back_bytes") {
                configuration.otlpReadBackBytes = try reader.bytes(value, key: "limits.otlp_read_back_bytes")
            }
        }
        if let traces = try reader.mapping(root, "traces") {
            try reader.checkKeys(
                traces,
                allowed: ["jaeger_path_prefix", "metrics_generator", "metrics_interval", "flush_size", "flush_age", "retention_size_per_tenant", "maintenance_interval"],
                at: "traces.")
            func duration(_ key: String) throws(Error) -> UInt64? {
                guard let value = try reader.string(traces, key) else { return nil }
                do {
                    return try DurationText.parseNanoseconds(value)
                } catch {
                    throw Error(description: "\(source): traces.\(key): \(error)")
                }
            }
            if let value = try reader.string(traces, "flush_size") {
                configuration.traceMaintenance.flushBytes = max(1, try reader.bytes(value, key: "traces.flush_size"))
            }
            if let value = try duration("flush_age") { configuration.traceMaintenance.flushAgeNanoseconds = value }
            if let value = try reader.string(traces, "retention_size_per_tenant") {
                configuration.traceMaintenance.retentionBytesPerTenant = try reader.bytes(value, key: "traces.retention_size_per_tenant")
            }
            if let value = try duration("maintenance_interval") {
                guard value >= 100_000_000 else { throw Error(description: "\(source): traces.maintenance_interval must be at least 100ms") }
                configuration.traceMaintenanceIntervalNanoseconds = value
            }
            if let value = traces["metrics_generator"] {
                guard let enabled = value as? Bool else { throw Error(description: "\(source): traces.metrics_generator must be true or false") }
                configuration.traceMetricsEnabled = enabled
            }
            if let value = try reader.string(traces, "metrics_interval") {
                let nanoseconds: UInt64
                do {
                    nanoseconds = try DurationText.parseNanoseconds(value)
                } catch {
                    throw Error(description: "\(source): traces.metrics_interval: \(error)")
                }
                guard nanoseconds >= 100_000_000 else { throw Error(description: "\(source): traces.metrics_interval must be at least 100ms") }
                configuration.traceMetricsIntervalNanoseconds = nanoseconds
            }
            if let prefix = try reader.string(traces, "jaeger_path_prefix") {
                let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
                guard trimmed.hasPrefix("/"), trimmed.count > 1, !trimmed.contains(" ") else {
                    throw Error(description: "\(source): traces.jaeger_path_prefix \"\(prefix)\" must be a path such as /jaeger (not /: Tempo's /api/traces/<id> is there)")
                }
                configuration.jaegerPathPrefix = trimmed
            }
        }
        if let logs = try reader.mapping(root, "logs") {
            try reader.checkKeys(
                logs, allowed: ["otlp_stream_labels", "flush_size", "flush_age", "retention_size_per_tenant", "maintenance_interval", "tenants"], at: "logs.")
            func duration(_ key: String) throws(Error) -> UInt64? {
                guard let value = try reader.string(logs, key) else { return nil }
                do {
                    return try DurationText.parseNanoseconds(value)
                } catch {
                    throw Error(description: "\(source): logs.\(key): \(error)")
                }
            }
            if let value = try reader.string(logs, "flush_size") {
                configuration.logMaintenance.flushBytes = max(1, try reader.bytes(value, key: "logs.flush_size"))
            }
            if let value = try duration("flush_age") { configuration.logMaintenance.flushAgeNanoseconds = value }
            if let value = try reader.string(logs, "retention_size_per_tenant") {
                configuration.logMaintenance.retentionBytesPerTenant = try reader.bytes(value, key: "logs.retention_size_per_tenant")
            }
            if let tenants = try reader.mapping(logs, "tenants") {
                for name in tenants.keys.sorted() {
                    let at = "logs.tenants.\(name)"
                    let tenant: Tenant
                    do {
                        tenant = try Tenant(validating: name)
                    } catch {
                        throw Error(description: "\(source): \(at): \(error)")
                    }
                    guard let settings = try reader.mapping(tenants, name) else { continue }
                    try reader.checkKeys(settings, allowed: ["retention", "retention_size"], at: at + ".")
                    var retention = LogStreamStore.TenantRetention()
                    if let value = try reader.string(settings, "retention") {
                        do {
                            retention.periodNanoseconds = try DurationText.parseNanoseconds(value)
                        } catch {
                            throw Error(description: "\(source): \(at).retention: \(error)")
                        }
                    }
                    if let value = try reader.string(settings, "retention_size") {
                        retention.maximumBytes = try reader.bytes(value, key: at + ".retention_size")
                    }
                    configuration.logTenantRetention[tenant] = retention
                }
            }
            if let value = try duration("maintenance_interval") {
                guard value >= 100_000_000 else { throw Error(description: "\(source): logs.maintenance_interval must be at least 100ms") }
                configuration.logMaintenanceIntervalNanoseconds = value
            }
            if let value = logs["otlp_stream_labels"] {
                guard let names = value as? [String], names.allSatisfy({ !$0.isEmpty }) else {
                    throw Error(description: "\(source): logs.otlp_stream_labels must be a list of resource attribute names")
                }
                configuration.otlpLogStreamLabels = names
            }
        }
        if let wal = try reader.mapping(root, "wal") {
            try reader.checkKeys(wal, allowed: ["fsync", "fsync_interval", "segment_size", "reserved_space"], at: "wal.")
            let interval = try reader.string(wal, "fsync_interval")
            if let value = try reader.string(wal, "fsync") {
                configuration.walSyncPolicy = try parseSyncPolicy(value, interval: interval, source: "\(source): wal.fsync")
            } else if interval != nil {
                throw Error(description: "\(source): wal.fsync_interval only applies with wal.fsync: interval")
            }
            if let value = try reader.string(wal, "segment_size") { configuration.walSegmentBytes = try reader.bytes(value, key: "wal.segment_size") }
            if let value = try reader.string(wal, "reserved_space") {
                configuration.walReservedSpaceBytes = value == "0" ? 0 : try reader.bytes(value, key: "wal.reserved_space")
            }
        }
        do {
            // Relative paths in scrape configurations are relative to the configuration file, as in Prometheus.
            let directory = source.contains("/") ? String(source[..<source.lastIndex(of: "/")!]) : ""
            configuration.scrape = try ScrapeConfiguration.decode(fullRoot).resolvingPaths(relativeTo: directory)
        } catch {
            throw Error(description: "\(source): \(error.message)")
        }
        return configuration
    }

    /// The effective settings as `/api/v1/status/flags` shows them, using Prometheus's
    /// flag names where one means the same thing.
    public var flags: [String: String] {
        let fsync: String = switch walSyncPolicy {
        case .groupCommit: "group"
        case .interval(let interval): "interval \(interval)"
        case .never: "none"
        }
        return [
            "storage.tsdb.path": dataDirectory,
            "storage.tsdb.retention.time": retention.nanoseconds == 0 ? "0s" : retention.description,
            "storage.tsdb.retention.size": retentionBytes.map(String.init) ?? "0B",
            "storage.tsdb.min-block-duration": DurationText.format(nanoseconds: blockDurationNanoseconds),
            "storage.tsdb.out-of-order-time-window": DurationText.format(nanoseconds: outOfOrderWindowNanoseconds),
            "web.listen-address": httpAddress.description,
            "log.level": logLevel,
            "query.lookback-delta": "5m",
            "query.max-samples": "50000000",
            "query.timeout": "2m",
            "loupe.otlp-grpc-address": otlpGRPCAddress.description,
            "loupe.otlp-http-address": otlpHTTPAddress.description,
            "loupe.max-request-bytes": String(maximumRequestBytes),
            "loupe.memory-budget-bytes": String(memoryBudgetBytes),
            "loupe.max-series-per-tenant": String(maximumSeriesPerTenant),
            "loupe.wal.fsync": fsync,
        ]
    }

    public static func parseRetention(_ text: String, source: String) throws(Error) -> RetentionPolicy {
        do {
            return RetentionPolicy(nanoseconds: try DurationText.parseNanoseconds(text))
        } catch {
            throw Error(description: "\(source): \(error)")
        }
    }

    /// The Prometheus TSDB options these settings give.
    public var prometheusStoreOptions: PrometheusStoreOptions {
        PrometheusStoreOptions(
            maximumSeriesPerTenant: maximumSeriesPerTenant,
            outOfOrderWindow: Int64(clamping: outOfOrderWindowNanoseconds / 1_000_000),
            blockRange: Int64(clamping: blockDurationNanoseconds / 1_000_000),
            retentionBytes: retentionBytes)
    }

    public static func parseLogLevel(_ text: String, source: String) throws(Error) -> String {
        let level = text.lowercased() == "warn" ? "warning" : text.lowercased()
        guard logLevels.contains(level) else {
            throw Error(description: "\(source): unknown log level \"\(text)\"; use one of \(logLevels.joined(separator: ", "))")
        }
        return level
    }

    public static func parseSyncPolicy(_ text: String, interval: String?, source: String) throws(Error) -> WALSyncPolicy {
        switch text.lowercased() {
        case "group", "always", "group_commit":
            return .groupCommit
        case "none", "never", "off":
            return .never
        case "interval":
            do {
                return .interval(try DurationText.parse(interval ?? "1s"))
            } catch {
                throw Error(description: "\(source): \(error)")
            }
        default:
            throw Error(description: "\(source): unknown fsync policy \"\(text)\"; use group (fsync before acknowledging), interval or none")
        }
    }
}

/// Typed access to a loosely typed YAML mapping, with errors that name the key.
private struct YAMLReader {
    let source: String

    func checkKeys(_ mapping: [String: Any], allowed: Set<String>, at prefix: String) throws(LoupeConfiguration.Error) {
        // The top level also holds Prometheus's sections, which the scrape configuration decoder reads.
        let known = prefix.isEmpty ? allowed.union(ScrapeConfiguration.topLevelKeys) : allowed
        for key in mapping.keys.sorted() where !allowed.contains(key) {
            throw LoupeConfiguration.Error(
                description: "\(source): unknown key \"\(prefix)\(key)\"; known keys here: \(known.sorted().map { prefix + $0 }.joined(separator: ", "))")
        }
    }

    func string(_ mapping: [String: Any], _ key: String) throws(LoupeConfiguration.Error) -> String? {
        guard let value = mapping[key] else { return nil }
        switch value {
        case let text as String: return text
        case let number as Int: return String(number)
        case let number as Double: return String(number)
        default: throw LoupeConfiguration.Error(description: "\(source): \(key) must be a string or number")
        }
    }

    func mapping(_ mapping: [String: Any], _ key: String) throws(LoupeConfiguration.Error) -> [String: Any]? {
        guard let value = mapping[key] else { return nil }
        guard let nested = value as? [String: Any] else {
            throw LoupeConfiguration.Error(description: "\(source): \(key) must be a mapping")
        }
        return nested
    }

    func address(_ text: String, key: String) throws(LoupeConfiguration.Error) -> ListenAddress {
        do {
            return try ListenAddress(parsing: text)
        } catch {
            throw LoupeConfiguration.Error(description: "\(source): \(key): \(error)")
        }
    }

    func bytes(_ text: String, key: String) throws(LoupeConfiguration.Error) -> Int {
        guard let value = ByteSizeText.parse(text), value > 0 else {
            throw LoupeConfiguration.Error(description: "\(source): \(key): \"\(text)\" is not a byte size such as 16MiB")
        }
        return value
    }
}
