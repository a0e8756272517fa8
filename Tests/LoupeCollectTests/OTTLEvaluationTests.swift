import LoupeModel
import Testing

@testable import LoupeCollect

/// Statements and conditions run on log, span and data point items: every path, editor and converter,
/// OTTL's comparison rules, nil, and what happens when types do not fit.
@Suite struct OTTLEvaluationTests {
    static let record = LogRecord(
        severityNumber: .info, severityText: "INFO", body: .string("GET /users/42 took 12ms"),
        attributes: [
            KeyValue("http.method", "GET"), KeyValue("http.status_code", 503), KeyValue("duration", 1.5),
            KeyValue("ok", false), KeyValue("tags", .array(["a", "b"])),
            KeyValue("meta", .keyValueList([KeyValue("team", "shop"), KeyValue("tier", 1)])),
            KeyValue("text", "héllo wörld"),
        ])
    static let logItem = OTTLLogItem(
        record: record, resource: Resource(attributes: [KeyValue("service.name", "checkout"), KeyValue("k8s.pod.uid", "u-1")]),
        scope: InstrumentationScope(name: "io.opentelemetry.app", version: "1.2.0", attributes: [KeyValue("scope.k", "v")]))
    static let spanItem = OTTLSpanItem(
        span: Span(
            traceID: TraceID(high: 1, low: 2), spanID: SpanID(value: 3), name: "GET /users/{id}", kind: .server,
            startTimeUnixNano: 1_000, endTimeUnixNano: 5_000,
            attributes: [KeyValue("http.route", "/users/{id}"), KeyValue("http.status_code", 500), KeyValue("user.id", "42")],
            status: SpanStatus(message: "", code: .unset)),
        resource: Resource(attributes: [KeyValue("service.name", "checkout")]))
    static let sumItem = OTTLDataPointItem(
        metricName: "http_requests", metricDescription: "Requests", metricUnit: "1", metricType: "Sum",
        attributes: [KeyValue("method", "GET"), KeyValue("code", "200"), KeyValue("pod", "p-1")],
        startTimeUnixNano: 100, timeUnixNano: 200, value: .int(7), resource: Resource(attributes: [KeyValue("service.name", "checkout")]))

    private func run(_ statements: [String], on item: OTTLLogItem) throws -> OTTLLogItem {
        var result = item
        for text in statements { try OTTLStatement.parse(text, context: .log).execute(&result) }
        return result
    }

    private func run(_ text: String, on item: OTTLLogItem = logItem) throws -> OTTLLogItem {
        try run([text], on: item)
    }

    private func run(_ text: String, on item: OTTLSpanItem) throws -> OTTLSpanItem {
        var result = item
        try OTTLStatement.parse(text, context: .span).execute(&result)
        return result
    }

    private func run(_ text: String, on item: OTTLDataPointItem) throws -> OTTLDataPointItem {
        var result = item
        try OTTLStatement.parse(text, context: .datapoint).execute(&result)
        return result
    }

    private func holds(_ text: String, _ item: OTTLLogItem = logItem) throws -> Bool {
        var copy = item
        return try OTTLCondition.parse(text, context: .log).evaluate(&copy)
    }

    private func holds(_ text: String, _ item: OTTLSpanItem) throws -> Bool {
        var copy = item
        return try OTTLCondition.parse(text, context: .span).evaluate(&copy)
    }

    private func holds(_ text: String, _ item: OTTLDataPointItem) throws -> Bool {
        var copy = item
        return try OTTLCondition.parse(text, context: .datapoint).evaluate(&copy)
    }

    /// The condition's result, or the run-time failure that made it not hold.
    private func outcome(_ text: String, _ item: OTTLLogItem = logItem) throws -> Result<Bool, OTTLRuntimeFailure> {
        try OTTLCondition.parse(text, context: .log).outcome(in: item)
    }

    private func isFailure(_ result: Result<Bool, OTTLRuntimeFailure>) -> Bool {
        if case .failure = result { return true }
        return false
    }

    private func attribute(_ key: String, _ item: OTTLLogItem) -> AnyValue? {
        item.record.attributes[attribute: key]
    }

    // MARK: Paths

