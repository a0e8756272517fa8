/// What an output queue holds per record: the request's item count (4 bytes, little endian),
/// then the encoded OTLP export request. The count lets the exporter report items sent without
/// decoding what it sends.
enum QueuedRequest {
    static func frame(itemCount: Int, request: [UInt8]) -> [UInt8] {
        let count = UInt32(clamping: itemCount)
        var bytes: [UInt8] = [UInt8(truncatingIfNeeded: count), UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 24)]
        bytes.reserveCapacity(4 + request.count)
        bytes.append(contentsOf: request)
        return bytes
    }

    static func unframe(_ bytes: [UInt8]) -> (itemCount: Int, request: ArraySlice<UInt8>)? {
        guard bytes.count >= 4 else { return nil }
        let count = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        return (count, bytes[4...])
    }
}
