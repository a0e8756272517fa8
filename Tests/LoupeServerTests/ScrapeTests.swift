import Foundation
import LoupeModel
import LoupeScrape
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import LoupeCLI

/// A scrape target on 127.0.0.1 (port chosen by the OS) that answers every request with a fixed exposition
/// and remembers the request heads.
final class TinyTarget: Sendable {
    let channel: any Channel
    let box: Box
    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, box: Box) {
        self.channel = channel
        self.box = box
    }

    static func start(body: String) async throws -> TinyTarget {
        let box = Box()
        box.body.withLock { $0 = body }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(box: box)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TinyTarget(channel: channel, box: box)
    }

    var requestCount: Int { box.heads.withLock { $0.count } }
    var firstHead: String? { box.heads.withLock { $0.first } }

    func stop() async throws { try await channel.close() }

    final class Box: Sendable {
        let heads = Mutex<[String]>([])
        let body = Mutex("")
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let box: Box
        var received = ""

        init(box: Box) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readString(length: buffer.readableBytes) ?? ""
            guard let end = received.range(of: "\r\n\r\n") else { return }
            let head = String(received[..<end.lowerBound])
            received = ""
            box.heads.withLock { $0.append(head) }
            let body = box.body.withLock { $0 }
            let response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}

@Suite("Scraping Prometheus targets")
struct ScrapeTests {
    static func waitFor(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("timed out waiting for \(what)")
    }

    static func instant(_ server: TestServer, _ query: String) async throws -> [[String: Any]] {
        let (status, body) = try await PrometheusQueryAPITests.get(server, "/api/v1/query", [("query", query)])
        guard status == 200, let data = body["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else {
            throw TestFailure("query \(query) failed: \(status) \(body)")
        }
        return result
    }

    @Test("scrapes a target twice; up and the scraped series answer through the query API; /api/v1/targets reports it")
    func scrapeAndQuery() async throws {
        let target = try await TinyTarget.start(body: "# TYPE demo_gauge gauge\ndemo_gauge{kind=\"x\",job=\"exposed\"} 42\n")
        defer { Task { try? await target.stop() } }
        var job = ScrapeConfig(jobName: "tiny", scrapeInterval: 300, scrapeTimeout: 300)
        job.staticConfigs = [TargetGroup(targets: ["127.0.0.1:\(target.port)"], labels: ["env": "test"])]
        job.params = ["format": ["prom"]]
        try await TestServer.with(configure: { $0.scrape = ScrapeConfiguration(scrapeConfigs: [job]) }) { server in
            try await Self.waitFor("two scrapes") { target.requestCount >= 2 }
            let instance = "127.0.0.1:\(target.port)"
            try await Self.waitFor("up == 1") {
                try await Self.instant(server, "up").contains { ($0["value"] as? [Any])?.last as? String == "1" }
            }
            let up = try await Self.instant(server, "up")
            #expect(up.count == 1)
            #expect(up.first?["metric"] as? [String: String] == ["__name__": "up", "instance": instance, "job": "tiny", "env": "test"])
            let gauge = try await Self.instant(server, "demo_gauge")
            #expect(gauge.first?["metric"] as? [String: String] == [
                "__name__": "demo_gauge", "instance": instance, "job": "tiny", "env": "test", "kind": "x", "exported_job": "exposed",
            ])
            #expect((gauge.first?["value"] as? [Any])?.last as? String == "42")
            for name in ["scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"] {
                #expect(try await Self.instant(server, name).count == 1, "\(name) is recorded")
            }
            #expect((try await Self.instant(server, "scrape_samples_scraped").first?["value"] as? [Any])?.last as? String == "1")

            // The request is shaped like Prometheus's.
            let head = try #require(target.firstHead)
            #expect(head.hasPrefix("GET /metrics?format=prom HTTP/1.1"))
            #expect(head.lowercased().contains("accept: application/openmetrics-text;version=1.0.0"))
            #expect(head.lowercased().contains("x-prometheus-scrape-timeout-seconds: 0.3"))
            #expect(head.lowercased().contains("accept-encoding: gzip"))

            let reply = try await server.request("GET", server.httpBase + "/api/v1/targets?state=active")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
            let data = try #require(json["data"] as? [String: Any])
            let active = try #require(data["activeTargets"] as? [[String: Any]])
            #expect(active.count == 1)
            #expect(active.first?["health"] as? String == "up")
            #expect(active.first?["scrapePool"] as? String == "tiny")
            #expect(active.first?["scrapeUrl"] as? String == "http://\(instance)/metrics?format=prom")
            #expect(active.first?["scrapeInterval"] as? String == "300ms")
            #expect((active.first?["labels"] as? [String: String]) == ["instance": instance, "job": "tiny", "env": "test"])
            #expect((active.first?["discoveredLabels"] as? [String: String])?["__address__"] == instance)
            #expect((data["droppedTargets"] as? [Any])?.isEmpty == true)
            #expect((data["droppedTargetCounts"] as? [String: Int]) == ["tiny": 0])

