import LoupeModel
import Testing

@testable import LoupeCollect

/// Container log lines: both runtime formats, split lines joined, paths read, JSON bodies taken apart.
@Suite struct ContainerLogTests {
    func cri(_ text: String) throws -> ContainerLogLine { try ContainerLogLine.parseCRI(Array(text.utf8)) }

    @Test func criLinesAreRead() throws {
        let line = try cri("2024-03-01T10:00:00.123456789Z stderr F boom: it broke")
        #expect(line == ContainerLogLine(timeUnixNano: 1_709_287_200_123_456_789, stream: .stderr, partial: false, text: "boom: it broke"))
        #expect(try cri("2024-03-01T10:00:00+01:00 stdout P part").timeUnixNano == 1_709_283_600_000_000_000)
        #expect(try cri("2024-03-01T10:00:00Z stdout P part").partial)
        #expect(try cri("2024-03-01T10:00:00Z stdout F").text == "")
        #expect(try cri("2024-03-01T10:00:00Z stdout F:x  two  spaces ").text == " two  spaces ")
    }

    @Test(arguments: [
        ("", "a CRI line has time, stream, tag and text; found no space"),
        ("yesterday stdout F x", "\"yesterday\" is not an RFC 3339 time"),
        ("2024-03-01T10:00:00Z stdin F x", "\"stdin\" is not stdout or stderr"),
        ("2024-03-01T10:00:00Z stdout", "a CRI line has a tag after the stream"),
        ("2024-03-01T10:00:00Z stdout X text", "\"X\" is not a CRI tag (P or F)"),
    ])
    func badCRILinesSayWhy(line: String, message: String) {
        #expect(throws: ContainerLogLine.ParseError(message: message)) { try cri(line) }
    }

