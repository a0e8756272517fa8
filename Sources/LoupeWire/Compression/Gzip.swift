import CZlib

/// gzip (RFC 1952) and HTTP "deflate" (RFC 1950 zlib, or raw RFC 1951) on top of the system zlib.
///
/// Decompression is bounded: it stops with ``GzipError/Code/outputTooLarge`` as soon as the output
/// would exceed `maximumOutputBytes`, so a small "zip bomb" body never allocates more than that limit
/// (plus one byte). Every malformed input ends in a ``GzipError``; no input traps.
public enum Gzip {
    /// Decompresses a gzip body. Concatenated gzip members (as `cat a.gz b.gz` produces, and as
    /// RFC 1952 allows) are decompressed one after another into a single output.
    public static func decompress(_ input: UnsafeRawBufferPointer, maximumOutputBytes: Int) throws(GzipError) -> [UInt8] {
        try inflate(input, format: .gzip, maximumOutputBytes: maximumOutputBytes)
    }

    /// Decompresses a gzip body. See ``decompress(_:maximumOutputBytes:)-(UnsafeRawBufferPointer,_)``.
    public static func decompress(_ input: [UInt8], maximumOutputBytes: Int) throws(GzipError) -> [UInt8] {
        let result = input.withUnsafeBytes { bytes in
            Result { () throws(GzipError) -> [UInt8] in try decompress(bytes, maximumOutputBytes: maximumOutputBytes) }
        }
        return try result.get()
    }

    /// Decompresses an HTTP `Content-Encoding: deflate` body.
    ///
    /// RFC 9110 says "deflate" is the zlib format (RFC 1950), but some clients send raw deflate
    /// (RFC 1951) data; both are accepted. A zlib header is recognised by its check bits; anything
    /// else is decoded as raw deflate.
    public static func decompressDeflate(_ input: UnsafeRawBufferPointer, maximumOutputBytes: Int) throws(GzipError) -> [UInt8] {
        let format: Format = hasZlibHeader(input) ? .zlib : .rawDeflate
        return try inflate(input, format: format, maximumOutputBytes: maximumOutputBytes)
    }

    /// Decompresses an HTTP `Content-Encoding: deflate` body (zlib or raw deflate).
    public static func decompressDeflate(_ input: [UInt8], maximumOutputBytes: Int) throws(GzipError) -> [UInt8] {
        let result = input.withUnsafeBytes { bytes in
            Result { () throws(GzipError) -> [UInt8] in try decompressDeflate(bytes, maximumOutputBytes: maximumOutputBytes) }
        }
        return try result.get()
    }

