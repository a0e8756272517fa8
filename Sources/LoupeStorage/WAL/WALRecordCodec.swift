import LoupeModel
import LoupeWire

/// The on-disk framing of the write-ahead log: pure functions, no I/O, so they can be unit-tested and fuzzed.
///
/// A segment file is a 24-byte header followed by records:
///
///     segment header (24 bytes, little-endian):
///       0  magic "LOUPEWAL"        (8)
///       8  format version = 1      (u32)
///      12  segment sequence number (u64, also in the file name)
///      20  CRC-32C of bytes 0..<20 (u32)
///
///     record:
///       0  length L                (u32)  number of bytes after the CRC field (19 + tenant + payload)
///       4  CRC-32C                 (u32)  over the length field, then the L bytes after this field
///       8  kind                    (u8)   WALRecordKind.rawValue (1-3 are Signal's raw values)
///       9  tenant length T         (u16)
///      11  tenant name             (T bytes, UTF-8)
///    11+T  time bounds minimum     (u64)  Unix ns; (UInt64.max, 0) encodes empty bounds
///    19+T  time bounds maximum     (u64)
///    27+T  payload                 (L - 19 - T bytes)
///
/// The checksum covers the length, so a damaged length is detected rather than followed, and every
/// field, so a record is either intact or rejected as a whole.
public enum WALRecordCodec {
    public static let segmentMagic: [UInt8] = Array("LOUPEWAL".utf8)
    public static let formatVersion: UInt32 = 1
    public static let segmentHeaderSize = 24
    /// Length and CRC.
    public static let recordPrefixSize = 8
    /// Signal, tenant length and time bounds: the smallest legal value of the length field.
    public static let fixedBodySize = 1 + 2 + 16
    /// The largest record the format can hold.
    public static let formatMaximumRecordBytes = recordPrefixSize + Int(UInt32.max)

    // MARK: Records

    /// The encoded size of a record: framing plus payload.
    public static func encodedSize(of record: WALRecord) -> Int {
        recordPrefixSize + fixedBodySize + record.tenant.name.utf8.count + record.payload.count
    }

