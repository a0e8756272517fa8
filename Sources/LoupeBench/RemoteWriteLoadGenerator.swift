import LoupeModel
import LoupeWire
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Sends Prometheus remote-write requests (1.0 or 2.0, snappy) to an endpoint as fast as it answers them, from
/// `concurrency` keep-alive connections, for a fixed time, and reports the samples it accepted.
///
/// The data looks like what Prometheus forwards from scraping node exporters: ~500 series per host
/// (`node_cpu_seconds_total{cpu,mode}`, `node_network_receive_bytes_total{device}`,
/// `node_filesystem_avail_bytes{device,fstype,mountpoint}`, ...), `instance`/`job` labels, counters that only go
/// up and gauges that wander, one sample per series per simulated 15 s scrape. A *round* sends every series once
/// (with `samplesPerSeriesPerRequest` consecutive scrapes per series); rounds advance simulated time, which
/// starts far enough in the past that it never reaches the present during the run, so every timestamp is in the
/// past and strictly increases per series.
///
/// Like Prometheus's shards, every series belongs to one worker (an equal slice of the series, split into batches
/// of at most `batchSeries`), and a worker sends its batches in round order on one connection, so no receiver sees
/// a series' samples out of order. Workers stay within `maximumRoundLag` rounds of the slowest one, as
/// Prometheus's shards all send the samples of the same scrapes: a receiver's TSDB only accepts samples within
/// an hour or so of the newest it holds (Prometheus answers "out of bounds" after cutting a block otherwise).
///
/// Requests are encoded before the clock starts, up to a memory budget (`prebuildBytes`); a worker that runs out
/// of pre-built rounds encodes its next requests itself, and the time spent doing so is reported separately
/// (it then competes with the server for the CPU).
public struct RemoteWriteLoadGenerator: Sendable {
    public struct Options: Sendable, Hashable {
        /// `http://HOST:PORT/api/v1/write` (the path defaults to `/api/v1/write`).
        public var endpoint: String
        public var seriesCount: Int
        public var samplesPerSeriesPerRequest: Int
        /// Series per request (Prometheus's `max_samples_per_send` with one sample per series).
        public var batchSeries: Int
        public var duration: Duration
        public var concurrency: Int
        /// Share of the series replaced by new label sets every simulated minute.
        public var churn: Double
        /// 1 or 2.
        public var version: Int
        public var requestTimeout: Duration
        /// Compressed request bodies to prepare before the clock starts.
        public var prebuildBytes: Int
        /// Upper bound on the samples/s any receiver could accept; decides how far back simulated time starts.
        public var maximumExpectedSamplesPerSecond: Double
        /// Send exactly this many rounds, ending just before now, then stop (a backfill of `rounds` scrapes of
        /// history, e.g. 480 = 2 h at 15 s); `duration` still caps the run. Nil: run for `duration`.
        public var rounds: Int?
        /// How the series' values evolve (see `RemoteWriteValueModel`).
        public var values: RemoteWriteValueModel

