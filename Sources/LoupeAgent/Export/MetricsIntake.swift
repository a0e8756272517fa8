import LoupeCollect
import LoupeModel
import LoupeWire

/// What an input that collects metrics itself (runtime figures, scrapes, workloads) does with
/// them: the pipeline's transform and filter, its cumulative-to-delta conversion, its counters,
/// then its queue.
struct MetricsIntake: Sendable {
    let rules: CompiledRules
    let delta: OTLPRouter.DeltaConversion?
    let queue: OutputQueue
    let counters: PipelineCounters

    func take(_ data: MetricsData) throws {
        let (processed, filtered) = rules.process(data)
        counters.received.add(data.itemCount, ordering: .relaxed)
        counters.filtered.add(filtered, ordering: .relaxed)
        let kept = delta?.convert(processed) ?? processed
        guard kept.itemCount > 0 else { return }
        try queue.append(itemCount: kept.itemCount, request: OTLPProtobuf.encodeMetrics(kept))
    }
}
