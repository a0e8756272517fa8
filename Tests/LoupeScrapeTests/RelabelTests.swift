import LoupeModel
import Testing
@testable import LoupeScrape

@Suite struct RelabelTests {
    let base: Labels = ["a": "foo", "b": "bar", "c": "baz"]

    func config(_ action: RelabelConfig.Action, source: [String] = [], regex: String = "(.*)", target: String = "", replacement: String = "$1", separator: String = ";", modulus: UInt64 = 0) throws -> RelabelConfig {
        RelabelConfig(sourceLabels: source, separator: separator, regex: try RelabelRegex(regex), modulus: modulus, targetLabel: target, replacement: replacement, action: action)
    }

    @Test func replaceWithCaptureGroups() throws {
        let step = try config(.replace, source: ["a"], regex: "f(.*)", target: "d", replacement: "ch${1}-ch${1}")
        #expect(Relabeler.process(base, [step]) == ["a": "foo", "b": "bar", "c": "baz", "d": "choo-choo"])
    }

    @Test func replaceJoinsSourcesWithSeparator() throws {
        let step = try config(.replace, source: ["a", "b"], regex: "(f.*);(.*)r", target: "a", replacement: "$2-$1")
        #expect(Relabeler.process(base, [step])?["a"] == "ba-foo")
        let custom = try config(.replace, source: ["a", "b"], regex: "(.*)", target: "d", separator: "/")
        #expect(Relabeler.process(base, [custom])?["d"] == "foo/bar")
    }

    @Test func regexIsAnchoredAtBothEnds() throws {
        // "o" alone would match inside "foo" if the regex were not anchored.
        let step = try config(.replace, source: ["a"], regex: "o", target: "d", replacement: "matched")
        #expect(Relabeler.process(base, [step])?["d"] == nil)
        let drop = try config(.drop, source: ["a"], regex: "fo")
        #expect(Relabeler.process(base, [drop]) != nil)
        let dropAll = try config(.drop, source: ["a"], regex: "fo+")
        #expect(Relabeler.process(base, [dropAll]) == nil)
    }

    @Test func replaceWithoutMatchLeavesLabelsAlone() throws {
        let step = try config(.replace, source: ["a"], regex: "x(.*)", target: "a", replacement: "changed")
        #expect(Relabeler.process(base, [step]) == base)
    }

    @Test func replaceWithEmptyResultDeletesTheTarget() throws {
        let step = try config(.replace, source: ["missing"], target: "a")
        #expect(Relabeler.process(base, [step])?["a"] == nil)
    }

    @Test func replaceTargetLabelExpandsAndMustBeValid() throws {
        let dynamic = try config(.replace, source: ["a"], regex: "(f)oo", target: "${1}_name", replacement: "x")
        #expect(Relabeler.process(base, [dynamic])?["f_name"] == "x")
        let invalid = try config(.replace, source: ["b"], regex: "(.*)", target: "${1}-x", replacement: "x")
        #expect(Relabeler.process(base, [invalid]) == base)
    }

    @Test func goTemplateSemantics() throws {
        // `$1x` names a group "1x", which does not exist: it expands to nothing (a classic Prometheus gotcha).
        let step = try config(.replace, source: ["a"], regex: "(f)(o+)", target: "d", replacement: "$1x|${1}x|$$1|$2|${name}")
        #expect(Relabeler.process(base, [step])?["d"] == "|fx|$1|oo|")
        let named = try config(.replace, source: ["a"], regex: "(?<first>f)o+", target: "d", replacement: "<$first>")
        #expect(Relabeler.process(base, [named])?["d"] == "<f>")
    }

    @Test func regexMatchesCodePointsLikeRE2() throws {
        // "e" + combining acute accent is two code points; RE2 (and so Prometheus) sees two characters.
        let labels: Labels = ["a": "e\u{301}"]
        #expect(Relabeler.process(labels, [try config(.keep, source: ["a"], regex: "..")]) == labels)
        #expect(Relabeler.process(labels, [try config(.keep, source: ["a"], regex: ".")]) == nil)
    }

    @Test func keepAndDrop() throws {
        #expect(Relabeler.process(base, [try config(.keep, source: ["a"], regex: "f.*")]) == base)
        #expect(Relabeler.process(base, [try config(.keep, source: ["a"], regex: "b.*")]) == nil)
        #expect(Relabeler.process(base, [try config(.drop, source: ["a"], regex: "f.*")]) == nil)
        #expect(Relabeler.process(base, [try config(.drop, source: ["a"], regex: "b.*")]) == base)
        // A missing source label is the empty string.
        #expect(Relabeler.process(base, [try config(.keep, source: ["missing"], regex: "")]) == base)
    }