        public init(
            endpoint: String, seriesCount: Int = 10_000, samplesPerSeriesPerRequest: Int = 1, batchSeries: Int = 2_000,
            duration: Duration = .seconds(10), concurrency: Int = 4, churn: Double = 0, version: Int = 1,
            requestTimeout: Duration = .seconds(30), prebuildBytes: Int = 1536 << 20,
            maximumExpectedSamplesPerSecond: Double = 10_000_000, rounds: Int? = nil, values: RemoteWriteValueModel = .realistic
        ) {
            self.rounds = rounds
            self.values = values
            self.endpoint = endpoint
            self.seriesCount = seriesCount
            self.samplesPerSeriesPerRequest = samplesPerSeriesPerRequest
            self.batchSeries = batchSeries
            self.duration = duration
            self.concurrency = concurrency
            self.churn = churn
            self.version = version
            self.requestTimeout = requestTimeout
            self.prebuildBytes = prebuildBytes
            self.maximumExpectedSamplesPerSecond = maximumExpectedSamplesPerSecond
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Simulated time between two scrapes.
    static let scrapeIntervalMilliseconds: Int64 = 15_000

    public func run() async throws -> RemoteWriteLoadResult {
        try validateOptions()
        let endpoint = try Self.parseEndpoint(options.endpoint)
        let eventLoopGroup = MultiThreadedEventLoopGroup.singleton
        do {
            let channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(.seconds(5))
                .connect(host: endpoint.host, port: endpoint.port)
                .get()
            try? await channel.close()
        } catch {
            throw LoadGeneratorError(message: "cannot connect to \(options.endpoint): \(error)")
        }

        // Simulated time: enough rounds that even the fastest plausible receiver cannot use them up.
        let samplesPerRound = Double(options.seriesCount * options.samplesPerSeriesPerRequest)
        let maximumRounds = options.rounds ?? Int(
            (options.maximumExpectedSamplesPerSecond * (options.duration.inSeconds + 5) / samplesPerRound).rounded(.up)) + 2
        let scrapesTotal = Int64(maximumRounds * options.samplesPerSeriesPerRequest)
        let nowMilliseconds = Int64(WallClock.system.nowUnixNano() / 1_000_000)
        // Aligned to the interval, and one interval of slack before "now".
        let firstTimestamp =
            (nowMilliseconds - (scrapesTotal + 1) * Self.scrapeIntervalMilliseconds) / Self.scrapeIntervalMilliseconds
            * Self.scrapeIntervalMilliseconds
        let seed = SplitMix64.mix(UInt64(bitPattern: nowMilliseconds))
        let catalog = NodeExporterCatalog()
        let workerCount = min(options.concurrency, options.seriesCount)

        // Pre-build, every worker's share in parallel.
        let prebuildStart = ContinuousClock.now
        let budgetPerWorker = max(1, options.prebuildBytes / workerCount)
        let options = self.options
        let shards: [RemoteWriteShard] = await withTaskGroup(of: RemoteWriteShard.self) { group in
            for worker in 0..<workerCount {
                group.addTask {
                    var shard = RemoteWriteShard(
                        worker: worker, workerCount: workerCount, options: options, catalog: catalog,
                        firstTimestamp: firstTimestamp, maximumRounds: maximumRounds, seed: seed)
                    shard.prebuild(budgetBytes: budgetPerWorker)
                    return shard
                }
            }
            var shards: [RemoteWriteShard] = []
            for await shard in group { shards.append(shard) }
            return shards.sorted { $0.worker < $1.worker }
        }
        let batchCount = shards.reduce(0) { $0 + $1.batchCount }
        let prebuildTime = prebuildStart.duration(to: .now)
        let prebuiltRequests = shards.reduce(0) { $0 + $1.prebuilt.count }
        let prebuiltBytes = shards.reduce(0) { $0 + $1.prebuiltBytes }
        let prebuiltRounds = shards.map(\.prebuiltRounds).min() ?? 0
        let averageRequestBytes = prebuiltRequests > 0 ? prebuiltBytes / prebuiltRequests : 0
        let averageProtobufBytes = prebuiltRequests > 0 ? shards.reduce(0) { $0 + $1.prebuiltProtobufBytes } / prebuiltRequests : 0

        var requestHeaders = HTTPHeaders()
        requestHeaders.add(name: "Content-Type", value: options.version == 2 ? RemoteWriteV2.contentType : RemoteWriteV1.contentType)
        requestHeaders.add(name: "Content-Encoding", value: "snappy")
        requestHeaders.add(name: "X-Prometheus-Remote-Write-Version", value: options.version == 2 ? "2.0.0" : "0.1.0")
        requestHeaders.add(name: "User-Agent", value: "loupe-bench")
        let headers = requestHeaders

        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: options.duration)
        let shardBox = ShardBox(shards: shards)
        let progress = RoundProgress(workers: workerCount)
        let maximumRoundLag = self.maximumRoundLag
        let path = endpoint.path
        let hardStop = deadline.advanced(by: min(options.requestTimeout, .seconds(2)))
        let tallies = await withTaskGroup(of: RemoteWriteTally?.self) { group in
            for index in 0..<workerCount {
                group.addTask {
                    var shard = shardBox.shards[index]
                    return await Self.worker(
                        shard: &shard, endpoint: endpoint, path: path, headers: headers, deadline: deadline,
                        timeout: options.requestTimeout, progress: progress, maximumRoundLag: maximumRoundLag)
                }
            }
            group.addTask {
                // Ends early (cancelled) once all workers are done.
                try? await Task.sleep(until: hardStop, clock: .continuous)
                return nil
            }
            var tallies: [RemoteWriteTally] = []
            while let result = await group.next() {
                if let tally = result {
                    tallies.append(tally)
                    if tallies.count == workerCount { group.cancelAll() }
                } else {
                    group.cancelAll()
                }
            }
            return tallies
        }
        let end = clock.now
        try Task.checkCancellation()

        var total = RemoteWriteTally()
        for tally in tallies { total.merge(tally) }
        // A backfill that sent all its rounds ends with its last answer, not at the duration cap.
        let measuredEnd = total.ranOutOfTimestamps
            ? min(total.lastAnswerAt ?? end, end) : max(deadline, min(total.lastAnswerAt ?? deadline, end))
        return RemoteWriteLoadResult(
            options: options, workers: workerCount, batchCount: batchCount, prebuildTime: prebuildTime,
            prebuiltRequests: prebuiltRequests, prebuiltBytes: prebuiltBytes, prebuiltRounds: prebuiltRounds,
            averageRequestBytes: averageRequestBytes, averageProtobufBytes: averageProtobufBytes,
            elapsed: start.duration(to: measuredEnd), wallTime: start.duration(to: end), tally: total)
    }

