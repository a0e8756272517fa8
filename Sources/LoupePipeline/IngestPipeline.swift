import Logging
import LoupeModel
import LoupeStorage
import LoupeWire

/// What the write path did with a request: the basis of OTLP's `partial_success`.
public struct IngestReceipt: Sendable, Equatable {
    public var acceptedItems: Int
    public var rejectedItems: Int
    /// Empty on full success; otherwise says why items were refused.
    public var message: String

    public init(acceptedItems: Int, rejectedItems: Int = 0, message: String = "") {
        self.acceptedItems = acceptedItems
        self.rejectedItems = rejectedItems
        self.message = message
    }
}

/// The one write path every protocol shares:
/// admission (memory budget) -> retention filter -> WAL append (durable per the sync
/// policy) -> store -> acknowledgement.
public final class IngestPipeline: Sendable {
    public let wal: WriteAheadLog
    /// Spans' own log (the same as `wal` unless given one): the TSDB keeps its WAL records for
    /// hours until its head is cut, so trace records sharing segments with span metrics would
    /// keep gigabytes of spans on disk that trace blocks already hold.
    public let traceWAL: WriteAheadLog
    /// Logs' own log (the same as `wal` unless given one), for the same reason: log records in
    /// segments shared with Prometheus records would stay on disk until the TSDB's head cut.
    public let logWAL: WriteAheadLog
    public let stores: Stores
    public let retention: RetentionPolicy
    public let budget: MemoryBudget
    public let telemetry: SelfTelemetry
    private let clock: WallClock
    let logger: Logger
    /// Orders Prometheus head cuts against appends that feed the heads (see `CutGate`).
    public let cutGate = CutGate()
    /// Live tails of the log streams: fed once entries are acknowledged.
    public let logTails = LogTailHub()
    /// How OTLP log records become Loki streams (which resource attributes are stream labels).
    public let otlpLogStreams: OTLPLogsToStreams
    /// Span metrics and the service graph, fed as spans are acknowledged.
    public let traceMetrics: TraceMetricsGenerator

    public init(
        wal: WriteAheadLog, stores: Stores, retention: RetentionPolicy, budget: MemoryBudget, telemetry: SelfTelemetry,
        clock: WallClock = .system, logger: Logger, otlpLogStreams: OTLPLogsToStreams = OTLPLogsToStreams(),
        traceMetrics: TraceMetricsGenerator = TraceMetricsGenerator(), traceWAL: WriteAheadLog? = nil, logWAL: WriteAheadLog? = nil
    ) {
        self.traceWAL = traceWAL ?? wal
        self.logWAL = logWAL ?? wal
        self.otlpLogStreams = otlpLogStreams
        self.traceMetrics = traceMetrics
        self.wal = wal
        self.stores = stores
        self.retention = retention
        self.budget = budget
        self.telemetry = telemetry
        self.clock = clock
        self.logger = logger
    }

    /// Reserves memory for a request of `bytes` before it is decoded; refuses with a
    /// retryable error when the write path is over its budget.
    public func admit(bytes: Int) throws(IngestError) -> MemoryBudget.Reservation {
        // Decoded data takes a few times the wire size; reserve for both.
        guard let reservation = budget.reserve(bytes * 4) else {
            throw IngestError(
                .overloaded,
                "the write path is over its memory budget (\(budget.bytesInUse) of \(budget.limitBytes) bytes in use); retry later",
                retryAfterSeconds: 1)
        }
        return reservation
    }

    public func release(_ reservation: MemoryBudget.Reservation) { budget.release(reservation) }

