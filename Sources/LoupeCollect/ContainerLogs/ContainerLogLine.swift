import LoupeModel
import LoupeWire

/// One line of a container log file as the runtime wrote it: CRI (`<time> <stream> <P|F> <text>`)
/// or Docker's json-file (`{"log":"...\n","stream":"stdout","time":"..."}`).
public struct ContainerLogLine: Sendable, Hashable {
    public enum Stream: String, Sendable, Hashable {
        case stdout, stderr
    }

    public var timeUnixNano: UInt64
    public var stream: Stream
    /// A piece of a longer line: the runtime split it, the next pieces of this stream follow.
    public var partial: Bool
    public var text: String

    public init(timeUnixNano: UInt64, stream: Stream, partial: Bool, text: String) {
        self.timeUnixNano = timeUnixNano
        self.stream = stream
        self.partial = partial
        self.text = text
    }

    /// The two on-disk formats; a file keeps one.
    public enum Format: Sendable, Hashable {
        case cri, dockerJSON

        /// Docker's lines are JSON objects; CRI's start with a timestamp.
        public static func detect(firstLine: some Collection<UInt8>) -> Format {
            firstLine.first == UInt8(ascii: "{") ? .dockerJSON : .cri
        }
    }

    /// Why a line could not be read: it is then passed on as it is, with the time it was read.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public static func parse(_ line: some Collection<UInt8>, format: Format) throws(ParseError) -> ContainerLogLine {
        if let slice = line as? ArraySlice<UInt8> {
            return switch format {
            case .cri: try parseCRI(slice)
            case .dockerJSON: try parseDockerJSON(slice)
            }
        }
        return switch format {
        case .cri: try parseCRI(Array(line)[...])
        case .dockerJSON: try parseDockerJSON(Array(line)[...])
        }
    }

    /// `2024-01-02T03:04:05.123456789Z stdout F text`: the tag field may hold several tags
    /// separated by `:`; `P` marks a partial line.
    public static func parseCRI(_ line: [UInt8]) throws(ParseError) -> ContainerLogLine { try parseCRI(line[...]) }

    public static func parseCRI(_ line: ArraySlice<UInt8>) throws(ParseError) -> ContainerLogLine {
        let space = UInt8(ascii: " ")
        guard let firstSpace = line.firstIndex(of: space) else { throw ParseError(message: "a CRI line has time, stream, tag and text; found no space") }
        guard let time = line[..<firstSpace].withUnsafeBufferPointer({ RFC3339.nanoseconds(utf8: $0) }), time >= 0 else {
            throw ParseError(message: "\"\(String(decoding: line[..<firstSpace].prefix(40), as: UTF8.self))\" is not an RFC 3339 time")
        }
        let streamStart = firstSpace + 1
        guard let secondSpace = line[streamStart...].firstIndex(of: space) else { throw ParseError(message: "a CRI line has a tag after the stream") }
        let streamBytes = line[streamStart..<secondSpace]
        let stream: Stream
        if streamBytes.elementsEqual("stdout".utf8) {
            stream = .stdout
        } else if streamBytes.elementsEqual("stderr".utf8) {
            stream = .stderr
        } else {
            throw ParseError(message: "\"\(String(decoding: streamBytes.prefix(20), as: UTF8.self))\" is not stdout or stderr")
        }
        let tagStart = secondSpace + 1
        // The text may be empty, and then the line can end right after the tag.
        let tagEnd = line[tagStart...].firstIndex(of: space) ?? line.endIndex
        let tags = line[tagStart..<tagEnd].split(separator: UInt8(ascii: ":"))
        guard let first = tags.first, first.count == 1, first.first == UInt8(ascii: "P") || first.first == UInt8(ascii: "F") else {
            throw ParseError(message: "\"\(String(decoding: line[tagStart..<tagEnd].prefix(20), as: UTF8.self))\" is not a CRI tag (P or F)")
        }
        let textStart = min(tagEnd + 1, line.endIndex)
        return ContainerLogLine(
            timeUnixNano: UInt64(time), stream: stream, partial: first.first == UInt8(ascii: "P"),
            text: String(decoding: line[textStart...], as: UTF8.self))
    }

    /// Docker's json-file: the text ends with a newline unless Docker split the line (at 16 KiB).
    public static func parseDockerJSON(_ line: [UInt8]) throws(ParseError) -> ContainerLogLine { try parseDockerJSON(line[...]) }

    public static func parseDockerJSON(_ line: ArraySlice<UInt8>) throws(ParseError) -> ContainerLogLine {
        var text: String?
        var stream: Stream?
        var time: Int64?
        let failure = line.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> WireError? in
            var reader = JSONReader(bytes)
            do throws(WireError) {
                var object = try reader.beginObject()
                while try reader.nextMember(&object, skippingNulls: true) {
                    if reader.keyEquals("log") {
                        text = try reader.readString()
                    } else if reader.keyEquals("stream") {
                        stream = Stream(rawValue: try reader.readString())
                    } else if reader.keyEquals("time") {
                        time = RFC3339.nanoseconds(try reader.readString())
                    } else {
                        try reader.skipValue()
                    }
                }
                try reader.expectEnd()
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw ParseError(message: "not a Docker json-file line: \(failure)") }
        guard var text else { throw ParseError(message: "a Docker json-file line has a \"log\" field") }
        guard let stream else { throw ParseError(message: "a Docker json-file line has a \"stream\" of stdout or stderr") }
        guard let time, time >= 0 else { throw ParseError(message: "a Docker json-file line has an RFC 3339 \"time\"") }
        let complete = text.hasSuffix("\n")
        if complete {
            text.removeLast()
            if text.hasSuffix("\r") { text.removeLast() }
        }
        return ContainerLogLine(timeUnixNano: UInt64(time), stream: stream, partial: !complete, text: text)
    }
}