    @Test func dockerLinesAreRead() throws {
        let line = try ContainerLogLine.parseDockerJSON(Array(#"{"log":"hello \"world\"\n","stream":"stdout","time":"2024-03-01T10:00:00.5Z"}"#.utf8))
        #expect(line == ContainerLogLine(timeUnixNano: 1_709_287_200_500_000_000, stream: .stdout, partial: false, text: "hello \"world\""))
        let piece = try ContainerLogLine.parseDockerJSON(Array(#"{"log":"first half","stream":"stderr","time":"2024-03-01T10:00:00Z"}"#.utf8))
        #expect(piece.partial && piece.stream == .stderr)
        #expect(throws: ContainerLogLine.ParseError.self) { try ContainerLogLine.parseDockerJSON(Array(#"{"log":"x\n","time":"2024-03-01T10:00:00Z"}"#.utf8)) }
        #expect(throws: ContainerLogLine.ParseError.self) { try ContainerLogLine.parseDockerJSON(Array(#"{"log":"x\n","stream":"stdout","time":"2024"#.utf8)) }
        #expect(ContainerLogLine.Format.detect(firstLine: Array("{\"log\"".utf8)) == .dockerJSON)
        #expect(ContainerLogLine.Format.detect(firstLine: Array("2024-".utf8)) == .cri)
    }

    @Test func piecesAreJoinedPerStreamKeepingTheFirstTime() {
        var joiner = PartialLineJoiner()
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 0, stream: .stdout, partial: false, text: "whole")) == ContainerLogLine(timeUnixNano: 0, stream: .stdout, partial: false, text: "whole"))
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 1, stream: .stdout, partial: true, text: "a")) == nil)
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 2, stream: .stderr, partial: false, text: "err"))?.text == "err")
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 3, stream: .stdout, partial: true, text: "b")) == nil)
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 4, stream: .stdout, partial: false, text: "c"))
            == ContainerLogLine(timeUnixNano: 1, stream: .stdout, partial: false, text: "abc"))
        #expect(!joiner.hasPending)
    }

    @Test func anEndlessLineIsLetOutInPiecesAndAPendingPieceIsFlushed() {
        var joiner = PartialLineJoiner(maximumBytes: 10)
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 1, stream: .stdout, partial: true, text: "123456")) == nil)
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 2, stream: .stdout, partial: true, text: "7890ab"))?.text == "1234567890ab")
        #expect(joiner.add(ContainerLogLine(timeUnixNano: 3, stream: .stdout, partial: true, text: "tail")) == nil)
        #expect(joiner.flush().map(\.text) == ["tail"] && !joiner.hasPending)
    }

    @Test func podLogPathsAreRead() {
        let path = PodLogPath("/var/log/pods/shop_checkout-7d9f8b6c4-x2k9p_0c6a9c1e-1111-2222-3333-444455556666/checkout/3.log")
        #expect(path == PodLogPath(namespace: "shop", pod: "checkout-7d9f8b6c4-x2k9p", uid: "0c6a9c1e-1111-2222-3333-444455556666", container: "checkout", restartCount: 3))
        #expect(PodLogPath("/var/log/pods/shop_pod/checkout/0.log") == nil)
        #expect(PodLogPath("/var/log/pods/a_b_c/container/0.log.20240301-100000") == nil)
        #expect(PodLogPath("/var/log/pods/a_b_c/container/x.log") == nil)
        #expect(PodLogPath.workloadName(ofPod: "checkout-7d9f8b6c4-x2k9p") == "checkout")
        #expect(PodLogPath.workloadName(ofPod: "node-exporter-b5n4c") == "node-exporter")
        #expect(PodLogPath.workloadName(ofPod: "postgres-0") == "postgres")
        #expect(PodLogPath.workloadName(ofPod: "standalone") == nil)
        #expect(PodLogPath.workloadName(ofPod: "my-aeiou") == nil)
    }

    @Test func jsonBodiesAreTakenApart() {
        let builder = ContainerLogRecordBuilder()
        let text = #"{"level":"warning","msg":"slow query","duration_ms":1250,"ratio":0.5,"ok":false,"user":{"id":7},"tags":["a"],"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#
        let record = builder.record(ContainerLogLine(timeUnixNano: 5, stream: .stdout, partial: false, text: text), observedUnixNano: 9)
        #expect(record.timeUnixNano == 5 && record.observedTimeUnixNano == 9)
        #expect(record.body == .string("slow query") && record.severityText == "warning" && record.severityNumber == .warn)
        #expect(record.traceID == TraceID(hex: "0af7651916cd43dd8448eb211c80319c") && record.spanID == SpanID(hex: "b7ad6b7169203331") && record.flags == 1)
        #expect(record.attributes == [
            KeyValue("log.iostream", .string("stdout")), KeyValue("duration_ms", .int(1250)), KeyValue("ratio", .double(0.5)),
            KeyValue("ok", .bool(false)), KeyValue("user", .keyValueList([KeyValue("id", .int(7))])), KeyValue("tags", .array([.string("a")])),
            KeyValue("log.original", .string(text)),
        ])
        let plain = ContainerLogRecordBuilder(keepOriginalBody: false)
            .record(ContainerLogLine(timeUnixNano: 5, stream: .stderr, partial: false, text: #"{"message":"m","trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331","level":"ERROR"}"#), observedUnixNano: 9)
        #expect(plain.body == .string("m") && plain.severityNumber == .error && !plain.traceID.isEmpty && !plain.spanID.isEmpty)
        #expect(plain.attributes == [KeyValue("log.iostream", .string("stderr"))])
        for text in ["not json", "{broken", "{\"a\":1} trailing", "[1,2]"] {
            let kept = builder.record(ContainerLogLine(timeUnixNano: 1, stream: .stdout, partial: false, text: text), observedUnixNano: 2)
            #expect(kept.body == .string(text) && kept.attributes.count == 1, "\(text)")
        }
    }

    @Test func theResourceSaysWhichContainer() {
        let path = PodLogPath(namespace: "shop", pod: "checkout-7d9f8b6c4-x2k9p", uid: "u", container: "app", restartCount: 1)
        let resource = ContainerResource(nodeName: "node-1", clusterName: "prod").resource(for: path)
        #expect(resource.attributes.first { $0.key == "service.name" }?.value == .string("checkout"))
        #expect(resource.attributes.first { $0.key == "k8s.node.name" }?.value == .string("node-1"))
        #expect(resource.attributes.first { $0.key == "k8s.cluster.name" }?.value == .string("prod"))
        #expect(resource.attributes.count == 8)
    }

    /// Random and truncated lines: a line or an error, never a crash.
    @Test func randomAndTruncatedLinesNeverCrash() {
        var random = SplitMix64(seed: 11)
        let samples = [
            Array("2024-03-01T10:00:00.123456789Z stderr F boom".utf8),
            Array(#"{"log":"hello\n","stream":"stdout","time":"2024-03-01T10:00:00.5Z"}"#.utf8),
        ]
        var parsed = 0
        for sample in samples {
            for length in 0...sample.count {
                if (try? ContainerLogLine.parse(sample[..<length], format: .cri)) != nil { parsed += 1 }
                _ = try? ContainerLogLine.parse(sample[..<length], format: .dockerJSON)
            }
            for _ in 0..<500 {
                var mutated = sample
                mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next())
                _ = try? ContainerLogLine.parse(mutated, format: .cri)
                _ = try? ContainerLogLine.parse(mutated, format: .dockerJSON)
                _ = ContainerLogRecordBuilder().record(
                    ContainerLogLine(timeUnixNano: 0, stream: .stdout, partial: false, text: String(decoding: mutated, as: UTF8.self)), observedUnixNano: 0)
            }
        }
        #expect(parsed > 0)
    }
}

