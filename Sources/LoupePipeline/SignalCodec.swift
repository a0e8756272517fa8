import LoupeModel
import LoupeStorage
import LoupeWire

/// Canonical protobuf encoding and decoding for whichever signal a generic path holds.
enum SignalCodec {
    static func encode<Data: SignalData>(_ data: Data) -> [UInt8] {
        switch data {
        case let traces as TraceData: OTLPProtobuf.encodeTraces(traces)
        case let logs as LogsData: OTLPProtobuf.encodeLogs(logs)
        case let metrics as MetricsData: OTLPProtobuf.encodeMetrics(metrics)
        default: preconditionFailure("unknown signal data \(Data.self)")
        }
    }
}

extension Stores {
    /// Hands a durable batch to the store of its signal.
    func append<Data: SignalData>(_ batch: DurableBatch<Data>) async throws(StorageError) {
        switch batch {
        case let batch as DurableBatch<TraceData>: try await traces.append(batch)
        case let batch as DurableBatch<LogsData>: try await logs.append(batch)
        case let batch as DurableBatch<MetricsData>: try await metrics.append(batch)
        default: preconditionFailure("unknown signal data \(Data.self)")
        }
    }

    public func statistics(of signal: Signal) async -> StoreStatistics {
        switch signal {
        case .traces: await traces.statistics()
        case .logs: await logs.statistics()
        case .metrics: await metrics.statistics()
        }
    }

    public func removeItems(olderThan cutoff: UInt64) async -> Int {
        let logEntries = logStreams.removeEntries(olderThan: Int64(clamping: cutoff))
        return await traces.removeItems(olderThan: cutoff) + logs.removeItems(olderThan: cutoff) + metrics.removeItems(olderThan: cutoff) + logEntries
    }
}
