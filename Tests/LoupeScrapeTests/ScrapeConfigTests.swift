import LoupeModel
import Testing
import Yams
@testable import LoupeScrape

func decodeScrape(_ yaml: String) throws -> ScrapeConfiguration {
    let root = (try Yams.load(yaml: yaml) as? [String: Any]) ?? [:]
    return try ScrapeConfiguration.decode(root)
}

func scrapeError(_ yaml: String) -> String {
    do {
        _ = try decodeScrape(yaml)
        return "no error"
    } catch let error as ScrapeError {
        return error.message
    } catch {
        return "other error: \(error)"
    }
}

@Suite struct ScrapeConfigTests {
    @Test func defaultsFollowPrometheus() throws {
        let configuration = try decodeScrape("""
            scrape_configs:
              - job_name: node
                static_configs:
                  - targets: ["127.0.0.1:9100"]
            """)
        let job = try #require(configuration.scrapeConfigs.first)
        #expect(job.scrapeInterval == 60_000)
        #expect(job.scrapeTimeout == 10_000)
        #expect(job.metricsPath == "/metrics")
        #expect(job.scheme == "http")
        #expect(job.honorLabels == false)
        #expect(job.honorTimestamps == true)
        #expect(job.tenant == .default)
        #expect(job.staticConfigs == [TargetGroup(targets: ["127.0.0.1:9100"], source: "static_configs[0]")])
    }

    @Test func everyKey() throws {
        let configuration = try decodeScrape("""
            global:
              scrape_interval: 15s
              scrape_timeout: 5s
              external_labels: {region: eu}
            scrape_configs:
              - job_name: app
                scrape_interval: 1m30s
                scrape_timeout: 500ms
                metrics_path: /custom
                scheme: https
                params: {module: [http_2xx, other]}
                honor_labels: true
                honor_timestamps: false
                sample_limit: 100
                label_limit: 20
                body_size_limit: 10MB
                static_configs:
                  - targets: [a:1, b:2]
                    labels: {env: prod, port: 80}
                file_sd_configs:
                  - files: [/etc/targets/*.json, targets.yml]
                    refresh_interval: 30s
                relabel_configs:
                  - source_labels: [__address__]
                    regex: "(.*):.*"
                    target_label: host
                  - action: hashmod
                    source_labels: [host]
                    modulus: 4
                    target_label: shard
                metric_relabel_configs:
                  - action: labeldrop
                    regex: tmp_.*
                basic_auth: {username: u, password_file: /secret}
                tls_config: {ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, server_name: example, insecure_skip_verify: true}
                tenant: team-a
              - job_name: second
                bearer_token: abc
            """)
        #expect(configuration.global.scrapeInterval == 15_000)
        #expect(configuration.global.externalLabels == ["region": "eu"])
        let app = configuration.scrapeConfigs[0]
        #expect(app.scrapeInterval == 90_000)
        #expect(app.scrapeTimeout == 500)
        #expect(app.metricsPath == "/custom")
        #expect(app.scheme == "https")
        #expect(app.params == ["module": ["http_2xx", "other"]])
        #expect(app.honorLabels && !app.honorTimestamps)
        #expect(app.sampleLimit == 100 && app.labelLimit == 20 && app.bodySizeLimit == 10 << 20)
        #expect(app.staticConfigs[0].labels == ["env": "prod", "port": "80"])
        #expect(app.fileSDConfigs == [FileSDConfig(files: ["/etc/targets/*.json", "targets.yml"], refreshInterval: 30_000)])
        #expect(app.relabelConfigs.count == 2)
        #expect(app.relabelConfigs[1].action == .hashmod && app.relabelConfigs[1].modulus == 4)
        #expect(app.metricRelabelConfigs[0].action == .labeldrop)
        #expect(app.basicAuth == BasicAuthConfig(username: "u", passwordFile: "/secret"))
        #expect(app.tls == TLSConfig(caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem", serverName: "example", insecureSkipVerify: true))
        #expect(app.tenant.name == "team-a")
        let second = configuration.scrapeConfigs[1]
        #expect(second.authorization == AuthorizationConfig(type: "Bearer", credentials: "abc"))
        // The job inherits the global interval; the global timeout fits within it.
        #expect(second.scrapeInterval == 15_000 && second.scrapeTimeout == 5_000)
    }

    @Test func timeoutDefaultsToTheIntervalWhenTheGlobalOneIsLonger() throws {
        let configuration = try decodeScrape("""
            scrape_configs:
              - job_name: fast
                scrape_interval: 1s
            """)
        #expect(configuration.scrapeConfigs[0].scrapeTimeout == 1_000)
    }

