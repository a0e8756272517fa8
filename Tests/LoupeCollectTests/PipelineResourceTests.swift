import Foundation
import LoupeModel
import Testing

@testable import LoupeCollect

/// Pipeline resources: every field read with its default, and every mistake refused with where it is.
@Suite struct PipelineResourceTests {
    static let full = """
        apiVersion: telemetry.loupe.dev/v1beta1
        kind: LogPipeline
        metadata:
          name: backend
        spec:
          input:
            runtime:
              namespaces:
                include: [shop, payments]
              containers:
                exclude: [istio-proxy]
              keepOriginalBody: false
            otlp:
              enabled: false
          output:
            otlp:
              protocol: http
              endpoint:
                value: https://otlp.example.com:4318/base
              path: /v1/custom-logs
              authentication:
                basic:
                  user: {value: alice}
                  password:
                    valueFrom:
                      secretKeyRef: {name: backend, namespace: telemetry, key: password}
              headers:
                - name: Authorization
                  prefix: Bearer
                  valueFrom:
                    secretKeyRef: {name: backend, namespace: telemetry, key: token}
                - name: X-Tenant
                  value: shop
              tls:
                insecureSkipVerify: true
                ca: {value: "-----BEGIN CERTIFICATE-----"}
              compression: none
          transform:
            - conditions: ['log.severity_text == "warning"']
              statements: ['set(log.severity_text, "WARN")']
          filter:
            - conditions: ['IsMatch(log.body, ".*health.*")']
        ---
        apiVersion: telemetry.loupe.dev/v1beta1
        kind: TracePipeline
        metadata: {name: traces}
        spec:
          output:
            otlp:
              endpoint: {value: "collector.observability:4317"}
        ---
        apiVersion: telemetry.loupe.dev/v1beta1
        kind: MetricPipeline
        metadata: {name: metrics}
        spec:
          input:
            prometheus: {enabled: true, diagnosticMetrics: {enabled: true}}
            runtime:
              enabled: true
              namespaces: {}
              resources: {volume: {enabled: false}}
          output:
            otlp:
              endpoint: {value: "http://vendor:4318"}
              protocol: http
              temporality: delta
              authentication:
                oauth2:
                  tokenURL: {value: "https://auth.example.com/token"}
                  clientID: {value: id}
                  clientSecret: {value: secret}
                  scopes: [metrics.write]
                  params: {audience: vendor}
        """

    @Test func everyFieldIsRead() throws {
        let set = try PipelineSet.decode(files: [("pipelines.yaml", Self.full)])
        #expect(set.resources.map(\.displayName) == ["LogPipeline \"backend\"", "TracePipeline \"traces\"", "MetricPipeline \"metrics\""])
        let logs = try #require(set.logPipelines.first?.spec)
        #expect(logs.runtime.enabled && logs.runtime.namespaces == .include(["shop", "payments"]))
        #expect(logs.runtime.containers == .exclude(["istio-proxy"]) && !logs.runtime.keepOriginalBody)
        #expect(!logs.otlp.enabled && logs.otlp.namespaces == .all)
        guard case .otlp(let output) = logs.output else {
            Issue.record("expected an OTLP output")
            return
        }
        #expect(output.transport == .http && output.endpoint == .value("https://otlp.example.com:4318/base"))
        #expect(output.path == "/v1/custom-logs" && output.compression == OTLPOutput.Compression.none)
        #expect(output.authentication == .basic(user: .value("alice"), password: .secret(SecretKeyReference(name: "backend", namespace: "telemetry", key: "password"))))
        #expect(output.headers.map(\.name) == ["Authorization", "X-Tenant"] && output.headers[0].prefix == "Bearer")
        #expect(output.headers[1].value == .value("shop"))
        #expect(output.tls?.insecureSkipVerify == true && output.tls?.ca == .value("-----BEGIN CERTIFICATE-----"))
        #expect(logs.transform.count == 1 && logs.transform[0].statements.map(\.text) == ["set(log.severity_text, \"WARN\")"])
        #expect(logs.transform[0].conditions[0].location == "pipelines.yaml:39:20")
        #expect(logs.filter.count == 1)

        let traces = try #require(set.tracePipelines.first?.spec)
        guard case .otlp(let traceOutput) = traces.output else {
            Issue.record("expected an OTLP output")
            return
        }
        #expect(traceOutput.transport == .grpc && traceOutput.compression == .gzip && traceOutput.tls == nil)

        let metrics = try #require(set.metricPipelines.first?.spec)
        #expect(metrics.prometheus.enabled && metrics.prometheus.diagnosticMetrics && metrics.prometheus.namespaces == NamespaceSelector.pullDefault)
        #expect(metrics.runtime.enabled && metrics.runtime.namespaces == .all)
        #expect(metrics.runtime.resources["volume"] == false && metrics.runtime.resources["pod"] == true)
        #expect(!metrics.istio.enabled && metrics.otlp.enabled)
        guard case .otlp(let metricOutput) = metrics.output, case .oauth2(let oauth2) = metricOutput.authentication else {
            Issue.record("expected OAuth2")
            return
        }
        #expect(metricOutput.temporality == .delta && oauth2.scopes == ["metrics.write"] && oauth2.params == ["audience": "vendor"])
    }

