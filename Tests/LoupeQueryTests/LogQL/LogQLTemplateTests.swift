import Testing
@testable import LoupeQuery

// The engine behind line_format and label_format. The expected texts of the tables were produced by Go's
// text/template running Loki's function map (pkg/logql/log/fmt.go with Sprig) and agree with this engine;
// where newer Go differs from the Go that produced them (messages, range over integers), the newer is followed.

private let labels: [String: String] = [
    "level": "error", "app": "loki", "path": "/api/v1/push", "num": "42", "flt": "3.75", "empty": "", "msg": "hello", "method": "get",
    "query": "line1\nline2", "json": "{\"foo\": 55, \"bar\": [1, \"x\", null, true], \"obj\": {\"a\": \"b\"}}", "uni": "héllo wörld",
    "epoch": "1679577215", "b64": "aGVsbG8gd29ybGQ=", "cluster": "prod-cluster", "date": "2021-11-02", "spaces": "  hi  ", "dur": "1h30m",
]
private let timestamp: Int64 = 1_700_000_000_123_456_789
private let line = "the log line with XYZ and XYZ"

private func context(_ labels: [String: String] = labels, now: Int64? = nil) -> LogQLTemplateContext {
    LogQLTemplateContext(labels: labels, line: line, timestampNanoseconds: timestamp, nowNanoseconds: now)
}

/// The output, the execution error, or the parse error, as one string for comparisons.
private func outcome(_ source: String, _ context: LogQLTemplateContext = context(), name: String = "line") -> String {
    do {
        let template = try LogQLTemplate(source, name: name)
        switch template.render(context) {
        case .success(let output): return output
        case .failure(let error): return "exec: " + error.message
        }
    } catch {
        return "parse: " + error.message
    }
}

/// A deterministic generator for the fuzz tests.
private struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