    /// How many rounds a worker may run ahead of the slowest: 20 minutes of simulated time (at least one round).
    var maximumRoundLag: Int {
        max(1, Int(20 * 60_000 / (Self.scrapeIntervalMilliseconds * Int64(options.samplesPerSeriesPerRequest))))
    }

    private func validateOptions() throws(LoadGeneratorError) {
        guard options.seriesCount > 0 else { throw LoadGeneratorError(message: "--series must be at least 1") }
        guard options.samplesPerSeriesPerRequest > 0 else {
            throw LoadGeneratorError(message: "--samples-per-series-per-request must be at least 1")
        }
        guard options.batchSeries > 0 else { throw LoadGeneratorError(message: "--batch-series must be at least 1") }
        guard options.duration > .zero else { throw LoadGeneratorError(message: "the duration must be positive") }
        guard options.concurrency > 0 else { throw LoadGeneratorError(message: "the concurrency must be at least 1") }
        guard options.churn >= 0 && options.churn <= 1 else { throw LoadGeneratorError(message: "--churn must be between 0 and 1") }
        guard options.version == 1 || options.version == 2 else { throw LoadGeneratorError(message: "--version must be 1 or 2") }
        guard options.requestTimeout > .zero else { throw LoadGeneratorError(message: "the request timeout must be positive") }
        if let rounds = options.rounds, rounds < 1 { throw LoadGeneratorError(message: "--rounds must be at least 1") }
    }

    struct Endpoint: Sendable {
        var host: String
        var port: Int
        var path: String
        var hostForURL: String { host.contains(":") ? "[\(host)]" : host }
    }

    /// `http://HOST[:PORT][/PATH]`, default port 9090 and path `/api/v1/write`.
    static func parseEndpoint(_ text: String) throws(LoadGeneratorError) -> Endpoint {
        // The OTLP parser knows hosts, ports and IPv6; only the defaults differ.
        guard text.lowercased().hasPrefix("http://") else {
            throw LoadGeneratorError(message: "endpoint \"\(text)\" must be http://HOST:PORT/api/v1/write")
        }
        let rest = text.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        let path = String(rest.dropFirst(authority.count))
        let hasPort = authority.hasPrefix("[") ? authority.contains("]:") : authority.contains(":")
        let parsed = try OTLPEndpoint(parsing: "http://\(authority)\(hasPort ? "" : ":9090")/", signal: .metrics)
        return Endpoint(host: parsed.host, port: parsed.port, path: path.isEmpty || path == "/" ? "/api/v1/write" : path)
    }

    private struct ConnectionBroken: Error {}