    /// Makes `data` durable and stores it. Returns once the WAL holds it per the sync policy.
    ///
    /// - Parameter canonicalEncoding: the request's own protobuf bytes when it arrived as
    ///   protobuf; they are written to the WAL as they are unless items had to be removed.
    public func ingest<Data: SignalData>(
        _ data: Data, tenant: Tenant, canonicalEncoding: [UInt8]?, via ingestProtocol: IngestProtocol, requestBytes: Int
    ) async throws(IngestError) -> IngestReceipt {
        var data = data
        var encoding = canonicalEncoding
        let totalItems = data.itemCount
        var dropped = 0
        var message = ""

        if let logs = data as? LogsData, logs.containsUntimedRecords {
            data = stampUntimedRecords(logs) as! Data
            encoding = nil
        }
        if let cutoff = retention.cutoff(nowUnixNano: clock.nowUnixNano()), let bounds = data.timeBounds.range, bounds.start < cutoff {
            dropped = data.filterItems { $0 >= cutoff }
            encoding = nil
            telemetry.recordDropped(signal: Data.signal, items: dropped)
            message = "\(dropped) of \(totalItems) \(Data.signal.itemName) are older than the retention period of "
                + "\(retention) (timestamp before \(cutoff) ns since the Unix epoch) and were not stored"
        }

        if Data.signal == .traces && !data.isEmpty { try await waitForTraceBlocks() }
        if !data.isEmpty {
            let bytes = encoding ?? SignalCodec.encode(data)
            let bounds = data.timeBounds
            let write: () async throws(IngestError) -> Void = { () async throws(IngestError) in
                do throws(StorageError) {
                    try await self.wal(for: Data.signal).append(WALRecord(signal: Data.signal, tenant: tenant, timeBounds: bounds, payload: bytes))
                } catch {
                    throw self.refusal(for: error, signal: Data.signal, tenant: tenant)
                }
                do {
                    if let traces = data as? TraceData {
                        self.storeTraces(encoded: bytes, digest: TraceBatchDigest(traces), tenant: tenant)
                        return
                    }
                    try await self.stores.append(DurableBatch(tenant: tenant, data: data, encoded: bytes, timeBounds: bounds))
                    if let metrics = data as? MetricsData { self.appendToPrometheus(metrics, tenant: tenant) }
                    // OTLP logs are also streams that LogQL reads (and live tails see).
                    if let logs = data as? LogsData {
                        let streams = self.otlpLogStreams.convert(logs)
                        self.stores.logStreams.append(streams, tenant: tenant)
                        self.logTails.publish(streams, tenant: tenant)
                    }
                } catch {
                    // The batch is in the WAL and comes back on replay; the store failing is an internal fault.
                    self.logger.error("store append failed", metadata: ["signal": "\(Data.signal)", "tenant": "\(tenant)", "error": "\(error)"])
                    throw IngestError(.internalError, "the \(Data.signal) store failed: \(error)")
                }
            }
            // Every signal feeds a head that is cut into blocks (metrics the Prometheus heads, logs the
            // log heads, spans the trace head): hold the cut gate from WAL write to head append.
            try await cutGate.shared { () async throws(IngestError) in try await write() }
        }
        telemetry.recordAccepted(signal: Data.signal, via: ingestProtocol, items: totalItems - dropped, bytes: requestBytes)
        return IngestReceipt(acceptedItems: totalItems - dropped, rejectedItems: dropped, message: message)
    }

    /// Spans that arrived as OTLP protobuf, by their digest: the request is never decoded into
    /// spans (decoding and freeing them was most of the CPU of taking a request in). The body is
    /// what the WAL and the trace store keep.
    ///
    /// - Parameter digest: `OTLPProtobuf.digestTraces(body)`.
    public func ingestTraces(
        protobuf body: [UInt8], digest: TraceBatchDigest, tenant: Tenant, via ingestProtocol: IngestProtocol, requestBytes: Int
    ) async throws(IngestError) -> IngestReceipt {
        if let cutoff = retention.cutoff(nowUnixNano: clock.nowUnixNano()), let bounds = digest.timeBounds.range, bounds.start < cutoff {
            // Some spans are past retention: the general path takes them out of the decoded request.
            let data: TraceData
            do {
                data = try OTLPProtobuf.decodeTraces(body)
            } catch {
                throw IngestError(.badRequest, "malformed OTLP/protobuf ExportTraceServiceRequest: \(error)")
            }
            return try await ingest(data, tenant: tenant, canonicalEncoding: body, via: ingestProtocol, requestBytes: requestBytes)
        }
        if !digest.isEmpty {
            try await waitForTraceBlocks()
            let bounds = digest.timeBounds
            try await cutGate.shared { () async throws(IngestError) in
                do throws(StorageError) {
                    try await self.traceWAL.append(WALRecord(signal: .traces, tenant: tenant, timeBounds: bounds, payload: body))
                } catch {
                    throw self.refusal(for: error, signal: .traces, tenant: tenant)
                }
                self.storeTraces(encoded: body, digest: digest, tenant: tenant)
            }
        }
        telemetry.recordAccepted(signal: .traces, via: ingestProtocol, items: digest.spans.count, bytes: requestBytes)
        return IngestReceipt(acceptedItems: digest.spans.count)
    }