    @Test func setWritesEveryLogField() throws {
        let item = try run([
            #"set(log.body, "hello")"#, "set(log.severity_number, SEVERITY_NUMBER_ERROR2)", #"set(log.severity_text, "ERROR")"#,
            "set(log.time_unix_nano, 1700000000000000000)", "set(log.observed_time_unix_nano, 5)",
            #"set(log.trace_id.string, "0102030405060708090a0b0c0d0e0f10")"#, #"set(log.span_id, SpanID("a1a2a3a4a5a6a7a8"))"#,
            "set(log.flags, 1)", #"set(log.event_name, "login")"#, "set(log.dropped_attributes_count, 3)",
            #"set(log.attributes["new"], 1.25)"#, #"set(resource.attributes["deployment"], "prod")"#,
            "set(resource.dropped_attributes_count, 2)", #"set(scope.name, "lib")"#, #"set(scope.version, "2.0")"#,
            #"set(scope.attributes["s"], true)"#, "set(scope.dropped_attributes_count, 4)",
        ], on: Self.logItem)
        #expect(item.record.body == .string("hello"))
        #expect(item.record.severityNumber.rawValue == 18 && item.record.severityText == "ERROR")
        #expect(item.record.timeUnixNano == 1_700_000_000_000_000_000 && item.record.observedTimeUnixNano == 5)
        #expect(item.record.traceID.hex == "0102030405060708090a0b0c0d0e0f10")
        #expect(item.record.spanID.hex == "a1a2a3a4a5a6a7a8")
        #expect(item.record.flags == 1 && item.record.eventName == "login" && item.record.droppedAttributesCount == 3)
        #expect(attribute("new", item) == .double(1.25))
        #expect(item.resource.attributes[attribute: "deployment"] == "prod" && item.resource.droppedAttributesCount == 2)
        #expect(item.scope.name == "lib" && item.scope.version == "2.0" && item.scope.droppedAttributesCount == 4)
        #expect(item.scope.attributes[attribute: "s"] == .bool(true))
        #expect(try holds(#"log.trace_id.string == "0102030405060708090a0b0c0d0e0f10" and log.span_id == SpanID("a1a2a3a4a5a6a7a8")"#, item))
        #expect(try holds(#"log.severity_number == 18 and log.flags == 1 and log.dropped_attributes_count == 3 and scope.version == "2.0""#, item))
    }

    @Test func readingLogFields() throws {
        #expect(try holds(#"log.severity_number == SEVERITY_NUMBER_INFO and log.severity_text == "INFO""#))
        #expect(try holds(#"log.body.string == "GET /users/42 took 12ms" and log.body == "GET /users/42 took 12ms""#))
        #expect(try holds(#"log.trace_id.string == "" and log.span_id.string == "" and log.time_unix_nano == 0"#))
        #expect(try holds(#"resource.attributes["service.name"] == "checkout" and scope.name == "io.opentelemetry.app""#))
        #expect(try holds(#"log.attributes["meta"]["team"] == "shop" and log.attributes["tags"][1] == "b""#))
        #expect(try holds(#"instrumentation_scope.attributes["scope.k"] == "v""#))
        var mapBody = Self.logItem
        mapBody.record.body = .keyValueList([KeyValue("b", 2), KeyValue("a", "x")])
        #expect(try holds(#"log.body.string == "{\"a\":\"x\",\"b\":2}" and log.body["b"] == 2"#, mapBody))
    }

    @Test func setWritesEverySpanField() throws {
        var item = Self.spanItem
        for text in [
            #"set(span.name, "GET /users")"#, "set(span.kind, SPAN_KIND_CLIENT)", "set(span.status.code, STATUS_CODE_ERROR)",
            #"set(span.status.message, "boom")"#, "set(span.start_time_unix_nano, 10)", "set(span.end_time_unix_nano, 20)",
            #"set(span.trace_id, TraceID(0x0102030405060708090a0b0c0d0e0f10))"#, #"set(span.span_id.string, "0000000000000009")"#,
            #"set(span.parent_span_id.string, "00000000000000ff")"#, #"set(span.trace_state, "vendor=1")"#, "set(span.flags, 257)",
            "set(span.dropped_attributes_count, 1)", "set(span.dropped_events_count, 2)", "set(span.dropped_links_count, 3)",
            #"set(span.attributes["peer"], "db")"#, #"set(resource.attributes["k8s.namespace.name"], "shop")"#,
        ] {
            try OTTLStatement.parse(text, context: .span).execute(&item)
        }
        #expect(item.span.name == "GET /users" && item.span.kind == .client)
        #expect(item.span.status == SpanStatus(message: "boom", code: .error))
        #expect(item.span.startTimeUnixNano == 10 && item.span.endTimeUnixNano == 20)
        #expect(item.span.traceID.hex == "0102030405060708090a0b0c0d0e0f10" && item.span.spanID.value == 9)
        #expect(item.span.parentSpanID.value == 255 && item.span.traceState == "vendor=1" && item.span.flags == 257)
        #expect(item.span.droppedAttributesCount == 1 && item.span.droppedEventsCount == 2 && item.span.droppedLinksCount == 3)
        #expect(item.span.attributes[attribute: "peer"] == "db")
        #expect(item.resource.attributes[attribute: "k8s.namespace.name"] == "shop")
        #expect(try holds("span.kind == SPAN_KIND_CLIENT and span.status.code == STATUS_CODE_ERROR and span.flags == 257", item))
        #expect(try holds(#"span.parent_span_id.string == "00000000000000ff" and span.span_id == 0x0000000000000009"#, item))
    }

