import LoupeModel

/// A pipeline's `transform` and `filter` rules compiled for its signal: statements run on an item
/// when any of their rule's conditions holds (or always, without conditions), then the item is
/// dropped when any filter condition holds. Compiling is where unsupported OTTL is refused.
public struct CompiledRules: Sendable {
    struct Transform: Sendable {
        var conditions: [OTTLCondition]
        var statements: [OTTLStatement]
    }

    let transforms: [Transform]
    let filters: [[OTTLCondition]]

    public var isEmpty: Bool { transforms.isEmpty && filters.isEmpty }

    public init(transform: [TransformRule], filter: [FilterRule], context: OTTLContextKind, resource: String) throws(PipelineError) {
        func failure(_ error: OTTLError, _ text: OTTLText) -> PipelineError {
            PipelineError(
                error.code == .unknownFunction ? .unsupported : .invalid, location: text.location, resource: resource, path: text.path,
                "OTTLSpecInvalid: \(error)")
        }
        var transforms: [Transform] = []
        for rule in transform {
            var compiled = Transform(conditions: [], statements: [])
            for text in rule.conditions {
                do throws(OTTLError) { compiled.conditions.append(try OTTLCondition.parse(text.text, context: context)) } catch { throw failure(error, text) }
            }
            for text in rule.statements {
                do throws(OTTLError) { compiled.statements.append(try OTTLStatement.parse(text.text, context: context)) } catch { throw failure(error, text) }
            }
            transforms.append(compiled)
        }
        var filters: [[OTTLCondition]] = []
        for rule in filter {
            var conditions: [OTTLCondition] = []
            for text in rule.conditions {
                do throws(OTTLError) { conditions.append(try OTTLCondition.parse(text.text, context: context)) } catch { throw failure(error, text) }
            }
            filters.append(conditions)
        }
        self.transforms = transforms
        self.filters = filters
    }

    /// Transforms and filters every record; returns what is kept and how many were dropped.
    /// Records whose resource a statement changed are regrouped under their new resource.
    public func process(_ logs: LogsData) -> (logs: LogsData, dropped: Int) {
        guard !isEmpty else { return (logs, 0) }
        var output = LogsData()
        var dropped = 0
        for resourceLogs in logs.resourceLogs {
            for scopeLogs in resourceLogs.scopeLogs {
                for record in scopeLogs.logRecords {
                    var item = OTTLLogItem(record: record, resource: resourceLogs.resource, scope: scopeLogs.scope)
                    for transform in transforms where transform.conditions.isEmpty || transform.conditions.contains(where: { $0.evaluate(&item) }) {
                        for statement in transform.statements { statement.execute(&item) }
                    }
                    if filters.contains(where: { rule in rule.contains { $0.evaluate(&item) } }) {
                        dropped += 1
                        continue
                    }
                    if let last = output.resourceLogs.indices.last, output.resourceLogs[last].resource == item.resource,
                        output.resourceLogs[last].schemaURL == resourceLogs.schemaURL,
                        let lastScope = output.resourceLogs[last].scopeLogs.indices.last, output.resourceLogs[last].scopeLogs[lastScope].scope == item.scope
                    {
                        output.resourceLogs[last].scopeLogs[lastScope].logRecords.append(item.record)
                    } else {
                        output.resourceLogs.append(ResourceLogs(
                            resource: item.resource, scopeLogs: [ScopeLogs(scope: item.scope, logRecords: [item.record], schemaURL: scopeLogs.schemaURL)],
                            schemaURL: resourceLogs.schemaURL))
                    }
                }
            }
        }
        return (output, dropped)
    }
}