/// What the Kubernetes API says of a pod: workloads from owners, labels copied, `service.name` by precedence.
@Suite struct PodMetadataTests {
    let path = PodLogPath(namespace: "shop", pod: "checkout-7d9f8b6c4-x2k9p", uid: "u", container: "app", restartCount: 0)

    @Test func workloadsFromOwners() {
        let deployment = PodMetadata(namespace: "shop", name: "p", uid: "u", labels: ["pod-template-hash": "7d9f8b6c4"], owners: [.init(kind: "ReplicaSet", name: "checkout-7d9f8b6c4")])
        #expect(deployment.workloads.map(\.kind) == ["deployment", "replicaset"] && deployment.workloads.first?.name == "checkout")
        #expect(PodMetadata(namespace: "n", name: "p", uid: "u", owners: [.init(kind: "Job", name: "backup-28391234")]).workloads.map(\.name) == ["backup", "backup-28391234"])
        #expect(PodMetadata(namespace: "n", name: "p", uid: "u", owners: [.init(kind: "Job", name: "migrate-2")]).workloads.map(\.kind) == ["job"])
        #expect(PodMetadata(namespace: "n", name: "p", uid: "u", owners: [.init(kind: "StatefulSet", name: "db")]).workloads.map(\.kind) == ["statefulset"])
        #expect(PodMetadata(namespace: "n", name: "p", uid: "u").workloads.isEmpty)
    }

    @Test func serviceNameAndLabels() {
        var builder = ContainerResource(nodeName: "node-1")
        builder.podLabelKeys = ["team"]
        builder.podLabelPrefixes = ["app.kubernetes.io/"]
        let pod = PodMetadata(
            namespace: "shop", name: path.pod, uid: "u", labels: ["team": "payments", "app.kubernetes.io/name": "checkout-api", "app": "co", "other": "x"],
            owners: [.init(kind: "DaemonSet", name: "agent")])
        let attributes = Dictionary(uniqueKeysWithValues: builder.resource(for: path, pod: pod).attributes.map { ($0.key, $0.value) })
        #expect(attributes["service.name"] == .string("checkout-api"))
        #expect(attributes["k8s.daemonset.name"] == .string("agent"))
        #expect(attributes["k8s.pod.label.team"] == .string("payments") && attributes["k8s.pod.label.app.kubernetes.io/name"] == .string("checkout-api"))
        #expect(attributes["k8s.pod.label.other"] == nil)
        var appOnly = pod
        appOnly.labels = ["app": "co"]
        #expect(builder.resource(for: path, pod: appOnly).attributes.last == KeyValue("service.name", .string("co")))
        appOnly.labels = [:]
        #expect(builder.resource(for: path, pod: appOnly).attributes.last == KeyValue("service.name", .string("agent")))
        #expect(builder.resource(for: path).attributes.last == KeyValue("service.name", .string("checkout")))
    }
}