    @Test func readingSpanFields() throws {
        #expect(try holds(#"span.kind == SPAN_KIND_SERVER and span.status.code == STATUS_CODE_UNSET"#, Self.spanItem))
        #expect(try holds(#"span.trace_id.string == "00000000000000010000000000000002" and span.parent_span_id.string == """#, Self.spanItem))
        #expect(try holds(#"span.end_time_unix_nano - span.start_time_unix_nano == 4000"#, Self.spanItem))
        #expect(try holds(#"span.attributes["http.status_code"] >= 500 and IsMatch(span.name, "^GET ")"#, Self.spanItem))
        #expect(!(try holds(#"span.kind == SPAN_KIND_CLIENT"#, Self.spanItem)))
    }

    @Test func dataPointFields() throws {
        let item = try run(#"set(datapoint.value_int, datapoint.value_int * 2)"#, on: Self.sumItem)
        #expect(item.value == .int(14))
        let double = try run("set(datapoint.value_double, 2.5)", on: item)
        #expect(double.value == .double(2.5))
        #expect(try holds("datapoint.value_double == 2.5 and datapoint.value_int == 0", double))
        var renamed = try run(#"set(metric.name, Concat(["kyma", metric.name], "_"))"#, on: Self.sumItem)
        for text in [#"set(metric.description, "All requests")"#, #"set(metric.unit, "{request}")"#,
                     "set(datapoint.time_unix_nano, 300)", "set(datapoint.start_time_unix_nano, 50)", #"set(datapoint.attributes["zone"], "a")"#] {
            try OTTLStatement.parse(text, context: .datapoint).execute(&renamed)
        }
        #expect(renamed.metricName == "kyma_http_requests" && renamed.metricDescription == "All requests" && renamed.metricUnit == "{request}")
        #expect(renamed.timeUnixNano == 300 && renamed.startTimeUnixNano == 50 && renamed.attributes[attribute: "zone"] == "a")
        #expect(try holds("metric.type == METRIC_DATA_TYPE_SUM and datapoint.value_int == 7", Self.sumItem))
        #expect(try holds(#"metric.name == "http_requests" and metric.unit == "1" and metric.description == "Requests""#, Self.sumItem))
        #expect(try holds("datapoint.time_unix_nano == 200 and datapoint.start_time_unix_nano == 100", Self.sumItem))
        #expect(try holds(#"resource.attributes["service.name"] == "checkout""#, Self.sumItem))
    }

    @Test func histogramPointsHaveNoNumberValue() throws {
        var histogram = Self.sumItem
        histogram.metricType = "Histogram"
        histogram.value = nil
        #expect(try holds("metric.type == METRIC_DATA_TYPE_HISTOGRAM and datapoint.value_int == nil and datapoint.value_double == nil", histogram))
        let unchanged = try run("set(datapoint.value_int, 5)", on: histogram)
        #expect(unchanged.value == nil)
        var gaugeWithoutValue = Self.sumItem
        gaugeWithoutValue.metricType = "Gauge"
        gaugeWithoutValue.value = nil
        #expect(try holds("metric.type == METRIC_DATA_TYPE_GAUGE and datapoint.value_int == 0", gaugeWithoutValue))
    }

    @Test func writesOfTheWrongTypeChangeNothing() throws {
        let statements = [
            #"set(log.severity_number, log.attributes["http.method"])"#, #"set(log.trace_id.string, "xyz")"#,
            "set(log.time_unix_nano, -1)", "set(log.flags, 4294967296)", "set(log.severity_number, 2147483648)",
            #"set(log.attributes, log.attributes["http.method"])"#, #"set(log.body.string, log.attributes["ok"])"#,
            #"set(log.attributes["tags"]["x"], 1)"#, #"set(log.attributes["tags"][5], 1)"#, #"set(log.attributes["http.method"]["x"], 1)"#,
            #"set(log.attributes["missing"], log.attributes["absent"])"#, #"set(log.attributes["x"], nil)"#,
        ]
        for text in statements {
            #expect(try run(text) == Self.logItem, "\(text)")
        }
    }

    @Test func nestedSetsCreateWhatIsMissing() throws {
        let item = try run([
            #"set(log.attributes["meta"]["owner"]["name"], "ana")"#, #"set(log.cache["list"][2], "x")"#,
            #"set(log.attributes["tags"][0], "z")"#, #"set(log.attributes["meta"]["tier"], 2)"#,
        ], on: Self.logItem)
        #expect(attribute("meta", item) == .keyValueList([
            KeyValue("team", "shop"), KeyValue("tier", 2), KeyValue("owner", .keyValueList([KeyValue("name", "ana")])),
        ]))
        #expect(item.cache == [KeyValue("list", .array([.empty, .empty, "x"]))])
        #expect(attribute("tags", item) == .array(["z", "b"]))
        var noBody = Self.logItem
        noBody.record.body = nil
        #expect(try run(#"set(log.body["level"], "warn")"#, on: noBody).record.body == .keyValueList([KeyValue("level", "warn")]))
        #expect(try run(#"set(log.body["level"], "warn")"#).record.body == Self.record.body)
    }

    // MARK: Editors

    @Test func deleteAndKeepKeys() throws {
        #expect(try run(#"delete_key(log.attributes, "ok")"#).record.attributes.map(\.key)
            == ["http.method", "http.status_code", "duration", "tags", "meta", "text"])
        #expect(try run(#"delete_key(resource.attributes, "k8s.pod.uid")"#).resource.attributes == [KeyValue("service.name", "checkout")])
        #expect(attribute("meta", try run(#"delete_key(log.attributes["meta"], "tier")"#)) == .keyValueList([KeyValue("team", "shop")]))
        #expect(try run(#"delete_matching_keys(log.attributes, "^http\\.")"#).record.attributes.map(\.key)
            == ["duration", "ok", "tags", "meta", "text"])
        #expect(try run(#"keep_keys(log.attributes, ["ok", "text", "absent"])"#).record.attributes.map(\.key) == ["ok", "text"])
        #expect(try run(#"keep_matching_keys(log.attributes, "^(?i)HTTP")"#).record.attributes.map(\.key)
            == ["http.method", "http.status_code"])
        #expect(try run(#"delete_key(log.attributes, log.attributes["http.status_code"])"#) == Self.logItem)
    }

    @Test func replacePatternExpandsCaptures() throws {
        let masked = try run(#"replace_pattern(log.body, "/users/(\\d+)", "/users/{id:$1}")"#)
        #expect(masked.record.body == .string("GET /users/{id:42} took 12ms"))
        let named = try run(#"replace_pattern(log.body, "took (?P<ms>\\d+)ms", "${ms}$$ ms=$ms $2 $x")"#)
        #expect(named.record.body == .string("GET /users/42 12$ ms=12  "))
        let everyMatch = try run(#"replace_pattern(log.attributes["text"], "[öé]", "_")"#)
        #expect(attribute("text", everyMatch) == "h_llo w_rld")
        #expect(try run(#"replace_pattern(log.body, "^POST", "x")"#) == Self.logItem)
        #expect(try run(#"replace_pattern(log.attributes["http.status_code"], "5", "x")"#) == Self.logItem)
        #expect(try run(#"replace_pattern(log.body, "GET", log.attributes["http.status_code"])"#) == Self.logItem)
    }

    @Test func replaceAllPatternsOnValuesAndKeys() throws {
        let values = try run(#"replace_all_patterns(log.attributes, "value", "l+", "L")"#)
        #expect(attribute("text", values) == "héLo wörLd" && attribute("http.method", values) == "GET" && attribute("http.status_code", values) == 503)
        let keys = try run(#"replace_all_patterns(log.attributes, "key", "^http\\.(.*)$", "h_$1")"#)
        #expect(keys.record.attributes.map(\.key) == ["h_method", "h_status_code", "duration", "ok", "tags", "meta", "text"])
        var colliding = Self.logItem
        colliding.record.attributes = [KeyValue("a.x", 1), KeyValue("b.x", 2), KeyValue("c", 3)]
        let merged = try run(#"replace_all_patterns(log.attributes, "key", "^[ab]\\.", "")"#, on: colliding)
        #expect(merged.record.attributes == [KeyValue("x", 2), KeyValue("c", 3)])
    }

    @Test func replaceMatchUsesGlobs() throws {
        var item = Self.logItem
        item.record.attributes = [KeyValue("url", "/user/7/list/9"), KeyValue("verb", "POST /x"), KeyValue("n", 1), KeyValue("o", "other")]
        let replaced = try run(#"replace_match(log.attributes["url"], "/user/*/list/*", "/user/{id}/list/{id}")"#, on: item)
        #expect(replaced.record.attributes[attribute: "url"] == "/user/{id}/list/{id}")
        #expect(try run(#"replace_match(log.attributes["url"], "/user/?/list", "x")"#, on: item) == item)
        #expect(try run(#"replace_match(log.attributes["verb"], "{GET,POST} /[a-z]", "write")"#, on: item).record.attributes[attribute: "verb"] == "write")
        let all = try run(#"replace_all_matches(log.attributes, "*/*", "path")"#, on: item)
        #expect(all.record.attributes.map(\.value) == ["path", "path", 1, "other"])
        #expect(try run(#"replace_match(log.attributes["verb"], "[!P]*", "x")"#, on: item) == item)
    }

    @Test func truncateAllKeepsUTF8Whole() throws {
        let two = try run("truncate_all(log.attributes, 2)")
        #expect(attribute("text", two) == "h" && attribute("http.method", two) == "GE")
        #expect(attribute("http.status_code", two) == 503 && attribute("tags", two) == .array(["a", "b"]))
        #expect(attribute("text", try run("truncate_all(log.attributes, 3)")) == "hé")
        #expect(attribute("text", try run("truncate_all(log.attributes, 0)")) == "")
        #expect(try run("truncate_all(log.attributes, 100)") == Self.logItem)
    }

    @Test func limitKeepsPriorityKeysFirst() throws {
        var item = Self.logItem
        item.record.attributes = [KeyValue("a", 1), KeyValue("b", 2), KeyValue("c", 3), KeyValue("d", 4)]
        #expect(try run(#"limit(log.attributes, 2, ["c"])"#, on: item).record.attributes.map(\.key) == ["a", "c"])
        #expect(try run(#"limit(log.attributes, 2, [])"#, on: item).record.attributes.map(\.key) == ["a", "b"])
        #expect(try run(#"limit(log.attributes, 4, [])"#, on: item) == item)
        #expect(try run(#"limit(log.attributes, 0, [])"#, on: item).record.attributes.isEmpty)
    }

    @Test func mergeMapsByStrategy() throws {
        var item = Self.logItem
        item.record.attributes = [KeyValue("a", 1), KeyValue("b", 2)]
        item.record.body = .string(#"{"b": 20, "c": 30}"#)
        let merge = #"merge_maps(log.attributes, ParseJSON(log.body), "STRATEGY")"#
        func merged(_ strategy: String) throws -> [KeyValue] {
            try run(merge.replacing("STRATEGY", with: strategy), on: item).record.attributes
        }
        #expect(try merged("insert") == [KeyValue("a", 1), KeyValue("b", 2), KeyValue("c", 30)])
        #expect(try merged("update") == [KeyValue("a", 1), KeyValue("b", 20)])
        #expect(try merged("upsert") == [KeyValue("a", 1), KeyValue("b", 20), KeyValue("c", 30)])
        #expect(try run(#"merge_maps(log.attributes, log.body, "upsert")"#, on: item) == item)
    }

    @Test func flattenJoinsKeysWithDots() throws {
        var item = Self.logItem
        item.record.body = .keyValueList([
            KeyValue("name", "test"),
            KeyValue("address", .keyValueList([KeyValue("street", "first"), KeyValue("geo", .keyValueList([KeyValue("lat", 1.5)]))])),
            KeyValue("occupants", .array(["u1", "u2"])),
        ])
        #expect(try run("flatten(log.body)", on: item).record.body == .keyValueList([
            KeyValue("name", "test"), KeyValue("address.street", "first"), KeyValue("address.geo.lat", 1.5),
            KeyValue("occupants.0", "u1"), KeyValue("occupants.1", "u2"),
        ]))
        #expect(try run(#"flatten(log.body, "app", depth = 1)"#, on: item).record.body == .keyValueList([
            KeyValue("app.name", "test"), KeyValue("app.address.street", "first"),
            KeyValue("app.address.geo", .keyValueList([KeyValue("lat", 1.5)])),
            KeyValue("app.occupants.0", "u1"), KeyValue("app.occupants.1", "u2"),
        ]))
        #expect(try run("flatten(log.body)") == Self.logItem)
    }

    @Test func editorsOnSpansAndDataPoints() throws {
        let span = try run(#"replace_pattern(span.name, "\\{id\\}", ":id")"#, on: Self.spanItem)
        #expect(span.span.name == "GET /users/:id")
        #expect(try run(#"delete_key(span.attributes, "user.id")"#, on: Self.spanItem).span.attributes.map(\.key) == ["http.route", "http.status_code"])
        let errored = try run(#"set(span.status.code, STATUS_CODE_ERROR) where span.attributes["http.status_code"] >= 500"#, on: Self.spanItem)
        #expect(errored.span.status.code == .error)
        #expect(try run(#"keep_keys(datapoint.attributes, ["method"])"#, on: Self.sumItem).attributes == [KeyValue("method", "GET")])
        #expect(try run(#"replace_pattern(metric.name, "_requests$", "_calls")"#, on: Self.sumItem).metricName == "http_calls")
        #expect(try run(#"truncate_all(resource.attributes, 5)"#, on: Self.sumItem).resource.attributes == [KeyValue("service.name", "check")])
    }

    @Test func whereDecidesWhetherAStatementRuns() throws {
        #expect(attribute("level", try run(#"set(log.attributes["level"], "warn") where log.severity_number < SEVERITY_NUMBER_WARN"#)) == "warn")
        #expect(try run(#"set(log.attributes["level"], "warn") where log.severity_number >= SEVERITY_NUMBER_WARN"#) == Self.logItem)
        #expect(try run(#"set(log.attributes["level"], "warn") where Substring(log.body, 100, 1) == "x""#) == Self.logItem)
    }

    @Test func anItemOfAnotherContextIsLeftAlone() throws {
        let statement = try OTTLStatement.parse(#"set(resource.attributes["x"], "y")"#, context: .span)
        var log = Self.logItem
        statement.execute(&log)
        #expect(log == Self.logItem)
        var span = Self.spanItem
        statement.execute(&span)
        #expect(span.resource.attributes[attribute: "x"] == "y")
        var point = Self.sumItem
        #expect(!(try OTTLCondition.parse("true", context: .log).evaluate(&point)))
    }

    // MARK: Converters

    @Test func typePredicates() throws {
        #expect(try holds(#"IsString(log.attributes["http.method"]) and not IsString(log.attributes["http.status_code"])"#))
        #expect(try holds(#"IsInt(log.attributes["http.status_code"]) and not IsInt(log.attributes["duration"])"#))
        #expect(try holds(#"IsDouble(log.attributes["duration"]) and not IsDouble(log.attributes["http.status_code"])"#))
        #expect(try holds(#"IsBool(log.attributes["ok"]) and not IsBool(log.attributes["missing"])"#))
        #expect(try holds(#"IsMap(log.attributes["meta"]) and not IsMap(log.attributes["tags"])"#))
        #expect(try holds(#"IsList(log.attributes["tags"]) and not IsList(log.attributes["meta"])"#))
    }

    @Test func isMatchConvertsItsTarget() throws {
        #expect(try holds(#"IsMatch(log.attributes["http.status_code"], "^5\\d\\d$")"#))
        #expect(try holds(#"IsMatch(log.attributes["ok"], "^false$") and IsMatch(log.attributes["duration"], "^1\\.5$")"#))
        #expect(try holds(#"IsMatch(log.attributes["meta"], "\"team\":\"shop\"")"#))
        #expect(!(try holds(#"IsMatch(log.attributes["missing"], ".*")"#)))
        #expect(try holds(#"IsMatch(log.attributes["text"], "^h.llo")"#))
        #expect(!(try holds(#"IsMatch("١٢", "\\d")"#)))
    }

    @Test func stringConverters() throws {
        #expect(try holds(#"Concat([log.attributes["http.method"], log.attributes["http.status_code"], 2.5, true, log.attributes["missing"]], " ") == "GET 503 2.5 true <nil>""#))
        #expect(try holds(#"Concat([], "-") == "" and Concat(log.attributes["tags"], "+") == "a+b""#))
        #expect(try holds(#"Split("a,b,,c", ",") == ["a", "b", "", "c"] and Split(log.body, " ")[1] == "/users/42""#))
        #expect(try holds(#"Substring(log.body, 4, 6) == "/users" and Substring("héllo", 1, 2) == "é""#))
        #expect(try holds(#"ToLowerCase(log.attributes["http.method"]) == "get" and ToUpperCase("gEt") == "GET""#))
        #expect(try holds(#"Trim("  x  ") == "x" and Trim("!!x!-!", "!-") == "x""#))
        #expect(try holds(#"HasPrefix(log.body, "GET ") and HasSuffix(log.body, "ms") and not HasPrefix(log.body, "POST")"#))
        #expect(try holds(#"Len(log.body) == 23 and Len("é") == 2 and Len(log.attributes["tags"]) == 2 and Len(log.attributes["meta"]) == 2"#))
    }

    @Test func numberConversions() throws {
        #expect(try holds(#"Int("42") == 42 and Int(1.9) == 1 and Int(-1.9) == -1 and Int(true) == 1 and Int(7) == 7"#))
        #expect(try holds(#"Int("4.2") == nil and Int("x") == nil and Int(log.attributes["tags"]) == nil"#))
        #expect(try holds(#"Double("1.5") == 1.5 and Double(3) == 3.0 and Double(false) == 0.0 and Double("x") == nil"#))
        #expect(try holds(#"String(503) == "503" and String(1.5) == "1.5" and String(100.0) == "100" and String(false) == "false""#))
        #expect(try holds(#"String(0x0a1b) == "0a1b" and String(["a", 1]) == "[\"a\",1]" and String(log.attributes["missing"]) == nil"#))
        #expect(try holds(#"String(0.0000001) == "1e-7" and String(1e21) == "1e+21" and String(-2.5) == "-2.5""#))
    }

    @Test func parseJSONGivesTypedMaps() throws {
        var item = Self.logItem
        item.record.body = .string(#"{"level":"warn","n":3,"ratio":0.5,"ok":true,"tags":["x",{"y":null}],"nested":{"a":{"b":"c"}},"s":"\u00e9\ud83d\ude00\n"}"#)
        let parsed = try run("merge_maps(log.attributes, ParseJSON(log.body), \"upsert\")", on: item)
        #expect(attribute("level", parsed) == "warn" && attribute("n", parsed) == .int(3) && attribute("ratio", parsed) == .double(0.5))
        #expect(attribute("ok", parsed) == .bool(true))
        #expect(attribute("tags", parsed) == .array(["x", .keyValueList([KeyValue("y", .empty)])]))
        #expect(attribute("nested", parsed) == .keyValueList([KeyValue("a", .keyValueList([KeyValue("b", "c")]))]))
        #expect(attribute("s", parsed) == "é😀\n")
        #expect(try holds(#"ParseJSON(log.body)["nested"]["a"]["b"] == "c" and ParseJSON("[1, 2]")[1] == 2"#, item))
        for invalid in [#"{"a":}"#, "[1,]", "42", #"{"a":1} x"#, ""] {
            var bad = Self.logItem
            bad.record.body = .string(invalid)
            #expect(try run(#"set(log.cache, ParseJSON(log.body))"#, on: bad) == bad, "\(invalid)")
        }
    }

    @Test func bytesAndIdentifiers() throws {
        #expect(try holds(#"Hex("AB") == "4142" and Hex(12) == "000000000000000c" and Hex(true) == "01" and Hex(0x0a1b) == "0a1b""#))
        #expect(try holds(#"Hex(1.0) == "3ff0000000000000""#))
        #expect(try holds(#"TraceID("0102030405060708090a0b0c0d0e0f10") == 0x0102030405060708090a0b0c0d0e0f10 and SpanID(0x0102030405060708) == 0x0102030405060708"#))
        #expect(isFailure(try outcome(#"TraceID("0102") == nil"#)))
        #expect(try holds(#"ContainsValue(log.attributes["tags"], "b") and not ContainsValue([1, 2.5], 2) and ContainsValue([1, 2.5], 2.5)"#))
    }

    // MARK: Conditions

    @Test func booleanPrecedence() throws {
        #expect(try holds("true or false and false"))
        #expect(!(try holds("(true or false) and false")))
        #expect(try holds("not true or true"))
        #expect(!(try holds("not (true or true)")))
        #expect(try holds("not false and not false"))
        #expect(!(try holds(#"not log.attributes["http.method"] == "GET""#)))
    }

    @Test func comparisonsFollowOTTLRules() throws {
        let holding = [
            #"log.attributes["http.status_code"] == 503.0"#, #"log.attributes["duration"] < 2"#, #"1 < 1.5"#,
            #""abc" < "abd""#, #""Z" < "a""#, #""é" > "z""#, #"true > false"#, #"0x01 < 0x02"#,
            #"log.attributes["meta"] == {"tier": 1, "team": "shop"}"#, #"log.attributes["tags"] == ["a", "b"]"#,
            #"log.attributes["http.method"] != 1"#, #"[1] != [1.0]"#,
        ]
        for text in holding { #expect(try holds(text), "\(text)") }
        let failing = [
            #"log.attributes["http.method"] == 1"#, #"log.attributes["http.method"] > 1"#, #"log.attributes["http.method"] < 1"#,
            #"[1] < [2]"#, #"{"a": 1} <= {"a": 1}"#, #"true < 1"#, #""1" == 1"#,
        ]
        for text in failing { #expect(!(try holds(text)), "\(text)") }
    }

    @Test func nilEqualsOnlyNil() throws {
        #expect(try holds(#"log.attributes["missing"] == nil and nil == nil and nil <= nil and nil >= nil"#))
        #expect(!(try holds(#"log.attributes["missing"] != nil"#)))
        #expect(!(try holds(#"log.attributes["missing"] < 1"#)))
        #expect(!(try holds(#"log.attributes["missing"] >= 1"#)))
        #expect(try holds(#"log.attributes["missing"] != 1 and log.attributes["http.method"] != nil"#))
        #expect(try holds(#"log.attributes["meta"]["missing"]["deeper"] == nil"#))
        var emptyValue = Self.logItem
        emptyValue.record.attributes = [KeyValue("e", .empty)]
        #expect(try holds(#"log.attributes["e"] == nil and not IsString(log.attributes["e"])"#, emptyValue))
    }

    @Test func arithmetic() throws {
        #expect(try holds(#"log.attributes["http.status_code"] / 100 == 5 and 2 + 3 * 4 == 14 and (2 + 3) * 4 == 20"#))
        #expect(try holds(#"log.attributes["duration"] * 2.0 == 3.0 and -log.attributes["http.status_code"] == -503"#))
        #expect(try holds("10 - 2 - 3 == 5 and 1.0 / 0.0 > 1000000.0"))
        for failing in ["1 / 0 == 0", "1 + 1.0 == 2", #""a" + "b" == "ab""#, "9223372036854775807 + 1 > 0", "-(-9223372036854775807 - 1) > 0"] {
            #expect(isFailure(try outcome(failing)), "\(failing)")
        }
    }

    @Test func runtimeFailuresMakeConditionsFalse() throws {
        let failing = [
            #"Substring(log.body, 100, 1) == "x""#, #"ToLowerCase(log.attributes["http.status_code"]) == "x""#,
            #"Len(log.attributes["ok"]) == 1"#, #"log.attributes["tags"][5] == "x""#, #"log.attributes["http.method"]["x"] == nil"#,
            #"log.attributes["tags"]["x"] == nil"#, #"ParseJSON(log.attributes["http.status_code"])["a"] == nil"#,
            #"ParseJSON(log.body)"#,
        ]
        for text in failing {
            #expect(isFailure(try outcome(text)), "\(text)")
            #expect(!(try holds(text)), "\(text)")
            #expect(!(try holds("not (\(text))")), "not (\(text))")
        }
        #expect(!(try holds(#"false and Substring(log.body, 100, 1) == "x""#)))
        #expect(try holds(#"true or Substring(log.body, 100, 1) == "x""#))
    }

    @Test func keysMayBeComputed() throws {
        var item = Self.logItem
        item.record.attributes.append(KeyValue("which", "http.method"))
        #expect(try holds(#"log.attributes[log.attributes["which"]] == "GET" and log.attributes["tags"][2 - 1] == "b""#, item))
        let written = try run(#"set(log.attributes[Concat(["copy", log.attributes["which"]], ".")], "x")"#, on: item)
        #expect(written.record.attributes[attribute: "copy.http.method"] == "x")
    }
}