    @Test func defaultsAreThoseOfTheDesign() throws {
        let set = try PipelineSet.decode(files: [("a.yaml", """
            apiVersion: telemetry.loupe.dev/v1beta1
            kind: LogPipeline
            metadata: {name: a}
            spec:
              output: {loupe: {}}
            """)])
        let logs = try #require(set.logPipelines.first?.spec)
        #expect(logs.runtime.enabled && logs.runtime.keepOriginalBody && logs.otlp.enabled)
        #expect(logs.runtime.namespaces == .exclude(["kube-system", "istio-system", "loupe-system"]))
        #expect(!logs.runtime.namespaces.admits("kube-system") && logs.runtime.namespaces.admits("shop"))
        #expect(logs.output == .loupe)
    }

    @Test func theInstallationsSettingsAreOneTelemetryResource() throws {
        let telemetry = """
            apiVersion: telemetry.loupe.dev/v1beta1
            kind: Telemetry
            metadata: {name: default}
            spec:
              enrichments:
                extractPodLabels: [{key: team}, {keyPrefix: app.kubernetes.io/}]
                cluster: {name: prod}
              metric: {collectionInterval: 45s}
            """
        let metrics = """
            apiVersion: telemetry.loupe.dev/v1beta1
            kind: MetricPipeline
            metadata: {name: m}
            spec:
              input:
                runtime: {enabled: true, interval: 1m}
                istio: {enabled: true, interval: 20s}
              output: {loupe: {}}
            """
        let set = try PipelineSet.decode(files: [("t.yaml", telemetry), ("m.yaml", metrics)])
        let settings = try #require(set.settings)
        #expect(settings.podLabelKeys == ["team"] && settings.podLabelPrefixes == ["app.kubernetes.io/"])
        #expect(settings.clusterName == "prod" && settings.metricCollectionInterval == 45_000 && settings.location == "t.yaml:1:1")
        #expect(set.resources.count == 1)
        let spec = try #require(set.metricPipelines.first?.spec)
        #expect(spec.runtime.interval == 60_000 && spec.istio.interval == 20_000)

        func refusal(_ files: [(String, String)]) -> String {
            do {
                _ = try PipelineSet.decode(files: files)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(refusal([("t.yaml", telemetry), ("u.yaml", telemetry)]).contains("one Telemetry resource per installation (the first is at t.yaml:1:1)"))
        #expect(refusal([("t.yaml", telemetry.replacingOccurrences(of: "{key: team}", with: "{key: team, keyPrefix: x}"))])
            .contains("give one of key and keyPrefix"))
        #expect(refusal([("t.yaml", telemetry.replacingOccurrences(of: "45s", with: "soon"))])
            .contains("spec.metric.collectionInterval: \"soon\" is not a duration"))
        #expect(refusal([("t.yaml", telemetry.replacingOccurrences(of: "cluster: {name: prod}", with: "cluster: {}"))]).contains("name: required"))
        #expect(refusal([("m.yaml", metrics.replacingOccurrences(of: "1m", with: "-1s"))]).contains("spec.input.runtime.interval"))
    }