    /// One shard's worker: sends its batches round after round on a keep-alive connection (replaced when broken).
    /// A request that failed is not resent: its samples are lost, as with a receiver answering 4xx to Prometheus.
    static func worker(
        shard: inout RemoteWriteShard, endpoint: Endpoint, path: String, headers: HTTPHeaders,
        deadline: ContinuousClock.Instant, timeout: Duration, progress: RoundProgress, maximumRoundLag: Int
    ) async -> RemoteWriteTally {
        defer { progress.finish(worker: shard.worker) }
        var tally = RemoteWriteTally()
        var next = 0
        func shouldStart() -> Bool { ContinuousClock.now < deadline && !Task.isCancelled }
        while shouldStart() {
            do {
                try await HTTP1Connection.withConnection(
                    host: endpoint.host, port: endpoint.port, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                    connectTimeout: min(timeout, .seconds(5))
                ) { connection in
                    while shouldStart() && connection.isReusable {
                        let request: RemoteWriteShard.Request
                        if next < shard.prebuilt.count {
                            request = shard.prebuilt[next]
                        } else {
                            let encodeStart = ContinuousClock.now
                            guard let built = shard.buildNext() else {
                                tally.ranOutOfTimestamps = true
                                return
                            }
                            tally.encodedDuringRun += 1
                            tally.encodeTimeDuringRun += encodeStart.duration(to: .now)
                            request = built
                        }
                        next += 1
                        // Stay in step with the other workers (rarely waits: their loads are equal).
                        progress.start(worker: shard.worker, round: request.round)
                        while request.round > progress.slowest + maximumRoundLag {
                            guard shouldStart() else { return }
                            tally.waitsForSlowerWorkers += 1
                            try? await Task.sleep(for: .milliseconds(1))
                        }
                        let sent = ContinuousClock.now
                        let response: HTTP1Response
                        do {
                            response = try await connection.post(path: path, headers: headers, body: request.body, timeout: timeout)
                        } catch {
                            if Task.isCancelled {
                                tally.abandoned += 1
                            } else if sent.duration(to: .now) >= timeout {
                                tally.recordFailure("timeout", message: "no complete response within \(timeout.shortText)", samples: request.samples)
                            } else {
                                tally.recordFailure("connection error", message: "\(error)", samples: request.samples)
                            }
                            throw ConnectionBroken()
                        }
                        let answered = ContinuousClock.now
                        tally.record(response, request: request, latency: sent.duration(to: answered), answeredAt: answered)
                    }
                }
                if tally.ranOutOfTimestamps { break }
            } catch is ConnectionBroken {
                // Counted; reconnect.
            } catch {
                if Task.isCancelled { break }
                tally.recordFailure("connect error", message: "\(error)", samples: 0)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        return tally
    }
}

/// The round each worker is sending, so none runs far ahead of the others.
final class RoundProgress: Sendable {
    private let rounds: Mutex<[Int]>

    init(workers: Int) { rounds = Mutex(Array(repeating: 0, count: workers)) }

    func start(worker: Int, round: Int) { rounds.withLock { $0[worker] = round } }
    /// A finished worker no longer holds the others back.
    func finish(worker: Int) { rounds.withLock { $0[worker] = Int.max / 2 } }
    var slowest: Int { rounds.withLock { $0.min() ?? 0 } }
}

/// Shards handed to the worker closures (each worker copies out its own).
private final class ShardBox: @unchecked Sendable {
    let shards: [RemoteWriteShard]
    init(shards: [RemoteWriteShard]) { self.shards = shards }
}

// MARK: - Series

/// The series one node exporter exposes, without `instance`/`job`: ~500 per host.
struct NodeExporterCatalog: Sendable {
    struct Template: Sendable {
        var labels: [Label]
        var isCounter: Bool
    }

    let templates: [Template]

    init() {
        var templates: [Template] = []
        func add(_ name: String, counter: Bool, _ labels: [(String, String)] = []) {
            templates.append(Template(labels: [Label("__name__", name)] + labels.map { Label($0.0, $0.1) }, isCounter: counter))
        }
        let modes = ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]
        for cpu in 0..<16 {
            for mode in modes { add("node_cpu_seconds_total", counter: true, [("cpu", String(cpu)), ("mode", mode)]) }
            for mode in ["nice", "user"] { add("node_cpu_guest_seconds_total", counter: true, [("cpu", String(cpu)), ("mode", mode)]) }
        }
        let devices = ["docker0", "eth0", "eth1", "lo", "veth1a2b3c", "veth4d5e6f"]
        for device in devices {
            for direction in ["receive", "transmit"] {
                for what in ["bytes", "packets", "errs", "drop"] {
                    add("node_network_\(direction)_\(what)_total", counter: true, [("device", device)])
                }
            }
            add("node_network_up", counter: false, [("device", device)])
            add("node_network_mtu_bytes", counter: false, [("device", device)])
        }
        let mounts: [(String, String, String)] = [
            ("/dev/vda1", "ext4", "/"), ("/dev/vda15", "vfat", "/boot/efi"), ("/dev/vdb", "ext4", "/var/lib/data"),
            ("tmpfs", "tmpfs", "/run"), ("tmpfs", "tmpfs", "/run/lock"), ("tmpfs", "tmpfs", "/dev/shm"),
            ("overlay", "overlay", "/var/lib/docker/overlay2"), ("/dev/vdc", "xfs", "/var/log"),
        ]
        for (device, fstype, mountpoint) in mounts {
            for what in ["avail_bytes", "size_bytes", "free_bytes", "files", "files_free", "readonly"] {
                add("node_filesystem_\(what)", counter: false, [("device", device), ("fstype", fstype), ("mountpoint", mountpoint)])
            }
        }
        for device in ["nvme0n1", "sda", "vda", "vdb"] {
            for what in [
                "reads_completed_total", "writes_completed_total", "read_bytes_total", "written_bytes_total",
                "io_time_seconds_total", "read_time_seconds_total", "write_time_seconds_total",
            ] {
                add("node_disk_\(what)", counter: true, [("device", device)])
            }
            add("node_disk_io_now", counter: false, [("device", device)])
        }
        for what in [
            "MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive", "Active_anon",
            "Inactive_anon", "Active_file", "Inactive_file", "Unevictable", "Mlocked", "SwapTotal", "SwapFree", "Dirty",
            "Writeback", "AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim",
            "KernelStack", "PageTables", "NFS_Unstable", "Bounce", "WritebackTmp", "CommitLimit", "Committed_AS",
            "VmallocTotal", "VmallocUsed", "VmallocChunk", "Percpu", "HardwareCorrupted", "AnonHugePages",
            "HugePages_Total", "Hugepagesize",
        ] {
            add("node_memory_\(what)_bytes", counter: false)
        }
        for index in 0..<30 { add("node_vmstat_\(Self.vmstat[index % Self.vmstat.count])\(index < Self.vmstat.count ? "" : "_\(index)")", counter: true) }
        for index in 0..<40 { add("node_netstat_\(Self.netstat[index % Self.netstat.count])\(index < Self.netstat.count ? "" : "_\(index)")", counter: true) }
        for name in ["node_load1", "node_load5", "node_load15", "node_procs_running", "node_procs_blocked", "node_boot_time_seconds", "node_time_seconds"] {
            add(name, counter: false)
        }
        for name in ["node_context_switches_total", "node_intr_total", "node_forks_total"] { add(name, counter: true) }
        let collectors = [
            "arp", "bcache", "bonding", "btrfs", "conntrack", "cpu", "cpufreq", "diskstats", "dmi", "edac", "entropy",
            "fibrechannel", "filefd", "filesystem", "hwmon", "infiniband", "ipvs", "loadavg", "mdadm", "meminfo",
            "netclass", "netdev", "netstat", "nfs", "nfsd", "nvme", "os", "powersupplyclass", "pressure", "rapl",
            "schedstat", "selinux", "sockstat", "softnet", "stat", "tapestats", "textfile", "thermal_zone", "time",
            "timex",
        ]
        for collector in collectors {
            add("node_scrape_collector_duration_seconds", counter: false, [("collector", collector)])
            add("node_scrape_collector_success", counter: false, [("collector", collector)])
        }
        self.templates = templates
    }

    static let vmstat = [
        "pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault", "oom_kill", "pgsteal_kswapd", "pgscan_direct",
        "numa_hit", "numa_miss", "numa_foreign", "thp_fault_alloc", "pgalloc_normal", "pgfree",
    ]
    static let netstat = [
        "Tcp_ActiveOpens", "Tcp_PassiveOpens", "Tcp_CurrEstab", "Tcp_InErrs", "Tcp_InSegs", "Tcp_OutSegs",
        "Tcp_RetransSegs", "Tcp_OutRsts", "Udp_InDatagrams", "Udp_OutDatagrams", "Udp_InErrors", "Udp_NoPorts",
        "TcpExt_ListenDrops", "TcpExt_ListenOverflows", "TcpExt_SyncookiesSent", "TcpExt_TCPTimeouts", "Icmp_InMsgs",
        "Icmp_OutMsgs", "Ip_Forwarding", "IpExt_InOctets",
    ]
}

/// One worker's series (an equal slice of all series) and the requests for them, round by round.
struct RemoteWriteShard: Sendable {
    struct Request: Sendable {
        var body: ByteBuffer
        var samples: Int
        var protobufBytes: Int
        var round: Int
    }