@Suite struct LogQLTemplateTests {
    /// Templates and their output over `labels`, `line` and `timestamp`.
    static let renderCases: [(String, String)] = [
        ("plain text",
         "plain text"),
        ("L={{.level}}",
         "L=error"),
        ("V={{.missing}}",
         "V="),
        ("{{ .level }}-{{ .app }}",
         "error-loki"),
        ("a  {{- .level -}}  b",
         "aerrorb"),
        ("a {{/* comment */}} b",
         "a  b"),
        ("a {{- /* c */ -}} b",
         "ab"),
        ("{{ -3 }}",
         "-3"),
        ("x {{- 3 }}",
         "x3"),
        ("{{ .level -}}\n\n  after",
         "errorafter"),
        ("{{ $x := .level }}{{ $x }}",
         "error"),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}",
         "2"),
        ("{{ $.level }}",
         "error"),
        ("{{ with .level }}{{ . }}{{ end }}",
         "error"),
        ("{{ with .missing }}yes{{ else }}no{{ end }}",
         "no"),
        ("{{ if .missing }}Y{{ else }}N{{ end }}",
         "N"),
        ("{{ if eq .level \"error\" }}E{{ else if eq .level \"warn\" }}W{{ else }}O{{ end }}",
         "E"),
        ("{{ if and .level .app }}both{{ end }}",
         "both"),
        ("{{ or .missing .app }}",
         "loki"),
        ("{{ and 1 0 2 }} {{ or 0 \"\" 3 }}",
         "0 3"),
        ("{{ not .missing }} {{ not 1 }}",
         "true false"),
        ("{{ .level | printf \"%s\" | upper | printf \"<%s>\" }}",
         "<ERROR>"),
        ("{{ range $i, $v := fromJson \"[10,20,30]\" }}{{ $i }}={{ $v }};{{ end }}",
         "0=10;1=20;2=30;"),
        ("{{ range fromJson \"[]\" }}x{{ else }}empty{{ end }}",
         "empty"),
        ("{{ range $v := fromJson \"[1,2,3]\" }}{{ if eq $v 2.0 }}{{ break }}{{ end }}{{ $v }}{{ end }}",
         "1"),
        ("{{ range $v := fromJson \"[1,2,3]\" }}{{ if eq $v 2.0 }}{{ continue }}{{ end }}{{ $v }}{{ end }}",
         "13"),
        ("{{ range $q := fromJson \"[{\\\"query\\\":\\\"up\\\"},{\\\"query\\\":\\\"down\\\"}]\" }} {{ $q.query }} {{ end }}",
         " up  down "),
        ("{{ with fromJson .json }}{{ .foo }} {{ .obj.a }} {{ .missing }} {{ index .bar 1 }}{{ end }}",
         "55 b <no value> x"),
        ("{{ fromJson .json }}",
         "map[bar:[1 x <nil> true] foo:55 obj:map[a:b]]"),
        ("{{ (fromJson .json).bar }}",
         "[1 x <nil> true]"),
        ("{{ fromJson \"bad\" }}",
         "<no value>"),
        ("{{ define \"T\" }}[{{ . }}]{{ end }}{{ template \"T\" .level }}{{ template \"T\" }}",
         "[error][<no value>]"),
        ("{{ block \"B\" .msg }}<{{ . }}>{{ end }}",
         "<hello>"),
        ("{{ 1 }} {{ 1.5 }} {{ 1e3 }} {{ 0x1F }} {{ 017 }} {{ 0b101 }} {{ 1_000 }} {{ 'a' }} {{ true }} {{ print nil }}",
         "1 1.5 1000 31 15 5 1000 97 true <nil>"),
        ("{{ 1.0 }} {{ 1e21 }} {{ 1e20 }} {{ 0.00001 }} {{ 0.0001 }} {{ 123456789.0 }} {{ 1e6 }}",
         "1 1e+21 1e+20 1e-05 0.0001 1.23456789e+08 1e+06"),
        ("{{ \"a\\tb\\x41\\u00e9\" }} {{ `raw\\n` }}",
         "a\tbAé raw\\n"),
        ("{{ printf \"\\x1b[31m%s\\x1b[0m\" .msg }}",
         "\u{1b}[31mhello\u{1b}[0m"),
        ("{{ .method }}-ok",
         "get-ok"),
        ("{{ len .level }} {{ len \"héllo\" }} {{ len (fromJson .json) }}",
         "5 6 3"),
        ("{{ index (fromJson .json) \"foo\" }} {{ index \"abc\" 1 }} {{ slice \"hello\" 1 3 }}",
         "55 98 el"),
        ("{{ print 1 2 \"a\" \"b\" 3 }}{{ println 1 \"a\" }}",
         "1 2ab31 a\n"),
        ("{{ html \"<a href=\\\"x\\\">&'\" }} {{ js \"a'b<c>\" }} {{ urlquery \"a b&c=d/é\" }}",
         "&lt;a href=&#34;x&#34;&gt;&amp;&#39; a\\'b\\u003Cc\\u003E a+b%26c%3Dd%2F%C3%A9"),
        ("{{ eq 1 2 3 1 }} {{ ne \"a\" \"b\" }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2.5 }}",
         "true true true true true false"),
        ("{{ __line__ }}",
         "the log line with XYZ and XYZ"),
        ("{{ __timestamp__ }}",
         "2023-11-14 22:13:20.123456789 +0000 UTC"),
        ("{{ \"x\" | printf \"%s%s\" \"y\" }}",
         "yx"),
        ("{{ $v := 0 }}{{ range $i, $e := fromJson \"[1,2]\" }}{{ $v = $e }}{{ end }}{{ $v }}",
         "2"),
    ]

    /// Go's fmt verbs, flags, widths, precisions and error forms.
    static let printfCases: [(String, String)] = [
        ("{{ printf \"%s|%5s|%-5s|%.2s|%q|%x|%X|% x|%#x|%v\" .level .app .app .level .uni .app .app .app .app .num }}",
         "error| loki|loki |er|\"héllo wörld\"|6c6f6b69|6C6F6B69|6c 6f 6b 69|0x6c6f6b69|42"),
        ("{{ printf \"%d|%5d|%-5d|%05d|%+d|% d|%x|%X|%o|%O|%b|%#x|%#o|%c|%q|%U|%#U|%.3d|%8.3d\" 42 42 42 42 42 42 255 255 8 8 5 255 8 65 65 0x1F600 0x1F600 7 -7 }}",
         "42|   42|42   |00042|+42| 42|ff|FF|10|0o10|101|0xff|010|A|'A'|U+1F600|U+1F600 '😀'|007|    -007"),
        ("{{ printf \"%f|%.2f|%8.3f|%-8.2f|%08.2f|%+.1f|%e|%E|%.3e|%g|%G|%.3g|%v|%5.1f\" 3.14159 3.14159 3.14159 3.14159 -3.14159 2.0 123456.789 0.000123 1e21 1e21 1e-7 123456.0 0.1 9.96 }}",
         "3.141590|3.14|   3.142|3.14    |-0003.14|+2.0|1.234568e+05|1.230000E-04|1.000e+21|1e+21|1E-07|1.23e+05|0.1| 10.0"),
        ("{{ printf \"%v %v %v %v %v %v %v\" 1e6 1e5 123456.0 1234567.0 0.0001 0.00001 -0.0 }}",
         "1e+06 100000 123456 1.234567e+06 0.0001 1e-05 -0"),
        ("{{ printf \"%d\" \"str\" }} {{ printf \"%s\" 42 }} {{ printf \"%s\" }} {{ printf \"%d %d\" 1 }} {{ printf \"x\" 1 2 }} {{ printf \"%!\" }} {{ printf \"%\" }} {{ printf \"%z\" 1 }}",
         "%!d(string=str) %!s(int=42) %!s(MISSING) 1 %!d(MISSING) x%!(EXTRA int=1, int=2) %!!(MISSING) %!(NOVERB) %!z(int=1)"),
        ("{{ printf \"%[2]s %[1]s\" \"a\" \"b\" }} {{ printf \"%[3]s\" \"a\" }} {{ printf \"%*d|%-*d|%.*f\" 5 1 4 2 2 3.14159 }} {{ printf \"%*d\" \"x\" 1 }}",
         "b a %!s(BADINDEX)     1|2   |3.14 %!(BADWIDTH)1"),
        ("{{ printf \"%t %v %v %s\" true false nil nil }} {{ printf \"%T %T %T %T %T\" 1 1.5 \"s\" true (fromJson .json) }}",
         "true false <nil> %!s(<nil>) int float64 string bool map[string]interface {}"),
        ("{{ printf \"%.0f %.0f %.0f %.1f %.2f\" 0.5 1.5 2.5 0.25 1.005 }}",
         "0 2 2 0.2 1.00"),
        ("{{ printf \"%6.2f%%\" 99.5 }}",
         " 99.50%"),
        ("{{ printf \"%q %+q %#q\" \"a\\\"b\" \"é\" \"back`q\" }}",
         "\"a\\\"b\" \"\\u00e9\" \"back`q\""),
        ("{{ printf \"%x %X %b\" 1.5 -0.1 2.0 }}",
         "0x1.8p+00 -0X1.999999999999AP-04 4503599627370496p-51"),
        ("{{ printf \"%#g %#.3g %#.0f\" 1.0 3.0 5.0 }}",
         "1.00000 3.00 5."),
        ("{{ printf \"%-40.40s|%-5.5s|%15.15s\" .path .method .app }}",
         "/api/v1/push                            |get  |           loki"),
        ("{{ printf \"%v|%s|%d\" (fromJson .json) (fromJson \"[1,2]\") (fromJson \"[1,2]\") }}",
         "map[bar:[1 x <nil> true] foo:55 obj:map[a:b]]|[%!s(float64=1) %!s(float64=2)]|[%!d(float64=1) %!d(float64=2)]"),
    ]

    /// Loki's own functions (pkg/logql/log/fmt.go).
    static let lokiFunctionCases: [(String, String)] = [
        ("{{ ToLower \"HeLLo\" }} {{ ToUpper \"héllo\" }} {{ Replace \"aaa\" \"a\" \"b\" 2 }} {{ Replace \"abc\" \"\" \"-\" -1 }} {{ Trim \"xxhixx\" \"x\" }} {{ TrimLeft \"xxhixx\" \"x\" }} {{ TrimRight \"xxhixx\" \"x\" }} {{ TrimPrefix \"prefix-x\" \"prefix-\" }} {{ TrimSuffix \"x.log\" \".log\" }} [{{ TrimSpace \"\\t a b \\n\" }}]",
         "hello HÉLLO bba -a-b-c- hi hixx xxhi x x [a b]"),
        ("{{ regexReplaceAll \"(a*)bc\" \"xabcyaabcz\" \"${1}A\" }} {{ regexReplaceAll \"a*\" \"baaac\" \"X\" }} {{ regexReplaceAllLiteral \"(ts=)\" \"ts=1 ts=2\" \"timestamp=\" }} {{ regexReplaceAll \"(?P<k>\\\\w+)=(?P<v>\\\\w+)\" \"a=1 b=2\" \"$v=$k\" }}",
         "xaAyaaAz XbXcX timestamp=1 timestamp=2 1=a 2=b"),
        ("{{ regexReplaceAll \"(x)\" \"axb\" \"$1$$ $2 $x ${1}y $1y $\" }} {{ regexReplaceAll \"\" \"abc\" \"-\" }} {{ regexReplaceAll \"^\" \"abc\" \">\" }} {{ regexReplaceAll \"\\\\bcat\\\\b\" \"cat concat cat\" \"dog\" }}",
         "ax$   xy  $b -a-b-c- >abc dog concat dog"),
        ("{{ count \"a|b\" \"abab\" }} {{ count \"o\" \"foo\" }} {{ __line__ | count \"XYZ\" }} {{ count \"\" \"abc\" }} {{ count \"a*\" \"baaac\" }}",
         "4 2 2 4 3"),
        ("{{ urldecode \"a+b%26c%3Dd%2F%C3%A9\" }} {{ urlencode \"a b&c=d/é~_-.\" }}",
         "a b&c=d/é a+b%26c%3Dd%2F%C3%A9~_-."),
        ("{{ bytes \"1.5 KiB\" }} {{ bytes \"10MB\" }} {{ bytes \"1,000\" }} {{ bytes \"42\" }}",
         "1536 1e+07 1000 42"),
        ("{{ duration \"1h30m\" }} {{ duration_seconds \"1.5s\" }} {{ duration \"-2m\" }} {{ duration \"0\" }} {{ duration \"100ms\" }} {{ .dur | duration }}",
         "5400 1.5 -120 0 0.1 5400"),
        ("{{ alignLeft 5 \"hello world\" }}|{{ alignLeft 5 \"hi\" }}|{{ alignRight 5 \"hello world\" }}|{{ alignRight 5 \"hi\" }}|{{ alignRight 3 \"héllo\" }}",
         "hello|hi   |world|   hi|llo"),
        ("{{ b64dec .b64 }} {{ b64dec \"aGVsbG8\" }} {{ b64dec \"!!!!\" }} {{ b64enc \"hello world\" }}",
         "hello world hello illegal base64 data at input byte 0 aGVsbG8gd29ybGQ="),
        ("{{ unixToTime .epoch }} | {{ unixToTime \"1679577215123\" }} | {{ unixToTime \"19373\" }} | {{ date \"2006-01-02\" (unixToTime .epoch) }}",
         "2023-03-23 13:13:35 +0000 UTC | 2023-03-23 13:13:35.123 +0000 UTC | 2023-01-16 00:00:00 +0000 UTC | 2023-03-23"),
        ("{{ unixEpochMillis __timestamp__ }} {{ unixEpochNanos __timestamp__ }} {{ __timestamp__ | unixEpoch }}",
         "1700000000123 1700000000123456789 1700000000"),
        ("{{ toDateInZone \"2006-01-02\" \"UTC\" \"2021-11-02\" }} | {{ toDateInZone \"2006-01-02 15:04 -0700\" \"UTC\" \"2021-11-02 10:00 +0200\" }} | {{ unixEpoch (toDateInZone \"2006-01-02\" \"Etc/GMT+3\" \"2021-11-02\") }}",
         "2021-11-02 00:00:00 +0000 UTC | 2021-11-02 10:00:00 +0200 +0200 | 1635822000"),
    ]

    /// The Sprig functions Loki exposes, and time methods.
    static let sprigFunctionCases: [(String, String)] = [
        ("{{ lower \"HÉLLO\" }} {{ upper \"hello\" }} {{ title \"hello wörld-foo_bar baz\" }} {{ trunc 5 \"hello world\" }} {{ trunc -5 \"hello world\" }} {{ trunc 20 \"hi\" }}",
         "héllo HELLO Hello Wörld-Foo_bar Baz hello world hi"),
        ("{{ substr 0 5 \"hello world\" }} {{ substr 6 11 \"hello world\" }} {{ substr -1 5 \"hello\" }} {{ substr 2 -1 \"hello\" }} {{ .path | substr 2 5 }}",
         "hello world hello llo pi/"),
        ("{{ contains \"he\" \"hello\" }} {{ hasPrefix \"he\" \"hello\" }} {{ hasSuffix \"lo\" \"hello\" }} {{ hasSuffix .level \"Timeout\" }}",
         "true true true false"),
        ("{{ indent 4 .query }}|{{ nindent 2 .query }}|{{ replace \"-cluster\" \"\" .cluster }} {{ repeat 3 \"hello\" }}",
         "    line1\n    line2|\n  line1\n  line2|prod hellohellohello"),
        ("[{{ trim \"   hello    \" }}] {{ trimAll \"$\" \"$5.00$\" }} {{ trimPrefix \"-\" \"-hello\" }} {{ trimSuffix \"-\" \"hello-\" }} {{ .path | trimPrefix \"/\" }}",
         "[hello] 5.00 hello hello api/v1/push"),
        ("{{ .path | replace \" \" \"_\" | trunc 5 | upper }}",
         "/API/"),
        ("{{ .missing | default \"-\" }} {{ default \"-\" \"foo\" }} {{ default \"d\" 0 }} {{ default \"d\" nil }}",
         "- foo d d"),
        ("{{ \"3\" | int }} {{ int .num }} {{ int 3.9 }} {{ int -3.9 }} {{ int \"abc\" }} {{ int true }} {{ \"3.5\" | float64 }} {{ float64 \"abc\" }} {{ float64 \"1e3\" }}",
         "3 42 3 -3 0 1 3.5 0 1000"),
        ("{{ add 3 2 5 }} {{ sub 5 2 }} {{ div 10 3 }} {{ div -7 2 }} {{ mod 10 3 }} {{ mod -7 3 }} {{ mul 5 2 3 }} {{ div .num 10 }}",
         "10 3 3 -3 1 -1 30 4"),
        ("{{ addf 3.5 2 5 }} {{ addf 0.1 0.2 }} {{ subf 5.5 2 1.5 }} {{ mulf 5.5 2 2.5 }} {{ divf 10 2 4 }} {{ divf 1 3 }} {{ divf 2 3 }} {{ mulf 0.1 3 }}",
         "10.5 0.3 2 27.5 1.25 0.3333333333333333 0.6666666666666667 0.3"),
        ("{{ max 1 2 3 }} {{ min 1 2 3 }} {{ maxf 1 2.5 3 }} {{ minf 1 2.5 3 }} {{ ceil 123.001 }} {{ floor 123.9999 }}",
         "3 1 3 1 124 123"),
        ("{{ round 123.555555 3 }} {{ round 123.88571428571 5 .2 }} {{ round 123.88571428571 5 }} {{ round 2.5 0 }} {{ round -2.5 0 }}",
         "123.556 123.88572 123.88571 3 -3"),
        ("{{ date \"2006-01-02T15:04:05.00Z-07:00\" __timestamp__ }} {{ date \"Jan 2 15:04\" __timestamp__ }} {{ date \"2006-01-02 15:04\" 1679577215 }}",
         "2023-11-14T22:13:20.12Z+00:00 Nov 14 22:13 2023-03-23 13:13"),
        ("{{ date \"Mon Monday January 01 1 02 2 _2 __2 002 15 03 3 04 4 05 5 PM pm MST -0700 -07:00 Z07:00 .000 .999 ,000000\" __timestamp__ }}",
         "Tue Tuesday November 11 11 14 14 14 318 318 22 10 10 13 13 20 20 PM pm UTC +0000 +00:00 Z .123 .123 ,123456"),
        ("{{ toDate \"2006-01-02\" \"2021-11-02\" }} | {{ toDate \"2006-01-02\" \"bad\" }} | {{ unixEpoch (toDate \"2006-01-02\" .date) }}",
         "2021-11-02 00:00:00 +0000 UTC | 0001-01-01 00:00:00 +0000 UTC | 1635811200"),
        ("{{ toDate \"2006-01-02T15:04:05Z07:00\" \"2021-11-02T10:20:30+02:00\" }} | {{ toDate \"Jan _2 2006 3:04PM\" \"Nov  2 2021 3:04AM\" }}",
         "2021-11-02 10:20:30 +0200 +0200 | 2021-11-02 03:04:00 +0000 UTC"),
        ("{{ __timestamp__.Year }} {{ __timestamp__.Month }} {{ __timestamp__.Weekday }} {{ __timestamp__.Format \"15:04\" }} {{ (unixToTime .epoch).Unix }}",
         "2023 November Tuesday 22:13 1679577215"),
    ]

    /// Templates that do not parse, with Go's message.
    static let parseErrorCases: [(String, String)] = [
        ("{{",
         "template: line:1: unclosed action"),
        ("{{ .level",
         "template: line:1: unclosed action"),
        ("{{ nosuchfunc }}",
         "template: line:1: function \"nosuchfunc\" not defined"),
        ("{{ end }}",
         "template: line:1: unexpected {{end}}"),
        ("{{ else }}",
         "template: line:1: unexpected {{else}}"),
        ("{{ if }}",
         "template: line:1: missing value for if"),
        ("{{ if .a }}",
         "template: line:1: unexpected EOF"),
        ("{{ $x }}",
         "template: line:1: undefined variable \"$x\""),
        ("{{ 1 | 2 }}",
         "template: line:1: non executable command in pipeline stage 2"),
        ("{{ ( }}",
         "template: line:1: unclosed left paren"),
        ("{{ \"unterminated }}",
         "template: line:1: unterminated quoted string"),
        ("{{ `raw }}",
         "template: line:1: unterminated raw quoted string"),
        ("{{ 'a }}",
         "template: line:1: unterminated character constant"),
        ("{{ 'ab' }}",
         "template: line:1: malformed character constant: 'ab'"),
        ("{{ 1x }}",
         "template: line:1: bad number syntax: \"1x\""),
        ("{{ 089 }}",
         "template: line:1: integer overflow: \"089\""),
        ("{{ 99999999999999999999 }}",
         "template: line:1: integer overflow: \"99999999999999999999\""),
        ("{{ # }}",
         "template: line:1: unexpected \"#\" in command"),
        ("{{ € }}",
         "template: line:1: unrecognized character in action: U+20AC '€'"),
        ("{{ /* unclosed",
         "template: line:1: unexpected \"/\" in command"),
        ("{{/* c */ x }}",
         "template: line:1: comment ends before closing delimiter"),
        ("{{ break }}",
         "template: line:1: {{break}} outside {{range}}"),
        ("{{ \"a\".b }}",
         "template: line:1: unexpected . after term \"\\\"a\\\"\""),
        ("{{ $x, $y := 1 }}",
         "template: line:1: too many declarations in command"),
        ("line1\n{{ .a\n}}\n{{ nosuch }}",
         "template: line:4: function \"nosuch\" not defined"),
        ("{{ \"\\q\" }}",
         "template: line:1: invalid syntax"),
        ("{{define \"line\"}}D{{end}}T",
         "template: line:1: template: multiple definition of template \"line\""),
        ("{{ .a.b$ }}",
         "template: line:1: bad character U+0024 '$'"),
        ("a\n{{\nb",
         "template: line:3: function \"b\" not defined"),
    ]

    /// Templates that parse but fail for this entry, with Go's message.
    static let executionErrorCases: [(String, String)] = [
        ("{{ div 1 0 }}",
         "template: line:1:3: executing \"line\" at <div 1 0>: error calling div: runtime error: integer divide by zero"),
        ("{{ trunc \"a\" \"b\" }}",
         "template: line:1:9: executing \"line\" at <\"a\">: expected integer; found \"a\""),
        ("{{ trunc (add 1 2) \"hello\" }}",
         "template: line:1:16: executing \"line\" at <2>: wrong type for value; expected int; got int64"),
        ("{{ 5 | trunc 2 }}",
         "template: line:1:13: executing \"line\" at <2>: wrong type for value; expected string; got int"),
        ("{{ upper }}",
         "template: line:1:3: executing \"line\" at <upper>: wrong number of args for upper: want 1 got 0"),
        ("{{ \"x\" | upper \"a\" }}",
         "template: line:1:9: executing \"line\" at <upper>: wrong number of args for upper: want 1 got 2"),
        ("{{ unixEpoch \"x\" }}",
         "template: line:1:13: executing \"line\" at <\"x\">: can't handle \"x\" for arg of type time.Time"),
        ("{{ .level.sub }}",
         "template: line:1:9: executing \"line\" at <.level.sub>: can't evaluate field sub in type string"),
        ("{{ .level \"arg\" }}",
         "template: line:1:3: executing \"line\" at <.level>: level is not a method but has arguments"),
        ("{{ nil }}",
         "template: line:1:3: executing \"line\" at <nil>: nil is not a command"),
        ("{{ (.level) \"x\" }}",
         "template: line:1:3: executing \"line\" at <(.level) \"x\">: can't give argument to non-function .level"),
        ("{{ index 5 1 }}",
         "template: line:1:3: executing \"line\" at <index 5 1>: error calling index: can't index item of type int"),
        ("{{ slice \"hello\" 3 1 }}",
         "template: line:1:3: executing \"line\" at <slice \"hello\" 3 1>: error calling slice: invalid slice index: 3 > 1"),
        ("{{ len 3 }}",
         "template: line:1:3: executing \"line\" at <len 3>: error calling len: len of type int"),
        ("{{ repeat -1 \"a\" }}",
         "template: line:1:3: executing \"line\" at <repeat -1 \"a\">: error calling repeat: strings: negative Repeat count"),
        ("{{ regexReplaceAll \"(\" \"a\" \"b\" }}",
         "template: line:1:3: executing \"line\" at <regexReplaceAll \"(\" \"a\" \"b\">: error calling regexReplaceAll: error parsing regexp: missing closing ): `(`"),
        ("{{ unixToTime \"abc\" }}",
         "template: line:1:3: executing \"line\" at <unixToTime \"abc\">: error calling unixToTime: unable to parse time 'abc': strconv.ParseInt: parsing \"abc\": invalid syntax"),
        ("{{ duration \"1d\" }}",
         "template: line:1:3: executing \"line\" at <duration \"1d\">: error calling duration: time: unknown unit \"d\" in duration \"1d\""),
        ("{{ bytes \"5 XB\" }}",
         "template: line:1:3: executing \"line\" at <bytes \"5 XB\">: error calling bytes: unhandled size name: xb"),
        ("{{ urldecode \"%zz\" }}",
         "template: line:1:3: executing \"line\" at <urldecode \"%zz\">: error calling urldecode: invalid URL escape \"%zz\""),
        ("{{ divf 1 0 }}",
         "template: line:1:3: executing \"line\" at <divf 1 0>: error calling divf: decimal division by 0"),
        ("{{ template \"nope\" }}",
         "template: line:1:12: executing \"line\" at <{{template \"nope\"}}>: template \"nope\" not defined"),
        ("first line\n{{ .level }}\n{{ div 1 0 }}",
         "template: line:3:3: executing \"line\" at <div 1 0>: error calling div: runtime error: integer divide by zero"),
        ("{{ (fromJson .json).nothing.deeper }}",
         "template: line:1:13: executing \"line\" at <.json>: nil pointer evaluating interface {}.deeper"),
        ("{{ __timestamp__.Foo }}",
         "template: line:1:3: executing \"line\" at <__timestamp__>: can't evaluate field Foo in type time.Time"),
        ("{{ eq (fromJson .json) (fromJson .json) }}",
         "template: line:1:3: executing \"line\" at <eq (fromJson .json) (fromJson .json)>: error calling eq: non-comparable type map[bar:[%!s(float64=1) x <nil> %!s(bool=true)] foo:%!s(float64=55) obj:map[a:b]]: map[string]interface {}"),
        ("{{ upper (fromJson \"null\") }}",
         "template: line:1:19: executing \"line\" at <\"null\">: invalid value; expected string"),
        ("{{ range .level }}{{ end }}",
         "template: line:1:9: executing \"line\" at <.level>: range can't iterate over error"),
        ("{{ $j := fromJson .json }}{{ $j.obj.a.b }}",
         "template: line:1:31: executing \"line\" at <$j.obj.a.b>: can't evaluate field b in type interface {}"),
    ]

    // MARK: - Tables

    @Test(arguments: renderCases)
    func renders(source: String, expected: String) {
        #expect(outcome(source) == expected)
    }

    @Test(arguments: printfCases)
    func formatsLikeGoFmt(source: String, expected: String) {
        #expect(outcome(source) == expected)
    }

    @Test(arguments: lokiFunctionCases)
    func lokiFunctions(source: String, expected: String) {
        #expect(outcome(source) == expected)
    }

    @Test(arguments: sprigFunctionCases)
    func sprigFunctions(source: String, expected: String) {
        #expect(outcome(source) == expected)
    }

    @Test(arguments: parseErrorCases)
    func parseErrors(source: String, expected: String) {
        #expect(outcome(source) == "parse: " + expected)
    }

    @Test(arguments: executionErrorCases)
    func executionErrors(source: String, expected: String) {
        #expect(outcome(source) == "exec: " + expected)
    }

    // MARK: - What the conformance scripts rely on (formatters.logqltest)

    @Test func lineFormatOutputsAndSizes() {
        let errorLabels = ["app": "a", "level": "error", "msg": "hello", "method": "get"]
        #expect(outcome("L={{.level}}", context(errorLabels)) == "L=error")
        #expect(outcome("{{.level | upper}}", context(errorLabels)) == "ERROR")
        #expect(outcome("{{.level}}", context(errorLabels)).utf8.count == 5)
        // A missing label renders empty.
        #expect(outcome("V={{.missing}}", context(errorLabels)).utf8.count == 2)
        // printf's \x1b escapes: a 5-byte and a 4-byte escape around the 5-byte payload.
        let colored = outcome(#"{{ printf "\x1b[31m%s\x1b[0m" .msg }}"#, context(errorLabels))
        #expect(colored.utf8.count == 14)
        #expect(colored == "\u{1b}[31mhello\u{1b}[0m")
        #expect(outcome("{{.method}}-ok", context(errorLabels)) == "get-ok")
        #expect(outcome("{{.method}}!", context(errorLabels)) == "get!")
    }

    @Test func invalidTemplatesFailAtParseTime() {
        #expect(throws: LogQLTemplateError("template: line:1: function \"nosuchfunc\" not defined")) {
            try LogQLTemplate("{{ nosuchfunc }}")
        }
        #expect(throws: LogQLTemplateError("template: label:1: unclosed action")) {
            try LogQLTemplate("{{", name: "label")
        }
    }

    // MARK: - API

    @Test func literalTemplates() throws {
        let plain = try LogQLTemplate("no actions here")
        #expect(plain.isLiteral)
        #expect(plain.literalOutput == "no actions here")
        let commented = try LogQLTemplate("a {{- /* gone */ -}} b")
        #expect(commented.isLiteral)
        #expect(commented.literalOutput == "ab")
        let dynamic = try LogQLTemplate("a {{ .x }}")
        #expect(!dynamic.isLiteral)
        #expect(dynamic.literalOutput == nil)
    }

    @Test func referencedLabelNames() throws {
        let template = try LogQLTemplate(#"{{ .a }}{{ if eq .b "x" }}{{ .c.d | upper }}{{ end }}{{ .a }}{{ (.e) }}"#)
        #expect(template.referencedLabelNames == ["a", "b", "c", "d", "e"])
        #expect(try LogQLTemplate("{{ __line__ }}").referencedLabelNames.isEmpty)
    }

    @Test func singleFieldFastPathMatchesTheGeneralPath() throws {
        let template = try LogQLTemplate("{{.level}}")
        #expect(template.render(context()) == .success("error"))
        #expect(template.render(context([:])) == .success(""))
        // The same through the evaluator.
        #expect(outcome("{{.level}}{{/* */}}") == "error")
    }

    @Test func templateNameAppearsInMessages() {
        #expect(outcome("{{ div 1 0 }}", name: "label")
            == #"exec: template: label:1:3: executing "label" at <div 1 0>: error calling div: runtime error: integer divide by zero"#)
    }

    @Test func labelEnumerationForTheData() {
        let small = ["b": "2", "a": "1"]
        #expect(outcome("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", context(small)) == "a=1;b=2;")
        #expect(outcome("{{ . }} {{ len . }} {{ index . \"b\" }} {{ index . \"zz\" }}|", context(small)) == "map[a:1 b:2] 2 2 |")
        // Without an enumerator the data is an empty map, but fields still resolve.
        let lookupOnly = LogQLTemplateContext(label: { small[$0] }, line: "", timestampNanoseconds: 0)
        #expect(outcome("{{ . }}|{{ .a }}", lookupOnly) == "map[]|1")
    }

    @Test func nowComesFromTheContext() {
        let fixed = context(now: 1_600_000_000_000_000_000)
        #expect(outcome("{{ now | unixEpoch }} {{ date \"2006-01-02\" now }} {{ date \"15:04\" \"not a time\" }}", fixed)
            == "1600000000 2020-09-13 12:26")
    }

    @Test func fixedOffsetZones() {
        #expect(outcome(#"{{ unixEpoch (toDateInZone "2006-01-02 15:04" "Etc/GMT-2" "2021-11-02 10:00") }}"#) == "1635840000")
        #expect(outcome(#"{{ toDateInZone "2006-01-02 15:04" "Etc/GMT+5" "2021-11-02 10:00" }}"#) == "2021-11-02 10:00:00 -0500 -05")
        #expect(outcome(#"{{ toDate "2006-01-02 15:04 -0700" "2021-11-02 10:00 +0530" | date "15:04 Z07:00" }}"#) == "04:30 Z")
    }

    @Test func decimalFloatArithmetic() {
        #expect(outcome("{{ addf 0.1 0.2 }} {{ subf 0.3 0.1 }} {{ mulf 1.1 1.1 }} {{ divf 10 4 }} {{ divf 1 7 }}")
            == "0.3 0.2 1.21 2.5 0.1428571428571429")
        #expect(outcome("{{ addf \"inf\" }}") == #"exec: template: line:1:3: executing "line" at <addf "inf">: error calling addf: Cannot create a Decimal from +Inf"#)
    }

    @Test func castsFollowSpf13Cast() {
        // cast 1.10 (Loki's) trims the decimals of a string before parsing it as an integer, with Go's base prefixes.
        #expect(outcome(#"{{ int "3.7" }} {{ int "0x1F" }} {{ int "010" }} {{ int "1_000" }} {{ add "2" 3.9 true }}"#) == "3 31 8 1000 6")
    }

    @Test func concurrentRendersShareOneTemplate() async throws {
        let template = try LogQLTemplate(#"{{ regexReplaceAll "(\\w+)@(\\w+)" .user "$2:$1" }}-{{ .n | int | printf "%03d" }}"#)
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<64 {
                group.addTask {
                    let values = ["user": "bob@host\(index)", "n": "\(index)"]
                    let rendered = template.render(LogQLTemplateContext(labels: values))
                    return rendered == .success("host\(index):bob-" + (index < 10 ? "00" : "0") + "\(index)")
                }
            }
            var all: [Bool] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 })
    }

    // MARK: - Limits (never crash)

    @Test func deepNestingIsAnErrorNotACrash() {
        let parens = "{{ " + String(repeating: "(", count: 40) + "1" + String(repeating: ")", count: 40) + " }}"
        #expect(outcome(parens) == "parse: template: line:1: max expression depth exceeded")
        let recursive = #"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" }}"#
        #expect(outcome(recursive) == #"exec: template: line:1:28: executing "r" at <{{template "r" .}}>: exceeded maximum template depth (100)"#)
        let json = "{{ fromJson \"" + String(repeating: "[", count: 80) + String(repeating: "]", count: 80) + "\" }}"
        #expect(outcome(json) == "<no value>")
    }

    @Test func randomInputNeverCrashes() {
        let alphabet = Array("{}-/*() |$.:=,\"`'\\abcxyz0123456789\n\tifelsendrangwth_é€.level.msg upper printf\"%s\" eq 1.5e3")
        var generator = SplitMix64(state: 42)
        for _ in 0..<3000 {
            var source = ""
            for _ in 0..<generator.below(30) { source.append(alphabet[generator.below(alphabet.count)]) }
            let result = outcome(source)
            if result.hasPrefix("parse: ") || result.hasPrefix("exec: ") {
                #expect(result.contains("template: line:"), "\(source.debugDescription) -> \(result)")
            }
        }
    }

    @Test func everyPrefixOfValidTemplatesParsesOrFailsCleanly() throws {
        let templates = [
            #"{{ if eq .level "error" }}E{{ else if contains "warn" .level }}W{{ else }}{{ .level | upper | printf "%-5s|%q" }}{{ end }}"#,
            #"{{- range $i, $q := fromJson .json -}} {{ $i }}={{ $q }} {{- /* comment */ -}} {{ end }}"#,
            #"{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .level }}{{ block "b" 1 }}{{ . }}{{ end }}"#,
            #"{{ $x := 'a' }}{{ $x = 0x1F }}{{ with $y := (1.5e3) }}{{ printf `%v %d` $y $x }}{{ end }}"#,
            #"{{ regexReplaceAll "(?P<a>\\w+)" .level "${a}!" | trunc 3 }} {{ __timestamp__.Format "2006" }} {{ (fromJson .json).obj.a }}"#,
            #"{{ range fromJson "[1,2]" }}{{ if eq . 1.0 }}{{ continue }}{{ else }}{{ break }}{{ end }}{{ end }}"#,
        ]
        for template in templates {
            #expect(!outcome(template).hasPrefix("parse: "), "\(template)")
            for length in 0..<template.unicodeScalars.count {
                let prefix = String(String.UnicodeScalarView(template.unicodeScalars.prefix(length)))
                let result = outcome(prefix)
                if result.hasPrefix("parse: ") || result.hasPrefix("exec: ") {
                    #expect(result.contains("template: line:"), "\(prefix.debugDescription) -> \(result)")
                }
            }
        }
    }
}
