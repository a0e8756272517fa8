/// What a kubelet's log path says: `<root>/<namespace>_<pod>_<uid>/<container>/<restart>.log`.
public struct PodLogPath: Sendable, Hashable {
    public var namespace: String
    public var pod: String
    public var uid: String
    public var container: String
    /// The container's restart count: the file's number.
    public var restartCount: Int

    public init(namespace: String, pod: String, uid: String, container: String, restartCount: Int) {
        self.namespace = namespace
        self.pod = pod
        self.uid = uid
        self.container = container
        self.restartCount = restartCount
    }

    /// Reads the last three components of `path`; nil when it is not a pod log path. Namespace
    /// and pod names hold no `_`, so the directory splits unambiguously.
    public init?(_ path: String) {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        guard components.count >= 3 else { return nil }
        let directory = components[components.count - 3]
        let container = components[components.count - 2]
        let file = components[components.count - 1]
        let parts = directory.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }), !container.isEmpty, file.hasSuffix(".log"),
            let restart = Int(file.dropLast(4)), restart >= 0
        else { return nil }
        self.init(namespace: String(parts[0]), pod: String(parts[1]), uid: String(parts[2]), container: String(container), restartCount: restart)
    }

    /// The workload a pod name suggests when nothing better is known: a Deployment's pods are
    /// `<name>-<replica set hash>-<5 characters>`, a DaemonSet's or Job's `<name>-<5 characters>`,
    /// a StatefulSet's `<name>-<ordinal>`. Kubernetes draws the random parts from an alphabet
    /// without vowels or look-alikes, which is what is checked. Nil when the name fits no pattern.
    public static func workloadName(ofPod pod: String) -> String? {
        let parts = pod.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 2 else { return nil }
        func generated(_ part: Substring, lengths: ClosedRange<Int>) -> Bool {
            lengths.contains(part.count) && part.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) }
        }
        if parts.count >= 3, generated(parts[parts.count - 1], lengths: 5...5), generated(parts[parts.count - 2], lengths: 6...10) {
            return parts.dropLast(2).joined(separator: "-")
        }
        if generated(parts[parts.count - 1], lengths: 5...5) { return parts.dropLast().joined(separator: "-") }
        if let last = parts.last, !last.isEmpty, last.allSatisfy(\.isNumber) { return parts.dropLast().joined(separator: "-") }
        return nil
    }
}