    @Test func prometheusInputWithStaticTargets() throws {
        let set = try PipelineSet.decode(files: [("m.yaml", """
            apiVersion: telemetry.loupe.dev/v1beta1
            kind: MetricPipeline
            metadata: {name: metrics}
            spec:
              input:
                prometheus:
                  enabled: true
                  interval: 15s
                  diagnosticMetrics: {enabled: true}
                  staticTargets:
                    - targets: ["127.0.0.1:9100", "[::1]:9100", "node-exporter:9100"]
                      labels: {env: dev}
                    - targets: ["blackbox:9115"]
                      job: blackbox
                      path: /probe
                      scheme: https
                      params: {module: http_2xx, target: [a, b]}
              output: {loupe: {}}
            """)])
        let prometheus = try #require(set.metricPipelines.first?.spec.prometheus)
        #expect(prometheus.enabled && prometheus.diagnosticMetrics && prometheus.interval == 15_000)
        #expect(prometheus.namespaces == .pullDefault)
        #expect(prometheus.staticTargets.count == 2)
        #expect(prometheus.staticTargets[0].targets == ["127.0.0.1:9100", "[::1]:9100", "node-exporter:9100"])
        #expect(prometheus.staticTargets[0].job == nil && prometheus.staticTargets[0].labels == ["env": "dev"])
        #expect(prometheus.staticTargets[0].path == "/metrics" && prometheus.staticTargets[0].scheme == "http")
        #expect(prometheus.staticTargets[1].job == "blackbox" && prometheus.staticTargets[1].path == "/probe")
        #expect(prometheus.staticTargets[1].scheme == "https" && prometheus.staticTargets[1].params == ["module": ["http_2xx"], "target": ["a", "b"]])
    }

    static let metricsBase = "apiVersion: telemetry.loupe.dev/v1beta1\nkind: MetricPipeline\nmetadata: {name: m}\nspec:\n  output: {loupe: {}}\n  input:\n    prometheus:\n"

    @Test(arguments: [
        ("      staticTargets: [{targets: [\"http://a:9100/metrics\"]}]\n",
         "x.yaml:8:34: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].targets[0]: \"http://a:9100/metrics\" is not host:port (no scheme, no path: those are scheme and path)"),
        ("      staticTargets: [{targets: [\"a\"]}]\n",
         "x.yaml:8:34: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].targets[0]: \"a\" is not host:port (no scheme, no path: those are scheme and path)"),
        ("      staticTargets: [{targets: []}]\n",
         "x.yaml:8:33: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].targets: give at least one host:port"),
        ("      staticTargets: [{targets: [\"a:1\"], scheme: ftp}]\n",
         "x.yaml:8:50: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].scheme: scheme is http or https, not \"ftp\""),
        ("      staticTargets: [{targets: [\"a:1\"], path: metrics}]\n",
         "x.yaml:8:48: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].path: \"metrics\" does not start with /"),
        ("      staticTargets: [{targets: [\"a:1\"], labels: {__x: y}}]\n",
         "x.yaml:8:50: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].labels: \"__x\" is not a label name (letters, digits and _, not starting with a digit or __)"),
        ("      interval: soon\n",
         "x.yaml:8:17: MetricPipeline \"m\": spec.input.prometheus.interval: \"soon\" is not a duration such as 15s or 1m"),
        ("      staticTargets: [{targets: [\"a:1\"], port: 2}]\n",
         "x.yaml:8:42: MetricPipeline \"m\": spec.input.prometheus.staticTargets[0].port: unknown field; allowed here: targets, job, labels, path, scheme, params"),
    ] as [(String, String)])
    func prometheusInputMistakes(yaml: String, expected: String) {
        do {
            _ = try PipelineSet.decode(files: [("x.yaml", Self.metricsBase + yaml)])
            Issue.record("accepted: \(yaml)")
        } catch {
            #expect(error.description == expected)
        }
    }