    /// A series slot: which catalog entry on which host, and how often it was replaced by churn.
    struct Slot: Sendable {
        var index: Int
        var generation: Int
        var labels: Labels
        var isCounter: Bool
        /// Per-slot value shape, from the seed.
        var base: Double
        var step: Double
        var phase: Int
        /// The realistic model; nil for the synthetic one (`base`, `step`).
        var model: NodeExporterSeriesValues?
    }

    let worker: Int
    private let options: RemoteWriteLoadGenerator.Options
    private let catalog: NodeExporterCatalog
    private let firstTimestamp: Int64
    private let maximumRounds: Int
    private let seed: UInt64
    /// Slot indices per local batch.
    private var batches: [[Slot]]
    var batchCount: Int { batches.count }
    private var round = 0
    private var batchInRound = 0
    /// Churn steps applied so far (one per simulated minute).
    private var churnSteps = 0
    private let churnPerStep: Int

    var prebuilt: [Request] = []
    var prebuiltBytes = 0
    var prebuiltProtobufBytes = 0
    var prebuiltRounds = 0

    init(
        worker: Int, workerCount: Int, options: RemoteWriteLoadGenerator.Options, catalog: NodeExporterCatalog,
        firstTimestamp: Int64, maximumRounds: Int, seed: UInt64
    ) {
        self.worker = worker
        self.options = options
        self.catalog = catalog
        self.firstTimestamp = firstTimestamp
        self.maximumRounds = maximumRounds
        self.seed = seed
        churnPerStep = Int((options.churn * Double(options.seriesCount)).rounded())
        // This worker's slice, split into equal batches of at most `batchSeries`.
        let lower = worker * options.seriesCount / workerCount
        let upper = (worker + 1) * options.seriesCount / workerCount
        let count = upper - lower
        let batchCount = count == 0 ? 0 : (count + options.batchSeries - 1) / options.batchSeries
        var batches: [[Slot]] = []
        for batch in 0..<batchCount {
            let first = lower + batch * count / batchCount
            let end = lower + (batch + 1) * count / batchCount
            batches.append((first..<end).map { Self.makeSlot($0, generation: 0, catalog: catalog, seed: seed, values: options.values) })
        }
        self.batches = batches
    }

