import LoupeModel

/// The editors. A target that does not hold what the editor works on (a map for the map editors,
/// a string for the replacing ones) is left as it is.
extension OTTLEvaluator {
    static func run<Item: OTTLItemAccess>(_ editor: OTTLEditor, on item: inout Item) throws(OTTLRuntimeFailure) {
        switch editor {
        case .set(let target, let expression):
            // Setting nil does nothing: an absent attribute copied to another does not erase it.
            guard let newValue = try value(expression, in: item) else { return }
            try write(newValue, to: target, in: &item)

        case .deleteKey(let target, let keyExpression):
            let key = try string(keyExpression, in: item, for: "delete_key")
            try modifyMap(target, in: &item) { entries in entries.removeAll { $0.key == key } }

        case .deleteMatchingKeys(let target, let regex):
            try modifyMap(target, in: &item) { entries in entries.removeAll { regex.matches($0.key) } }

        case .keepKeys(let target, let keys):
            try modifyMap(target, in: &item) { entries in entries.removeAll { !keys.contains($0.key) } }

        case .keepMatchingKeys(let target, let regex):
            try modifyMap(target, in: &item) { entries in entries.removeAll { !regex.matches($0.key) } }

        case .replacePattern(let target, let regex, let replacementExpression):
            guard case .string(let text)? = try read(target, in: item), regex.matches(text) else { return }
            let replacement = try string(replacementExpression, in: item, for: "replace_pattern")
            try write(.string(regex.replaceAll(in: text, with: replacement)), to: target, in: &item)

        case .replaceAllPatterns(let target, let mode, let regex, let replacementExpression):
            let replacement = try string(replacementExpression, in: item, for: "replace_all_patterns")
            try modifyMap(target, in: &item) { entries in
                switch mode {
                case .value:
                    for index in entries.indices {
                        if case .string(let text) = entries[index].value, regex.matches(text) {
                            entries[index].value = .string(regex.replaceAll(in: text, with: replacement))
                        }
                    }
                case .key:
                    // Renamed keys can collide; as in OTTL, the later entry wins.
                    var renamed: [KeyValue] = []
                    for entry in entries {
                        let key = regex.matches(entry.key) ? regex.replaceAll(in: entry.key, with: replacement) : entry.key
                        renamed.upsert(key, entry.value)
                    }
                    entries = renamed
                }
            }

        case .replaceMatch(let target, let glob, let replacementExpression):
            guard case .string(let text)? = try read(target, in: item), glob.matches(text) else { return }
            let replacement = try string(replacementExpression, in: item, for: "replace_match")
            try write(.string(replacement), to: target, in: &item)

        case .replaceAllMatches(let target, let glob, let replacementExpression):
            let replacement = try string(replacementExpression, in: item, for: "replace_all_matches")
            try modifyMap(target, in: &item) { entries in
                for index in entries.indices {
                    if case .string(let text) = entries[index].value, glob.matches(text) {
                        entries[index].value = .string(replacement)
                    }
                }
            }

        case .truncateAll(let target, let limit):
            try modifyMap(target, in: &item) { entries in
                for index in entries.indices {
                    if case .string(let text) = entries[index].value, text.utf8.count > limit {
                        entries[index].value = .string(truncated(text, toBytes: limit))
                    }
                }
            }

        case .limit(let target, let limit, let priorityKeys):
            try modifyMap(target, in: &item) { entries in
                guard entries.count > limit else { return }
                let priority = Set(priorityKeys)
                // Priority keys present take their places first; the others fill what is left, in order.
                var kept = Set(entries.map(\.key)).intersection(priority).count
                entries.removeAll { entry in
                    if priority.contains(entry.key) { return false }
                    if kept < limit {
                        kept += 1
                        return false
                    }
                    return true
                }
            }

        case .mergeMaps(let target, let sourceExpression, let strategy):
            let source = try value(sourceExpression, in: item)
            guard case .keyValueList(let additions)? = source else {
                throw OTTLRuntimeFailure("merge_maps needs a map as its source, not \(OTTLFormat.typeName(source))")
            }
            try modifyMap(target, in: &item) { entries in
                for addition in additions {
                    if let index = entries.firstIndex(where: { $0.key == addition.key }) {
                        if strategy != .insert { entries[index].value = addition.value }
                    } else if strategy != .update {
                        entries.append(addition)
                    }
                }
            }

        case .flatten(let target, let prefix, let depth):
            try modifyMap(target, in: &item) { entries in
                var flat: [KeyValue] = []
                flatten(entries, prefix: prefix, depth: 0, maximumDepth: depth ?? .max, into: &flat)
                entries = flat
            }
        }
    }

    /// Reads the map at a path, lets `body` change it, and writes it back; anything but a map is left alone.
    private static func modifyMap<Item: OTTLItemAccess>(
        _ path: OTTLPath, in item: inout Item, _ body: (inout [KeyValue]) -> Void
    ) throws(OTTLRuntimeFailure) {
        guard case .keyValueList(var entries)? = try read(path, in: item) else { return }
        body(&entries)
        try write(.keyValueList(entries), to: path, in: &item)
    }

    /// At most `limit` bytes, cut before a character that would not fit whole, so the text stays valid UTF-8.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        var kept = String.UnicodeScalarView()
        var byteCount = 0
        for scalar in text.unicodeScalars {
            byteCount += UTF8.width(scalar)
            if byteCount > limit { break }
            kept.append(scalar)
        }
        return String(kept)
    }

    /// pkg/ottl's flatten: nested maps (down to `maximumDepth`) join their keys with dots, list
    /// elements get their index as a key; a later key that flattens to an existing one replaces it.
    private static func flatten(_ entries: [KeyValue], prefix: String, depth: Int, maximumDepth: Int, into result: inout [KeyValue]) {
        let keyPrefix = prefix.isEmpty ? "" : prefix + "."
        for entry in entries {
            let key = keyPrefix + entry.key
            switch entry.value {
            case .keyValueList(let nested) where depth < maximumDepth:
                flatten(nested, prefix: key, depth: depth + 1, maximumDepth: maximumDepth, into: &result)
            case .array(let elements):
                for (index, element) in elements.enumerated() { result.upsert("\(key).\(index)", element) }
            default:
                result.upsert(key, entry.value)
            }
        }
    }
}
