import Logging
import LoupeCollect
import ServiceLifecycle

/// Runs the current pipelines and replaces them when their files change, without a restart and
/// without losing data in flight: a changed set is checked first (a broken one is logged and the
/// running pipelines go on); the running services are then stopped (a harvest in progress is
/// either queued and committed or read again; a request being sent stays queued), the new plan
/// reopens the same on-disk queues and checkpoints, and goes on from there. While the plans are
/// swapped, pushed OTLP is refused as retryable (503 / UNAVAILABLE).
public final class PipelineSupervisor: Service {
    let paths: [String]
    let options: AgentPlan.Options
    let role: AgentPlan.Role
    let router: OTLPRouter
    let status: AgentStatus
    let reloadInterval: Duration
    let logger: Logger
    private let first: PlanBox

    /// Hands the first plan (built at start, so mistakes stop the process) to `run` without copying it.
    final class PlanBox: @unchecked Sendable {
        var plan: AgentPlan?
        init(_ plan: AgentPlan) { self.plan = plan }
    }

    public init(
        first plan: AgentPlan, files: [PipelineFiles.Contents], paths: [String], options: AgentPlan.Options, role: AgentPlan.Role,
        router: OTLPRouter, status: AgentStatus, reloadInterval: Duration, logger: Logger
    ) {
        first = PlanBox(plan)
        self.files = files
        self.paths = paths
        self.options = options
        self.role = role
        self.router = router
        self.status = status
        self.reloadInterval = reloadInterval
        self.logger = logger
    }

    let files: [PipelineFiles.Contents]

    enum Ending: Sendable {
        case shutdown
        case changed(PipelineSet, [PipelineFiles.Contents])
    }

    public func run() async throws {
        var files = self.files
        var next = first.plan
        first.plan = nil
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            guard case .changed(let set, let newFiles) = await runOnce(&next, files: files) else { break }
            files = newFiles
            while next == nil && !Task.isCancelled && !Task.isShuttingDownGracefully {
                do {
                    let plan = try AgentPlan(pipelines: set, options: options, role: role, logger: logger)
                    logger.info("pipelines reloaded", metadata: ["pipelines": "\(plan.pipelines.map(\.resource.displayName))"])
                    next = plan
                } catch {
                    logger.error("the changed pipelines could not be started; trying again", metadata: ["error": "\(error)"])
                    await pause(reloadInterval)
                }
            }
        }
        router.install(nil)
    }

    /// Runs the plan in `slot` (taking it out) until its files change or the process stops. When it
    /// returns, nothing holds the plan any more: its queues are closed and their locks free.
    private func runOnce(_ slot: inout AgentPlan?, files: [PipelineFiles.Contents]) async -> Ending {
        guard let plan = slot else { return .shutdown }
        slot = nil
        router.install(plan.routes)
        router.install(enrichment: plan.enrichment)
        status.install(plan.pipelines, waiting: plan.waiting)
        let ending = await runUntilChanged(plan, files: files)
        router.install(nil)
        status.install([])
        return ending
    }

    private func runUntilChanged(_ plan: AgentPlan, files: [PipelineFiles.Contents]) async -> Ending {
        await withTaskGroup(of: Ending?.self) { group in
            for (service, owner) in zip(plan.services, plan.serviceOwners) {
                group.addTask {
                    do {
                        try await service.run()
                    } catch {
                        self.logger.error("a pipeline service stopped", metadata: ["pipeline": "\(owner)", "error": "\(error)"])
                        self.status.stopped(pipeline: owner, reason: "\(type(of: service)) stopped: \(error)")
                    }
                    return nil
                }
            }
            group.addTask { await self.watch(from: files, plan: plan) }
            var ending = Ending.shutdown
            while let next = await group.next() {
                guard let next else { continue }
                ending = next
                // The watcher ended: a change (stop the services) or the shutdown (they stop themselves).
                if case .changed = next { group.cancelAll() }
            }
            return ending
        }
    }

    /// Polls the files and the secrets the pipelines reference; returns a changed set that
    /// validates (or the same set once a secret appeared or changed), or `.shutdown` when the
    /// process stops.
    private func watch(from files: [PipelineFiles.Contents], plan: AgentPlan) async -> Ending {
        var seen = files
        let secrets = plan.secretsFingerprint(options: options)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await pause(reloadInterval)
            guard !Task.isCancelled && !Task.isShuttingDownGracefully else { break }
            if plan.aWaitingPipelineCanStart(options: options, role: role) {
                logger.info("a secret a pipeline waited for is there; starting it")
                return .changed(plan.set, seen)
            }
            if plan.secretsFingerprint(options: options) != secrets {
                logger.info("a secret the pipelines reference changed; applying it")
                return .changed(plan.set, seen)
            }
            guard let current = try? PipelineFiles.read(paths), current != seen else { continue }
            seen = current
            if current == files {
                // Back to what runs: nothing is refused any more.
                status.refuse(nil)
                continue
            }
            do {
                let set = try PipelineSet.decode(files: current.map { ($0.name, $0.text) })
                try AgentPlan.check(set, options: options, role: role)
                return .changed(set, current)
            } catch {
                logger.error("the pipeline files changed but are not valid; the running pipelines go on", metadata: ["error": "\(error)"])
                status.refuse(error as? PipelineError)
            }
        }
        return .shutdown
    }
}
