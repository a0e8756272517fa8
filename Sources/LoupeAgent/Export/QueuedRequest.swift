import LoupeWire

/// What an output queue holds per record: the request's item count (4 bytes, little endian), then
/// the OTLP export request. When the request is stored compressed, the count's top bit is set and
/// one byte naming the encoding comes before the request. The count lets the exporter report items
/// sent without decoding what it sends; records queued before encodings were stored have the top
/// bit clear and read as uncompressed.
enum QueuedRequest {
    private static let encodedFlag: UInt32 = 1 << 31

    static func frame(itemCount: Int, request: [UInt8], encoding: ContentEncoding = .identity) -> [UInt8] {
        var count = UInt32(clamping: min(itemCount, Int(encodedFlag - 1)))
        let body: [UInt8]
        var prefix: [UInt8] = []
        if encoding == .identity {
            body = request
        } else {
            count |= encodedFlag
            prefix = [identifier(of: encoding)]
            body = encoding.encode(request[...])
        }
        var bytes: [UInt8] = [UInt8(truncatingIfNeeded: count), UInt8(truncatingIfNeeded: count >> 8), UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 24)]
        bytes.reserveCapacity(4 + prefix.count + body.count)
        bytes.append(contentsOf: prefix)
        bytes.append(contentsOf: body)
        return bytes
    }

    static func unframe(_ bytes: [UInt8]) -> (itemCount: Int, encoding: ContentEncoding, request: ArraySlice<UInt8>)? {
        guard bytes.count >= 4 else { return nil }
        let count = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        guard count & encodedFlag != 0 else { return (Int(count), .identity, bytes[4...]) }
        guard bytes.count >= 5, let encoding = encoding(identifiedBy: bytes[4]) else { return nil }
        return (Int(count & ~encodedFlag), encoding, bytes[5...])
    }

    /// Stable on disk: a queue outlives the process that wrote it.
    private static func identifier(of encoding: ContentEncoding) -> UInt8 {
        switch encoding {
        case .identity: 0
        case .gzip: 1
        case .deflate: 2
        case .zstd: 3
        case .snappy: 4
        case .snappyFramed: 5
        }
    }

    private static func encoding(identifiedBy byte: UInt8) -> ContentEncoding? {
        switch byte {
        case 0: .identity
        case 1: .gzip
        case 2: .deflate
        case 3: .zstd
        case 4: .snappy
        case 5: .snappyFramed
        default: nil
        }
    }
}