    /// Inflates zlib (or raw deflate) data of a known inflated length, for data whose integrity
    /// something else checks (a CRC-32C over a stored page): the zlib header is stepped over and
    /// its Adler-32 trailer not computed, which is a sixth of zlib's time on small streams; the
    /// output is allocated once, at its final size. Fails unless the stream ends at exactly `length` bytes.
    public static func inflateStored(_ input: UnsafeRawBufferPointer, length: Int) throws(GzipError) -> [UInt8] {
        guard length >= 0 else { throw GzipError(.corrupt, "negative inflated length \(length)") }
        var body = input
        if hasZlibHeader(input) {
            guard input[1] & 0x20 == 0 else { throw GzipError(.corrupt, "zlib data with a preset dictionary") }
            body = UnsafeRawBufferPointer(rebasing: input[2...])
        }
        guard let inputBase = body.baseAddress, body.count > 0, body.count <= maximumChunk, length < maximumChunk else {
            throw GzipError(body.count == 0 ? .truncated : .corrupt, "deflate data of \(body.count) bytes for \(length) bytes out")
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initResult = inflateInit2_(stream, Format.rawDeflate.windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else { throw GzipError(.corrupt, "zlib inflateInit2 failed (\(initResult))") }
        defer { inflateEnd(stream) }
        var status: Int32 = Z_OK
        var produced = 0
        // One byte more than expected, so that a stream longer than declared is caught, not cut.
        let output = [UInt8](unsafeUninitializedCapacity: length + 1) { buffer, count in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: inputBase.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(body.count)
            stream.pointee.next_out = buffer.baseAddress!
            stream.pointee.avail_out = uInt(length + 1)
            status = CZlib.inflate(stream, Z_FINISH)
            produced = length + 1 - Int(stream.pointee.avail_out)
            count = produced
        }
        guard status == Z_STREAM_END else {
            if status == Z_BUF_ERROR || status == Z_OK {
                throw GzipError(produced > length ? .outputTooLarge : .truncated, "deflate data does not end after \(length) bytes")
            }
            throw GzipError(.corrupt, "deflate data is corrupt (zlib status \(status))")
        }
        guard produced == length else { throw GzipError(.corrupt, "deflate data inflates to \(produced) bytes, not \(length)") }
        return output
    }

    /// Compresses into a single gzip member. `level` is zlib's: 0 (store) ... 9 (best), -1 default (6).
    /// Whole buffers go through libdeflate, which is about 1.7 times as fast as zlib at level 1
    /// (outgoing OTLP bodies) and compresses a little better.
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        WholeBufferDeflate.compress(input[...], level: level, format: .gzip)
    }

    /// The same, for part of a buffer (no copy of it first).
    public static func compress(_ input: ArraySlice<UInt8>, level: Int32 = 6) -> [UInt8] {
        WholeBufferDeflate.compress(input, level: level, format: .gzip)
    }

    /// Compresses into the zlib format (RFC 1950), i.e. HTTP `Content-Encoding: deflate`.
    public static func compressDeflate(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        WholeBufferDeflate.compress(input[...], level: level, format: .zlib)
    }

    // MARK: - Inflate

    enum Format {
        case gzip, zlib, rawDeflate

        var windowBits: Int32 {
            switch self {
            case .gzip: 15 + 16
            case .zlib: 15
            case .rawDeflate: -15
            }
        }

        var name: String {
            switch self {
            case .gzip: "gzip"
            case .zlib: "zlib"
            case .rawDeflate: "deflate"
            }
        }
    }

    static func hasZlibHeader(_ input: UnsafeRawBufferPointer) -> Bool {
        guard input.count >= 2 else { return false }
        let cmf = input[0]
        let flg = input[1]
        // CM = 8 (deflate), CINFO <= 7 (window <= 32K), FCHECK makes CMF*256+FLG a multiple of 31.
        return cmf & 0x0F == 8 && cmf >> 4 <= 7 && (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0
    }

    /// zlib's `avail_in`/`avail_out` are 32-bit; feed at most this much per call.
    private static let maximumChunk = 1 << 30

    private static func inflate(
        _ input: UnsafeRawBufferPointer,
        format: Format,
        maximumOutputBytes: Int
    ) throws(GzipError) -> [UInt8] {
        let maximumOutputBytes = max(0, maximumOutputBytes)
        guard let inputBase = input.baseAddress, input.count > 0 else {
            throw GzipError(.truncated, "\(format.name) body is empty")
        }
        // The output may grow to one byte past the limit: producing that byte proves the limit is exceeded.
        let outputLimit = maximumOutputBytes == .max ? Int.max : maximumOutputBytes + 1

        // z_stream must not move between calls (zlib keeps a pointer back to it), so it lives on the heap.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        let initResult = inflateInit2_(stream, format.windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initResult == Z_OK else {
            throw GzipError(.corrupt, "zlib inflateInit2 failed (\(initResult))")
        }
        defer { inflateEnd(stream) }

        var output: [UInt8] = []
        // A first guess that fits typical OTLP bodies (compression ratio 4-10) without a regrow.
        var produced = 0
        output = [UInt8](repeating: 0, count: min(outputLimit, max(16 << 10, min(input.count, 64 << 20) * 4)))

        var consumed = 0
        var memberStart = 0
        var members = 0
        while true {
            if produced == output.count {
                guard output.count < outputLimit else {
                    throw GzipError(
                        .outputTooLarge,
                        "\(format.name) body decompresses to more than \(maximumOutputBytes) bytes"
                    )
                }
                let grown = min(outputLimit, max(output.count * 2, 16 << 10))
                output.append(contentsOf: repeatElement(0, count: grown - output.count))
            }
            let inputChunk = min(input.count - consumed, maximumChunk)
            let outputChunk = min(output.count - produced, maximumChunk)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (inputBase + consumed).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(inputChunk)
            let status: Int32 = output.withUnsafeMutableBytes { out in
                stream.pointee.next_out = (out.baseAddress! + produced).assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(outputChunk)
                return CZlib.inflate(stream, Z_NO_FLUSH)
            }
            let usedInput = inputChunk - Int(stream.pointee.avail_in)
            let madeOutput = outputChunk - Int(stream.pointee.avail_out)
            consumed += usedInput
            produced += madeOutput
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
            if produced > maximumOutputBytes {
                throw GzipError(
                    .outputTooLarge,
                    "\(format.name) body decompresses to more than \(maximumOutputBytes) bytes"
                )
            }

            switch status {
            case Z_STREAM_END:
                members += 1
                if consumed == input.count {
                    output.removeLast(output.count - produced)
                    return output
                }
                guard format == .gzip else {
                    throw GzipError(
                        .corrupt,
                        "\(format.name) body has \(input.count - consumed) bytes after the end of the compressed stream"
                    )
                }
                // Another gzip member follows.
                memberStart = consumed
                guard inflateReset(stream) == Z_OK else {
                    throw GzipError(.corrupt, "zlib inflateReset failed")
                }
            case Z_OK:
                if usedInput == 0 && madeOutput == 0 && consumed == input.count {
                    throw truncated(format, input.count, memberStart, members)
                }
            case Z_BUF_ERROR:
                // No progress possible: either out of input (truncated) or out of output space (grow above).
                if consumed == input.count {
                    throw truncated(format, input.count, memberStart, members)
                }
                if produced < output.count {
                    throw GzipError(.corrupt, "\(format.name) body: zlib made no progress at input offset \(consumed)")
                }
            case Z_NEED_DICT:
                throw GzipError(.corrupt, "\(format.name) body needs a preset dictionary, which is not supported")
            case Z_DATA_ERROR:
                let detail = stream.pointee.msg.map { String(cString: $0) } ?? "invalid data"
                throw GzipError(
                    .corrupt,
                    "\(format.name) body is corrupt near input offset \(consumed)"
                        + (members > 0 ? " (member \(members + 1), starting at offset \(memberStart))" : "")
                        + ": \(detail)"
                )
            case Z_MEM_ERROR:
                throw GzipError(.corrupt, "zlib ran out of memory")
            default:
                throw GzipError(.corrupt, "zlib inflate failed (\(status)) near input offset \(consumed)")
            }
        }
    }

    private static func truncated(_ format: Format, _ count: Int, _ memberStart: Int, _ members: Int) -> GzipError {
        GzipError(
            .truncated,
            "\(format.name) body is truncated: \(count) bytes end inside the compressed stream"
                + (members > 0 ? " (member \(members + 1), starting at offset \(memberStart))" : "")
        )
    }

}

/// Why a compressed body could not be decompressed.
public struct GzipError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// Not valid gzip/zlib/deflate data (bad header, bad checksum, invalid code, trailing garbage).
        case corrupt
        /// The input ends before the compressed stream does (or is empty).
        case truncated
        /// The output would exceed the caller's limit; the HTTP server answers 413.
        case outputTooLarge
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