    @Test func globalTimeoutDefaultsToTheIntervalWhenShorter() throws {
        let configuration = try decodeScrape("global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]")
        #expect(configuration.global.scrapeTimeout == 5_000)
        #expect(configuration.scrapeConfigs[0].scrapeTimeout == 5_000)
    }

    @Test func errorsNameTheKey() {
        #expect(scrapeError("scrape_configs: [{job_name: a, scrape_intervall: 1s}]")
            .hasPrefix("unknown key \"scrape_configs[0].scrape_intervall\"; known keys here:"))
        #expect(scrapeError("scrape_configs: [{static_configs: []}]") == "scrape_configs[0]: job_name is required")
        #expect(scrapeError("scrape_configs: [{job_name: a}, {job_name: a}]")
            == "scrape_configs[1].job_name: found multiple scrape configs with job name \"a\"")
        #expect(scrapeError("scrape_configs: [{job_name: a, scrape_interval: 5x}]")
            == "scrape_configs[0].scrape_interval: not a valid duration string: \"5x\" (use e.g. 15s, 1m30s, 500ms)")
        #expect(scrapeError("scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s}]")
            == "scrape_configs[0].scrape_timeout: scrape timeout (10s) greater than scrape interval (5s) for scrape config with job name \"a\"")
        #expect(scrapeError("scrape_configs: [{job_name: a, relabel_configs: [{action: rename}]}]")
            .hasPrefix("scrape_configs[0].relabel_configs[0].action: unknown relabel action \"rename\""))
        #expect(scrapeError("scrape_configs: [{job_name: a, relabel_configs: [{source_labels: [x]}]}]")
            == "scrape_configs[0].relabel_configs[0]: relabel configuration for replace action requires 'target_label' value")
        #expect(scrapeError("scrape_configs: [{job_name: a, relabel_configs: [{regex: '(', target_label: x}]}]")
            .hasPrefix("scrape_configs[0].relabel_configs[0].regex: invalid regular expression \"(\""))
        #expect(scrapeError("scrape_configs: [{job_name: a, scheme: ftp}]") == "scrape_configs[0].scheme: unknown scheme \"ftp\"; use http or https")
        #expect(scrapeError("scrape_configs: [{job_name: a, basic_auth: {username: u}, bearer_token: t}]")
            == "scrape_configs[0]: at most one of basic_auth, authorization, bearer_token & bearer_token_file must be configured")
        #expect(scrapeError("scrape_configs: [{job_name: a, file_sd_configs: [{files: ['/x/*/t.json']}]}]")
            .hasPrefix("scrape_configs[0].file_sd_configs[0].files[0]: path name \"/x/*/t.json\" is not valid for file discovery"))
        #expect(scrapeError("scrape_configs: [{job_name: a, tenant: 'a b'}]").hasPrefix("scrape_configs[0].tenant: invalid X-Scope-OrgID"))
        #expect(scrapeError("scrape_configs: [{job_name: a, honor_labels: maybe}]") == "scrape_configs[0].honor_labels: must be true or false")
        #expect(scrapeError("scrape_configs: [{job_name: a, static_configs: [{targets: [x], labels: {'bad-name': v}}]}]")
            == "scrape_configs[0].static_configs[0].labels.bad-name: \"bad-name\" is not a valid label name")
        #expect(scrapeError("global: {scrape_interval: 5s, scrape_timeout: 10s}")
            == "global.scrape_timeout: global scrape timeout (10s) greater than scrape interval (5s)")
        #expect(scrapeError("scrape_configs: {job_name: a}") == "scrape_configs: must be a list")
    }

    @Test func durations() {
        #expect(PrometheusDuration.parseMilliseconds("1m30s") == 90_000)
        #expect(PrometheusDuration.parseMilliseconds("1h1m1s1ms") == 3_661_001)
        #expect(PrometheusDuration.parseMilliseconds("1d") == 86_400_000)
        #expect(PrometheusDuration.parseMilliseconds("30s1m") == nil)
        #expect(PrometheusDuration.parseMilliseconds("1.5s") == nil)
        #expect(PrometheusDuration.parseMilliseconds("") == nil)
        #expect(PrometheusDuration.format(milliseconds: 90_000) == "1m30s")
        #expect(PrometheusDuration.format(milliseconds: 60_000) == "1m")
        #expect(PrometheusDuration.format(milliseconds: 500) == "500ms")
        #expect(PrometheusDuration.format(milliseconds: 0) == "0s")
        #expect(PrometheusDuration.format(milliseconds: 86_400_000 * 8) == "1w1d")
    }
}
