import Foundation
import Logging
import LoupeCollect
import LoupeModel
import LoupeStorage
import LoupeWire
import ServiceLifecycle
import Synchronization

/// A MetricPipeline's `input.runtime`: node metrics from /proc (CPU, memory, disk, network,
/// filesystems), pod and container metrics from cgroup v2 (CPU, memory, disk), pod network
/// traffic from the pod's network namespace (`/proc/<pid>/net/dev`), pod volumes from the
/// kubelet's pod directories and filesystem usage (container writable layers, pod logs and
/// emptyDirs, the node's filesystem), named as the OpenTelemetry semantic conventions and the Collector's
/// kubeletstats receiver name them, collected every interval and queued like logs.
///
/// Pods are found by their cgroup (`…pod<uid>…`); their namespace and name come from the kubelet's
/// log directories (`<pod log root>/<namespace>_<pod>_<uid>`), container names from the symlinks
/// `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`.
public final class HostMetricsCollector: Service {
    public struct Options: Sendable {
        public var procRoot = "/proc"
        public var cgroupRoot = "/sys/fs/cgroup"
        public var containerLinks = "/var/log/containers"
        public var podLogRoot = "/var/log/pods"
        /// The kubelet's directory: pod volumes are under `pods/<uid>/volumes/<plugin>/<name>`.
        public var kubeletRoot = "/var/lib/kubelet"
        public var interval: Duration = .seconds(30)
        /// Directory trees (writable layers, logs, emptyDirs) are walked to measure them, which
        /// costs I/O in proportion to their files: at most this often per tree, as cAdvisor does.
        public var filesystemUsageRefresh: Duration = .seconds(60)
        public var node = true
        public var pods = true
        public var containers = true
        public var volumes = true
        public var namespaces = NamespaceSelector.pullDefault
        public var nodeName: String?
        public var clusterName: String?
        /// How pods become resources (node, cluster, chosen labels, workloads, `service.name`),
        /// as for container logs; the pods as the API describes them, when it is watched.
        public var resource = ContainerResource()
        public var podDirectory: PodDirectory?

        public init() {}
    }

    let options: Options
    private let intake: MetricsIntake
    private let logger: Logger
    /// Start of cumulative series that have no start of their own (cgroups): when collection began.
    private let startedUnixNano = WallClock.system.nowUnixNano()
    /// Trees measured lately, by path.
    private let measuredTrees = Mutex<[String: (at: ContinuousClock.Instant, usage: DiskUsage?)]>([:])

