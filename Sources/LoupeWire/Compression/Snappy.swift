/// Snappy, in pure Swift: the block format (what Prometheus remote write and Loki push use, `Content-Encoding:
/// snappy`) and, in `SnappyFraming.swift`, the framing format (some log shippers).
///
/// The block format (https://github.com/google/snappy/blob/main/format_description.txt) is the uncompressed
/// length as a little-endian base-128 varint (at most 32 bits), then a sequence of elements, each starting with a
/// tag byte whose low two bits give its kind:
///
/// - `00` literal: the upper six bits hold `length - 1` when it is below 60; 60...63 mean that `length - 1`
///   follows in 1...4 little-endian bytes. Then the literal's bytes.
/// - `01` copy with a 1-byte offset: length `4 + ((tag >> 2) & 7)` (4...11), offset `(tag >> 5) << 8 | next`.
/// - `10` copy with a 2-byte offset: length `(tag >> 2) + 1` (1...64), offset in the next 2 bytes (LE).
/// - `11` copy with a 4-byte offset: length `(tag >> 2) + 1`, offset in the next 4 bytes (LE).
///
/// A copy repeats `length` bytes starting `offset` bytes back in the output. `offset` must be non-zero and at
/// most the number of bytes produced so far; `offset < length` is legal and repeats the last `offset` bytes
/// (run-length encoding).
///
/// Decompression trusts nothing: every length and offset is checked against the input and the output before
/// memory is touched, the declared length is checked against the caller's limit *before* anything is allocated
/// (a 20-byte body cannot make us allocate 4 GiB), and the output must come out at exactly the declared length.
/// Every malformed input ends in a `SnappyError` with the byte offset of the offending element; no input traps.
///
/// Compression is the reference algorithm (as in google/snappy and golang/snappy): the input is cut into 64 KiB
/// blocks, each compressed greedily with a hash table of up to 2^14 positions keyed by a multiplicative hash of
/// four bytes, skipping ahead faster through incompressible data. Its output is decompressible by every Snappy
/// implementation.
public enum Snappy {
    /// The largest uncompressed length the block format can declare (the preamble is at most 32 bits).
    public static let maximumBlockLength = Int(UInt32.max)

    /// Decompresses a block-format body of at most `maximumOutputBytes` uncompressed bytes.
    public static func decompress(_ input: UnsafeRawBufferPointer, maximumOutputBytes: Int) throws(SnappyError) -> [UInt8] {
        let (length, start) = try readPreamble(input)
        try checkDeclaredLength(length, inputCount: input.count, start: start, maximumOutputBytes: maximumOutputBytes)
        var failure: SnappyError?
        let output = [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            if length == 0 {
                if start != input.count {
                    failure = SnappyError(.corrupt, "block declares 0 bytes but has \(input.count - start) bytes of elements", offset: start)
                }
                initialized = 0
                return
            }
            let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
            failure = decompressElements(input, from: start, into: destination, count: length)
            initialized = failure == nil ? length : 0
        }
        if let failure { throw failure }
        return output
    }

    /// Decompresses a block-format body of at most `maximumOutputBytes` uncompressed bytes.
    public static func decompress(_ input: [UInt8], maximumOutputBytes: Int) throws(SnappyError) -> [UInt8] {
        let result = input.withUnsafeBytes { bytes in
            Result { () throws(SnappyError) -> [UInt8] in try decompress(bytes, maximumOutputBytes: maximumOutputBytes) }
        }
        return try result.get()
    }

    /// The uncompressed length a block-format body declares (its preamble), without decompressing anything.
    public static func uncompressedLength(_ input: UnsafeRawBufferPointer) throws(SnappyError) -> Int {
        try readPreamble(input).length
    }

    /// The uncompressed length a block-format body declares (its preamble), without decompressing anything.
    public static func uncompressedLength(_ input: [UInt8]) throws(SnappyError) -> Int {
        let result = input.withUnsafeBytes { bytes in
            Result { () throws(SnappyError) -> Int in try uncompressedLength(bytes) }
        }
        return try result.get()
    }

    /// Compresses into the block format.
    public static func compress(_ input: [UInt8]) -> [UInt8] {
        input.withUnsafeBytes { compress($0) }
    }