            let metadata = try await server.request("GET", server.httpBase + "/api/v1/targets/metadata?metric=demo_gauge")
            #expect(metadata.text.contains(#""type":"gauge""#))
        }
    }

    @Test("a target that stops answering flips up to 0 and its series go stale")
    func targetDown() async throws {
        let target = try await TinyTarget.start(body: "demo_counter_total 7\n")
        let port = target.port
        var job = ScrapeConfig(jobName: "flaky", scrapeInterval: 300, scrapeTimeout: 200)
        job.staticConfigs = [TargetGroup(targets: ["127.0.0.1:\(port)"])]
        try await TestServer.with(configure: { $0.scrape = ScrapeConfiguration(scrapeConfigs: [job]) }) { server in
            try await Self.waitFor("demo_counter_total") { try await !Self.instant(server, "demo_counter_total").isEmpty }
            try await target.stop()
            try await Self.waitFor("up == 0") {
                try await Self.instant(server, "up").contains { ($0["value"] as? [Any])?.last as? String == "0" }
            }
            #expect(try await Self.instant(server, "demo_counter_total").isEmpty, "stale after the failed scrape")
            let reply = try await server.request("GET", server.httpBase + "/api/v1/targets")
            #expect(reply.text.contains(#""health":"down""#))
        }
    }

    @Test("file_sd: targets follow the file; a target that leaves gets stale markers; relabeling drops targets")
    func fileDiscovery() async throws {
        let target = try await TinyTarget.start(body: "file_sd_metric 3\n")
        defer { Task { try? await target.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loupe-file-sd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("targets.json")
        try Data(#"[{"targets": ["127.0.0.1:\#(target.port)", "127.0.0.1:1"], "labels": {"team": "a"}}]"#.utf8).write(to: file)
        var job = ScrapeConfig(jobName: "files", scrapeInterval: 300, scrapeTimeout: 300)
        job.fileSDConfigs = [FileSDConfig(files: [directory.path + "/*.json"], refreshInterval: 200)]
        job.relabelConfigs = [RelabelConfig(sourceLabels: ["__address__"], regex: try RelabelRegex(".*:1"), action: .drop)]
        try await TestServer.with(configure: { $0.scrape = ScrapeConfiguration(scrapeConfigs: [job]) }) { server in
            try await Self.waitFor("file_sd_metric") { try await !Self.instant(server, "file_sd_metric").isEmpty }
            let metric = try await Self.instant(server, "file_sd_metric")
            #expect(metric.first?["metric"] as? [String: String] == [
                "__name__": "file_sd_metric", "instance": "127.0.0.1:\(target.port)", "job": "files", "team": "a",
            ])
            let reply = try await server.request("GET", server.httpBase + "/api/v1/targets")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any])
            let data = try #require(json["data"] as? [String: Any])
            let active = try #require(data["activeTargets"] as? [[String: Any]])
            #expect(active.count == 1)
            #expect((active.first?["discoveredLabels"] as? [String: String])?["__meta_filepath"] == file.path)
            let dropped = try #require(data["droppedTargets"] as? [[String: Any]])
            #expect((dropped.first?["discoveredLabels"] as? [String: String])?["__address__"] == "127.0.0.1:1")
            #expect(dropped.count == 1)
            #expect((data["droppedTargetCounts"] as? [String: Int]) == ["files": 1])

            // The target leaves the file: its series and report series are marked stale at once.
            try Data("[]".utf8).write(to: file)
            try await Self.waitFor("the target to leave") {
                let metricGone = try await Self.instant(server, "file_sd_metric").isEmpty
                let upGone = try await Self.instant(server, "up").isEmpty
                return metricGone && upGone
            }
            let after = try await server.request("GET", server.httpBase + "/api/v1/targets?state=active")
            #expect(after.text.contains(#""activeTargets":[]"#))
        }
    }

    @Test("scrape_configs in the YAML configuration, with errors that name the key")
    func configuration() throws {
        let configuration = try LoupeConfiguration.load(yaml: """
            global:
              scrape_interval: 5s
            scrape_configs:
              - job_name: node
                file_sd_configs:
                  - files: [targets/*.json]
                static_configs:
                  - targets: [127.0.0.1:9100]
            """, source: "/etc/loupe/loupe.yaml")
        #expect(configuration.scrape.scrapeConfigs.first?.scrapeInterval == 5_000)
        #expect(configuration.scrape.scrapeConfigs.first?.fileSDConfigs.first?.files == ["/etc/loupe/targets/*.json"])
        do {
            _ = try LoupeConfiguration.load(yaml: "scrape_configs:\n  - job_name: a\n    honour_labels: true\n", source: "bad.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("bad.yaml: unknown key \"scrape_configs[0].honour_labels\""))
        }
        do {
            _ = try LoupeConfiguration.load(yaml: "scrape_config: []\n", source: "typo.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("typo.yaml: unknown key \"scrape_config\"; known keys here: collect, data_dir, global,"))
            #expect(error.description.contains("scrape_configs"))
        }
    }
}
