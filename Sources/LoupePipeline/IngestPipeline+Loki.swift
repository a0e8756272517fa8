import LoupeModel
import LoupeStorage
import LoupeWire

/// What the write path did with a Loki push.
public struct LokiIngestReceipt: Sendable, Equatable {
    public var accepted: Int
    /// Entries refused because they are older than the retention period.
    public var tooOld: Int
    /// Empty when everything was accepted; otherwise what was refused and why.
    public var message: String
}

extension IngestPipeline {
    /// The tenant's log retention: its own period where the log store has one, else everyone's.
    public func logRetention(tenant: Tenant) -> RetentionPolicy {
        stores.logStreams.options.tenantRetention[tenant]?.periodNanoseconds.map { RetentionPolicy(nanoseconds: $0) } ?? retention
    }

    /// Makes log streams durable (one WAL record: the push as protobuf, snappy-compressed) and
    /// adds them to the log store; acknowledged only once the record's group is fsynced.
    /// - Parameter sentSnappyProtobuf: the request body the streams were decoded from, unchanged
    ///   (a snappy `PushRequest`): the WAL record is then that body, not a re-encoding.
    public func ingestLoki(
        _ streams: [LogStream], tenant: Tenant, requestBytes: Int, via ingestProtocol: IngestProtocol = .lokiPush,
        sentSnappyProtobuf: [UInt8]? = nil
    ) async throws(IngestError) -> LokiIngestReceipt {
        var streams = streams
        var tooOld = 0
        let policy = logRetention(tenant: tenant)
        if let cutoff = policy.cutoff(nowUnixNano: clockNowUnixNano()).map({ Int64(clamping: $0) }) {
            for index in streams.indices {
                let before = streams[index].entries.count
                streams[index].entries.removeAll { $0.timestamp < cutoff }
                tooOld += before - streams[index].entries.count
            }
            streams.removeAll { $0.entries.isEmpty }
            if tooOld > 0 { telemetry.recordDropped(signal: .logs, items: tooOld) }
        }
        var bounds = TimeBounds()
        var count = 0
        for stream in streams {
            for entry in stream.entries {
                bounds.include(UInt64(clamping: max(entry.timestamp, 0)))
                count += 1
            }
        }
        if count > 0 {
            // Replay decodes the record with the same decoder that produced `streams`.
            let payload = tooOld == 0 && sentSnappyProtobuf != nil ? sentSnappyProtobuf! : Snappy.compress(LokiPush.encodeProtobuf(streams))
            // Held from the WAL write until the store has the entries, so a log-head cut never
            // falls between the two (see CutGate).
            try await cutGate.shared { () async throws(IngestError) in
                do throws(StorageError) {
                    let ticket = try logWAL.enqueue(WALRecord(kind: .lokiPushSnappy, tenant: tenant, timeBounds: bounds, payload: payload))
                    // The store takes the entries while the record's group is written and fsynced;
                    // the sender hears back only once it is durable (and retries on failure).
                    stores.logStreams.append(streams, tenant: tenant)
                    try await ticket.durable()
                } catch {
                    throw refusal(for: error, signal: .logs, tenant: tenant)
                }
            }
            logTails.publish(streams, tenant: tenant)
        }
        telemetry.recordAccepted(signal: .logs, via: ingestProtocol, items: count, bytes: requestBytes)
        let message = tooOld > 0 ? "\(tooOld) entries were refused: older than the retention period of \(policy)" : ""
        return LokiIngestReceipt(accepted: count, tooOld: tooOld, message: message)
    }
}
