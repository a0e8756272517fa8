import CZlib

/// One zlib deflate state compressing many small buffers in turn (the columns of a page).
///
/// `deflateInit2` allocates and clears about 256 KiB of state; for a page of thirty-odd columns a
/// few kilobytes each, setting that up per column cost as much as compressing. A deflater is set up
/// once and reset between buffers. Output is the zlib format (RFC 1950), the same as
/// `Gzip.compressDeflate`, so readers cannot tell the two apart.
public struct Deflater: ~Copyable {
    private let stream: UnsafeMutablePointer<z_stream>
    private var level: Int32

    /// `level` as zlib's: 0 (store) ... 9 (best); -1 the default (6).
    public init(level: Int32) {
        let level = level < 0 ? Z_DEFAULT_COMPRESSION : min(level, 9)
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let result = deflateInit2_(stream, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(result == Z_OK, "zlib deflateInit2 failed (\(result))")
        self.level = level
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// `input` deflated at this deflater's level.
    public mutating func compress(_ input: [UInt8]) -> [UInt8] {
        compress(input, level: level)
    }

    /// `input` deflated at `level` (0 for data that does not compress, such as random IDs: stored
    /// blocks cost a copy, and readers inflate them like any other).
    public mutating func compress(_ input: [UInt8], level requested: Int32) -> [UInt8] {
        precondition(input.count < Int(UInt32.max), "a single buffer of 4 GiB or more")
        let level = requested < 0 ? Z_DEFAULT_COMPRESSION : min(requested, 9)
        var status = deflateReset(stream)
        precondition(status == Z_OK, "zlib deflateReset failed (\(status))")
        if level != self.level {
            status = deflateParams(stream, level, Z_DEFAULT_STRATEGY)
            precondition(status == Z_OK, "zlib deflateParams failed (\(status))")
            self.level = level
        }
        let bound = Int(deflateBound(stream, uLong(input.count)))
        let stream = self.stream
        return input.withUnsafeBytes { source in
            [UInt8](unsafeUninitializedCapacity: bound) { output, count in
                stream.pointee.next_in = source.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
                stream.pointee.avail_in = uInt(source.count)
                stream.pointee.next_out = output.baseAddress
                stream.pointee.avail_out = uInt(bound)
                // deflateBound guarantees one call with Z_FINISH completes.
                let result = CZlib.deflate(stream, Z_FINISH)
                precondition(result == Z_STREAM_END, "zlib deflate did not finish within its bound (\(result))")
                count = bound - Int(stream.pointee.avail_out)
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
            }
        }
    }
}