    public init(options: Options, rules: CompiledRules, delta: OTLPRouter.DeltaConversion? = nil, queue: OutputQueue, counters: PipelineCounters, logger: Logger) {
        self.options = options
        intake = MetricsIntake(rules: rules, delta: delta, queue: queue, counters: counters)
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await BlockingIO.run { try self.collectAndQueue() }
            } catch {
                logger.error("host metrics could not be queued", metadata: ["error": "\(error)"])
            }
            await pause(options.interval)
        }
    }

    func collectAndQueue() throws {
        try intake.take(collect(nowUnixNano: WallClock.system.nowUnixNano()))
    }

    // MARK: Collecting

    private func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    public func collect(nowUnixNano now: UInt64) -> MetricsData {
        var data = MetricsData()
        if options.node, let node = nodeMetrics(now: now) { data.resourceMetrics.append(node) }
        if options.pods || options.containers || options.volumes {
            let pods = podNames()
            if options.pods || options.containers { data.resourceMetrics.append(contentsOf: cgroupMetrics(now: now, pods: pods)) }
            if options.volumes { data.resourceMetrics.append(contentsOf: volumeMetrics(now: now, pods: pods)) }
        }
        forgetTreesNotMeasuredSince(ContinuousClock.now - options.filesystemUsageRefresh * 2)
        return data
    }

    private func scope(_ metrics: [Metric]) -> [ScopeMetrics] {
        [ScopeMetrics(scope: InstrumentationScope(name: "loupe.agent.runtime"), metrics: metrics)]
    }

    private func nodeResource() -> Resource {
        var attributes: [KeyValue] = []
        if let name = options.nodeName { attributes.append(KeyValue("k8s.node.name", .string(name))) }
        if let cluster = options.clusterName { attributes.append(KeyValue("k8s.cluster.name", .string(cluster))) }
        attributes.append(KeyValue("host.name", .string(options.nodeName ?? ProcessInfo.processInfo.hostName)))
        return Resource(attributes: attributes)
    }

    private func nodeMetrics(now: UInt64) -> ResourceMetrics? {
        var metrics: [Metric] = []
        let stat = read(options.procRoot + "/stat")
        // Counters since boot start at boot (`btime`).
        let boot = stat.flatMap { text in
            text.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { UInt64($0.dropFirst(6)) }.map { $0 * 1_000_000_000 }
        } ?? startedUnixNano
        func sum(_ name: String, _ unit: String, _ description: String, monotonic: Bool, _ points: [([KeyValue], NumberValue)]) -> Metric {
            Metric(name: name, description: description, unit: unit, data: .sum(Sum(
                dataPoints: points.map { NumberDataPoint(attributes: $0.0, startTimeUnixNano: boot, timeUnixNano: now, value: $0.1) },
                aggregationTemporality: .cumulative, isMonotonic: monotonic)))
        }
        if let stat {
            let times = ProcFiles.cpuTimes(stat: stat)
            if !times.isEmpty {
                metrics.append(sum("system.cpu.time", "s", "Seconds each logical CPU spent in each mode.", monotonic: true,
                    times.map { ([KeyValue("cpu", .string($0.cpu)), KeyValue("state", .string($0.state))], .double($0.seconds)) }))
            }
        }
        if let meminfo = read(options.procRoot + "/meminfo") {
            let memory = ProcFiles.memory(meminfo: meminfo)
            if !memory.isEmpty {
                metrics.append(sum("system.memory.usage", "By", "Bytes of memory in use.", monotonic: false,
                    memory.map { ([KeyValue("state", .string($0.state))], .int($0.bytes)) }))
            }
        }
        if let diskstats = read(options.procRoot + "/diskstats") {
            let disks = ProcFiles.diskIO(diskstats: diskstats)
            if !disks.isEmpty {
                metrics.append(sum("system.disk.io", "By", "Disk bytes transferred.", monotonic: true, disks.flatMap { disk in
                    [([KeyValue("device", .string(disk.device)), KeyValue("direction", .string("read"))], NumberValue.int(disk.read)),
                     ([KeyValue("device", .string(disk.device)), KeyValue("direction", .string("write"))], NumberValue.int(disk.written))]
                }))
            }
        }
        if let netdev = read(options.procRoot + "/net/dev") {
            let interfaces = ProcFiles.networkIO(netdev: netdev)
            if !interfaces.isEmpty {
                metrics.append(sum("system.network.io", "By", "Bytes transmitted and received.", monotonic: true, interfaces.flatMap { interface in
                    [([KeyValue("device", .string(interface.device)), KeyValue("direction", .string("receive"))], NumberValue.int(interface.received)),
                     ([KeyValue("device", .string(interface.device)), KeyValue("direction", .string("transmit"))], NumberValue.int(interface.transmitted))]
                }))
            }
        }
        if let mounts = read(options.procRoot + "/mounts") {
            var points: [([KeyValue], NumberValue)] = []
            for mount in ProcFiles.mounts(mounts) {
                var info = statvfs()
                guard statvfs(mount.mountpoint, &info) == 0, info.f_blocks > 0 else { continue }
                let block = Int64(info.f_frsize)
                let attributes = [KeyValue("device", .string(mount.device)), KeyValue("mountpoint", .string(mount.mountpoint)), KeyValue("type", .string(mount.type))]
                let free = Int64(info.f_bavail) * block
                let reserved = Int64(info.f_bfree - info.f_bavail) * block
                let used = Int64(info.f_blocks - info.f_bfree) * block
                points.append((attributes + [KeyValue("state", .string("used"))], .int(used)))
                points.append((attributes + [KeyValue("state", .string("free"))], .int(free)))
                points.append((attributes + [KeyValue("state", .string("reserved"))], .int(reserved)))
            }
            if !points.isEmpty { metrics.append(sum("system.filesystem.usage", "By", "Filesystem bytes used.", monotonic: false, points)) }
        }
        if let filesystem = Self.filesystemSpace(options.kubeletRoot) {
            // The kubelet's figures for the node: the filesystem of its root directory.
            metrics.append(gauge("k8s.node.filesystem.available", "By", "Bytes available on the node's filesystem.", filesystem.available, now: now))
            metrics.append(gauge("k8s.node.filesystem.capacity", "By", "Bytes the node's filesystem holds in all.", filesystem.capacity, now: now))
            metrics.append(gauge("k8s.node.filesystem.usage", "By", "Bytes used on the node's filesystem.", filesystem.used, now: now))
        }
        guard !metrics.isEmpty else { return nil }
        return ResourceMetrics(resource: nodeResource(), scopeMetrics: scope(metrics))
    }

    /// Pods (namespace, name) by uid, from the kubelet's log directories.
    private func podNames() -> [String: (namespace: String, pod: String)] {
        var names: [String: (String, String)] = [:]
        for directory in (try? FileManager.default.contentsOfDirectory(atPath: options.podLogRoot)) ?? [] {
            let parts = directory.split(separator: "_", omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            names[String(parts[2])] = (String(parts[0]), String(parts[1]))
        }
        return names
    }

    /// Container names by container id, from `/var/log/containers/<pod>_<ns>_<container>-<id>.log`.
    private func containerNames() -> [String: String] {
        var names: [String: String] = [:]
        for link in (try? FileManager.default.contentsOfDirectory(atPath: options.containerLinks)) ?? [] where link.hasSuffix(".log") {
            let stem = link.dropLast(4)
            let parts = stem.split(separator: "_", omittingEmptySubsequences: false)
            guard parts.count == 3, let dash = parts[2].lastIndex(of: "-") else { continue }
            names[String(parts[2][parts[2].index(after: dash)...])] = String(parts[2][..<dash])
        }
        return names
    }

    /// A pod's resource attributes; nil when the namespace selector leaves the pod out (a pod of
    /// unknown namespace only passes a selector that excludes).
    private func podAttributes(uid: String, pods: [String: (namespace: String, pod: String)]) -> [KeyValue]? {
        let identity = pods[uid]
        if let identity {
            guard options.namespaces.admits(identity.namespace) else { return nil }
        } else if case .include = options.namespaces {
            return nil
        }
        if let identity {
            return options.resource.podAttributes(namespace: identity.namespace, name: identity.pod, uid: uid, pod: options.podDirectory?.pod(uid: uid))
        }
        var attributes = [KeyValue("k8s.pod.uid", .string(uid))]
        if let node = options.nodeName { attributes.append(KeyValue("k8s.node.name", .string(node))) }
        if let cluster = options.clusterName { attributes.append(KeyValue("k8s.cluster.name", .string(cluster))) }
        return attributes
    }

    private func cgroupMetrics(now: UInt64, pods: [String: (namespace: String, pod: String)]) -> [ResourceMetrics] {
        let containers = containerNames()
        var result: [ResourceMetrics] = []
        // The node's filesystem (the kubelet's directory), read once for every pod.
        var kubeletRootStatus = stat()
        let nodeFilesystem = Self.filesystemSpace(options.kubeletRoot).flatMap { space in
            stat(options.kubeletRoot, &kubeletRootStatus) == 0 ? (space: space, device: kubeletRootStatus.st_dev) : nil
        }
        for (podDirectory, uid) in CgroupLayout.podDirectories(under: options.cgroupRoot) {
            guard let podAttributes = podAttributes(uid: uid, pods: pods) else { continue }
            var containerResources: [ResourceMetrics] = []
            var layersUsage: Int64 = 0
            for (containerDirectory, id) in CgroupLayout.containerDirectories(in: podDirectory) {
                var metrics = cgroupFigures(containerDirectory, prefix: "container", now: now) ?? []
                if let layer = writableLayer(containerDirectory), let usage = measuredTree(layer) {
                    layersUsage += usage.bytes
                    if let filesystem = Self.filesystemSpace(layer) {
                        // As the kubelet reports a container's root filesystem: the writable
                        // layer's usage on the runtime's (image) filesystem.
                        metrics.append(gauge("container.filesystem.available", "By", "Bytes available on the container's image filesystem.", filesystem.available, now: now))
                        metrics.append(gauge("container.filesystem.capacity", "By", "Bytes the container's image filesystem holds in all.", filesystem.capacity, now: now))
                    }
                    metrics.append(gauge("container.filesystem.usage", "By", "Bytes the container's writable layer uses.", usage.bytes, now: now))
                }
                guard options.containers, !metrics.isEmpty else { continue }
                var attributes = podAttributes + [KeyValue("container.id", .string(id))]
                if let name = containers[id] { attributes.append(KeyValue("k8s.container.name", .string(name))) }
                containerResources.append(ResourceMetrics(resource: Resource(attributes: attributes), scopeMetrics: scope(metrics)))
            }
            if options.pods {
                var metrics = cgroupFigures(podDirectory, prefix: "k8s.pod", now: now) ?? []
                if let network = podNetwork(podDirectory, now: now) { metrics.append(network) }
                if let nodeFilesystem {
                    metrics.append(contentsOf: podFilesystem(
                        uid: uid, pods: pods, layersUsage: layersUsage, node: nodeFilesystem.space, nodeDevice: nodeFilesystem.device, now: now))
                }
                if !metrics.isEmpty {
                    result.append(ResourceMetrics(resource: Resource(attributes: podAttributes), scopeMetrics: scope(metrics)))
                }
            }
            result.append(contentsOf: containerResources)
        }
        return result
    }

    private func gauge(_ name: String, _ unit: String, _ description: String, _ value: Int64, now: UInt64) -> Metric {
        Metric(name: name, description: description, unit: unit, data: .gauge(Gauge(dataPoints: [NumberDataPoint(timeUnixNano: now, value: .int(value))])))
    }

    private static func filesystemSpace(_ path: String) -> (capacity: Int64, available: Int64, used: Int64)? {
        var info = statvfs()
        guard statvfs(path, &info) == 0, info.f_blocks > 0 else { return nil }
        let block = Int64(info.f_frsize)
        return (Int64(info.f_blocks) * block, Int64(info.f_bavail) * block, Int64(info.f_blocks - info.f_bfree) * block)
    }

    /// The container's writable layer as the agent sees it: the overlay `upperdir` of a process of
    /// the container, a path of the node's mount namespace, reached through the node's init
    /// process (`<proc root>/1/root`) so that it resolves the same from inside the agent's own
    /// container (with the node's /proc mounted) as on the node.
    private func writableLayer(_ containerDirectory: String) -> String? {
        guard let processes = read(containerDirectory + "/cgroup.procs") else { return nil }
        for pid in processes.split(separator: "\n").lazy.compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }).prefix(3) {
            guard let mountinfo = read(options.procRoot + "/\(pid)/mountinfo") else { continue }
            return ProcFiles.rootOverlayUpperDirectory(mountinfo: mountinfo).map { options.procRoot + "/1/root" + $0 }
        }
        return nil
    }

    /// The pod's ephemeral storage as the kubelet counts it: its containers' writable layers, its
    /// log directory and its emptyDir volumes that live on the node's filesystem (not those in
    /// memory), against the filesystem of the kubelet's root directory.
    private func podFilesystem(
        uid: String, pods: [String: (namespace: String, pod: String)], layersUsage: Int64, node filesystem: (capacity: Int64, available: Int64, used: Int64),
        nodeDevice: dev_t, now: UInt64
    ) -> [Metric] {
        var usage = layersUsage
        if let identity = pods[uid], let logs = measuredTree(options.podLogRoot + "/\(identity.namespace)_\(identity.pod)_\(uid)") {
            usage += logs.bytes
        }
        let emptyDirs = options.kubeletRoot + "/pods/" + uid + "/volumes/kubernetes.io~empty-dir"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: emptyDirs)) ?? [] {
            var volume = stat()
            guard stat(emptyDirs + "/" + name, &volume) == 0, volume.st_dev == nodeDevice, let measured = measuredTree(emptyDirs + "/" + name) else { continue }
            usage += measured.bytes
        }
        return [
            gauge("k8s.pod.filesystem.available", "By", "Bytes available on the filesystem of the pod's ephemeral storage.", filesystem.available, now: now),
            gauge("k8s.pod.filesystem.capacity", "By", "Bytes the filesystem of the pod's ephemeral storage holds in all.", filesystem.capacity, now: now),
            gauge("k8s.pod.filesystem.usage", "By", "Bytes of ephemeral storage the pod uses: writable layers, logs, emptyDirs.", usage, now: now),
        ]
    }

    /// A tree's usage, walked again once `filesystemUsageRefresh` has passed since the last time.
    private func measuredTree(_ path: String) -> DiskUsage? {
        let now = ContinuousClock.now
        if let known = measuredTrees.withLock({ $0[path] }), now - known.at < options.filesystemUsageRefresh {
            return known.usage
        }
        let usage = DiskUsage.of(path)
        measuredTrees.withLock { $0[path] = (now, usage) }
        return usage
    }

    /// Trees of containers and pods that are gone.
    private func forgetTreesNotMeasuredSince(_ moment: ContinuousClock.Instant) {
        measuredTrees.withLock { trees in trees = trees.filter { $0.value.at >= moment } }
    }

    /// `k8s.volume.*` for each volume the kubelet mounted for a pod (`<kubelet root>/pods/<uid>/
    /// volumes/<plugin>/<name>`): the capacity, available bytes and inodes of the filesystem it is
    /// on, as the kubelet's summary API reports them (an emptyDir shows the node's filesystem).
    /// One resource per volume, with `k8s.volume.name` and `k8s.volume.type`.
    private func volumeMetrics(now: UInt64, pods: [String: (namespace: String, pod: String)]) -> [ResourceMetrics] {
        let manager = FileManager.default
        let podsRoot = options.kubeletRoot + "/pods"
        var result: [ResourceMetrics] = []
        for uid in ((try? manager.contentsOfDirectory(atPath: podsRoot)) ?? []).sorted() {
            guard let podAttributes = podAttributes(uid: uid, pods: pods) else { continue }
            let volumesRoot = podsRoot + "/" + uid + "/volumes"
            for plugin in ((try? manager.contentsOfDirectory(atPath: volumesRoot)) ?? []).sorted() {
                for name in ((try? manager.contentsOfDirectory(atPath: volumesRoot + "/" + plugin)) ?? []).sorted() {
                    var info = statvfs()
                    guard statvfs(volumesRoot + "/" + plugin + "/" + name, &info) == 0 else { continue }
                    let block = Int64(info.f_frsize)
                    let metrics = [
                        gauge("k8s.volume.available", "By", "Bytes the volume's filesystem has available.", Int64(info.f_bavail) * block, now: now),
                        gauge("k8s.volume.capacity", "By", "Bytes the volume's filesystem holds in all.", Int64(info.f_blocks) * block, now: now),
                        gauge("k8s.volume.inodes", "1", "Inodes of the volume's filesystem.", Int64(info.f_files), now: now),
                        gauge("k8s.volume.inodes.free", "1", "Free inodes of the volume's filesystem.", Int64(info.f_ffree), now: now),
                        gauge("k8s.volume.inodes.used", "1", "Inodes in use on the volume's filesystem.", Int64(info.f_files) - Int64(info.f_ffree), now: now),
                    ]
                    let attributes = podAttributes + [
                        KeyValue("k8s.volume.name", .string(name)), KeyValue("k8s.volume.type", .string(Self.volumeType(plugin: plugin))),
                    ]
                    result.append(ResourceMetrics(resource: Resource(attributes: attributes), scopeMetrics: scope(metrics)))
                }
            }
        }
        return result
    }

    /// The volume type as a pod spec names it, from the kubelet's plugin directory
    /// (`kubernetes.io~empty-dir` is `emptyDir`); CSI volumes are those of persistent volume claims
    /// and CSI ephemeral volumes alike, and are called `csi`.
    static func volumeType(plugin: String) -> String {
        let name = plugin.split(separator: "~", maxSplits: 1).last.map(String.init) ?? plugin
        switch name {
        case "empty-dir": return "emptyDir"
        case "configmap": return "configMap"
        case "secret": return "secret"
        case "projected": return "projected"
        case "downward-api": return "downwardAPI"
        case "csi": return "csi"
        case "local-volume": return "local"
        case "nfs": return "nfs"
        case "iscsi": return "iscsi"
        case "fc": return "fc"
        default: return name
        }
    }

    /// `k8s.pod.network.io` per interface. A pod's containers share one network namespace, so
    /// any process of the pod shows the pod's interfaces in `/proc/<pid>/net/dev`: the first
    /// process listed in the pod's cgroup or one of its containers' (the sandbox's, usually).
    private func podNetwork(_ podDirectory: String, now: UInt64) -> Metric? {
        let directories = [podDirectory] + CgroupLayout.containerDirectories(in: podDirectory).map(\.path)
        for directory in directories {
            guard let processes = read(directory + "/cgroup.procs"),
                let pid = processes.split(separator: "\n").lazy.compactMap({ Int($0.trimmingCharacters(in: .whitespaces)) }).first,
                let netdev = read(options.procRoot + "/\(pid)/net/dev")
            else { continue }
            let interfaces = ProcFiles.networkIO(netdev: netdev)
            guard !interfaces.isEmpty else { return nil }
            let points = interfaces.flatMap { interface in
                [("receive", interface.received), ("transmit", interface.transmitted)].map { direction, bytes in
                    NumberDataPoint(
                        attributes: [KeyValue("interface", .string(interface.device)), KeyValue("direction", .string(direction))],
                        startTimeUnixNano: startedUnixNano, timeUnixNano: now, value: .int(bytes))
                }
            }
            return Metric(name: "k8s.pod.network.io", description: "Bytes received and transmitted by the pod.", unit: "By", data: .sum(Sum(
                dataPoints: points, aggregationTemporality: .cumulative, isMonotonic: true)))
        }
        return nil
    }

    private func cgroupFigures(_ directory: String, prefix: String, now: UInt64) -> [Metric]? {
        var metrics: [Metric] = []
        if let seconds = read(directory + "/cpu.stat").flatMap(ProcFiles.cgroupCPUSeconds) {
            metrics.append(Metric(name: prefix + ".cpu.time", description: "CPU seconds used.", unit: "s", data: .sum(Sum(
                dataPoints: [NumberDataPoint(startTimeUnixNano: startedUnixNano, timeUnixNano: now, value: .double(seconds))],
                aggregationTemporality: .cumulative, isMonotonic: true))))
        }
        if let text = read(directory + "/memory.current"), let bytes = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            metrics.append(Metric(name: prefix + ".memory.usage", description: "Bytes of memory in use.", unit: "By", data: .gauge(Gauge(
                dataPoints: [NumberDataPoint(timeUnixNano: now, value: .int(bytes))]))))
        }
        if let io = read(directory + "/io.stat").map(ProcFiles.cgroupIO) {
            metrics.append(Metric(name: prefix + ".disk.io", description: "Disk bytes transferred.", unit: "By", data: .sum(Sum(
                dataPoints: [
                    NumberDataPoint(attributes: [KeyValue("direction", .string("read"))], startTimeUnixNano: startedUnixNano, timeUnixNano: now, value: .int(io.read)),
                    NumberDataPoint(attributes: [KeyValue("direction", .string("write"))], startTimeUnixNano: startedUnixNano, timeUnixNano: now, value: .int(io.written)),
                ],
                aggregationTemporality: .cumulative, isMonotonic: true))))
        }
        return metrics.isEmpty ? nil : metrics
    }
}

