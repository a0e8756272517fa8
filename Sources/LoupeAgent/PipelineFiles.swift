import Foundation
import LoupeCollect

/// Pipeline resources from files and directories (every `*.yaml` and `*.yml` in a directory, by name).
public enum PipelineFiles {
    public static func load(_ paths: [String]) throws -> PipelineSet {
        let files = try read(paths)
        return try PipelineSet.decode(files: files.map { ($0.name, $0.text) })
    }

    /// The files' names and texts, in the order they are read.
    public struct Contents: Sendable, Equatable {
        public var name: String
        public var text: String
    }

    public static func read(_ paths: [String]) throws -> [Contents] {
        var files: [Contents] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw PipelineError(.malformed, location: path, "no such file or directory")
            }
            let names: [String]
            if isDirectory.boolValue {
                names = try FileManager.default.contentsOfDirectory(atPath: path)
                    .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { path + "/" + $0 }
            } else {
                names = [path]
            }
            for name in names {
                guard let data = FileManager.default.contents(atPath: name) else { throw PipelineError(.malformed, location: name, "cannot be read") }
                files.append(Contents(name: name, text: String(decoding: data, as: UTF8.self)))
            }
        }
        return files
    }
}
