@testable import LoupeCLI
import LoupeModel
import LoupePipeline
import LoupeStorage
import Testing

@Suite("Configuration, addresses and durations")
struct ConfigurationTests {
    @Test("YAML sets every option")
    func fullYAML() throws {
        let configuration = try LoupeConfiguration.load(yaml: """
            data_dir: /var/lib/loupe
            http_address: 127.0.0.1:9000
            otlp_grpc_address: ":14317"
            otlp_http_address: localhost:14318
            retention: 36h
            log_level: debug
            limits:
              max_request_bytes: 8MiB
              memory_budget_bytes: 1GiB
              max_series_per_tenant: 50000
              otlp_read_back_bytes: 16MiB
            wal:
              fsync: interval
              fsync_interval: 250ms
              segment_size: 64MiB
              reserved_space: 4MiB
            """, source: "loupe.yaml")
        #expect(configuration.dataDirectory == "/var/lib/loupe")
        #expect(configuration.httpAddress == ListenAddress(host: "127.0.0.1", port: 9000))
        #expect(configuration.otlpGRPCAddress == ListenAddress(host: "0.0.0.0", port: 14317))
        #expect(configuration.otlpHTTPAddress == ListenAddress(host: "127.0.0.1", port: 14318))
        #expect(configuration.retention == RetentionPolicy(nanoseconds: 36 * 3_600 * 1_000_000_000))
        #expect(configuration.logLevel == "debug")
        #expect(configuration.maximumRequestBytes == 8 << 20)
        #expect(configuration.memoryBudgetBytes == 1 << 30)
        #expect(configuration.maximumSeriesPerTenant == 50_000)
        #expect(configuration.otlpReadBackBytes == 16 << 20)
        #expect(configuration.walSyncPolicy == .interval(.milliseconds(250)))
        #expect(configuration.walSegmentBytes == 64 << 20)
        #expect(configuration.walReservedSpaceBytes == 4 << 20)
    }

