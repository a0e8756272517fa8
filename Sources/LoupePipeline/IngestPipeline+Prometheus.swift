import LoupeModel
import LoupeStorage
import LoupeWire

/// What the write path did with a Prometheus write request.
public struct PrometheusIngestReceipt: Sendable, Equatable {
    public var result: HeadAppendResult
    /// Samples refused before they reached the TSDB (older than the retention period).
    public var tooOld: Int
    /// Empty when everything was appended; otherwise says what was refused and why.
    public var message: String

    public var refusedSamples: Int { tooOld + result.rejectedCount }
}

extension IngestPipeline {
    /// The oldest and newest timestamps (ms) of a series' samples, float and histogram; nil without samples.
    static func timeRange(of series: TimeSeries) -> (oldest: Int64, newest: Int64)? {
        var newest = Int64.min
        var oldest = Int64.max
        series.forEachSample { sample in
            newest = max(newest, sample.timestamp)
            oldest = min(oldest, sample.timestamp)
        }
        for sample in series.histograms {
            newest = max(newest, sample.timestamp)
            oldest = min(oldest, sample.timestamp)
        }
        return oldest <= newest ? (oldest, newest) : nil
    }

    static func include(_ oldest: Int64, _ newest: Int64, in bounds: inout TimeBounds) {
        bounds.include(UInt64(clamping: max(oldest, 0)) * 1_000_000)
        bounds.include(UInt64(clamping: max(newest, 0)) * 1_000_000)
    }

    /// Makes a remote-write request durable and appends it to the tenant's TSDB head.
    ///
    /// - Parameters:
    ///   - canonicalEncoding: the request's own remote write 1.0 bytes, used as they are unless
    ///     samples had to be removed.
    ///   - compressedEncoding: the same bytes snappy-compressed (the remote write body), written to
    ///     the WAL as they are when `canonicalEncoding` is used; otherwise Loupe compresses.
    public func ingestPrometheus(
        _ request: RemoteWriteRequest, tenant: Tenant, canonicalEncoding: [UInt8]?, compressedEncoding: [UInt8]? = nil,
        requestBytes: Int
    ) async throws(IngestError) -> PrometheusIngestReceipt {
        var request = request
        var encoding = canonicalEncoding
        var tooOld = 0
        let cutoffMilliseconds = retention.cutoff(nowUnixNano: clockNowUnixNano()).map { Int64(clamping: $0 / 1_000_000) }
        // One pass over the series in place (`for series in request.series` would copy each one,
        // a retain and release per field): the time bounds, and which series hold samples older
        // than the retention period.
        var bounds = TimeBounds()
        var seriesWithOldSamples: [Int] = []
        request.series.withUnsafeBufferPointer { all in
            for index in all.indices {
                guard let (oldest, newest) = Self.timeRange(of: all[index]) else { continue }
                if let cutoffMilliseconds, oldest < cutoffMilliseconds { seriesWithOldSamples.append(index) }
                Self.include(oldest, newest, in: &bounds)
            }
        }
        if let cutoffMilliseconds, !seriesWithOldSamples.isEmpty {
            // Only these series are touched: mutating every series would copy every sample array of the request.
            for index in seriesWithOldSamples {
                let floats = request.series[index].sampleCount
                let histograms = request.series[index].histograms.count
                request.series[index].samples.removeAll { $0.timestamp < cutoffMilliseconds }
                request.series[index].histograms.removeAll { $0.timestamp < cutoffMilliseconds }
                tooOld += floats - request.series[index].sampleCount + histograms - request.series[index].histograms.count
            }
            encoding = nil
            telemetry.recordDropped(signal: .metrics, items: tooOld)
            bounds = TimeBounds()
            request.series.withUnsafeBufferPointer { all in
                for index in all.indices {
                    if let (oldest, newest) = Self.timeRange(of: all[index]) { Self.include(oldest, newest, in: &bounds) }
                }
            }
        }
        var result = HeadAppendResult()
        if !bounds.isEmpty {
            // The WAL keeps requests snappy-compressed, as they travel.
            let bytes = encoding != nil ? (compressedEncoding ?? Snappy.compress(encoding!)) : Snappy.compress(RemoteWriteV1.encode(request))
            // Held from the WAL write until the head has the samples, so a head cut never
            // falls between the two (see CutGate).
            result = try await cutGate.shared { () async throws(IngestError) -> HeadAppendResult in
                do throws(StorageError) {
                    let ticket = try wal.enqueue(
                        WALRecord(kind: .prometheusWriteRequestSnappy, tenant: tenant, timeBounds: bounds, payload: bytes))
                    // The head takes the samples while the record's group is written and fsynced;
                    // nothing is acknowledged before it is durable. Should the WAL fail, the sender
                    // is refused and retries, and the head takes the same samples again as duplicates.
                    let appended = stores.prometheus.append(request.series, tenant: tenant)
                    try await ticket.durable()
                    return appended
                } catch {
                    throw refusal(for: error, signal: .metrics, tenant: tenant)
                }
            }
        }
        stores.prometheus.recordMetadata(request.allMetadata, tenant: tenant)
        telemetry.recordAccepted(signal: .metrics, via: .prometheusRemoteWrite, items: result.samplesAppended, bytes: requestBytes)

        var reasons: [String] = []
        if tooOld > 0 { reasons.append("\(tooOld) older than the retention period of \(retention)") }
        for (rejection, count) in result.rejected.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            switch rejection {
            case .outOfOrder: reasons.append("\(count) out of order (not newer than the series' latest sample)")
            case .outOfBounds:
                reasons.append("\(count) out of bounds (older than the head, whose earlier samples are already in blocks)")
            case .duplicateTimestamp: reasons.append("\(count) with a timestamp the series already has, but a different value")
            case .invalidHistogram: reasons.append("\(count) invalid native histograms")
            case .seriesLimit:
                reasons.append("\(count) for new series beyond the tenant's limit of \(stores.prometheus.maximumSeriesPerTenant) active series")
            }
        }
        let message = reasons.isEmpty ? "" : "samples were refused: " + reasons.joined(separator: "; ")
        return PrometheusIngestReceipt(result: result, tooOld: tooOld, message: message)
    }
}

extension RemoteWriteRequest {
    /// Family metadata from both versions: 1.0's request-level list and 2.0's per-series field.
    var allMetadata: [String: MetricMetadata] {
        var all = metadata
        for series in self.series {
            if let family = series.metadata, let name = series.labels.metricName, all[name] == nil { all[name] = family }
        }
        return all
    }
}
