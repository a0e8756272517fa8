import Logging
import LoupeModel
import LoupeWire
import Synchronization

/// How the Prometheus TSDB behaves: limits, block range, out-of-order window, retention by size.
public struct PrometheusStoreOptions: Sendable {
    /// Active (head) series per tenant before new series are refused.
    public var maximumSeriesPerTenant: Int = .max
    /// How far (ms) behind a tenant's newest sample out-of-order samples are accepted; 0 refuses them.
    public var outOfOrderWindow: Int64 = 0
    /// The time range (ms) of a block cut from the head; compaction builds ×3 larger ones.
    public var blockRange: Int64 = 2 * 3_600_000
    /// The largest block compaction builds (ms).
    public var maximumBlockRange: Int64 = 31 * 24 * 3_600_000
    /// Blocks of all tenants together stay under this many bytes (oldest go first); nil: no limit.
    public var retentionBytes: Int?

    public init(
        maximumSeriesPerTenant: Int = .max, outOfOrderWindow: Int64 = 0, blockRange: Int64 = 2 * 3_600_000,
        maximumBlockRange: Int64 = 31 * 24 * 3_600_000, retentionBytes: Int? = nil
    ) {
        self.maximumSeriesPerTenant = maximumSeriesPerTenant
        self.outOfOrderWindow = outOfOrderWindow
        self.blockRange = blockRange
        self.maximumBlockRange = maximumBlockRange
        self.retentionBytes = retentionBytes
    }
}

/// Prometheus series per tenant: one TSDB (head + blocks) each, under `<directory>/<tenant>`.
/// Remote write, scrapes and converted OTLP metrics append here; PromQL and the Prometheus HTTP
/// API read from it. Without a directory it keeps everything in the heads (tests, tools).
public final class PrometheusStore: Sendable {
    private let databases = Mutex<[Tenant: TenantTSDB]>([:])
    private let metadataByTenant = Mutex<[Tenant: [String: MetricMetadata]]>([:])

    public let options: PrometheusStoreOptions
    /// Where blocks live (`<data>/metrics`), or nil for a memory-only store.
    public let directory: String?
    private let logger: Logger
    /// The last completed head cut, read at start: replay uses it to skip what blocks hold.
    public let checkpoint: Mutex<HeadCheckpoint?>

    public var maximumSeriesPerTenant: Int { options.maximumSeriesPerTenant }

    public convenience init(maximumSeriesPerTenant: Int = .max) {
        try! self.init(directory: nil, options: PrometheusStoreOptions(maximumSeriesPerTenant: maximumSeriesPerTenant))
    }

    /// Opens the store: every tenant directory with its blocks, and the checkpoint.
    public init(directory: String?, options: PrometheusStoreOptions, logger: Logger = Logger(label: "loupe.tsdb")) throws(StorageError) {
        self.directory = directory
        self.options = options
        self.logger = logger
        guard let directory else {
            checkpoint = Mutex(nil)
            return
        }
        try WALFiles.createDirectories(directory)
        checkpoint = Mutex(try HeadCheckpoint.read(directory: directory))
        var opened: [Tenant: TenantTSDB] = [:]
        for name in BlockFiles.list(directory) where name != Self.quarantineName && BlockFiles.isDirectory(WALFiles.join(directory, name)) {
            guard let tenant = try? Tenant(validating: name) else { continue }
            opened[tenant] = try makeDatabase(tenant)
        }
        databases.withLock { $0 = opened }
    }

    static let quarantineName = "quarantine"

    private func makeDatabase(_ tenant: Tenant) throws(StorageError) -> TenantTSDB {
        let head = TSDBHead(
            maximumSeries: options.maximumSeriesPerTenant, outOfOrderWindow: options.outOfOrderWindow, chunkRange: options.blockRange)
        guard let directory else {
            return try TenantTSDB(tenant: tenant, directory: "", quarantineDirectory: "", head: head, logger: logger, inMemory: true)
        }
        let database = try TenantTSDB(
            tenant: tenant, directory: WALFiles.join(directory, tenant.name),
            quarantineDirectory: WALFiles.join(directory, Self.quarantineName), head: head, logger: logger)
        // Samples before the end of the newest block are on disk; the head refuses them in order.
        let bound = max(database.persistedMaxTime ?? .min, checkpoint.withLock { $0?.maxTimes[tenant] } ?? .min)
        if bound != .min { head.setMinValidTime(bound) }
        return database
    }

    /// The label sets of the tenant's head by their remote-write bytes; nil before the tenant's first write.
    public func remoteWriteLabelCache(for tenant: Tenant) -> RemoteWriteLabelCache? {
        databases.withLock { $0[tenant]?.head.labelCache }
    }