    @Test("logs: flushing, sizes and tenants' own retention")
    func logsSection() throws {
        let configuration = try LoupeConfiguration.load(yaml: """
            logs:
              flush_size: 8MiB
              flush_age: 5m
              retention_size_per_tenant: 10GiB
              tenants:
                team-a: {retention: 7d}
                audit: {retention: 0, retention_size: 1TiB}
            """, source: "loupe.yaml")
        #expect(configuration.logMaintenance.flushBytes == 8 << 20)
        #expect(configuration.logMaintenance.flushAgeNanoseconds == 300_000_000_000)
        #expect(configuration.logMaintenance.retentionBytesPerTenant == 10 << 30)
        #expect(configuration.logTenantRetention == [
            Tenant(uncheckedName: "team-a"): .init(periodNanoseconds: 7 * 86_400 * 1_000_000_000),
            Tenant(uncheckedName: "audit"): .init(periodNanoseconds: 0, maximumBytes: 1 << 40),
        ])
    }

    @Test("collect: the pipelines loupe up runs itself")
    func collectSection() throws {
        let configuration = try LoupeConfiguration.load(yaml: "collect:\n  pipelines: [p.yaml, pipelines/]\n  pod_log_root: /logs/pods\n", source: "c.yaml")
        #expect(configuration.pipelinePaths == ["p.yaml", "pipelines/"] && configuration.podLogRoot == "/logs/pods")
        #expect(LoupeConfiguration().pipelinePaths.isEmpty && LoupeConfiguration().podLogRoot == "/var/log/pods")
        #expect(throws: LoupeConfiguration.Error.self) { try LoupeConfiguration.load(yaml: "collect:\n  pipelines: p.yaml\n", source: "c.yaml") }
        #expect(throws: LoupeConfiguration.Error.self) { try LoupeConfiguration.load(yaml: "collect:\n  pipeline: [p.yaml]\n", source: "c.yaml") }
    }

    @Test("an empty file keeps the defaults")
    func emptyYAML() throws {
        #expect(try LoupeConfiguration.load(yaml: "", source: "empty.yaml") == LoupeConfiguration())
        #expect(LoupeConfiguration().retention == .defaultPeriod)
        #expect(LoupeConfiguration().walSyncPolicy == .groupCommit)
    }

    @Test("unknown keys and bad values are errors that name the key", arguments: [
        ("retension: 1d", "unknown key \"retension\""),
        ("wal:\n  fsnyc: group", "unknown key \"wal.fsnyc\""),
        ("retention: forever", "retention"),
        ("http_address: nowhere", "http_address"),
        ("limits:\n  max_request_bytes: lots", "limits.max_request_bytes"),
        ("wal:\n  fsync: sometimes", "wal.fsync"),
        ("log_level: loud", "log_level"),
        ("limits:\n  max_series_per_tenant: many", "limits.max_series_per_tenant"),
        ("- a\n- b", "mapping"),
        ("a: [unclosed", "invalid YAML"),
        ("logs:\n  tenants:\n    a: {retention: soon}", "logs.tenants.a.retention"),
        ("logs:\n  tenants:\n    a: {retension: 1d}", "unknown key \"logs.tenants.a.retension\""),
        ("logs:\n  tenants:\n    a: {retention_size: huge}", "logs.tenants.a.retention_size"),
        ("traces:\n  jaeger_path_prefix: /", "traces.jaeger_path_prefix"),
        ("traces:\n  jaeger_path: /j", "unknown key \"traces.jaeger_path\""),
    ])
    func invalid(yaml: String, expected: String) {
        #expect {
            _ = try LoupeConfiguration.load(yaml: yaml, source: "bad.yaml")
        } throws: { error in
            String(describing: error).contains(expected) && String(describing: error).contains("bad.yaml")
        }
    }

    @Test("flags override the file")
    func flagsOverride() throws {
        let command = try UpCommand.parse(["--retention", "0", "--http-address", "127.0.0.1:0", "--log-level", "warn"])
        let configuration = try command.resolvedConfiguration()
        #expect(configuration.retention == .keepEverything)
        #expect(configuration.httpAddress.port == 0)
        #expect(configuration.logLevel == "warning")
        #expect(throws: (any Error).self) { try UpCommand.parse(["--retention", "soon"]).validate() }
    }

    @Test("listen addresses", arguments: [
        ("0.0.0.0:4317", "0.0.0.0", 4317), (":4318", "0.0.0.0", 4318), ("localhost:80", "127.0.0.1", 80),
        ("[::1]:9090", "::1", 9090), ("127.0.0.1:0", "127.0.0.1", 0),
    ])
    func addresses(text: String, host: String, port: Int) throws {
        #expect(try ListenAddress(parsing: text) == ListenAddress(host: host, port: port))
    }

    @Test("invalid listen addresses", arguments: ["4317", "host:", "host:70000", "host:http"])
    func invalidAddresses(text: String) {
        #expect(throws: ListenAddress.ParseError.self) { try ListenAddress(parsing: text) }
    }

    @Test("Prometheus-style durations")
    func durations() throws {
        #expect(try DurationText.parseNanoseconds("0") == 0)
        #expect(try DurationText.parseNanoseconds("15d") == 15 * 86_400 * 1_000_000_000)
        #expect(try DurationText.parseNanoseconds("1h30m") == 5_400 * 1_000_000_000)
        #expect(try DurationText.parseNanoseconds("250ms") == 250_000_000)
        #expect(DurationText.format(nanoseconds: 15 * 86_400 * 1_000_000_000) == "15d")
        #expect(DurationText.format(nanoseconds: 5_400 * 1_000_000_000) == "1h30m")
        for bad in ["", "5", "1x", "h", "99999999999999999999d"] {
            #expect(throws: DurationText.ParseError.self) { try DurationText.parseNanoseconds(bad) }
        }
    }

    @Test("byte sizes")
    func byteSizes() {
        #expect(ByteSizeText.parse("16MiB") == 16 << 20)
        #expect(ByteSizeText.parse("1GB") == 1_000_000_000)
        #expect(ByteSizeText.parse("4096") == 4096)
        #expect(ByteSizeText.parse("2TiB") == 2 << 40)
        #expect(ByteSizeText.parse("3TB") == 3_000_000_000_000)
        #expect(ByteSizeText.parse("9000000PiB") == nil)
        #expect(ByteSizeText.parse("lots") == nil)
        #expect(ByteSizeText.parse("5 parsecs") == nil)
    }

    @Test("the memory budget refuses over its limit but always admits a lone request")
    func memoryBudget() throws {
        let budget = MemoryBudget(limitBytes: 100)
        let first = try #require(budget.reserve(60))
        #expect(budget.reserve(50) == nil)
        let second = try #require(budget.reserve(40))
        #expect(budget.bytesInUse == 100)
        budget.release(first)
        budget.release(second)
        #expect(budget.bytesInUse == 0)
        let huge = try #require(budget.reserve(1_000))
        budget.release(huge)
    }

    @Test("tenant names follow the X-Scope-OrgID rules")
    func tenants() throws {
        #expect(try Tenant.fromHeader(nil) == .default)
        #expect(try Tenant.fromHeader("") == .default)
        #expect(try Tenant.fromHeader("team-a.prod_1").name == "team-a.prod_1")
        for bad in ["a/b", "..", String(repeating: "x", count: 151), "tab\there", "ünïcode"] {
            #expect(throws: TenantError.self) { try Tenant(validating: bad) }
        }
    }
}