    /// Compresses into the block format. Inputs longer than `maximumBlockLength` (4 GiB - 1) cannot be
    /// represented and trap.
    public static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        precondition(input.count <= maximumBlockLength, "Snappy blocks hold at most \(maximumBlockLength) bytes")
        let capacity = maximumCompressedLength(input.count)
        return [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
            initialized = compress(input, into: UnsafeMutableRawPointer(buffer.baseAddress!))
        }
    }

    /// An upper bound of the compressed size of `count` bytes (the reference's `MaxCompressedLength`).
    public static func maximumCompressedLength(_ count: Int) -> Int {
        32 + count + count / 6
    }

    // MARK: - Preamble

    /// The declared length and where the elements start.
    static func readPreamble(_ input: UnsafeRawBufferPointer) throws(SnappyError) -> (length: Int, start: Int) {
        var value: UInt64 = 0
        var index = 0
        while true {
            guard index < input.count else {
                throw SnappyError(
                    .truncated, input.isEmpty ? "block is empty: it has no length preamble" : "length preamble runs past the end of the input",
                    offset: index
                )
            }
            guard index < 5 else {
                throw SnappyError(.corrupt, "length preamble is longer than 5 bytes", offset: 0)
            }
            let byte = input[index]
            value |= UInt64(byte & 0x7F) << (7 * UInt64(index))
            index += 1
            if byte < 0x80 { break }
        }
        guard value <= UInt64(UInt32.max) else {
            throw SnappyError(.corrupt, "length preamble \(value) does not fit in 32 bits", offset: 0)
        }
        return (Int(value), index)
    }

    /// Rejects a declared length over the caller's limit, or one that the remaining bytes cannot possibly
    /// produce (no element expands more than 64 bytes out of 3), before anything is allocated.
    static func checkDeclaredLength(_ length: Int, inputCount: Int, start: Int, maximumOutputBytes: Int) throws(SnappyError) {
        guard length <= maximumOutputBytes else {
            throw SnappyError(
                .outputTooLarge, "block declares \(length) uncompressed bytes, more than the limit of \(max(0, maximumOutputBytes))",
                offset: 0
            )
        }
        let elementBytes = inputCount - start
        guard length / 22 <= elementBytes else {
            throw SnappyError(
                .corrupt, "block declares \(length) uncompressed bytes, which \(elementBytes) bytes of elements cannot produce",
                offset: 0
            )
        }
    }

    // MARK: - Decompression

    /// Decodes the elements of `input[start...]` into exactly `count` bytes at `output`. Returns the error, if
    /// any (a returned value rather than a throw keeps this loop free of error-path code).
    static func decompressElements(
        _ input: UnsafeRawBufferPointer, from start: Int, into output: UnsafeMutableRawPointer, count outputEnd: Int
    ) -> SnappyError? {
        guard let source = input.baseAddress else { return SnappyError(.truncated, "no elements", offset: start) }
        let inputEnd = input.count
        var ip = start
        var op = 0
        while ip < inputEnd {
            let tagOffset = ip
            let tag = source.load(fromByteOffset: ip, as: UInt8.self)
            ip &+= 1
            let length: Int
            let offset: Int
            switch tag & 3 {
            case 0:
                var literalLength = Int(tag >> 2) &+ 1
                if literalLength > 60 {
                    let extra = literalLength &- 60
                    guard inputEnd &- ip >= extra else {
                        return SnappyError(.truncated, "literal length needs \(extra) more bytes than the input has", offset: tagOffset)
                    }
                    var value = 0
                    for index in 0..<extra {
                        value |= Int(source.load(fromByteOffset: ip &+ index, as: UInt8.self)) << (8 &* index)
                    }
                    ip &+= extra
                    literalLength = value &+ 1
                }
                let inputLeft = inputEnd &- ip
                let outputLeft = outputEnd &- op
                // Fast path: a short literal with room to copy 16 bytes at once on both sides.
                if literalLength <= 16 && inputLeft >= 16 && outputLeft >= 16 {
                    let low = source.loadUnaligned(fromByteOffset: ip, as: UInt64.self)
                    let high = source.loadUnaligned(fromByteOffset: ip &+ 8, as: UInt64.self)
                    output.storeBytes(of: low, toByteOffset: op, as: UInt64.self)
                    output.storeBytes(of: high, toByteOffset: op &+ 8, as: UInt64.self)
                    ip &+= literalLength
                    op &+= literalLength
                    continue
                }
                guard literalLength <= inputLeft else {
                    return SnappyError(
                        .truncated, "literal of \(literalLength) bytes runs past the end of the input (\(inputLeft) bytes remain)",
                        offset: tagOffset
                    )
                }
                guard literalLength <= outputLeft else {
                    return overrun(literalLength, "literal", produced: op, declared: outputEnd, at: tagOffset)
                }
                (output + op).copyMemory(from: source + ip, byteCount: literalLength)
                ip &+= literalLength
                op &+= literalLength
                continue
            case 1:
                guard ip < inputEnd else {
                    return SnappyError(.truncated, "copy with a 1-byte offset runs past the end of the input", offset: tagOffset)
                }
                length = 4 &+ Int((tag >> 2) & 7)
                offset = Int(tag >> 5) << 8 | Int(source.load(fromByteOffset: ip, as: UInt8.self))
                ip &+= 1
            case 2:
                guard inputEnd &- ip >= 2 else {
                    return SnappyError(.truncated, "copy with a 2-byte offset runs past the end of the input", offset: tagOffset)
                }
                length = Int(tag >> 2) &+ 1
                offset = Int(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: ip, as: UInt16.self)))
                ip &+= 2
            default:
                guard inputEnd &- ip >= 4 else {
                    return SnappyError(.truncated, "copy with a 4-byte offset runs past the end of the input", offset: tagOffset)
                }
                length = Int(tag >> 2) &+ 1
                offset = Int(UInt32(littleEndian: source.loadUnaligned(fromByteOffset: ip, as: UInt32.self)))
                ip &+= 4
            }

            // A copy of `length` bytes from `offset` bytes back.
            guard offset != 0 && offset <= op else {
                return SnappyError(
                    .corrupt,
                    offset == 0
                        ? "copy has offset 0"
                        : "copy reaches \(offset) bytes back but only \(op) bytes have been produced",
                    offset: tagOffset
                )
            }
            let outputLeft = outputEnd &- op
            if outputLeft >= length &+ 8 {
                // Eight bytes at a time; may write up to 7 bytes past the copy, which later elements overwrite.
                // Correct for overlapping copies too as long as the distance is at least 8: every load then
                // reads bytes already written.
                let end = op &+ length
                var distance = offset
                if offset < 8 {
                    // The copy repeats the last `offset` bytes, so it also repeats with any multiple of
                    // `offset` as its period: copy byte by byte until a multiple of at least 8 reaches back
                    // inside the output, then continue eight bytes at a time with that distance.
                    distance = offset &* ((8 &+ offset &- 1) / offset)
                    let bytewiseEnd = min(op &+ (distance &- offset), end)
                    while op < bytewiseEnd {
                        output.storeBytes(of: output.load(fromByteOffset: op &- offset, as: UInt8.self), toByteOffset: op, as: UInt8.self)
                        op &+= 1
                    }
                    if op == end { continue }
                }
                var from = op &- distance
                var to = op
                repeat {
                    output.storeBytes(of: output.loadUnaligned(fromByteOffset: from, as: UInt64.self), toByteOffset: to, as: UInt64.self)
                    from &+= 8
                    to &+= 8
                } while to < end
                op = end
                continue
            }
            guard length <= outputLeft else {
                return overrun(length, "copy", produced: op, declared: outputEnd, at: tagOffset)
            }
            if offset >= length {
                (output + op).copyMemory(from: output + (op &- offset), byteCount: length)
                op &+= length
            } else {
                // Overlapping: repeats the last `offset` bytes, byte by byte.
                let end = op &+ length
                while op < end {
                    output.storeBytes(of: output.load(fromByteOffset: op &- offset, as: UInt8.self), toByteOffset: op, as: UInt8.self)
                    op &+= 1
                }
            }
        }
        guard op == outputEnd else {
            return SnappyError(
                .corrupt, "block declares \(outputEnd) uncompressed bytes but its elements produce \(op)", offset: inputEnd
            )
        }
        return nil
    }

    static func overrun(_ length: Int, _ kind: String, produced: Int, declared: Int, at offset: Int) -> SnappyError {
        SnappyError(
            .corrupt,
            "\(kind) of \(length) bytes would make the output longer than the declared \(declared) bytes (\(produced) produced so far)",
            offset: offset
        )
    }

    // MARK: - Compression

    /// The reference's block size: the input is compressed 64 KiB at a time, so hash-table positions fit in
    /// 16 bits and copies reach back at most 64 KiB.
    static let blockSize = 1 << 16
    static let maximumTableSize = 1 << 14
    /// Fragments shorter than this are emitted as one literal.
    static let minimumNonLiteralBlockSize = 1 + 1 + inputMargin
    /// Bytes at the end of a fragment that the match finder leaves alone so that its 8-byte loads stay inside.
    static let inputMargin = 16 - 1

    /// Compresses `input` into `output` (which has room for `maximumCompressedLength(input.count)` bytes);
    /// returns the number of bytes written.
    static func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) -> Int {
        var op = 0
        // The preamble.
        var length = UInt32(input.count)
        while length >= 0x80 {
            output.storeBytes(of: UInt8(truncatingIfNeeded: length) | 0x80, toByteOffset: op, as: UInt8.self)
            length >>= 7
            op += 1
        }
        output.storeBytes(of: UInt8(length), toByteOffset: op, as: UInt8.self)
        op += 1
        guard let base = input.baseAddress, !input.isEmpty else { return op }

        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: maximumTableSize)
        defer { table.deallocate() }
        var blockStart = 0
        while blockStart < input.count {
            let blockLength = min(blockSize, input.count - blockStart)
            if blockLength < minimumNonLiteralBlockSize {
                op = emitLiteral(base + blockStart, count: blockLength, into: output, at: op)
            } else {
                op = compressBlock(base + blockStart, count: blockLength, into: output, at: op, table: table)
            }
            blockStart += blockLength
        }
        return op
    }

    @inline(__always)
    static func load32(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    static func load64(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    static func hash(_ value: UInt32, shift: UInt32) -> Int {
        Int(truncatingIfNeeded: (value &* 0x1E35_A7BD) &>> shift)
    }

    /// One fragment of at most 64 KiB and at least `minimumNonLiteralBlockSize` bytes (golang/snappy's
    /// `encodeBlock`, itself the reference's `CompressFragment`).
    static func compressBlock(
        _ source: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer, at start: Int,
        table: UnsafeMutablePointer<UInt16>
    ) -> Int {
        var op = start
        var shift: UInt32 = 32 - 8
        var tableSize = 1 << 8
        while tableSize < maximumTableSize && tableSize < count {
            tableSize <<= 1
            shift -= 1
        }
        let tableMask = tableSize - 1
        table.initialize(repeating: 0, count: tableSize)

        let sourceLimit = count - inputMargin
        var nextEmit = 0
        var s = 1
        var nextHash = hash(load32(source, s), shift: shift)

        outer: while true {
            // Look for a 4-byte match, probing less often the longer nothing matches (`skip`): incompressible
            // data is skipped through quickly.
            var skip = 32
            var nextS = s
            var candidate = 0
            while true {
                s = nextS
                let bytesBetweenHashLookups = skip >> 5
                nextS = s + bytesBetweenHashLookups
                skip += bytesBetweenHashLookups
                if nextS > sourceLimit { break outer }
                candidate = Int(table[nextHash & tableMask])
                table[nextHash & tableMask] = UInt16(truncatingIfNeeded: s)
                nextHash = hash(load32(source, nextS), shift: shift)
                if load32(source, s) == load32(source, candidate) { break }
            }

            // Everything from nextEmit to s is a literal; then one or more copies.
            op = emitLiteral(source + nextEmit, count: s - nextEmit, into: output, at: op)
            while true {
                let matchStart = s
                s = extendMatch(source, count: count, candidate: candidate + 4, s: s + 4)
                op = emitCopy(offset: matchStart - candidate, length: s - matchStart, into: output, at: op)
                nextEmit = s
                if s >= sourceLimit { break outer }
                // Insert the positions s-1 and s into the table and see whether s starts another match at once.
                let x = load64(source, s - 1)
                let previousHash = hash(UInt32(truncatingIfNeeded: x), shift: shift)
                table[previousHash & tableMask] = UInt16(truncatingIfNeeded: s - 1)
                let currentHash = hash(UInt32(truncatingIfNeeded: x >> 8), shift: shift)
                candidate = Int(table[currentHash & tableMask])
                table[currentHash & tableMask] = UInt16(truncatingIfNeeded: s)
                if UInt32(truncatingIfNeeded: x >> 8) != load32(source, candidate) {
                    nextHash = hash(UInt32(truncatingIfNeeded: x >> 16), shift: shift)
                    s += 1
                    break
                }
            }
        }
        if nextEmit < count {
            op = emitLiteral(source + nextEmit, count: count - nextEmit, into: output, at: op)
        }
        return op
    }

    /// The end of the match that starts at `s` and at `candidate` (the first four bytes already match).
    @inline(__always)
    static func extendMatch(_ source: UnsafeRawPointer, count: Int, candidate: Int, s: Int) -> Int {
        var i = candidate
        var s = s
        while s &+ 8 <= count {
            let difference = load64(source, s) ^ load64(source, i)
            if difference != 0 {
                return s &+ difference.trailingZeroBitCount >> 3
            }
            s &+= 8
            i &+= 8
        }
        while s < count && source.load(fromByteOffset: s, as: UInt8.self) == source.load(fromByteOffset: i, as: UInt8.self) {
            s &+= 1
            i &+= 1
        }
        return s
    }

    /// A literal of 1...65536 bytes (fragments are at most 64 KiB).
    @inline(__always)
    static func emitLiteral(_ source: UnsafeRawPointer, count: Int, into output: UnsafeMutableRawPointer, at start: Int) -> Int {
        var op = start
        let n = count - 1
        if n < 60 {
            output.storeBytes(of: UInt8(truncatingIfNeeded: n << 2), toByteOffset: op, as: UInt8.self)
            op += 1
        } else if n < 1 << 8 {
            output.storeBytes(of: UInt8(60 << 2), toByteOffset: op, as: UInt8.self)
            output.storeBytes(of: UInt8(truncatingIfNeeded: n), toByteOffset: op + 1, as: UInt8.self)
            op += 2
        } else {
            output.storeBytes(of: UInt8(61 << 2), toByteOffset: op, as: UInt8.self)
            output.storeBytes(of: UInt8(truncatingIfNeeded: n), toByteOffset: op + 1, as: UInt8.self)
            output.storeBytes(of: UInt8(truncatingIfNeeded: n >> 8), toByteOffset: op + 2, as: UInt8.self)
            op += 3
        }
        (output + op).copyMemory(from: source, byteCount: count)
        return op + count
    }

    /// A copy of `length >= 4` bytes from `offset` (1...65535) back, as 2- and 3-byte elements.
    @inline(__always)
    static func emitCopy(offset: Int, length: Int, into output: UnsafeMutableRawPointer, at start: Int) -> Int {
        var op = start
        var length = length
        let offsetLow = UInt8(truncatingIfNeeded: offset)
        let offsetHigh = UInt8(truncatingIfNeeded: offset >> 8)
        @inline(__always) func emitCopy2(_ elementLength: Int) {
            output.storeBytes(of: UInt8(truncatingIfNeeded: (elementLength - 1) << 2) | 2, toByteOffset: op, as: UInt8.self)
            output.storeBytes(of: offsetLow, toByteOffset: op + 1, as: UInt8.self)
            output.storeBytes(of: offsetHigh, toByteOffset: op + 2, as: UInt8.self)
            op += 3
        }
        while length >= 68 {
            emitCopy2(64)
            length -= 64
        }
        if length > 64 {
            emitCopy2(60)
            length -= 60
        }
        if length >= 12 || offset >= 2048 {
            emitCopy2(length)
            return op
        }
        output.storeBytes(of: offsetHigh << 5 | UInt8(truncatingIfNeeded: (length - 4) << 2) | 1, toByteOffset: op, as: UInt8.self)
        output.storeBytes(of: offsetLow, toByteOffset: op + 1, as: UInt8.self)
        return op + 2
    }
}

/// Why Snappy data could not be decompressed: a code, a message saying what is wrong, and the byte offset into
/// the input where it was found.
public struct SnappyError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// The input ends inside the preamble, an element or a chunk (or is empty where data is required).
        case truncated
        /// Not valid Snappy data: a malformed preamble, a copy reaching before the start of the output or
        /// with offset 0, output longer or shorter than declared, a bad stream identifier.
        case corrupt
        /// The declared (or, for framed streams, accumulated) output exceeds the caller's limit; HTTP 413.
        case outputTooLarge
        /// A framed chunk whose CRC-32C does not match its data.
        case checksumMismatch
        /// A framed chunk of a reserved, unskippable type (0x02...0x7F).
        case unsupportedChunk
    }

    public var code: Code
    public var message: String
    /// The byte offset into the compressed input, when known.
    public var offset: Int?

    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// `snappy corrupt at byte 17: copy reaches 40 bytes back but only 12 bytes have been produced`
    public var description: String {
        var text = "snappy \(code.rawValue)"
        if let offset { text += " at byte \(offset)" }
        return text + ": " + message
    }
}