    /// The tenant's database, created on first write.
    public func database(for tenant: Tenant) -> TenantTSDB {
        databases.withLock { databases in
            if let database = databases[tenant] { return database }
            let database: TenantTSDB
            do {
                database = try makeDatabase(tenant)
            } catch {
                // Creating the tenant directory failed (disk full, permissions): serve from memory
                // for now; the WAL still holds the data and the next start retries.
                logger.error("could not create the tenant's TSDB directory; keeping its samples in memory", metadata: [
                    "tenant": "\(tenant)", "error": "\(error)",
                ])
                let head = TSDBHead(
                    maximumSeries: options.maximumSeriesPerTenant, outOfOrderWindow: options.outOfOrderWindow,
                    chunkRange: options.blockRange)
                database = try! TenantTSDB(tenant: tenant, directory: "", quarantineDirectory: "", head: head, logger: logger, inMemory: true)
            }
            databases[tenant] = database
            return database
        }
    }

    /// The tenant's database if it has ever been written to.
    public func existingDatabase(for tenant: Tenant) -> TenantTSDB? {
        databases.withLock { $0[tenant] }
    }

    public var allDatabases: [TenantTSDB] { databases.withLock { Array($0.values) }.sorted { $0.tenant < $1.tenant } }

    public func append(_ series: [TimeSeries], tenant: Tenant) -> HeadAppendResult {
        database(for: tenant).append(series)
    }

    /// Remembers metric family metadata (`# TYPE`, `# HELP`, `# UNIT`) as writers send it.
    public func recordMetadata(_ metadata: [String: MetricMetadata], tenant: Tenant) {
        guard !metadata.isEmpty else { return }
        metadataByTenant.withLock { $0[tenant, default: [:]].merge(metadata) { _, new in new } }
    }

    public func metadata(for tenant: Tenant) -> [String: MetricMetadata] {
        metadataByTenant.withLock { $0[tenant] ?? [:] }
    }

    public var tenants: [Tenant] { databases.withLock { Array($0.keys) }.sorted() }

    /// Totals over every tenant (head samples plus samples in blocks).
    public func statistics() -> StoreStatistics {
        var statistics = StoreStatistics(tenants: 0)
        for database in allDatabases {
            statistics.tenants += 1
            statistics.items += database.head.statistics().samples
            for block in database.persistedBlocks {
                statistics.items += block.meta.sampleCount
                statistics.bytes += block.sizeBytes
            }
        }
        return statistics
    }

    /// Records a completed cut (blocks on disk) so replay knows what it may skip.
    public func saveCheckpoint(_ new: HeadCheckpoint) throws(StorageError) {
        guard let directory else { return }
        try new.write(directory: directory)
        checkpoint.withLock { $0 = new }
    }
}

/// The last head cut whose blocks are all on disk: its id (the WAL marker record says where in
/// the log it happened) and, per tenant, the end of what blocks hold. WAL records before the
/// marker only contribute samples at or after that end on replay.
public struct HeadCheckpoint: Sendable, Equatable {
    public var cutID: UInt64
    public var maxTimes: [Tenant: Int64]
    /// WAL segments numbered below this hold only records written before the cut's marker.
    public var walSegmentsBefore: UInt64

    public init(cutID: UInt64, maxTimes: [Tenant: Int64], walSegmentsBefore: UInt64 = 0) {
        self.cutID = cutID
        self.maxTimes = maxTimes
        self.walSegmentsBefore = walSegmentsBefore
    }

    static let magic: [UInt8] = Array("LPK1".utf8)
    static let fileName = "checkpoint"

    static func read(directory: String) throws(StorageError) -> HeadCheckpoint? {
        let path = WALFiles.join(directory, fileName)
        return try ChecksummedFile.read(path, magic: magic, what: "Loupe TSDB checkpoint") { (source: inout ByteSource) throws(StorageError) in
            var checkpoint = HeadCheckpoint(cutID: try source.uvarint(), maxTimes: [:])
            let count = try source.uvarintInt(limit: source.end)
            for _ in 0..<count {
                let tenant = Tenant(uncheckedName: try source.string())
                checkpoint.maxTimes[tenant] = try source.varint()
            }
            if !source.isAtEnd { checkpoint.walSegmentsBefore = try source.uvarint() }
            return checkpoint
        }
    }

    func write(directory: String) throws(StorageError) {
        try ChecksummedFile.write(WALFiles.join(directory, Self.fileName), magic: Self.magic, directory: directory) { sink in
            sink.uvarint(cutID)
            sink.uvarint(maxTimes.count)
            for (tenant, time) in maxTimes.sorted(by: { $0.key < $1.key }) {
                sink.string(tenant.name)
                sink.varint(time)
            }
            sink.uvarint(walSegmentsBefore)
        }
    }

    /// The WAL marker payload of a cut.
    public static func markerPayload(cutID: UInt64) -> [UInt8] {
        var sink = ByteSink()
        sink.uint64(cutID)
        return sink.bytes
    }

    public static func cutID(fromMarker payload: [UInt8]) -> UInt64? {
        guard payload.count == 8 else { return nil }
        return payload.withUnsafeBytes { raw in
            var source = ByteSource(raw)
            return try? source.uint64()
        }
    }
}
