/// The Snappy framing format (https://github.com/google/snappy/blob/main/framing_format.txt), the streaming
/// container some log shippers send. (Prometheus remote write and Loki push use the plain block format.)
///
/// A stream is a sequence of chunks, each a 1-byte type, a 3-byte little-endian length and that many bytes:
///
/// - `0xFF` stream identifier: the six bytes `sNaPpY`. It must come first and may repeat (concatenated streams).
/// - `0x00` compressed data: a masked CRC-32C (4 bytes, LE) of the *uncompressed* data, then a block-format body
///   of at most 65536 uncompressed bytes.
/// - `0x01` uncompressed data: a masked CRC-32C, then at most 65536 bytes as they are.
/// - `0xFE` padding, and `0x80...0xFD` (reserved skippable): skipped.
/// - `0x02...0x7F` (reserved unskippable): an error.
///
/// The CRC is masked as `((crc >> 15) | (crc << 17)) &+ 0xA282EAD8`.
extension Snappy {
    /// The largest number of uncompressed bytes one data chunk may carry.
    public static let maximumChunkDataLength = 1 << 16

    static let streamIdentifier: [UInt8] = [0xFF, 0x06, 0x00, 0x00, 0x73, 0x4E, 0x61, 0x50, 0x70, 0x59]

    /// Decompresses a framed stream of at most `maximumOutputBytes` uncompressed bytes. Empty input is an empty
    /// stream (no chunks) and decompresses to nothing.
    public static func decompressFramed(_ input: UnsafeRawBufferPointer, maximumOutputBytes: Int) throws(SnappyError) -> [UInt8] {
        var output: [UInt8] = []
        guard !input.isEmpty else { return output }
        var position = 0
        var sawIdentifier = false
        while position < input.count {
            let chunkStart = position
            guard input.count - position >= 4 else {
                throw SnappyError(.truncated, "chunk header needs 4 bytes but only \(input.count - position) remain", offset: chunkStart)
            }
            let type = input[position]
            let length = Int(input[position + 1]) | Int(input[position + 2]) << 8 | Int(input[position + 3]) << 16
            position += 4
            guard length <= input.count - position else {
                throw SnappyError(
                    .truncated, "chunk of type 0x\(hex(type)) declares \(length) bytes but only \(input.count - position) remain",
                    offset: chunkStart
                )
            }
            let body = UnsafeRawBufferPointer(rebasing: input[position..<(position + length)])
            position += length

            if type == 0xFF {
                guard length == 6, body.elementsEqual(streamIdentifier[4...]) else {
                    throw SnappyError(.corrupt, "stream identifier chunk is not \"sNaPpY\"", offset: chunkStart)
                }
                sawIdentifier = true
                continue
            }
            guard sawIdentifier else {
                throw SnappyError(
                    .corrupt, "stream does not start with a stream identifier chunk (first chunk has type 0x\(hex(type)))", offset: chunkStart
                )
            }
            switch type {
            case 0x00, 0x01:
                guard length >= 4 else {
                    throw SnappyError(.corrupt, "data chunk of \(length) bytes has no room for its 4-byte checksum", offset: chunkStart)
                }
                let expected = UInt32(littleEndian: body.loadUnaligned(as: UInt32.self))
                let data = UnsafeRawBufferPointer(rebasing: body[4...])
                let outputStart = output.count
                let limit = maximumOutputBytes - outputStart
                if type == 0x00 {
                    let declared: Int
                    do throws(SnappyError) {
                        declared = try uncompressedLength(data)
                    } catch {
                        throw rebased(error, by: chunkStart + 8)
                    }
                    guard declared <= maximumChunkDataLength else {
                        throw SnappyError(
                            .corrupt, "compressed chunk declares \(declared) bytes, more than the \(maximumChunkDataLength) a chunk may hold",
                            offset: chunkStart + 8
                        )
                    }
                    guard declared <= limit else {
                        throw SnappyError(
                            .outputTooLarge, "stream decompresses to more than the limit of \(max(0, maximumOutputBytes)) bytes",
                            offset: chunkStart
                        )
                    }
                    do throws(SnappyError) {
                        try appendDecompressed(data, declared: declared, to: &output)
                    } catch {
                        throw rebased(error, by: chunkStart + 8)
                    }
                } else {
                    guard data.count <= maximumChunkDataLength else {
                        throw SnappyError(
                            .corrupt, "uncompressed chunk holds \(data.count) bytes, more than the \(maximumChunkDataLength) a chunk may hold",
                            offset: chunkStart
                        )
                    }
                    guard data.count <= limit else {
                        throw SnappyError(
                            .outputTooLarge, "stream decompresses to more than the limit of \(max(0, maximumOutputBytes)) bytes",
                            offset: chunkStart
                        )
                    }
                    output.append(contentsOf: data)
                }
                let actual = output.withUnsafeBytes { maskedChecksum(UnsafeRawBufferPointer(rebasing: $0[outputStart...])) }
                guard actual == expected else {
                    throw SnappyError(
                        .checksumMismatch,
                        "chunk checksum is 0x\(String(expected, radix: 16)) but its data's masked CRC-32C is 0x\(String(actual, radix: 16))",
                        offset: chunkStart
                    )
                }
            case 0x02...0x7F:
                throw SnappyError(.unsupportedChunk, "chunk type 0x\(hex(type)) is reserved and may not be skipped", offset: chunkStart)
            default:
                // 0x80...0xFD reserved skippable, 0xFE padding.
                continue
            }
        }
        return output
    }

