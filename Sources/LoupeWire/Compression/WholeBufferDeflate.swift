import CDeflate

/// One-shot gzip and zlib compression of a whole buffer with libdeflate: no streaming state, so it
/// is faster than zlib's deflate at the same level (the agent compresses every outgoing request).
enum WholeBufferDeflate {
    enum Format {
        case gzip, zlib
    }

    static func compress(_ input: ArraySlice<UInt8>, level: Int32, format: Format) -> [UInt8] {
        // libdeflate's levels run 0...12; zlib's default (-1) is 6 in both.
        let level = level < 0 ? 6 : min(level, 12)
        guard let compressor = libdeflate_alloc_compressor(level) else {
            preconditionFailure("libdeflate could not allocate a compressor (out of memory)")
        }
        defer { libdeflate_free_compressor(compressor) }
        return input.withUnsafeBytes { source in
            let bound = switch format {
            case .gzip: libdeflate_gzip_compress_bound(compressor, source.count)
            case .zlib: libdeflate_zlib_compress_bound(compressor, source.count)
            }
            return [UInt8](unsafeUninitializedCapacity: bound) { output, count in
                count = switch format {
                case .gzip: libdeflate_gzip_compress(compressor, source.baseAddress, source.count, output.baseAddress, bound)
                case .zlib: libdeflate_zlib_compress(compressor, source.baseAddress, source.count, output.baseAddress, bound)
                }
                // The bound is enough for any input, so 0 (no room) cannot happen.
                precondition(count > 0, "libdeflate compressed \(source.count) bytes into nothing")
            }
        }
    }
}