/// Where the kubelet puts pods and containers in the cgroup v2 tree, with the systemd driver
/// (`kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope`) or the cgroupfs one
/// (`kubepods/burstable/pod<uid>/<id>`).
enum CgroupLayout {
    static func podDirectories(under root: String, depth: Int = 4) -> [(path: String, uid: String)] {
        var found: [(String, String)] = []
        func walk(_ path: String, _ level: Int) {
            guard level <= depth else { return }
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() {
                let child = path + "/" + name
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
                if let uid = podUID(name) {
                    found.append((child, uid))
                } else {
                    walk(child, level + 1)
                }
            }
        }
        walk(root, 0)
        return found
    }

    /// `…pod<uid>[.slice]` with the uid's dashes written as underscores by the systemd driver.
    static func podUID(_ name: String) -> String? {
        guard let range = name.range(of: "pod", options: .backwards) else { return nil }
        var uid = String(name[range.upperBound...])
        if uid.hasSuffix(".slice") { uid.removeLast(6) }
        uid = uid.replacingOccurrences(of: "_", with: "-")
        guard uid.count == 36, uid.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return uid
    }

    static func containerDirectories(in pod: String) -> [(path: String, id: String)] {
        var found: [(String, String)] = []
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: pod)) ?? []).sorted() {
            var id = name
            if id.hasSuffix(".scope") { id.removeLast(6) }
            if let dash = id.lastIndex(of: "-") { id = String(id[id.index(after: dash)...]) }
            guard id.count == 64, id.allSatisfy(\.isHexDigit) else { continue }
            found.append((pod + "/" + name, id))
        }
        return found
    }
}
