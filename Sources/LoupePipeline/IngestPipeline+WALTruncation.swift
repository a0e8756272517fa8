import LoupeStorage

extension IngestPipeline {
    /// Deletes WAL segments whose records the stores hold elsewhere: Prometheus samples and OTLP
    /// metrics in TSDB blocks (written before the TSDB checkpoint's marker, every sample older
    /// than every tenant's cut time), Loki pushes and OTLP logs in log blocks (written before the
    /// log checkpoint's marker) and OTLP spans in trace blocks (written before the trace
    /// checkpoint's marker). OTLP logs and metrics are also kept as they arrived for read-back,
    /// a bounded window of recent batches (`Stores.embedded(readBackBytes:)`): after a restart it
    /// holds what the WAL still has. Returns the bytes freed.
    public func truncateWAL() throws(StorageError) -> Int {
        var coverages: [WALSegmentCoverage] = []
        if let checkpoint = stores.prometheus.checkpoint.withLock({ $0 }), let oldestCut = checkpoint.maxTimes.values.min(), oldestCut > 0 {
            coverages.append(WALSegmentCoverage(
                before: checkpoint.walSegmentsBefore,
                kinds: [.prometheusWriteRequest, .prometheusWriteRequestSnappy, .otlpMetrics, .prometheusHeadCut],
                olderThan: UInt64(oldestCut) * 1_000_000))
        }
        var freed = 0
        if let checkpoint = stores.logStreams.checkpoint.withLock({ $0 }) {
            let coverage = WALSegmentCoverage(before: checkpoint.walSegmentsBefore, kinds: [.lokiPushSnappy, .otlpLogs, .logHeadCut])
            if logWAL === wal { coverages.append(coverage) } else { freed += try logWAL.removeSegments(coveredBy: [coverage]) }
        }
        if let checkpoint = stores.traceSpans.checkpoint.withLock({ $0 }) {
            let coverage = WALSegmentCoverage(before: checkpoint.walSegmentsBefore, kinds: [.otlpTraces, .traceHeadCut])
            if traceWAL === wal { coverages.append(coverage) } else { freed += try traceWAL.removeSegments(coveredBy: [coverage]) }
        }
        guard !coverages.isEmpty else { return freed }
        return freed + (try wal.removeSegments(coveredBy: coverages))
    }
}