    static func makeSlot(
        _ index: Int, generation: Int, catalog: NodeExporterCatalog, seed: UInt64, values: RemoteWriteValueModel
    ) -> Slot {
        let templateCount = catalog.templates.count
        let host = index / templateCount
        let template = catalog.templates[index % templateCount]
        var labels = template.labels
        let instance = generation == 0 ? "node-\(host).example.net:9100" : "node-\(host)-r\(generation).example.net:9100"
        labels.append(Label("instance", instance))
        labels.append(Label("job", "node"))
        var random = SplitMix64(seed: seed ^ UInt64(index) &* 0x9E37_79B9 ^ UInt64(generation) << 40)
        let unit = Double(random.next() >> 11) / Double(1 << 53)
        let unit2 = Double(random.next() >> 11) / Double(1 << 53)
        let model = values == .realistic
            ? NodeExporterSeriesValues.model(
                name: template.labels.first { $0.name == "__name__" }?.value ?? "", labels: template.labels, isCounter: template.isCounter,
                random: &random)
            : nil
        return Slot(
            index: index, generation: generation, labels: Labels(labels), isCounter: template.isCounter,
            base: template.isCounter ? (unit * 1e6).rounded() : 1 + unit * 1e9,
            step: template.isCounter ? 0.5 + unit2 * 1000 : unit2 * 0.05, phase: Int(random.next() % 1000), model: model)
    }

    /// The value of a slot at scrape `scrape`: counters grow by a per-series rate (with a little jitter), gauges
    /// drift around their base in a triangle wave.
    static func value(_ slot: Slot, scrape: Int, timestamp: Int64) -> Double {
        if let model = slot.model { return model.value(scrape: scrape, phase: slot.phase, timestamp: timestamp) }
        if slot.isCounter {
            let jitter = Double(SplitMix64.mix(UInt64(scrape) &+ UInt64(slot.phase)) % 16) / 16
            return slot.base + slot.step * (Double(scrape) + jitter * 0.5)
        }
        let position = (scrape + slot.phase) % 200
        let wave = Double(position < 100 ? position : 200 - position) / 100 // 0...1
        return (slot.base * (1 + slot.step * wave)).rounded()
    }

    /// Encodes the shard's next request (the next batch of the current round), or `nil` when simulated time
    /// would reach the present.
    mutating func buildNext() -> Request? {
        guard round < maximumRounds, !batches.isEmpty else { return nil }
        if batchInRound == 0 { applyChurn() }
        let perRequest = options.samplesPerSeriesPerRequest
        let firstScrape = round * perRequest
        let interval = RemoteWriteLoadGenerator.scrapeIntervalMilliseconds
        var series: [TimeSeries] = []
        series.reserveCapacity(batches[batchInRound].count)
        for slot in batches[batchInRound] {
            var samples: [FloatSample] = []
            samples.reserveCapacity(perRequest)
            for scrape in firstScrape..<(firstScrape + perRequest) {
                let timestamp = firstTimestamp + Int64(scrape) * interval
                samples.append(FloatSample(timestamp: timestamp, value: Self.value(slot, scrape: scrape, timestamp: timestamp)))
            }
            let metadata: MetricMetadata? =
                options.version == 2 ? MetricMetadata(type: slot.isCounter ? .counter : .gauge, help: "", unit: "") : nil
            series.append(TimeSeries(labels: slot.labels, samples: samples, metadata: metadata))
        }
        let request = RemoteWriteRequest(series: series)
        let protobuf = options.version == 2 ? RemoteWriteV2.encode(request) : RemoteWriteV1.encode(request)
        let compressed = Snappy.compress(protobuf)
        let requestRound = round
        batchInRound += 1
        if batchInRound == batches.count {
            batchInRound = 0
            round += 1
        }
        return Request(body: ByteBuffer(bytes: compressed), samples: series.count * perRequest, protobufBytes: protobuf.count,
            round: requestRound)
    }

    /// At the start of a round: for every simulated minute passed since the last churn, replaces the next
    /// `churn × series` slots (cycling through all series) with new label sets. Every shard applies the same
    /// global steps to the slots it owns.
    private mutating func applyChurn() {
        guard churnPerStep > 0 else { return }
        let scrapeAtRoundStart = Int64(round * options.samplesPerSeriesPerRequest)
        let stepsDue = Int(scrapeAtRoundStart * RemoteWriteLoadGenerator.scrapeIntervalMilliseconds / 60_000)
        let total = options.seriesCount
        while churnSteps < stepsDue {
            let windowStart = (churnSteps * churnPerStep) % total
            churnSteps += 1
            for batchIndex in batches.indices {
                for slotIndex in batches[batchIndex].indices {
                    let index = batches[batchIndex][slotIndex].index
                    let offset = (index - windowStart + total) % total
                    if offset < churnPerStep {
                        batches[batchIndex][slotIndex] = Self.makeSlot(
                            index, generation: batches[batchIndex][slotIndex].generation + 1, catalog: catalog, seed: seed,
                            values: options.values)
                    }
                }
            }
        }
    }

