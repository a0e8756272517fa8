/// One OTTL statement, `editor(arguments) [where condition]`, parsed and checked for one context.
/// Executing it never fails: where OTTL would report an error for an item (a value of the wrong
/// type, an index out of range), the statement leaves the item unchanged.
public struct OTTLStatement: Sendable {
    public let text: String
    public let context: OTTLContextKind
    let editor: OTTLEditor
    let condition: OTTLBooleanExpression?

    public static func parse(_ text: String, context: OTTLContextKind) throws(OTTLError) -> OTTLStatement {
        let syntax = try OTTLParser.parseStatement(text)
        let (editor, condition) = try OTTLBinder(context: context).statement(syntax)
        return OTTLStatement(text: text, context: context, editor: editor, condition: condition)
    }

    public func execute(_ item: inout OTTLLogItem) { _ = run(on: &item) }

    public func execute(_ item: inout OTTLSpanItem) { _ = run(on: &item) }

    public func execute(_ item: inout OTTLDataPointItem) { _ = run(on: &item) }

    /// What happened: nil when the statement ran or its `where` did not hold, the failure otherwise.
    /// An item of another context is left alone.
    func run<Item: OTTLItemAccess>(on item: inout Item) -> OTTLRuntimeFailure? {
        guard Item.contextKind == context else { return OTTLRuntimeFailure("a \(context) statement cannot run on a \(Item.contextKind) item") }
        do {
            if let condition, !(try OTTLEvaluator.holds(condition, in: item)) { return nil }
            // Editors write once, at the end, so a failure leaves the item as it was.
            try OTTLEvaluator.run(editor, on: &item)
            return nil
        } catch {
            return error
        }
    }
}

/// One OTTL condition, parsed and checked for one context. It holds or not; evaluating it never
/// fails, and a condition OTTL would report an error for (a converter given the wrong type) does not hold.
public struct OTTLCondition: Sendable {
    public let text: String
    public let context: OTTLContextKind
    let expression: OTTLBooleanExpression

    public static func parse(_ text: String, context: OTTLContextKind) throws(OTTLError) -> OTTLCondition {
        let syntax = try OTTLParser.parseCondition(text)
        let expression = try OTTLBinder(context: context).condition(syntax)
        return OTTLCondition(text: text, context: context, expression: expression)
    }

    public func evaluate(_ item: inout OTTLLogItem) -> Bool { holds(in: item) }

    public func evaluate(_ item: inout OTTLSpanItem) -> Bool { holds(in: item) }

    public func evaluate(_ item: inout OTTLDataPointItem) -> Bool { holds(in: item) }

    /// Whether the condition holds; false for an item of another context.
    func holds<Item: OTTLItemAccess>(in item: Item) -> Bool {
        (try? outcome(in: item).get()) ?? false
    }

    /// The result, or why it could not be had.
    func outcome<Item: OTTLItemAccess>(in item: Item) -> Result<Bool, OTTLRuntimeFailure> {
        guard Item.contextKind == context else { return .failure(OTTLRuntimeFailure("a \(context) condition cannot test a \(Item.contextKind) item")) }
        do {
            return .success(try OTTLEvaluator.holds(expression, in: item))
        } catch {
            return .failure(error)
        }
    }
}