    /// Durable spans to the trace store and the trace metrics.
    private func storeTraces(encoded: [UInt8], digest: TraceBatchDigest, tenant: Tenant) {
        stores.traceSpans.append(encoded: encoded, digest: digest, tenant: tenant)
        traceMetrics.observe(digest, tenant: tenant, nowUnixNano: clock.nowUnixNano())
    }

    func clockNowUnixNano() -> UInt64 { clock.nowUnixNano() }

    /// The log a signal's records go to.
    public func wal(for signal: Signal) -> WriteAheadLog {
        switch signal {
        case .traces: traceWAL
        case .logs: logWAL
        case .metrics: wal
        }
    }

    /// Every distinct log: the main one, then the logs' and the spans' own if there are any.
    public var allWALs: [WriteAheadLog] {
        var all = [wal]
        for other in [logWAL, traceWAL] where !all.contains(where: { $0 === other }) { all.append(other) }
        return all
    }

    /// Holds a trace request while the trace store's unflushed spans are over its limit (block
    /// writing is behind the ingest rate): the sender sees a slower answer rather than memory
    /// growing without bound. After `traceBacklogWait` it is refused, retryable.
    private func waitForTraceBlocks() async throws(IngestError) {
        let store = stores.traceSpans
        guard !store.acceptsMoreSpans else { return }
        let deadline = ContinuousClock.now + Self.traceBacklogWait
        while !store.acceptsMoreSpans {
            guard ContinuousClock.now < deadline else {
                throw IngestError(
                    .overloaded,
                    "the trace store is behind writing blocks (\(store.unflushedBytes) bytes of spans not yet in blocks); retry later",
                    retryAfterSeconds: 1)
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    static let traceBacklogWait: Duration = .seconds(5)

    /// OTLP metrics also become Prometheus series (OpenTelemetry-to-Prometheus rules), so
    /// PromQL and the Prometheus API see what OTel SDKs send. The conversion is derived
    /// from the OTLP WAL record, so replay repeats it and nothing extra is logged.
    func appendToPrometheus(_ metrics: MetricsData, tenant: Tenant) {
        let conversion = OTLPToPrometheus().convert(metrics)
        let result = stores.prometheus.append(conversion.series, tenant: tenant)
        stores.prometheus.recordMetadata(conversion.metadata, tenant: tenant)
        if conversion.skippedPointCount > 0 || result.rejectedCount > 0 {
            logger.debug("OTLP points not converted to Prometheus samples", metadata: [
                "tenant": "\(tenant)", "skipped": "\(conversion.skippedPoints)", "rejected": "\(result.rejected)",
            ])
        }
    }

    /// How a WAL failure is answered: too large is permanent (413), everything else is
    /// retryable (503 + Retry-After), with the disk-full case said plainly.
    func refusal(for error: StorageError, signal: Signal, tenant: Tenant) -> IngestError {
        switch error.code {
        case .recordTooLarge:
            return IngestError(.tooLarge, "the request is too large for the write-ahead log: \(error)")
        default:
            logger.error("WAL append failed", metadata: ["signal": "\(signal)", "tenant": "\(tenant)", "error": "\(error)"])
            let reason = error.isOutOfSpace ? "the data directory's disk is full" : "could not make the data durable"
            return IngestError(.unavailable, "\(reason): \(error)", retryAfterSeconds: error.isOutOfSpace ? 30 : 1)
        }
    }

    /// Log records that carry neither a time nor an observed time get the time Loupe
    /// received them as their observed time, as a collector would have set it.
    private func stampUntimedRecords(_ logs: LogsData) -> LogsData {
        var logs = logs
        let now = clock.nowUnixNano()
        for resourceIndex in logs.resourceLogs.indices {
            for scopeIndex in logs.resourceLogs[resourceIndex].scopeLogs.indices {
                for recordIndex in logs.resourceLogs[resourceIndex].scopeLogs[scopeIndex].logRecords.indices
                where logs.resourceLogs[resourceIndex].scopeLogs[scopeIndex].logRecords[recordIndex].effectiveTimeUnixNano == 0 {
                    logs.resourceLogs[resourceIndex].scopeLogs[scopeIndex].logRecords[recordIndex].observedTimeUnixNano = now
                }
            }
        }
        return logs
    }

    /// Loads every intact WAL record into the stores. Run once at start, before serving.
    ///
    /// Prometheus samples that blocks already hold are skipped: records before the marker of the
    /// last completed head cut (the checkpoint) contribute only samples at or after the tenant's
    /// checkpoint time; records after it contribute everything.
    public func replayWAL() async throws -> WALReplayReport {
        /// Each with whether it came before the trace checkpoint's marker (its spans are in trace blocks).
        var traces: [(tenant: Tenant, encoded: [UInt8], digest: TraceBatchDigest, beforeCut: Bool)] = []
        var logs: [DurableBatch<LogsData>] = []
        var metrics: [DurableBatch<MetricsData>] = []
        /// Prometheus-bound records in WAL order, and whether each came before the checkpoint's marker.
        var prometheus: [(tenant: Tenant, request: RemoteWriteRequest?, otlp: Int?, beforeCut: Bool)] = []
        var lokiStreams: [(tenant: Tenant, streams: [LogStream], beforeCut: Bool)] = []
        /// Per OTLP logs batch: whether it came before the log checkpoint's marker (its streams are in log blocks).
        var logsBeforeCut: [Bool] = []
        var undecodable = 0
        var skipped = 0
        let checkpoint = stores.prometheus.checkpoint.withLock { $0 }
        var markerSeen = checkpoint == nil
        let logCheckpoint = stores.logStreams.checkpoint.withLock { $0 }
        var logMarkerSeen = logCheckpoint == nil
        let traceCheckpoint = stores.traceSpans.checkpoint.withLock { $0 }
        var traceMarkerSeen = traceCheckpoint == nil
        var report = WALReplayReport()
        for log in allWALs {
            let part = try log.replay { record in
            do {
                switch record.kind {
                case .otlpTraces:
                    traces.append((record.tenant, record.payload, try OTLPProtobuf.digestTraces(record.payload), !traceMarkerSeen))
                case .otlpLogs:
                    logs.append(DurableBatch(tenant: record.tenant, data: try OTLPProtobuf.decodeLogs(record.payload), encoded: record.payload, timeBounds: record.timeBounds))
                    logsBeforeCut.append(!logMarkerSeen)
                case .otlpMetrics:
                    metrics.append(DurableBatch(tenant: record.tenant, data: try OTLPProtobuf.decodeMetrics(record.payload), encoded: record.payload, timeBounds: record.timeBounds))
                    prometheus.append((record.tenant, nil, metrics.count - 1, !markerSeen))
                case .prometheusWriteRequest, .prometheusWriteRequestSnappy:
                    // Wholly inside the blocks: not even decoded.
                    if !markerSeen, let limit = checkpoint?.maxTimes[record.tenant],
                        record.timeBounds.maximum / 1_000_000 < UInt64(clamping: max(limit, 0))
                    {
                        skipped += 1
                        return
                    }
                    let payload = record.kind == .prometheusWriteRequest
                        ? record.payload : try Snappy.decompress(record.payload, maximumOutputBytes: 1 << 30)
                    prometheus.append((record.tenant, try RemoteWriteV1.decode(payload), nil, !markerSeen))
                case .lokiPushSnappy:
                    lokiStreams.append((
                        record.tenant, try LokiPush.decodeProtobuf(try Snappy.decompress(record.payload, maximumOutputBytes: 1 << 30)),
                        !logMarkerSeen))
                case .traceHeadCut:
                    if let traceCheckpoint, HeadCheckpoint.cutID(fromMarker: record.payload) == traceCheckpoint.cutID { traceMarkerSeen = true }
                case .logHeadCut:
                    if let logCheckpoint, HeadCheckpoint.cutID(fromMarker: record.payload) == logCheckpoint.cutID { logMarkerSeen = true }
                case .prometheusHeadCut:
                    if let checkpoint, HeadCheckpoint.cutID(fromMarker: record.payload) == checkpoint.cutID { markerSeen = true }
                }
            } catch {
                undecodable += 1
            }
            }
            report.records += part.records
            report.segments += part.segments
            report.bytes += part.bytes
            report.repairs += part.repairs
            report.removedFiles += part.removedFiles
            report.quarantinedFiles += part.quarantinedFiles
        }
        // Without the marker in the log (its segment expired), every remaining record came after it.
        if !markerSeen { for index in prometheus.indices { prometheus[index].beforeCut = false } }
        for entry in prometheus {
            let limit = entry.beforeCut ? checkpoint?.maxTimes[entry.tenant] : nil
            var series: [TimeSeries]
            if let request = entry.request {
                series = request.series
            } else {
                let conversion = OTLPToPrometheus().convert(metrics[entry.otlp!].data)
                stores.prometheus.recordMetadata(conversion.metadata, tenant: entry.tenant)
                series = conversion.series
            }
            if let limit {
                for index in series.indices {
                    series[index].samples.removeAll { $0.timestamp < limit }
                    series[index].histograms.removeAll { $0.timestamp < limit }
                }
            }
            _ = stores.prometheus.append(series, tenant: entry.tenant)
        }
        if undecodable > 0 {
            logger.error("WAL records passed their checksum but did not decode; skipped", metadata: ["records": "\(undecodable)"])
        }
        if skipped > 0 {
            logger.info("WAL records already in TSDB blocks were skipped", metadata: ["records": "\(skipped)"])
        }
        let logCutoff = retention.cutoff(nowUnixNano: clock.nowUnixNano()).map { Int64(clamping: $0) }
        // Log records before the log checkpoint's marker are in log blocks; without the marker in
        // the log (its segment went), every remaining record came after it.
        for (tenant, streams, beforeCut) in lokiStreams where !(beforeCut && logMarkerSeen) {
            stores.logStreams.append(streams, tenant: tenant)
        }
        for (batch, beforeCut) in zip(logs, logsBeforeCut) where !(beforeCut && logMarkerSeen) {
            stores.logStreams.append(otlpLogStreams.convert(batch.data), tenant: batch.tenant)
        }
        if let logCutoff { stores.logStreams.removeEntries(olderThan: logCutoff) }
        // Trace records before the trace checkpoint's marker are in trace blocks; without the
        // marker in the log, every remaining record came after it.
        for trace in traces where !(trace.beforeCut && traceMarkerSeen) {
            stores.traceSpans.append(encoded: trace.encoded, digest: trace.digest, tenant: trace.tenant)
        }
        for batch in logs { try await stores.append(batch) }
        for batch in metrics { try await stores.append(batch) }
        return report
    }

    /// Refreshes the gauges that are read from state rather than counted on the way.
    public func refreshGauges() async {
        telemetry.updateMemoryBudget(inUse: budget.bytesInUse, limit: budget.limitBytes)
        for signal in Signal.allCases {
            let statistics = await stores.statistics(of: signal)
            telemetry.updateStore(signal: signal, items: statistics.items, bytes: statistics.bytes)
        }
        telemetry.updateWALDiskBytes(allWALs.reduce(0) { $0 + $1.diskUsageBytes })
    }
}

extension LogsData {
    var containsUntimedRecords: Bool {
        resourceLogs.contains { $0.scopeLogs.contains { $0.logRecords.contains { $0.effectiveTimeUnixNano == 0 } } }
    }
}
