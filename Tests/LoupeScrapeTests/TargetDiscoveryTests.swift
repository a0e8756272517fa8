import LoupeModel
import Testing
@testable import LoupeScrape

@Suite struct TargetDiscoveryTests {
    @Test func fileSDJSONAndYAML() throws {
        let json = """
            [{"targets": ["10.0.0.1:9100", "10.0.0.2:9100"], "labels": {"env": "prod"}},
             {"targets": ["10.0.0.3:9100"]}]
            """
        let groups = try FileSD.parse(json, path: "/sd/nodes.json")
        #expect(groups.count == 2)
        #expect(groups[0].targets == ["10.0.0.1:9100", "10.0.0.2:9100"])
        #expect(groups[0].labels == ["env": "prod", "__meta_filepath": "/sd/nodes.json"])
        #expect(groups[1].labels == ["__meta_filepath": "/sd/nodes.json"])
        let yaml = """
            - targets:
                - db:5432
              labels:
                role: primary
            """
        #expect(try FileSD.parse(yaml, path: "db.yml") == [TargetGroup(targets: ["db:5432"], labels: ["role": "primary", "__meta_filepath": "db.yml"], source: "db.yml[0]")])
        #expect(try FileSD.parse("", path: "empty.yml").isEmpty)
    }

    @Test func fileSDErrors() {
        #expect(throws: ScrapeError.self) { try FileSD.parse("[{\"targets\": [1,", path: "broken.json") }
        do {
            _ = try FileSD.parse("[{\"targetz\": []}]", path: "typo.json")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidTargetFile)
            #expect(error.message.hasPrefix("typo.json: unknown key \"[0].targetz\"") || error.message.contains("targetz"))
        }
    }

    @Test func globs() {
        #expect(FileSD.nameMatches("nodes.json", glob: "*.json"))
        #expect(FileSD.nameMatches("a-b.yml", glob: "a-?.yml"))
        #expect(!FileSD.nameMatches("nodes.yaml", glob: "*.json"))
        #expect(FileSD.patternProblem("/etc/*.json") == nil)
        #expect(FileSD.patternProblem("/etc/*/x.json") != nil)
        #expect(FileSD.patternProblem("/etc/x.txt") != nil)
    }

    func config() -> ScrapeConfig {
        var config = ScrapeConfig(jobName: "node", scrapeInterval: 15_000, scrapeTimeout: 5_000)
        config.params = ["module": ["http_2xx"]]
        return config
    }

    @Test func defaultsAndInstance() throws {
        let targets = config().targets(from: [TargetGroup(targets: ["127.0.0.1:9100"], labels: ["env": "prod", "__meta_x": "m"])])
        guard case .active(let target) = try #require(targets.first) else { Issue.record("not active"); return }
        #expect(target.labels == ["env": "prod", "instance": "127.0.0.1:9100", "job": "node"])
        #expect(target.discoveredLabels == [
            "__address__": "127.0.0.1:9100", "__meta_x": "m", "__metrics_path__": "/metrics", "__param_module": "http_2xx",
            "__scheme__": "http", "__scrape_interval__": "15s", "__scrape_timeout__": "5s", "env": "prod", "job": "node",
        ])
        #expect(target.url == "http://127.0.0.1:9100/metrics?module=http_2xx")
        #expect(target.interval == 15_000 && target.timeout == 5_000)
    }

    @Test func relabelingRewritesAddressSchemePathParamsAndInterval() throws {
        var config = config()
        config.relabelConfigs = [
            RelabelConfig(sourceLabels: ["__address__"], targetLabel: "__param_target"),
            RelabelConfig(targetLabel: "__address__", replacement: "blackbox:9115"),
            RelabelConfig(targetLabel: "__metrics_path__", replacement: "/probe"),
            RelabelConfig(targetLabel: "__scheme__", replacement: "https"),
            RelabelConfig(targetLabel: "__scrape_interval__", replacement: "1m"),
            RelabelConfig(targetLabel: "__param_extra", replacement: "a b"),
            RelabelConfig(sourceLabels: ["__param_target"], targetLabel: "instance"),
            RelabelConfig(sourceLabels: ["__meta_team"], targetLabel: "team"),
        ]
        let result = config.target(discovered: ["__address__": "example.com:443", "__meta_team": "ops"])
        guard case .active(let target) = result else { Issue.record("not active: \(result)"); return }
        #expect(target.url == "https://blackbox:9115/probe?module=http_2xx&extra=a+b&target=example.com%3A443")
        #expect(target.labels == ["instance": "example.com:443", "job": "node", "team": "ops"])
        #expect(target.interval == 60_000)
    }

    @Test func droppedAndInvalidTargets() throws {
        var config = config()
        config.relabelConfigs = [RelabelConfig(sourceLabels: ["__address__"], regex: try RelabelRegex(".*:9100"), action: .drop)]
        let dropped = config.target(discovered: ["__address__": "a:9100"])
        guard case .dropped(let labels) = dropped else { Issue.record("not dropped"); return }
        #expect(labels["__address__"] == "a:9100" && labels["job"] == "node")

        config.relabelConfigs = [RelabelConfig(targetLabel: "__scrape_timeout__", replacement: "1h")]
        guard case .invalid(_, let error) = config.target(discovered: ["__address__": "a:1"]) else { Issue.record("not invalid"); return }
        #expect(error.message.contains("scrape timeout cannot be greater than scrape interval"))

        config.relabelConfigs = [RelabelConfig(targetLabel: "__address__", replacement: "")]
        guard case .invalid(_, let noAddress) = config.target(discovered: ["__address__": "a:1"]) else { Issue.record("not invalid"); return }
        #expect(noAddress.message == "no address")
    }

    @Test func startOffsetsAreStableAndWithinTheInterval() {
        let delay = ScrapeSchedule.initialDelay(hash: 12_345, interval: 10_000, now: 1_000_000_003_000)
        #expect(delay == 9_345)
        // At the next tick the phase repeats: the first scrape lands on now + delay, then every interval.
        #expect((1_000_000_003_000 + delay) % 10_000 == 12_345 % 10_000)
        #expect(ScrapeSchedule.initialDelay(hash: 12_345, interval: 10_000, now: 1_000_000_003_000 + delay) == 0)
        #expect(ScrapeSchedule.initialDelay(hash: 12_345, interval: 10_000, now: 1_000_000_003_000 + delay + 1) == 9_999)
    }
}