    /// Encodes whole rounds until `budgetBytes` of compressed bodies are ready (at least one round).
    mutating func prebuild(budgetBytes: Int) {
        while round < maximumRounds && (prebuiltRounds == 0 || prebuiltBytes < budgetBytes) {
            let startRound = round
            while round == startRound, let request = buildNext() {
                prebuilt.append(request)
                prebuiltBytes += request.body.readableBytes
                prebuiltProtobufBytes += request.protobufBytes
            }
            prebuiltRounds += 1
            if batches.isEmpty { break }
        }
    }
}

// MARK: - Tally and result

struct RemoteWriteTally: Sendable {
    var succeeded = 0
    var failedByReason: [String: Int] = [:]
    var firstMessages: [String: String] = [:]
    /// The very first failure of the run (by time), with its reason.
    var firstError: (at: ContinuousClock.Instant, message: String)?
    var abandoned = 0
    var samplesSent = 0
    var samplesAccepted = 0
    var samplesFailed = 0
    var wireBytesSent = 0
    var latencies: [Duration] = []
    var lastAnswerAt: ContinuousClock.Instant?
    var encodedDuringRun = 0
    var encodeTimeDuringRun: Duration = .zero
    var ranOutOfTimestamps = false
    /// Times a worker paused to let slower ones catch up.
    var waitsForSlowerWorkers = 0

    mutating func recordFailure(_ reason: String, message: String, samples: Int) {
        failedByReason[reason, default: 0] += 1
        samplesFailed += samples
        if firstMessages[reason] == nil { firstMessages[reason] = message }
        if firstError == nil { firstError = (ContinuousClock.now, "\(reason): \(message)") }
    }

    mutating func record(_ response: HTTP1Response, request: RemoteWriteShard.Request, latency: Duration, answeredAt: ContinuousClock.Instant) {
        lastAnswerAt = max(lastAnswerAt ?? answeredAt, answeredAt)
        samplesSent += request.samples
        wireBytesSent += request.body.readableBytes
        let code = Int(response.status.code)
        if (200..<300).contains(code) {
            succeeded += 1
            latencies.append(latency)
            samplesAccepted += request.samples
        } else {
            let text = String(decoding: response.body.readableBytesView.prefix(300), as: UTF8.self)
            recordFailure("HTTP \(code)", message: text.isEmpty ? "(empty body)" : text, samples: request.samples)
        }
    }

    mutating func merge(_ other: RemoteWriteTally) {
        succeeded += other.succeeded
        failedByReason.merge(other.failedByReason, uniquingKeysWith: +)
        firstMessages.merge(other.firstMessages) { mine, _ in mine }
        if let theirs = other.firstError, firstError == nil || theirs.at < firstError!.at { firstError = theirs }
        abandoned += other.abandoned
        samplesSent += other.samplesSent
        samplesAccepted += other.samplesAccepted
        samplesFailed += other.samplesFailed
        wireBytesSent += other.wireBytesSent
        latencies.append(contentsOf: other.latencies)
        if let other = other.lastAnswerAt { lastAnswerAt = max(lastAnswerAt ?? other, other) }
        encodedDuringRun += other.encodedDuringRun
        encodeTimeDuringRun += other.encodeTimeDuringRun
        ranOutOfTimestamps = ranOutOfTimestamps || other.ranOutOfTimestamps
        waitsForSlowerWorkers += other.waitsForSlowerWorkers
    }
}

public struct RemoteWriteLoadResult: Sendable {
    public let options: RemoteWriteLoadGenerator.Options
    public let workers: Int
    public let batchCount: Int
    public let prebuildTime: Duration
    public let prebuiltRequests: Int
    public let prebuiltBytes: Int
    public let prebuiltRounds: Int
    public let averageRequestBytes: Int
    public let averageProtobufBytes: Int
    public let elapsed: Duration
    public let wallTime: Duration
    public let requestsSucceeded: Int
    public let failedByReason: [String: Int]
    public let firstMessages: [String: String]
    public let firstError: String?
    public let requestsAbandoned: Int
    public let samplesSent: Int
    public let samplesAccepted: Int
    public let samplesFailed: Int
    public let wireBytesSent: Int
    public let latency: LatencyStatistics
    public let encodedDuringRun: Int
    public let encodeTimeDuringRun: Duration
    public let ranOutOfTimestamps: Bool
    public let waitsForSlowerWorkers: Int

    init(
        options: RemoteWriteLoadGenerator.Options, workers: Int, batchCount: Int, prebuildTime: Duration, prebuiltRequests: Int,
        prebuiltBytes: Int, prebuiltRounds: Int, averageRequestBytes: Int, averageProtobufBytes: Int, elapsed: Duration,
        wallTime: Duration, tally: RemoteWriteTally
    ) {
        self.options = options
        self.workers = workers
        self.batchCount = batchCount
        self.prebuildTime = prebuildTime
        self.prebuiltRequests = prebuiltRequests
        self.prebuiltBytes = prebuiltBytes
        self.prebuiltRounds = prebuiltRounds
        self.averageRequestBytes = averageRequestBytes
        self.averageProtobufBytes = averageProtobufBytes
        self.elapsed = elapsed
        self.wallTime = wallTime
        requestsSucceeded = tally.succeeded
        failedByReason = tally.failedByReason
        firstMessages = tally.firstMessages
        firstError = tally.firstError?.message
        requestsAbandoned = tally.abandoned
        samplesSent = tally.samplesSent
        samplesAccepted = tally.samplesAccepted
        samplesFailed = tally.samplesFailed
        wireBytesSent = tally.wireBytesSent
        latency = LatencyStatistics(samples: tally.latencies)
        encodedDuringRun = tally.encodedDuringRun
        encodeTimeDuringRun = tally.encodeTimeDuringRun
        ranOutOfTimestamps = tally.ranOutOfTimestamps
        waitsForSlowerWorkers = tally.waitsForSlowerWorkers
    }