    /// Decompresses a framed stream of at most `maximumOutputBytes` uncompressed bytes.
    public static func decompressFramed(_ input: [UInt8], maximumOutputBytes: Int) throws(SnappyError) -> [UInt8] {
        let result = input.withUnsafeBytes { bytes in
            Result { () throws(SnappyError) -> [UInt8] in try decompressFramed(bytes, maximumOutputBytes: maximumOutputBytes) }
        }
        return try result.get()
    }

    /// Compresses into a framed stream: the stream identifier, then one chunk per 64 KiB of input, compressed
    /// unless compression saves less than 1/8 (then stored as is, as the reference does). Empty input gives
    /// just the stream identifier.
    public static func compressFramed(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compressFramed($0) }
    }

    /// Compresses into a framed stream (see `compressFramed(_:)`).
    public static func compressFramed(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        let chunkCount = (input.count + maximumChunkDataLength - 1) / maximumChunkDataLength
        let capacity = streamIdentifier.count + chunkCount * (8 + maximumCompressedLength(maximumChunkDataLength))
        var output: [UInt8] = []
        output.reserveCapacity(capacity)
        output.append(contentsOf: streamIdentifier)
        guard let base = input.baseAddress else { return output }
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: maximumCompressedLength(maximumChunkDataLength), alignment: 8)
        defer { scratch.deallocate() }
        var start = 0
        while start < input.count {
            let count = min(maximumChunkDataLength, input.count - start)
            let chunk = UnsafeRawBufferPointer(start: base + start, count: count)
            let checksum = maskedChecksum(chunk)
            let compressedCount = compress(chunk, into: scratch)
            let useCompressed = compressedCount < count - count / 8
            let dataCount = useCompressed ? compressedCount : count
            let length = 4 + dataCount
            output.append(useCompressed ? 0x00 : 0x01)
            output.append(UInt8(truncatingIfNeeded: length))
            output.append(UInt8(truncatingIfNeeded: length >> 8))
            output.append(UInt8(truncatingIfNeeded: length >> 16))
            withUnsafeBytes(of: checksum.littleEndian) { output.append(contentsOf: $0) }
            output.append(contentsOf: useCompressed ? UnsafeRawBufferPointer(start: scratch, count: compressedCount) : chunk)
            start += count
        }
        return output
    }

    /// The framing format's checksum of `data`: its CRC-32C, masked.
    public static func maskedChecksum(_ data: UnsafeRawBufferPointer) -> UInt32 {
        let crc = CRC32C.checksum(data)
        return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// The framing format's checksum of `data`: its CRC-32C, masked.
    public static func maskedChecksum(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBytes { maskedChecksum($0) }
    }

    /// The CRC-32C (Castagnoli) of `data`, unmasked: `crc32c("123456789") == 0xE3069283`.
    public static func crc32c(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBytes { CRC32C.checksum($0) }
    }

    private static func appendDecompressed(_ data: UnsafeRawBufferPointer, declared: Int, to output: inout [UInt8]) throws(SnappyError) {
        let start = output.count
        let (_, elementsStart) = try readPreamble(data)
        try checkDeclaredLength(declared, inputCount: data.count, start: elementsStart, maximumOutputBytes: maximumChunkDataLength)
        guard declared > 0 else {
            if elementsStart != data.count {
                throw SnappyError(.corrupt, "block declares 0 bytes but has \(data.count - elementsStart) bytes of elements", offset: elementsStart)
            }
            return
        }
        output.append(contentsOf: repeatElement(0, count: declared))
        let failure = output.withUnsafeMutableBytes { buffer in
            decompressElements(data, from: elementsStart, into: buffer.baseAddress! + start, count: declared)
        }
        if let failure {
            output.removeSubrange(start...)
            throw failure
        }
    }

    private static func rebased(_ error: SnappyError, by delta: Int) -> SnappyError {
        var copy = error
        copy.offset = error.offset.map { $0 + delta }
        copy.message = "in compressed chunk: " + copy.message
        return copy
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return digits.count == 1 ? "0" + digits : digits
    }
}
