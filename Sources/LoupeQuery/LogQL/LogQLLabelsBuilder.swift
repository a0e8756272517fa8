import LoupeModel

/// The labels of one entry as it goes through a pipeline: its stream's labels, its structured
/// metadata, and what the stages add, change and remove — plus the `__error__` and
/// `__error_details__` a failing stage sets. Unlike a series' `Labels`, an empty value is a
/// label that is present (Loki keeps `{age=""}` from a missing JSON path).
struct LogQLLabelsBuilder {
    static let errorLabel = "__error__"
    static let errorDetailsLabel = "__error_details__"
    /// What Loki appends to a parsed label's name when the stream already has a label of that name.
    static let duplicateSuffix = "_extracted"

    private(set) var stream: Labels
    private(set) var metadata: Labels
    /// Labels set or removed by stages (nil: removed), by name.
    private var changes: [String: String?] = [:]
    private(set) var error: String?
    private(set) var errorDetails: String?
    /// Names parser stages set on this entry: later parsers without parameters leave them alone.
    private var parsedNames: Set<String> = []

    init(stream: Labels, metadata: Labels) {
        self.stream = stream
        self.metadata = metadata
        spillMetadataConflicts()
    }

    /// Starts over for the next entry of the same or another stream.
    mutating func reset(stream: Labels, metadata: Labels) {
        self.stream = stream
        self.metadata = metadata
        if !changes.isEmpty { changes.removeAll(keepingCapacity: true) }
        if !parsedNames.isEmpty { parsedNames.removeAll(keepingCapacity: true) }
        error = nil
        errorDetails = nil
        spillMetadataConflicts()
    }

    /// A name can be a stream label, structured metadata and a parsed field at once. The base name
    /// goes to the stream, then the metadata, then the parsed field; one losing value spills to
    /// `<name>_extracted`, where the parsed field wins over the metadata (Loki's rules).
    private mutating func spillMetadataConflicts() {
        guard !metadata.isEmpty, !stream.isEmpty else { return }
        for label in metadata where stream[label.name] != nil {
            changes[label.name + Self.duplicateSuffix] = .some(label.value)
        }
    }

    var hasError: Bool { error != nil }

    /// The label's current value, or nil when the entry does not have it.
    func value(_ name: String) -> String? {
        if name == Self.errorLabel { return error }
        if name == Self.errorDetailsLabel { return errorDetails }
        if let changed = changes[name] { return changed }
        return stream[name] ?? metadata[name]
    }

    /// Whether the stream or the metadata has the label: a parsed label of that name is renamed.
    func baseHas(_ name: String) -> Bool { stream[name] != nil || metadata[name] != nil }

    mutating func set(_ name: String, _ value: String) {
        if name == Self.errorLabel {
            error = value
            return
        }
        if name == Self.errorDetailsLabel {
            errorDetails = value
            return
        }
        changes[name] = .some(value)
    }

    /// Adds a label a parser extracted, with Loki's rules: a name the stream or metadata already
    /// has goes to `<name>_extracted`; a parser without parameters (`overwrite` false) leaves a name
    /// an earlier parser of this entry set; a placeholder (the empty value for a requested path or
    /// key the line lacks) is set only under the plain name, and only where nothing has that name
    /// (json) or over parsed values too (logfmt, `placeholderOverwrites`).
    mutating func setParsed(_ label: LogQLExtractedLabel, overwrite: Bool, placeholderOverwrites: Bool = false) {
        if label.isPlaceholder {
            if placeholderOverwrites ? !baseHas(label.name) : value(label.name) == nil { set(label.name, label.value) }
            return
        }
        let name = baseHas(label.name) ? label.name + Self.duplicateSuffix : label.name
        if !overwrite, parsedNames.contains(name) { return }
        set(name, label.value)
        parsedNames.insert(name)
    }

    mutating func delete(_ name: String) {
        if name == Self.errorLabel {
            error = nil
            return
        }
        if name == Self.errorDetailsLabel {
            errorDetails = nil
            return
        }
        changes[name] = .some(nil)
    }

    /// Records a stage failure. Parsers replace an earlier error; filters and conversions keep it
    /// (`overwrite` false), as Loki's do. Empty details set no `__error_details__`.
    mutating func setError(_ kind: String, details: String, overwrite: Bool = false) {
        guard error == nil || overwrite else { return }
        error = kind
        errorDetails = details.isEmpty ? nil : details
    }

    /// The names the entry currently has (stream, metadata, changes, error labels).
    var names: [String] {
        var all: [String] = []
        for label in stream where changes[label.name] == nil { all.append(label.name) }
        for label in metadata where changes[label.name] == nil && stream[label.name] == nil { all.append(label.name) }
        for (name, value) in changes where value != nil { all.append(name) }
        if error != nil { all.append(Self.errorLabel) }
        if errorDetails != nil { all.append(Self.errorDetailsLabel) }
        return all
    }

    /// The entry's labels now, sorted, empty values kept.
    func labels() -> Labels {
        if changes.isEmpty && metadata.isEmpty && error == nil && errorDetails == nil { return stream }
        var merged: [String: String] = [:]
        for label in metadata { merged[label.name] = label.value }
        for label in stream { merged[label.name] = label.value }
        for (name, value) in changes {
            if let value { merged[name] = value } else { merged.removeValue(forKey: name) }
        }
        if let error { merged[Self.errorLabel] = error }
        if let errorDetails { merged[Self.errorDetailsLabel] = errorDetails }
        return Labels(presorted: merged.map { Label($0.key, $0.value) }.sorted { Labels.compareBytes($0.name, $1.name) < 0 })
    }
}

extension Labels {
    /// Loki's (and Prometheus's) text form of a label set: `{a="1", b="2"}`, values Go-quoted.
    var logQLDescription: String {
        "{" + map { "\($0.name)=\(LogQLUnits.goQuote($0.value))" }.joined(separator: ", ") + "}"
    }
}