    public var requestsFailed: Int { failedByReason.values.reduce(0, +) }
    private var elapsedSeconds: Double { max(elapsed.inSeconds, 1e-9) }
    public var acceptedSamplesPerSecond: Double { Double(samplesAccepted) / elapsedSeconds }
    public var requestsPerSecond: Double { Double(requestsSucceeded + requestsFailed) / elapsedSeconds }

    public var report: String {
        var lines: [String] = []
        lines.append(
            "Remote write \(options.version == 2 ? "2.0" : "1.0") load: \(options.endpoint), \(workers) connection(s), "
                + "\(BenchFormat.grouped(options.seriesCount)) series in \(batchCount) batch(es) of ≤ \(BenchFormat.grouped(options.batchSeries)), "
                + "\(options.samplesPerSeriesPerRequest) sample(s) per series per request, churn \(BenchFormat.fixed(options.churn * 100, decimals: 1))%/min")
        #if DEBUG
        lines.append("note: this is a debug build; build with -c release for meaningful figures")
        #endif
        lines.append(
            "prepared     \(BenchFormat.grouped(prebuiltRequests)) requests (\(prebuiltRounds) rounds, \(BenchFormat.bytes(prebuiltBytes)) snappy) in \(prebuildTime.shortText) before the clock; "
                + "a request is \(BenchFormat.bytes(averageRequestBytes)) snappy / \(BenchFormat.bytes(averageProtobufBytes)) protobuf")
        if encodedDuringRun > 0 {
            lines.append(
                "encoded      \(BenchFormat.grouped(encodedDuringRun)) more requests during the run, taking \(encodeTimeDuringRun.shortText) of worker time "
                    + "(\(BenchFormat.fixed(encodeTimeDuringRun.inSeconds / Double(max(workers, 1)) / elapsedSeconds * 100, decimals: 1))% per worker)")
        }
        if let rounds = options.rounds {
            lines.append("backfill     \(rounds) rounds requested (\(BenchFormat.grouped(rounds * options.samplesPerSeriesPerRequest)) scrapes of every series)"
                + (ranOutOfTimestamps ? ", all sent" : ", stopped by the duration limit first"))
        } else if ranOutOfTimestamps {
            lines.append("note: workers stopped early: simulated time reached the present")
        }
        if waitsForSlowerWorkers > 0 {
            lines.append("note: workers paused \(BenchFormat.grouped(waitsForSlowerWorkers)) time(s) for 1 ms to stay within 20 simulated minutes of the slowest")
        }
        lines.append("elapsed      \(elapsed.shortText)")
        lines.append(
            "requests     \(BenchFormat.grouped(requestsSucceeded)) ok, \(BenchFormat.grouped(requestsFailed)) failed (\(BenchFormat.rate(requestsPerSecond)) req/s)"
                + (requestsAbandoned > 0 ? "; \(requestsAbandoned) abandoned at the end" : ""))
        for (reason, count) in failedByReason.sorted(by: { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }) {
            var line = "  failed \(reason): \(BenchFormat.grouped(count))"
            if let message = firstMessages[reason], !message.isEmpty { line += " (first: \(Self.oneLine(message)))" }
            lines.append(line)
        }
        if let firstError { lines.append("first error  \(Self.oneLine(firstError))") }
        lines.append(
            "accepted     \(BenchFormat.grouped(samplesAccepted)) samples (\(BenchFormat.rate(acceptedSamplesPerSecond)) samples/s); "
                + "\(BenchFormat.grouped(samplesFailed)) in failed requests")
        lines.append("sent         \(BenchFormat.bytes(wireBytesSent)) snappy (\(BenchFormat.megabytesPerSecond(Double(wireBytesSent) / elapsedSeconds)))")
        lines.append(latency.count > 0 ? "latency      \(latency.summary) (successful requests)" : "latency      no successful requests")
        // One machine-readable line for scripts.
        lines.append(
            "summary samples_accepted=\(samplesAccepted) elapsed_seconds=\(elapsed.inSeconds) samples_per_second=\(Int(acceptedSamplesPerSecond)) "
                + "requests_ok=\(requestsSucceeded) requests_failed=\(requestsFailed) p50_ms=\(latency.p50.inSeconds * 1000) p99_ms=\(latency.p99.inSeconds * 1000)")
        return lines.joined(separator: "\n")
    }

    private static func oneLine(_ text: String) -> String {
        let flattened = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flattened.count > 200 ? String(flattened.prefix(200)) + "..." : flattened
    }
}
