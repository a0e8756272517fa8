import LoupeModel
import Yams

/// file_sd: target groups from JSON or YAML files, and the file-name patterns Prometheus allows.
public enum FileSD {
    /// The label every target group read from a file carries: the path of that file.
    public static let filePathLabel = "__meta_filepath"

    /// Prometheus allows a `*` glob only in the last path element, and only `.json`, `.yml` or `.yaml` files.
    static func validatePattern(_ pattern: String, node: YAMLNode) throws(ScrapeError) {
        if let message = patternProblem(pattern) { throw node.error(message) }
    }

    public static func patternProblem(_ pattern: String) -> String? {
        let lastSlash = pattern.lastIndex(of: "/")
        let directory = lastSlash.map { pattern[..<$0] } ?? ""
        let name = lastSlash.map { pattern[pattern.index(after: $0)...] } ?? Substring(pattern)
        if directory.contains("*") || directory.contains("?") {
            return "path name \"\(pattern)\" is not valid for file discovery: a glob is allowed only in the last path element"
        }
        let lower = name.lowercased()
        guard lower.hasSuffix(".json") || lower.hasSuffix(".yml") || lower.hasSuffix(".yaml") else {
            return "path name \"\(pattern)\" is not valid for file discovery: use a .json, .yml or .yaml file"
        }
        return nil
    }

    /// Whether a file name (not a path) matches the last element of a pattern (`*` any run of characters, `?` one).
    public static func nameMatches(_ name: String, glob pattern: String) -> Bool {
        let name = Array(name.unicodeScalars)
        let pattern = Array(pattern.unicodeScalars)
        var nameIndex = 0
        var patternIndex = 0
        var starPattern = -1
        var starName = 0
        while nameIndex < name.count {
            if patternIndex < pattern.count, pattern[patternIndex] == "?" || pattern[patternIndex] == name[nameIndex] {
                nameIndex += 1
                patternIndex += 1
            } else if patternIndex < pattern.count, pattern[patternIndex] == "*" {
                starPattern = patternIndex
                starName = nameIndex
                patternIndex += 1
            } else if starPattern >= 0 {
                patternIndex = starPattern + 1
                starName += 1
                nameIndex = starName
            } else {
                return false
            }
        }
        while patternIndex < pattern.count, pattern[patternIndex] == "*" { patternIndex += 1 }
        return patternIndex == pattern.count
    }

    /// Parses a target file: a list of `{targets: [...], labels: {...}}`. JSON when the path ends in `.json`,
    /// YAML otherwise (JSON is read by the same YAML loader). Every group gets `__meta_filepath`.
    public static func parse(_ text: String, path: String) throws(ScrapeError) -> [TargetGroup] {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw ScrapeError(.invalidTargetFile, "\(path): not valid \(path.lowercased().hasSuffix(".json") ? "JSON" : "YAML"): \(error)")
        }
        guard let loaded else { return [] }
        let root = YAMLNode(loaded, path: "")
        if root.isNull { return [] }
        var groups: [TargetGroup] = []
        do {
            for (index, item) in try root.list().enumerated() {
                var group = try ScrapeConfiguration.decodeTargetGroup(item, source: "\(path)[\(index)]")
                group.labels[filePathLabel] = path
                groups.append(group)
            }
        } catch {
            throw ScrapeError(.invalidTargetFile, "\(path): \(error.message.hasPrefix(":") ? String(error.message.dropFirst()) : error.message)")
        }
        return groups
    }
}