    static let base = """
        apiVersion: telemetry.loupe.dev/v1beta1
        kind: TracePipeline
        metadata: {name: t}
        spec:
          output:
            otlp:

        """

    /// Each broken resource gives an error with its place, field and what is wrong.
    @Test(arguments: [
        ("kind: LogPipeline\n", "x.yaml:1:1: apiVersion: required"),
        ("apiVersion: telemetry.kyma-project.io/v1beta1\nkind: LogPipeline\nmetadata: {name: a}\nspec: {}\n",
         "x.yaml:1:13: apiVersion: \"telemetry.kyma-project.io/v1beta1\" is not served here; use telemetry.loupe.dev/v1beta1 (the field names are those of telemetry.kyma-project.io/v1beta1)"),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipelin\nmetadata: {name: a}\nspec: {}\n",
         "x.yaml:2:7: kind: \"LogPipelin\" is not a pipeline kind; use LogPipeline, TracePipeline, MetricPipeline (or Telemetry for the installation's settings)"),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: Bad_Name}\nspec: {}\n",
         "x.yaml:3:18: metadata.name: \"Bad_Name\" is not a resource name (lowercase a-z, 0-9, - and ., at most 253 characters)"),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: a}\nspec: {}\n",
         "x.yaml:4:7: LogPipeline \"a\": spec.output: required"),
        (base + "      endpoint: {value: \"no port\"}\n",
         "x.yaml:7:25: TracePipeline \"t\": spec.output.otlp.endpoint.value: \"no port\" is not an endpoint; give host:port or an http(s) URL"),
        (base + "      endpoint: {value: \"a:4317\"}\n      protocol: grpc\n      path: /x\n",
         "x.yaml:9:13: TracePipeline \"t\": spec.output.otlp.path: only for protocol http"),
        (base + "      endpoint: {value: \"a:4317\", valueFrom: {secretKeyRef: {name: n, namespace: s, key: k}}}\n",
         "x.yaml:7:17: TracePipeline \"t\": spec.output.otlp.endpoint: value and valueFrom exclude each other; give one"),
        (base + "      endpoint: {valueFrom: {secretKeyRef: {name: n, key: k}}}\n",
         "x.yaml:7:44: TracePipeline \"t\": spec.output.otlp.endpoint.valueFrom.secretKeyRef.namespace: required"),
        (base + "      endpoint: {value: \"a:4317\"}\n      tls: {cert: {value: c}}\n",
         "x.yaml:8:12: TracePipeline \"t\": spec.output.otlp.tls: cert and key go together; give both or neither"),
        (base + "      endpoint: {value: \"a:4317\"}\n      compression: zstd\n",
         "x.yaml:8:20: TracePipeline \"t\": spec.output.otlp.compression: zstd is for protocol http; gRPC takes gzip or none"),
        (base + "      endpoint: {value: \"a:4317\"}\n      temporality: delta\n",
         "x.yaml:8:7: TracePipeline \"t\": spec.output.otlp.temporality: unknown field; allowed here: protocol, endpoint, path, authentication, headers, tls, compression"),
        (base + "      endpoint: {value: \"a:4317\"}\n      authentication: {basic: {user: {value: u}, password: {value: p}}, oauth2: {}}\n",
         "x.yaml:8:23: TracePipeline \"t\": spec.output.otlp.authentication: basic and oauth2 exclude each other; give one"),
        (base + "      endpoint: {value: \"a:4317\"}\n      headers: [{name: \"Bad Header\", value: x}]\n",
         "x.yaml:8:24: TracePipeline \"t\": spec.output.otlp.headers[0].name: \"Bad Header\" is not an HTTP header name"),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: a}\nspec:\n  input: {runtime: {namespaces: {include: [Shop]}}}\n  output: {loupe: {}}\n",
         "x.yaml:5:44: LogPipeline \"a\": spec.input.runtime.namespaces.include[0]: \"Shop\" is not a namespace name (a DNS label: at most 63 of a-z, 0-9 and -, starting and ending alphanumeric)"),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: a}\nspec:\n  input: {runtime: {namespaces: {include: [a], exclude: [b]}}}\n  output: {loupe: {}}\n",
         "x.yaml:5:33: LogPipeline \"a\": spec.input.runtime.namespaces: include and exclude exclude each other; give one"),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: a}\nspec:\n  input: {runtime: {enabled: yes please}}\n  output: {loupe: {}}\n",
         "x.yaml:5:30: LogPipeline \"a\": spec.input.runtime.enabled: expected true or false, got \"yes please\""),
        ("apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: a}\nspec:\n  output: {loupe: {}}\n  transform: [{conditions: []}]\n",
         "x.yaml:6:15: LogPipeline \"a\": spec.transform[0].statements: required"),
        ("- just\n- a list\n", "x.yaml:1:1: a pipeline resource is a mapping with apiVersion, kind, metadata and spec"),
        ("key: [unclosed\n", nil),
    ] as [(String, String?)])
    func mistakesAreRefusedWithWhereAndWhat(yaml: String, expected: String?) {
        #expect(throws: PipelineError.self) { try PipelineSet.decode(files: [("x.yaml", yaml)]) }
        do {
            _ = try PipelineSet.decode(files: [("x.yaml", yaml)])
        } catch {
            if let expected { #expect(error.description == expected) } else { #expect(error.code == .malformed) }
        }
    }

    @Test func aNameTwiceInOneKindIsRefusedButAcrossKindsIsFine() throws {
        let log = "apiVersion: telemetry.loupe.dev/v1beta1\nkind: LogPipeline\nmetadata: {name: same}\nspec: {output: {loupe: {}}}\n"
        let trace = log.replacingOccurrences(of: "LogPipeline", with: "TracePipeline")
        #expect(try PipelineSet.decode(files: [("a.yaml", log), ("b.yaml", trace)]).resources.count == 2)
        #expect {
            try PipelineSet.decode(files: [("a.yaml", log), ("b.yaml", "---\n" + log)])
        } throws: { error in
            (error as? PipelineError)?.description == "b.yaml:2:1: LogPipeline \"same\": defined again (first at a.yaml:1:1)"
        }
    }

    @Test func endpointsAreTakenApart() {
        let plain = OTLPEndpoint("collector:4317")
        #expect(plain?.secure == nil && plain?.host == "collector" && plain?.port == 4317 && plain?.basePath == "")
        let url = OTLPEndpoint("https://x.example.com/otlp/")
        #expect(url?.secure == true && url?.host == "x.example.com" && url?.port == nil && url?.basePath == "/otlp")
        #expect(OTLPEndpoint("http://[::1]:4318")?.host == "::1")
        for bad in ["collector", "collector:0", "collector:99999", ":4317", "host:4317/path", "http://", "https://user@host"] {
            #expect(OTLPEndpoint(bad) == nil, "\(bad)")
        }
    }

    /// Random and truncated texts: a resource or an error, never a crash.
    @Test func randomAndTruncatedInputNeverCrashes() throws {
        var random = SplitMix64(seed: 6)
        let text = Self.full
        let bytes = Array(text.utf8)
        for length in stride(from: 0, to: bytes.count, by: 7) {
            _ = try? PipelineSet.decode(files: [("t.yaml", String(decoding: bytes[..<length], as: UTF8.self))])
        }
        for _ in 0..<300 {
            var mutated = bytes
            for _ in 0..<1 + Int(random.next() % 4) {
                mutated[Int(random.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: random.next() % 128)
            }
            _ = try? PipelineSet.decode(files: [("t.yaml", String(decoding: mutated, as: UTF8.self))])
        }
        #expect(try PipelineSet.decode(files: [("t.yaml", text)]).resources.count == 3)
    }
}
