import Foundation
import LoupeCollect

/// Resolves `valueFrom.secretKeyRef` outside Kubernetes: from a file
/// `<directory>/<namespace>/<name>/<key>` (the layout of a mounted secret per namespace and name),
/// else from the environment variable `LOUPE_SECRET_<NAMESPACE>_<NAME>_<KEY>` (upper case, every
/// character not a letter or digit as `_`).
public struct SecretResolver: Sendable {
    public var directory: String?
    public var environment: [String: String]

    public init(directory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory
        self.environment = environment
    }

    public static func environmentName(_ reference: SecretKeyReference) -> String {
        let joined = "LOUPE_SECRET_\(reference.namespace)_\(reference.name)_\(reference.key)"
        return String(joined.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    }

    public func resolve(_ value: ValueSource, field: String) throws(PipelineError) -> String {
        switch value {
        case .value(let text): return text
        case .secret(let reference):
            if let directory {
                let path = "\(directory)/\(reference.namespace)/\(reference.name)/\(reference.key)"
                if let data = FileManager.default.contents(atPath: path) {
                    var text = String(decoding: data, as: UTF8.self)
                    // Files written by hand end with a newline that is not part of the secret.
                    if text.hasSuffix("\n") { text.removeLast() }
                    return text
                }
            }
            if let text = environment[Self.environmentName(reference)] { return text }
            let places = (directory.map { "\($0)/\(reference.namespace)/\(reference.name)/\(reference.key) or " } ?? "") + "$" + Self.environmentName(reference)
            throw PipelineError(.secretMissing, location: "", path: field, "\(reference) is not found (looked in \(places))")
        }
    }
}
