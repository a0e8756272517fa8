import CZstd

/// Zstandard through the system's libzstd: the `zstd` Content-Encoding of OTLP/HTTP bodies.
public enum Zstd {
    /// One frame at `level` (1: the agent compresses each request once, right away).
    public static func compress(_ input: ArraySlice<UInt8>, level: Int32 = 1) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress(destination.baseAddress, bound, source.baseAddress, source.count, level)
            }
        }
        // Compressing into a buffer of the bound cannot fail for lack of room; anything else is a bug in the library.
        precondition(ZSTD_isError(written) == 0, "ZSTD_compress: \(String(cString: ZSTD_getErrorName(written)))")
        output.removeSubrange(written...)
        return output
    }

    /// The frames' content, of at most `maximumOutputBytes` bytes, decoded as a stream so a frame
    /// that claims a huge size takes no memory before its bytes arrive.
    public static func decompress(_ input: [UInt8], maximumOutputBytes: Int) throws(ZstdError) -> [UInt8] {
        guard let context = ZSTD_createDStream() else { throw ZstdError(.corrupt, "zstd: out of memory") }
        defer { ZSTD_freeDStream(context) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        var remaining = 0
        let failure: ZstdError? = input.withUnsafeBytes { source in
            var inBuffer = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
            while true {
                let (result, produced): (Int, Int) = chunk.withUnsafeMutableBytes { destination in
                    var outBuffer = ZSTD_outBuffer(dst: destination.baseAddress, size: destination.count, pos: 0)
                    let result = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    return (result, outBuffer.pos)
                }
                if ZSTD_isError(result) != 0 {
                    return ZstdError(.corrupt, "zstd: \(String(cString: ZSTD_getErrorName(result))) at byte \(inBuffer.pos)")
                }
                guard output.count + produced <= maximumOutputBytes else {
                    return ZstdError(.outputTooLarge, "zstd: the content is over \(maximumOutputBytes) bytes")
                }
                output.append(contentsOf: chunk[0..<produced])
                remaining = result
                // Done when every input byte is read and the decoder has nothing more to flush.
                if inBuffer.pos == inBuffer.size && produced < chunk.count { return nil }
            }
        }
        if let failure { throw failure }
        guard !input.isEmpty else { throw ZstdError(.truncated, "zstd: the body is empty") }
        if remaining != 0 { throw ZstdError(.truncated, "zstd: the body ends inside a frame") }
        return output
    }
}

public struct ZstdError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        case corrupt, truncated, outputTooLarge
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
