/// Joins the pieces of lines the runtime split (CRI `P` lines, Docker lines without a newline)
/// back into whole lines, per stream. A line that grows past `maximumBytes` is let out in pieces
/// of that size, so one endless line cannot hold memory.
public struct PartialLineJoiner: Sendable {
    public let maximumBytes: Int
    private var pending: [ContainerLogLine.Stream: ContainerLogLine] = [:]

    public init(maximumBytes: Int = 1 << 20) { self.maximumBytes = max(1, maximumBytes) }

    /// The whole line `line` completes (nil while pieces are still coming). A whole line keeps
    /// the time of its first piece.
    public mutating func add(_ line: ContainerLogLine) -> ContainerLogLine? {
        // Nearly every line is whole and nothing waits: no lookup.
        if !line.partial && pending.isEmpty { return line }
        var joined: ContainerLogLine
        if var started = pending.removeValue(forKey: line.stream) {
            started.text += line.text
            started.partial = line.partial
            joined = started
        } else {
            joined = line
        }
        if joined.partial {
            guard joined.text.utf8.count >= maximumBytes else {
                pending[line.stream] = joined
                return nil
            }
            joined.partial = false
        }
        return joined
    }

    /// Whether a piece is waiting for the rest of its line.
    public var hasPending: Bool { !pending.isEmpty }

    /// The pieces waiting, oldest first (to be saved where they cannot be read again).
    public var pendingPieces: [ContainerLogLine] { pending.values.sorted { $0.timeUnixNano < $1.timeUnixNano } }

    /// Waits again for the rest of `pieces` (saved by `pendingPieces`).
    public mutating func restore(_ pieces: [ContainerLogLine]) {
        for piece in pieces { pending[piece.stream] = piece }
    }

    /// Lets out what is pending as whole lines (the file went away mid-line).
    public mutating func flush() -> [ContainerLogLine] {
        let lines = pending.values.sorted { $0.timeUnixNano < $1.timeUnixNano }.map { line in
            var line = line
            line.partial = false
            return line
        }
        pending = [:]
        return lines
    }
}