    /// Everything of a record but its payload (length, CRC over all fields and the payload, signal,
    /// tenant, time bounds). Writing `header` then `payload` yields the record, which lets the WAL
    /// `writev` the payload in place instead of copying it.
    public static func encodeHeader(_ record: WALRecord, maximumRecordBytes: Int) throws(StorageError) -> [UInt8] {
        let tenant = Array(record.tenant.name.utf8)
        guard tenant.count <= Int(UInt16.max) else {
            throw StorageError(.invalidRecord, "tenant name is \(tenant.count) bytes; the WAL stores at most \(UInt16.max)")
        }
        let size = recordPrefixSize + fixedBodySize + tenant.count + record.payload.count
        let limit = min(maximumRecordBytes, formatMaximumRecordBytes)
        guard size <= limit else {
            throw StorageError(
                .recordTooLarge,
                "\(record.signal) record for tenant \(record.tenant) is \(size) bytes; the write-ahead log accepts at most \(limit)"
            )
        }
        var header = [UInt8]()
        header.reserveCapacity(recordPrefixSize + fixedBodySize + tenant.count)
        appendLE(UInt32(size - recordPrefixSize), to: &header)
        appendLE(UInt32(0), to: &header)  // CRC, filled in below
        header.append(record.kind.rawValue)
        appendLE(UInt16(tenant.count), to: &header)
        header.append(contentsOf: tenant)
        appendLE(record.timeBounds.minimum, to: &header)
        appendLE(record.timeBounds.maximum, to: &header)

        var crc = header.withUnsafeBytes { bytes in
            let c = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: bytes[0..<4]))
            return CRC32C.update(c, UnsafeRawBufferPointer(rebasing: bytes[recordPrefixSize...]))
        }
        crc = CRC32C.update(crc, record.payload)
        header.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self) }
        return header
    }

    /// The whole encoded record (header and payload in one array).
    public static func encode(_ record: WALRecord, maximumRecordBytes: Int = formatMaximumRecordBytes) throws(StorageError) -> [UInt8] {
        var bytes = try encodeHeader(record, maximumRecordBytes: maximumRecordBytes)
        bytes.append(contentsOf: record.payload)
        return bytes
    }

    /// Decodes the record at the start of `buffer`.
    ///
    /// - Returns: the record and the number of bytes it occupies.
    /// - Throws: ``WALDecodeError/incomplete(needed:available:)`` if `buffer` holds only a prefix of a
    ///   record (the caller reads more, or at end of file has found a torn tail); any other case means
    ///   the bytes are not a valid record. Never traps, whatever `buffer` holds.
    public static func decode(
        _ buffer: UnsafeRawBufferPointer,
        maximumRecordBytes: Int = formatMaximumRecordBytes
    ) throws(WALDecodeError) -> (record: WALRecord, encodedSize: Int) {
        guard buffer.count >= recordPrefixSize else {
            throw .incomplete(needed: recordPrefixSize, available: buffer.count)
        }
        let length = loadLE(UInt32.self, buffer, 0)
        guard Int(length) >= fixedBodySize, recordPrefixSize + Int(length) <= maximumRecordBytes else {
            throw .invalidLength(length)
        }
        let size = recordPrefixSize + Int(length)
        guard buffer.count >= size else {
            throw .incomplete(needed: size, available: buffer.count)
        }
        let stored = loadLE(UInt32.self, buffer, 4)
        let computed = CRC32C.update(
            CRC32C.update(0, UnsafeRawBufferPointer(rebasing: buffer[0..<4])),
            UnsafeRawBufferPointer(rebasing: buffer[recordPrefixSize..<size])
        )
        guard stored == computed else {
            throw .checksumMismatch(stored: stored, computed: computed)
        }

        var offset = recordPrefixSize
        let kindByte = buffer[offset]
        guard let kind = WALRecordKind(rawValue: kindByte) else {
            throw .invalidField("unknown record kind \(kindByte)")
        }
        offset += 1
        let tenantLength = Int(loadLE(UInt16.self, buffer, offset))
        offset += 2
        guard tenantLength <= Int(length) - fixedBodySize else {
            throw .invalidField("tenant length \(tenantLength) exceeds the record length \(length)")
        }
        let tenantBytes = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + tenantLength)])
        guard let tenantName = String(validating: tenantBytes, as: UTF8.self) else {
            throw .invalidField("tenant name is not valid UTF-8")
        }
        offset += tenantLength
        let minimum = loadLE(UInt64.self, buffer, offset)
        let maximum = loadLE(UInt64.self, buffer, offset + 8)
        offset += 16
        var bounds = TimeBounds()
        if minimum == .max && maximum == 0 {
            // empty bounds
        } else if minimum <= maximum {
            bounds.include(minimum)
            bounds.include(maximum)
        } else {
            throw .invalidField("time bounds minimum \(minimum) is greater than maximum \(maximum)")
        }
        let payload = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[offset..<size]))
        let record = WALRecord(kind: kind, tenant: Tenant(uncheckedName: tenantName), timeBounds: bounds, payload: payload)
        return (record, size)
    }

    /// Decodes the record at the start of `bytes`. See ``decode(_:maximumRecordBytes:)-(UnsafeRawBufferPointer,_)``.
    public static func decode(
        _ bytes: [UInt8],
        maximumRecordBytes: Int = formatMaximumRecordBytes
    ) throws(WALDecodeError) -> (record: WALRecord, encodedSize: Int) {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(WALDecodeError) in try decode(buffer, maximumRecordBytes: maximumRecordBytes) }
        }
        return try result.get()
    }

    // MARK: Segment header

    public static func encodeSegmentHeader(sequence: UInt64) -> [UInt8] {
        var header = segmentMagic
        appendLE(formatVersion, to: &header)
        appendLE(sequence, to: &header)
        appendLE(CRC32C.checksum(header), to: &header)
        return header
    }

    /// Validates a segment header and returns the sequence number it records.
    public static func decodeSegmentHeader(_ buffer: UnsafeRawBufferPointer) throws(WALDecodeError) -> UInt64 {
        guard buffer.count >= segmentHeaderSize else {
            throw .incomplete(needed: segmentHeaderSize, available: buffer.count)
        }
        guard buffer.prefix(8).elementsEqual(segmentMagic) else {
            throw .invalidField("segment header does not start with \"LOUPEWAL\"")
        }
        let stored = loadLE(UInt32.self, buffer, 20)
        let computed = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<20]))
        guard stored == computed else {
            throw .checksumMismatch(stored: stored, computed: computed)
        }
        let version = loadLE(UInt32.self, buffer, 8)
        guard version == formatVersion else {
            throw .unsupportedVersion(version)
        }
        return loadLE(UInt64.self, buffer, 12)
    }

    // MARK: Little-endian helpers

    @inline(__always)
    static func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func loadLE<T: FixedWidthInteger>(_: T.Type, _ buffer: UnsafeRawBufferPointer, _ offset: Int) -> T {
        T(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

/// Why bytes could not be decoded as a WAL record or segment header.
public enum WALDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The buffer holds only the first `available` of the `needed` bytes.
    case incomplete(needed: Int, available: Int)
    /// The length field is smaller than the fixed fields or larger than the limit.
    case invalidLength(UInt32)
    case checksumMismatch(stored: UInt32, computed: UInt32)
    case invalidField(String)
    /// A segment written by a newer format version.
    case unsupportedVersion(UInt32)

    public var description: String {
        switch self {
        case .incomplete(let needed, let available):
            "incomplete record: needs \(needed) bytes, only \(available) remain"
        case .invalidLength(let length):
            "invalid record length \(length)"
        case .checksumMismatch(let stored, let computed):
            "CRC-32C mismatch: stored 0x\(String(stored, radix: 16)), computed 0x\(String(computed, radix: 16))"
        case .invalidField(let detail):
            detail
        case .unsupportedVersion(let version):
            "unsupported WAL format version \(version) (this build reads version \(WALRecordCodec.formatVersion))"
        }
    }
}
