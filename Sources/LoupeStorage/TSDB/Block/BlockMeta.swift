import LoupeWire

/// What a block holds, as `meta.json` in its directory (the Prometheus block meta, trimmed):
/// written last, so a directory without a valid one is an unfinished write.
public struct BlockMeta: Sendable, Equatable {
    public static let version = 1

    public var id: String
    /// Earliest sample timestamp (ms).
    public var minTime: Int64
    /// One past the latest sample timestamp (ms): blocks cover `[minTime, maxTime)`.
    public var maxTime: Int64
    public var seriesCount: Int
    public var sampleCount: Int
    public var chunkCount: Int
    /// 1 for a block cut from the head; one more than its highest source for compacted blocks.
    public var level: Int
    /// The blocks merged into this one (empty for a block cut from the head). At start, a block
    /// still on disk that another block lists here is a leftover of an interrupted compaction.
    public var compactedFrom: [String]

    public init(
        id: String, minTime: Int64, maxTime: Int64, seriesCount: Int, sampleCount: Int, chunkCount: Int, level: Int = 1,
        compactedFrom: [String] = []
    ) {
        self.id = id
        self.minTime = minTime
        self.maxTime = maxTime
        self.seriesCount = seriesCount
        self.sampleCount = sampleCount
        self.chunkCount = chunkCount
        self.level = level
        self.compactedFrom = compactedFrom
    }

    public var json: [UInt8] {
        var text = "{\n"
        text += "  \"version\": \(Self.version),\n"
        text += "  \"ulid\": \"\(id)\",\n"
        text += "  \"minTime\": \(minTime),\n"
        text += "  \"maxTime\": \(maxTime),\n"
        text += "  \"stats\": {\"numSeries\": \(seriesCount), \"numSamples\": \(sampleCount), \"numChunks\": \(chunkCount)},\n"
        text += "  \"compaction\": {\"level\": \(level), \"parents\": ["
        text += compactedFrom.map { "\"\($0)\"" }.joined(separator: ", ")
        text += "]}\n}\n"
        return Array(text.utf8)
    }

    public init(json bytes: [UInt8], path: String) throws(StorageError) {
        do {
            self = try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(WireError) in
                var reader = JSONReader(raw)
                var meta = BlockMeta(id: "", minTime: 0, maxTime: 0, seriesCount: 0, sampleCount: 0, chunkCount: 0)
                var version = 0
                var object = try reader.beginObject()
                while try reader.nextMember(&object) {
                    if reader.keyEquals("version") {
                        version = Int(try reader.readInt64())
                    } else if reader.keyEquals("ulid") {
                        meta.id = try reader.readString()
                    } else if reader.keyEquals("minTime") {
                        meta.minTime = try reader.readInt64()
                    } else if reader.keyEquals("maxTime") {
                        meta.maxTime = try reader.readInt64()
                    } else if reader.keyEquals("stats") {
                        var stats = try reader.beginObject()
                        while try reader.nextMember(&stats) {
                            if reader.keyEquals("numSeries") {
                                meta.seriesCount = Int(try reader.readInt64())
                            } else if reader.keyEquals("numSamples") {
                                meta.sampleCount = Int(try reader.readInt64())
                            } else if reader.keyEquals("numChunks") {
                                meta.chunkCount = Int(try reader.readInt64())
                            } else {
                                try reader.skipValue()
                            }
                        }
                    } else if reader.keyEquals("compaction") {
                        var compaction = try reader.beginObject()
                        while try reader.nextMember(&compaction) {
                            if reader.keyEquals("level") {
                                meta.level = Int(try reader.readInt64())
                            } else if reader.keyEquals("parents") {
                                var parents = try reader.beginArray()
                                while try reader.nextElement(&parents) { meta.compactedFrom.append(try reader.readString()) }
                            } else {
                                try reader.skipValue()
                            }
                        }
                    } else {
                        try reader.skipValue()
                    }
                }
                try reader.expectEnd()
                guard version == Self.version else {
                    throw WireError(.invalidValue, "unsupported block meta version \(version)", offset: 0)
                }
                return meta
            }
        } catch {
            throw StorageError(.corrupt, "block meta \(path) is unreadable: \(error)", path: path)
        }
        guard !id.isEmpty, minTime < maxTime else {
            throw StorageError(.corrupt, "block meta \(path) has no id or an empty time range", path: path)
        }
    }

    /// A sortable, unique block name: 12 hex digits of creation time (ms), then 8 random ones.
    static func newID(nowMilliseconds: Int64) -> String {
        hex(UInt64(max(nowMilliseconds, 0)), digits: 12) + hex(UInt64.random(in: 0..<(1 << 32)), digits: 8)
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