    @Test func keepEqualAndDropEqual() throws {
        let labels: Labels = ["a": "1", "b": "1", "c": "2"]
        #expect(Relabeler.process(labels, [try config(.keepequal, source: ["a"], target: "b")]) == labels)
        #expect(Relabeler.process(labels, [try config(.keepequal, source: ["a"], target: "c")]) == nil)
        #expect(Relabeler.process(labels, [try config(.dropequal, source: ["a"], target: "b")]) == nil)
        #expect(Relabeler.process(labels, [try config(.dropequal, source: ["a"], target: "c")]) == labels)
    }

    @Test func hashmodMatchesPrometheus() throws {
        // Values from Python: int.from_bytes(hashlib.md5(v).digest()[8:], "big") % modulus.
        #expect(Relabeler.hashmod("baz", modulus: 1000) == 976)
        #expect(Relabeler.hashmod("foo", modulus: 1000) == 696)
        #expect(Relabeler.hashmod("127.0.0.1:9090", modulus: 10) == 8)
        #expect(Relabeler.hashmod("a;b", modulus: 7) == 2)
        #expect(Relabeler.hashmod("", modulus: UInt64.max) == 16_825_458_760_271_544_958)
        let step = try config(.hashmod, source: ["c"], target: "d", modulus: 1000)
        #expect(Relabeler.process(base, [step])?["d"] == "976")
    }

    @Test func md5KnownDigests() {
        func hex(_ text: String) -> String { MD5.digest(text.utf8).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
        #expect(hex("") == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex("The quick brown fox jumps over the lazy dog") == "9e107d9d372bb6826bd81d3542a419d6")
        #expect(hex(String(repeating: "a", count: 100)) == "36a92cc94a9e0fa21f625f8bfb007adf")
    }

    @Test func labelmapCopiesMatchingNames() throws {
        let labels: Labels = ["__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "front", "job": "x"]
        let step = try config(.labelmap, regex: "__meta_kubernetes_pod_label_(.+)")
        #expect(Relabeler.process(labels, [step]) == [
            "__meta_kubernetes_pod_label_app": "web", "__meta_kubernetes_pod_label_tier": "front", "app": "web", "tier": "front", "job": "x",
        ])
        let rename = try config(.labelmap, regex: "(b)", replacement: "${1}_renamed")
        #expect(Relabeler.process(base, [rename])?["b_renamed"] == "bar")
    }

    @Test func labeldropAndLabelkeep() throws {
        #expect(Relabeler.process(base, [try config(.labeldrop, regex: "[ab]")]) == ["c": "baz"])
        #expect(Relabeler.process(base, [try config(.labelkeep, regex: "[ab]")]) == ["a": "foo", "b": "bar"])
        // Anchored: "a" does not drop "ab".
        #expect(Relabeler.process(["ab": "1", "a": "2"], [try config(.labeldrop, regex: "a")]) == ["ab": "1"])
    }

    @Test func lowercaseAndUppercase() throws {
        let labels: Labels = ["a": "MiXeD", "b": "x"]
        #expect(Relabeler.process(labels, [try config(.lowercase, source: ["a"], target: "low")])?["low"] == "mixed")
        #expect(Relabeler.process(labels, [try config(.uppercase, source: ["a", "b"], target: "up")])?["up"] == "MIXED;X")
    }

    @Test func stepsApplyInOrderToTheCurrentLabels() throws {
        let steps = [
            try config(.replace, source: ["a"], target: "__tmp_a"),
            try config(.replace, source: ["__tmp_a", "b"], regex: "(.*);(.*)", target: "joined", replacement: "$1+$2"),
            try config(.labeldrop, regex: "__tmp.*"),
        ]
        #expect(Relabeler.process(base, steps) == ["a": "foo", "b": "bar", "c": "baz", "joined": "foo+bar"])
    }

    @Test func validationMirrorsPrometheus() throws {
        #expect(throws: ScrapeError.self) { try config(.replace, source: ["a"]).validate() }
        #expect(throws: ScrapeError.self) { try config(.hashmod, source: ["a"], target: "d").validate() }
        #expect(throws: ScrapeError.self) { try config(.labeldrop, source: ["a"], regex: "x").validate() }
        #expect(throws: ScrapeError.self) { try config(.keepequal, source: ["a"], regex: "x", target: "b").validate() }
        #expect(throws: ScrapeError.self) { try config(.replace, source: ["a"], target: "bad-name").validate() }
        try config(.replace, source: ["a"], target: "${1}").validate()
        try config(.keep, source: ["a"]).validate()
    }
}
