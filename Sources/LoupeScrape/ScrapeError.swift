/// Why a scrape configuration, a discovered target or a scrape was refused.
///
/// `code` is machine-readable; `message` is precise and, for configuration errors, names the key
/// (`scrape_configs[0].relabel_configs[2].target_label: ...`).
public struct ScrapeError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A configuration value that is missing, of the wrong type, out of range or unknown.
        public static let invalidConfiguration = Code(rawValue: "invalid configuration")
        /// A file_sd file that is not valid JSON/YAML target groups.
        public static let invalidTargetFile = Code(rawValue: "invalid target file")
        /// A discovered target whose labels do not make a scrapable target after relabeling.
        public static let invalidTarget = Code(rawValue: "invalid target")
        /// The target answered, but with a status other than 200.
        public static let httpStatus = Code(rawValue: "http status")
        /// The target could not be reached or did not answer within the timeout.
        public static let unreachable = Code(rawValue: "unreachable")
        /// The scrape body is not a valid exposition (or could not be decompressed).
        public static let invalidExposition = Code(rawValue: "invalid exposition")
        /// More samples (after metric relabeling) than `sample_limit`, or more labels than `label_limit`.
        public static let limitExceeded = Code(rawValue: "limit exceeded")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
