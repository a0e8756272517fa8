// The template engine behind LogQL's `line_format` and `label_format`: Go's text/template with
// Loki's functions (pkg/logql/log/fmt.go and the Sprig functions it exposes), executed as Loki does
// (missingkey=zero over the entry's labels, __line__ and __timestamp__ as functions). A template is
// parsed once into a small tree; rendering walks it for each entry, appending into one String.

/// A parse or execution error, with Go's text/template message
/// (e.g. `template: line:1: function "foo" not defined`).
public struct LogQLTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// What a template sees of one log entry. Cheap to build per entry.
public struct LogQLTemplateContext {
    /// The value of a label (stream label, structured metadata or parsed label) by name; nil when the
    /// entry has no such label, which renders as "" (Loki executes with missingkey=zero).
    public var label: (String) -> String?
    /// The line, for `__line__`.
    public var line: String
    /// The entry's time in nanoseconds since the Unix epoch, for `__timestamp__`.
    public var timestampNanoseconds: Int64
    /// Every label of the entry, for the rare templates that take the data apart (`{{ . }}`,
    /// `{{ range $k, $v := . }}`, `{{ len . }}`); nil makes the data an empty map there.
    public var labels: (() -> [(name: String, value: String)])?
    /// The time `now` returns, in nanoseconds since the epoch; nil reads the wall clock (as Loki does).
    public var nowNanoseconds: Int64?

    public init(label: @escaping (String) -> String?, line: String, timestampNanoseconds: Int64,
                labels: (() -> [(name: String, value: String)])? = nil, nowNanoseconds: Int64? = nil) {
        self.label = label
        self.line = line
        self.timestampNanoseconds = timestampNanoseconds
        self.labels = labels
        self.nowNanoseconds = nowNanoseconds
    }

    /// A context over a dictionary of labels (tests, tools).
    public init(labels dictionary: [String: String], line: String = "", timestampNanoseconds: Int64 = 0, nowNanoseconds: Int64? = nil) {
        self.init(label: { dictionary[$0] }, line: line, timestampNanoseconds: timestampNanoseconds,
                  labels: { dictionary.map { (name: $0.key, value: $0.value) } }, nowNanoseconds: nowNanoseconds)
    }
}

/// A parsed `line_format` / `label_format` template.
public struct LogQLTemplate: Sendable {
    /// The template text as written in the query.
    public let source: String
    /// The name Go's messages use: "line" for line_format, "label" for label_format.
    public let name: String
    /// The output when the template has no actions (only text and comments): it does not depend on the entry.
    public let literalOutput: String?
    /// The label names the template reads as fields (`.name`), in order of first use; Loki's RequiredLabelNames.
    public let referencedLabelNames: [String]

    let program: Program
    /// `{{ .name }}` alone: the label's value is the output.
    private let singleLabel: String?

    /// Parses `source`. Errors carry Go's parse error text, e.g. `template: line:1: unclosed action`.
    public init(_ source: String, name: String = "line") throws(LogQLTemplateError) {
        self.source = source
        self.name = name
        var parser = Parser(source: source, name: name)
        let output = try parser.parse()
        program = Program(name: name, source: source, root: output.root, definitions: output.definitions)

        var literal: String? = ""
        for node in output.root {
            if case .text(let text) = node { literal? += text } else { literal = nil }
        }
        literalOutput = literal

        if output.root.count == 1, case .action(let pipeline, _) = output.root[0], pipeline.declarations.isEmpty,
           pipeline.commands.count == 1, pipeline.commands[0].arguments.count == 1,
           case .field(let names, _) = pipeline.commands[0].arguments[0], names.count == 1 {
            singleLabel = names[0]
        } else {
            singleLabel = nil
        }

        var names: [String] = []
        var seen: Set<String> = []
        LogQLTemplate.collectFields(output.root, into: &names, seen: &seen)
        for (_, body) in output.definitions.sorted(by: { $0.key < $1.key }) {
            LogQLTemplate.collectFields(body, into: &names, seen: &seen)
        }
        referencedLabelNames = names
    }

    /// True when the template has no actions: the output is `literalOutput` for every entry.
    public var isLiteral: Bool { literalOutput != nil }

    /// Renders the template for one entry. Execution errors (a bad argument to a function, ...) are
    /// returned with Go's message; Loki then keeps the entry and sets `__error__="TemplateFormatErr"`.
    public func render(_ context: LogQLTemplateContext) -> Result<String, LogQLTemplateError> {
        if let literalOutput { return .success(literalOutput) }
        if let singleLabel { return .success(context.label(singleLabel) ?? "") }
        var evaluator = Evaluator(program: program, context: context)
        return evaluator.run()
    }

    // MARK: Referenced labels

    private static func collectFields(_ nodes: [Node], into names: inout [String], seen: inout Set<String>) {
        for node in nodes {
            switch node {
            case .text, .breakLoop, .continueLoop:
                break
            case .action(let pipeline, _):
                collectFields(pipeline, into: &names, seen: &seen)
            case .branch(let branch):
                collectFields(branch.pipeline, into: &names, seen: &seen)
                collectFields(branch.list, into: &names, seen: &seen)
                if let elseList = branch.elseList { collectFields(elseList, into: &names, seen: &seen) }
            case .invoke(_, let pipeline, _):
                if let pipeline { collectFields(pipeline, into: &names, seen: &seen) }
            }
        }
    }

    private static func collectFields(_ pipeline: Pipeline, into names: inout [String], seen: inout Set<String>) {
        for command in pipeline.commands {
            for argument in command.arguments { collectFields(argument, into: &names, seen: &seen) }
        }
    }

    private static func collectFields(_ operand: Operand, into names: inout [String], seen: inout Set<String>) {
        switch operand {
        case .field(let fields, _):
            // Loki lists every identifier of a field chain.
            for field in fields where seen.insert(field).inserted { names.append(field) }
        case .pipeline(let pipeline):
            collectFields(pipeline, into: &names, seen: &seen)
        case .chain(let base, _, _):
            collectFields(base, into: &names, seen: &seen)
        default:
            break
        }
    }
}
