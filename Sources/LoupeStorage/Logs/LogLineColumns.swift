import LoupeModel
import LoupeWire

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A lossless, compact encoding of a chunk of log entries, in the manner of CLP: each line is split
/// into a *template* (its text with variable tokens replaced by one-byte placeholders) and the
/// values of those tokens, which go to *columns*. Machine-written logs repeat a few hundred
/// templates, so a chunk stores each distinct template once plus one small id per line; the
/// variable values, grouped by the text just before them (`"user_id":`, `status=`), are far
/// more predictable column by column than interleaved in text, which is what deflate needs.
///
/// Tokens (within a maximal run of `[0-9A-Za-z_]`, so a token never splits a word):
/// - decimal: a run of 1...20 digits whose value fits in `UInt64` (leading zeros allowed: the
///   column records the width), or the digits at the start (`450ms`) or the 2+ digits at the end
///   (`user_42`) of a run;
/// - hex: a run of 4...255 characters of `[0-9a-f]` (or of `[0-9A-F]`) with at least one digit,
///   that is not a decimal token. The digit requirement keeps words such as `added` or `cafe`
///   in the template, where they cost nothing.
///
/// Layout (integers are LEB128 varints unless marked u8; "zz" is zig-zag):
/// ```
/// u8 version (1)
/// entryCount, lineBytes (sum of the lines' UTF-8 bytes)
/// -- the rest only when entryCount > 0 --
/// zz firstTimestamp, timestampScale (gcd of the deltas), <integers> of the timestamps
/// templateCount
/// decimalColumnCount, then per column: u8 widthMode (0 canonical, 1 fixed width, 2 per-token
///     zero counts), [u8 width if mode 1], tokenCount, <integers>
/// hexColumnCount, then per column: tokenCount
/// u8 hasMetadata
/// part directory, one entry per part in the order below: (rawLength << 2 | method) and, for
///     method 1, storedLength. Methods: 0 stored, 1 zlib, 2 inside the bundle.
/// [if any part has method 2: the bundle's (rawLength << 2 | method), [storedLength]]
/// the stored bytes of the method 0/1 parts, in order, then the bundle's
///
/// <integers>: u8 flags (bit 0: the values are zz deltas of the column's values; bit 1: dictionary)
///     dictionary: u8 count (0...16), count values; one part of indices (1, 2 or 4 bits each,
///         none when count <= 1)
///     planes: u8 planeCount (0...8), u8 bits (1, 2, 4 or 8) per plane; one part per plane
/// ```
/// Parts, in order: the template dictionary (per template: length, escaped bytes), the template
/// ids (one varint per entry: 0 = the next template of the dictionary, k = template k - 1),
/// the timestamps' parts (zz(delta / scale) of entries 1..<n), the metadata if any (per entry:
/// count, then name and value as length + bytes), then per decimal column its parts and, in
/// width mode 2, its zero counts (one byte each), then per hex column the token lengths (one
/// byte each) and the packed nibbles (high nibble first, continuous across tokens). Packed values
/// fill bytes from the least significant bit.
///
/// Integer columns are stored as byte planes (all low bytes, then all second bytes, ...), each
/// plane a part, or with at most 16 distinct values as indices into them: deflate's Huffman
/// coding then sees one distribution per part instead of a mixture of varint bytes, and a plane
/// of random low bytes is stored without spending time in deflate.
///
/// In templates, 0x11 marks a decimal token, 0x12 a lowercase hex token, 0x14 an uppercase one;
/// 0x13 escapes a literal 0x11...0x14 byte of the line. A placeholder's column is named by its
/// kind and the (up to) six template bytes before it, so the decoder finds the same column
/// from the template alone; columns are numbered in order of first appearance, at most 128 of
/// each kind (later contexts share the last).
enum LogLineColumns {
    static let version: UInt8 = 1
    /// Decoding refuses larger declarations, so damaged or hostile input cannot make it allocate
    /// more than about a gigabyte. The store cuts chunks at 256 KiB or 8,192 entries.
    static let maximumEntries = 1 << 24
    static let maximumLineBytes = 1 << 30
    /// Of all parts together, decompressed.
    static let maximumPartBytes = 1 << 30
    /// Deflate cannot do better than about 1032:1; a part claiming more is damaged.
    static let maximumDeflateRatio = 1040

    static let decimalMark: UInt8 = 0x11
    static let lowerHexMark: UInt8 = 0x12
    static let escapeMark: UInt8 = 0x13
    static let upperHexMark: UInt8 = 0x14

    static let maximumDecimalDigits = 20
    static let minimumHexDigits = 4
    static let maximumHexDigits = 255
    /// Template bytes before a placeholder that name its column: enough to tell `user_id":` from
    /// `request_id":"` and `status=` from `duration=`, short enough that JSON and logfmt spellings
    /// of one field in different templates share a column.
    static let contextBytes = 6
    /// Parts smaller than this are deflated together: a zlib stream costs 11 bytes and a
    /// deflateInit, more than a tiny column gains from having its own Huffman table.
    static let bundleThreshold = 256

    /// zlib level of the columns. On bench-like logs level 6 makes chunks 0.1% smaller than
    /// level 4 and encoding 5-10% slower; level 1 makes them 0.3% larger.
    static let columnLevel: Int32 = 4
    /// zlib level of the template dictionary when it is small (at most an eighth of the line
    /// bytes), as with templated logs: level 6 then makes it 2-3% smaller for a negligible cost.
    /// When most lines are unique, the dictionary is most of the chunk and level 6 would halve
    /// the encoding speed, so it gets `columnLevel`.
    static let smallDictionaryLevel: Int32 = 6
    /// How much of a random-looking part deflate tries before the part is stored as it is.
    static let randomSampleBytes = 8 << 10

    // MARK: - Byte classes

    static let digitClass: UInt8 = 1
    static let lowerHexClass: UInt8 = 2
    static let upperHexClass: UInt8 = 4
    static let wordClass: UInt8 = 8
    static let alphanumericClass: UInt8 = 15
    static let markClass: UInt8 = 16

    static let byteClasses: [UInt8] = (0..<256).map { (byte: Int) -> UInt8 in
        switch byte {
        case 0x30...0x39: digitClass
        case 0x61...0x66: lowerHexClass
        case 0x41...0x46: upperHexClass
        case 0x67...0x7A, 0x47...0x5A, 0x5F: wordClass
        case 0x11...0x14: markClass
        default: 0
        }
    }

    static let nibbleValues: [UInt8] = (0..<256).map { (byte: Int) -> UInt8 in
        switch byte {
        case 0x30...0x39: UInt8(byte - 0x30)
        case 0x61...0x66: UInt8(byte - 0x61 + 10)
        case 0x41...0x46: UInt8(byte - 0x41 + 10)
        default: 0
        }
    }

    static let lowerHexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// At most this many columns of each kind: past them, new contexts share the last column, so
    /// logs whose contexts hold varying text (`id=abcd-` before a hex token) do not make a part
    /// and a deflate stream for every few tokens.
    static let maximumColumnsPerKind: Int32 = 128

    /// Names the column of each placeholder, the same way in the encoder and the decoder: by its
    /// kind and the template bytes before it (with their count, so a short context at the start
    /// of a line differs from a longer one ending the same way). Columns are numbered per kind in
    /// order of first appearance.
    struct ColumnAssigner {
        /// Open addressing; 0 is never a key (the mark is in the top byte).
        var keys = [UInt64](repeating: 0, count: 64)
        var columns = [Int32](repeating: 0, count: 64)
        var used = 0
        var decimalColumns: Int32 = 0
        var hexColumns: Int32 = 0

        /// The column of the placeholder at `position` of an (escaped) template, and whether it is new.
        mutating func column(_ template: UnsafePointer<UInt8>, at position: Int, mark: UInt8) -> (Int32, isNew: Bool) {
            let start = max(0, position - LogLineColumns.contextBytes)
            var key: UInt64 = 0
            for index in start..<position { key = key << 8 | UInt64(template[index]) }
            key |= UInt64(position - start) << 48 | UInt64(mark) << 56

            var mask = keys.count - 1
            var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
            while keys[slot] != 0 {
                if keys[slot] == key { return (columns[slot], false) }
                slot = (slot + 1) & mask
            }
            let column: Int32
            var isNew = true
            if mark == LogLineColumns.decimalMark {
                if decimalColumns < LogLineColumns.maximumColumnsPerKind { decimalColumns += 1 } else { isNew = false }
                column = decimalColumns - 1
            } else {
                if hexColumns < LogLineColumns.maximumColumnsPerKind { hexColumns += 1 } else { isNew = false }
                column = hexColumns - 1
            }
            keys[slot] = key
            columns[slot] = column
            used += 1
            if used * 2 > keys.count {
                let oldKeys = keys
                let oldColumns = columns
                keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
                columns = [Int32](repeating: 0, count: oldKeys.count * 2)
                mask = keys.count - 1
                for (index, old) in oldKeys.enumerated() where old != 0 {
                    var slot = Int(truncatingIfNeeded: (old &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
                    while keys[slot] != 0 { slot = (slot + 1) & mask }
                    keys[slot] = old
                    columns[slot] = oldColumns[index]
                }
            }
            return (column, isNew)
        }
    }

    @inline(__always)
    static func zigzag(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }

    @inline(__always)
    static func unzigzag(_ value: UInt64) -> Int64 { Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1))) }

    @inline(__always)
    static func decimalDigits(_ value: UInt64) -> Int {
        var count = 1
        var threshold: UInt64 = 10
        while count < maximumDecimalDigits && value >= threshold {
            count += 1
            threshold &*= 10
        }
        return count
    }

    /// Bytes needed for `value` in byte planes.
    @inline(__always)
    static func planeWidth(_ value: UInt64) -> Int { (64 - value.leadingZeroBitCount + 7) / 8 }
}

// MARK: - Encoding

extension LogLineColumns {
    /// One variable token of the line being scanned.
    struct Slot {
        var mark: UInt8
        /// Digits of a decimal token (with leading zeros, and then `paddedFlag`), characters of a
        /// hex token.
        var length: UInt8
        /// A decimal token's value, or a hex token's offset in the line.
        var value: UInt64
    }

    static let paddedFlag: UInt8 = 0x80

    struct DecimalColumnBuilder {
        var values: [UInt64] = []
        var digits: [UInt8] = []
    }

    /// Nibbles run on across tokens rather than padding each token to a byte: request ids of odd
    /// length are common (a number printed in hex has no leading zeros).
    struct HexColumnBuilder {
        var lengths: [UInt8] = []
        var nibbles: [UInt8] = []
        var nibbleCount = 0

        @inline(__always)
        mutating func append(_ text: UnsafePointer<UInt8>, count: Int, nibbleValues: UnsafePointer<UInt8>) {
            lengths.append(UInt8(truncatingIfNeeded: count))
            var index = 0
            if nibbleCount & 1 == 1 {
                nibbles[nibbles.count - 1] |= nibbleValues[Int(text[0])]
                index = 1
            }
            while index + 1 < count {
                nibbles.append(nibbleValues[Int(text[index])] << 4 | nibbleValues[Int(text[index + 1])])
                index += 2
            }
            if index < count { nibbles.append(nibbleValues[Int(text[index])] << 4) }
            nibbleCount += count
        }
    }

    /// Distinct templates in order of first appearance, found by an open-addressing hash of their
    /// bytes (a `Dictionary<[UInt8], Int>` would hash byte by byte and need an array per line).
    struct TemplateTable {
        var bytes: [UInt8] = []
        var starts: [Int] = [0]
        var hashes: [UInt64] = []
        var table: [Int32] = Array(repeating: -1, count: 256)
        /// Per template, where its slots' columns start in `slotColumns`.
        var slotStarts: [Int] = [0]
        var slotColumns: [Int32] = []

        var count: Int { hashes.count }

        @inline(__always)
        static func hash(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
            var hash: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(count)
            let raw = UnsafeRawPointer(bytes)
            var index = 0
            while index + 8 <= count {
                let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                hash = (hash ^ word) &* 0xBF58_476D_1CE4_E5B9
                hash ^= hash >> 29
                index += 8
            }
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            while index < count {
                tail |= UInt64(bytes[index]) << shift
                shift += 8
                index += 1
            }
            hash = (hash ^ tail) &* 0x94D0_49BB_1331_11EB
            return hash ^ (hash >> 31)
        }

        /// The template's id, and whether it was added now.
        @inline(__always)
        mutating func lookup(_ template: UnsafePointer<UInt8>, _ count: Int) -> (id: Int, isNew: Bool) {
            let hash = Self.hash(template, count)
            var mask = table.count - 1
            var position = Int(truncatingIfNeeded: hash) & mask
            while true {
                let candidate = Int(table[position])
                if candidate < 0 { break }
                if hashes[candidate] == hash {
                    let start = starts[candidate]
                    if starts[candidate + 1] - start == count {
                        let same = bytes.withUnsafeBufferPointer { memcmp($0.baseAddress! + start, template, count) == 0 }
                        if same { return (candidate, false) }
                    }
                }
                position = (position + 1) & mask
            }
            let id = hashes.count
            hashes.append(hash)
            bytes.append(contentsOf: UnsafeBufferPointer(start: template, count: count))
            starts.append(bytes.count)
            if (id + 1) * 2 > table.count {
                table = Array(repeating: -1, count: table.count * 2)
                mask = table.count - 1
                for existing in 0..<hashes.count {
                    var slot = Int(truncatingIfNeeded: hashes[existing]) & mask
                    while table[slot] >= 0 { slot = (slot + 1) & mask }
                    table[slot] = Int32(existing)
                }
            } else {
                table[position] = Int32(id)
            }
            return (id, true)
        }
    }

    /// Encodes entries (in any order; the order given is kept) into compressed bytes.
    ///
    /// - Precondition: at most `maximumEntries` entries and `maximumLineBytes` of lines, and
    ///   decompressed parts within `maximumPartBytes` (which lines and metadata of up to 128 MiB
    ///   always are: a part is at most about 6 times the line bytes). Decoding refuses what is
    ///   past these limits, so encoding must not write it.
    static func encode(_ entries: [LogEntry]) -> [UInt8] {
        precondition(entries.count <= maximumEntries, "a log chunk of \(entries.count) entries is over \(maximumEntries)")
        var header = ByteSink(capacity: 256)
        header.bytes.append(version)
        header.uvarint(entries.count)
        var lineBytes = 0
        for entry in entries { lineBytes += entry.line.utf8.count }
        precondition(lineBytes <= maximumLineBytes, "a log chunk of \(lineBytes) line bytes is over \(maximumLineBytes)")
        header.uvarint(lineBytes)
        guard let first = entries.first else { return header.bytes }

        var templates = TemplateTable()
        var assigner = ColumnAssigner()
        var decimalColumns: [DecimalColumnBuilder] = []
        var hexColumns: [HexColumnBuilder] = []
        var ids: [UInt8] = []
        ids.reserveCapacity(entries.count + entries.count / 2)
        var templateScratch = [UInt8](repeating: 0, count: 4096)
        var slotScratch = [Slot](repeating: Slot(mark: 0, length: 0, value: 0), count: 1024)

        byteClasses.withUnsafeBufferPointer { classes in
            nibbleValues.withUnsafeBufferPointer { nibbles in
                for entry in entries {
                    var line = entry.line
                    line.withUTF8 { text in
                        // An escaped template is at most twice the line; a line has at most one token per byte.
                        if templateScratch.count < text.count * 2 + 16 {
                            templateScratch = [UInt8](repeating: 0, count: text.count * 2 + 16)
                        }
                        if slotScratch.count < text.count + 1 {
                            slotScratch = [Slot](repeating: Slot(mark: 0, length: 0, value: 0), count: text.count + 1)
                        }
                        templateScratch.withUnsafeMutableBufferPointer { template in
                            slotScratch.withUnsafeMutableBufferPointer { slots in
                                let (templateLength, slotCount) = scan(
                                    text, classes: classes.baseAddress!, template: template.baseAddress!, slots: slots.baseAddress!)
                                let (id, isNew) = templates.lookup(template.baseAddress!, templateLength)
                                if isNew {
                                    ids.append(0)
                                    assignColumns(
                                        template.baseAddress!, templateLength, templates: &templates, assigner: &assigner,
                                        decimalColumns: &decimalColumns, hexColumns: &hexColumns)
                                } else {
                                    appendVarint(UInt64(id + 1), to: &ids)
                                }
                                let columnsStart = templates.slotStarts[id]
                                for index in 0..<slotCount {
                                    let slot = slots[index]
                                    let column = Int(templates.slotColumns[columnsStart + index])
                                    if slot.mark == decimalMark {
                                        decimalColumns[column].values.append(slot.value)
                                        decimalColumns[column].digits.append(slot.length)
                                    } else {
                                        hexColumns[column].append(
                                            text.baseAddress! + Int(slot.value), count: Int(slot.length), nibbleValues: nibbles.baseAddress!)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        // Timestamps: deltas divided by their common factor, since clocks often tick in
        // milliseconds or microseconds and the low digits of a nanosecond delta are then zeros.
        var scale: UInt64 = 0
        var previous = first.timestamp
        for entry in entries.dropFirst() {
            scale = gcd(scale, (entry.timestamp &- previous).magnitude)
            previous = entry.timestamp
        }
        var quotients: [UInt64] = []
        quotients.reserveCapacity(entries.count - 1)
        previous = first.timestamp
        for entry in entries.dropFirst() {
            let delta = entry.timestamp &- previous
            previous = entry.timestamp
            let magnitude = scale == 0 ? 0 : delta.magnitude / scale
            // The quotient of a negative delta, built from its magnitude so Int64.min / 1 cannot overflow.
            quotients.append(zigzag(delta < 0 ? Int64(bitPattern: 0 &- magnitude) : Int64(bitPattern: magnitude)))
        }
        let timestampColumn = encodeIntegers(quotients)

        header.varint(first.timestamp)
        header.uvarint(scale)
        header.bytes.append(contentsOf: timestampColumn.descriptor)
        header.uvarint(templates.count)

        var parts: [Part] = []
        var dictionary: [UInt8] = []
        dictionary.reserveCapacity(templates.bytes.count + templates.count * 2)
        for id in 0..<templates.count {
            let start = templates.starts[id]
            let end = templates.starts[id + 1]
            appendVarint(UInt64(end - start), to: &dictionary)
            dictionary.append(contentsOf: templates.bytes[start..<end])
        }
        parts.append(Part(bytes: dictionary, level: dictionary.count <= lineBytes / 8 ? smallDictionaryLevel : columnLevel))
        parts.append(Part(bytes: ids, level: columnLevel))
        for part in timestampColumn.parts { parts.append(Part(bytes: part, level: columnLevel)) }

        let hasMetadata = entries.contains { !$0.metadata.isEmpty }
        var metadataPart: [UInt8] = []
        if hasMetadata {
            var sink = ByteSink(capacity: entries.count * 2)
            for entry in entries {
                sink.uvarint(entry.metadata.count)
                for label in entry.metadata {
                    sink.string(label.name)
                    sink.string(label.value)
                }
            }
            metadataPart = sink.bytes
        }

        header.uvarint(decimalColumns.count)
        var columnParts: [Part] = []
        for column in decimalColumns {
            let (widthMode, fixedWidth, zeros) = decimalWidths(column)
            let integers = encodeIntegers(column.values)
            header.bytes.append(widthMode)
            if let fixedWidth { header.bytes.append(fixedWidth) }
            header.uvarint(column.values.count)
            header.bytes.append(contentsOf: integers.descriptor)
            for part in integers.parts { columnParts.append(Part(bytes: part, level: columnLevel)) }
            if let zeros { columnParts.append(Part(bytes: zeros, level: columnLevel)) }
        }
        header.uvarint(hexColumns.count)
        for column in hexColumns {
            header.uvarint(column.lengths.count)
            columnParts.append(Part(bytes: column.lengths, level: columnLevel))
            columnParts.append(Part(bytes: column.nibbles, level: columnLevel, mayRepeat: true))
        }
        header.bytes.append(hasMetadata ? 1 : 0)
        if hasMetadata { parts.append(Part(bytes: metadataPart, level: columnLevel)) }
        parts.append(contentsOf: columnParts)

        let total = parts.reduce(0) { $0 + $1.bytes.count }
        precondition(total <= maximumPartBytes, "a log chunk of \(lineBytes) line bytes is too large to encode in columns")
        return assemble(header: header, parts: parts)
    }

    /// Splits a line into its escaped template and its tokens. Returns the template's length and
    /// the number of slots written. `template` holds at least `2 * count` bytes, `slots` `count`.
    @inline(__always)
    static func scan(
        _ text: UnsafeBufferPointer<UInt8>, classes: UnsafePointer<UInt8>, template: UnsafeMutablePointer<UInt8>,
        slots: UnsafeMutablePointer<Slot>
    ) -> (Int, Int) {
        let count = text.count
        guard let line = text.baseAddress, count > 0 else { return (0, 0) }
        var length = 0
        var slotCount = 0
        var literalStart = 0
        var index = 0

        @inline(__always)
        func emit(_ start: Int, _ end: Int, mark: UInt8, value: UInt64) {
            let literal = start - literalStart
            if literal > 0 {
                (template + length).update(from: line + literalStart, count: literal)
                length += literal
            }
            template[length] = mark
            length += 1
            var tokenLength = UInt8(truncatingIfNeeded: end - start)
            if mark == decimalMark && end - start > 1 && line[start] == 0x30 { tokenLength |= paddedFlag }
            slots[slotCount] = Slot(mark: mark, length: tokenLength, value: value)
            slotCount += 1
            literalStart = end
        }

        while index < count {
            let byteClass = classes[Int(line[index])]
            if byteClass & alphanumericClass == 0 {
                if byteClass == markClass {
                    let literal = index - literalStart
                    if literal > 0 {
                        (template + length).update(from: line + literalStart, count: literal)
                        length += literal
                    }
                    template[length] = escapeMark
                    template[length + 1] = line[index]
                    length += 2
                    literalStart = index + 1
                }
                index += 1
                continue
            }
            let start = index
            var mask = byteClass
            index += 1
            while index < count {
                let next = classes[Int(line[index])]
                if next & alphanumericClass == 0 { break }
                mask |= next
                index += 1
            }
            let end = index
            let runLength = end - start
            if mask == digitClass {
                if let value = parseDecimal(line + start, runLength) {
                    emit(start, end, mark: decimalMark, value: value)
                } else if runLength >= minimumHexDigits && runLength <= maximumHexDigits {
                    emit(start, end, mark: lowerHexMark, value: UInt64(start))
                }
                continue
            }
            guard mask & digitClass != 0 else { continue }
            if runLength >= minimumHexDigits && runLength <= maximumHexDigits {
                if mask & (wordClass | upperHexClass) == 0 {
                    emit(start, end, mark: lowerHexMark, value: UInt64(start))
                    continue
                }
                if mask & (wordClass | lowerHexClass) == 0 {
                    emit(start, end, mark: upperHexMark, value: UInt64(start))
                    continue
                }
            }
            // A number with a unit (`450ms`) or a name with a number (`worker_12`): the number
            // varies, the word does not, so only the number leaves the template. A single digit
            // after letters stays: `v1`, `http2`, `utf8` are names, and a name's digit is
            // predicted by the template, not by the column.
            var prefixEnd = start
            while classes[Int(line[prefixEnd])] == digitClass { prefixEnd += 1 }
            var suffixStart = end
            while classes[Int(line[suffixStart - 1])] == digitClass { suffixStart -= 1 }
            if prefixEnd > start, let value = parseDecimal(line + start, prefixEnd - start) {
                emit(start, prefixEnd, mark: decimalMark, value: value)
            }
            if end - suffixStart >= 2, let value = parseDecimal(line + suffixStart, end - suffixStart) {
                emit(suffixStart, end, mark: decimalMark, value: value)
            }
        }
        let literal = count - literalStart
        if literal > 0 {
            (template + length).update(from: line + literalStart, count: literal)
            length += literal
        }
        return (length, slotCount)
    }

    /// The value of 1...20 ASCII digits, or nil past `UInt64.max` or 20 digits.
    @inline(__always)
    static func parseDecimal(_ digits: UnsafePointer<UInt8>, _ count: Int) -> UInt64? {
        guard count <= maximumDecimalDigits else { return nil }
        var value: UInt64 = 0
        if count < maximumDecimalDigits {
            for index in 0..<count { value = value &* 10 &+ UInt64(digits[index] &- 0x30) }
            return value
        }
        for index in 0..<count {
            let (times10, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times10.addingReportingOverflow(UInt64(digits[index] &- 0x30))
            if overflow || carry { return nil }
            value = sum
        }
        return value
    }

    /// Finds (or creates) the column of every placeholder of a new template.
    static func assignColumns(
        _ template: UnsafePointer<UInt8>, _ count: Int, templates: inout TemplateTable, assigner: inout ColumnAssigner,
        decimalColumns: inout [DecimalColumnBuilder], hexColumns: inout [HexColumnBuilder]
    ) {
        var index = 0
        while index < count {
            let byte = template[index]
            if byte == escapeMark {
                index += 2
                continue
            }
            if byte == decimalMark || byte == lowerHexMark || byte == upperHexMark {
                let (column, isNew) = assigner.column(template, at: index, mark: byte)
                if isNew {
                    if byte == decimalMark { decimalColumns.append(DecimalColumnBuilder()) } else { hexColumns.append(HexColumnBuilder()) }
                }
                templates.slotColumns.append(column)
            }
            index += 1
        }
        templates.slotStarts.append(templates.slotColumns.count)
    }

    /// How a decimal column's zero padding is recorded: not at all (mode 0: no token has leading
    /// zeros), as one width for all (mode 1: `05`, `12`), or as a zero count per token (mode 2).
    static func decimalWidths(_ column: DecimalColumnBuilder) -> (mode: UInt8, fixedWidth: UInt8?, zeros: [UInt8]?) {
        var padded = false
        var sameWidth = true
        let firstDigits = (column.digits.first ?? 1) & ~paddedFlag
        for digits in column.digits {
            if digits & paddedFlag != 0 { padded = true }
            if digits & ~paddedFlag != firstDigits { sameWidth = false }
        }
        if !padded { return (0, nil, nil) }
        if sameWidth { return (1, firstDigits, nil) }
        var zeros: [UInt8] = []
        zeros.reserveCapacity(column.values.count)
        for (digits, value) in zip(column.digits, column.values) {
            zeros.append(digits & paddedFlag == 0 ? 0 : UInt8(Int(digits & ~paddedFlag) - decimalDigits(value)))
        }
        return (2, nil, zeros)
    }

    /// An integer column (a decimal column, the timestamp deltas): its descriptor for the header
    /// and its parts.
    struct IntegerColumn {
        var descriptor: [UInt8]
        var parts: [[UInt8]]
    }

    static let maximumDictionaryValues = 16

    /// Chooses among the values or their deltas (counters and clocks shrink under deltas;
    /// identifiers grow by a bit), each either as byte planes or, with at most 16 distinct
    /// values, as indices into those values. Bytes narrower than 8 bits are packed: deflate's
    /// Huffman codes spend at least a bit a byte, so a plane of 0s and 1s (or an HTTP status
    /// spread over two planes) costs several times its entropy unpacked.
    static func encodeIntegers(_ values: [UInt64]) -> IntegerColumn {
        var deltas: [UInt64] = []
        deltas.reserveCapacity(values.count)
        var previous: UInt64 = 0
        for value in values {
            deltas.append(zigzag(Int64(bitPattern: value &- previous)))
            previous = value
        }
        let plain = IntegerChoice(values)
        let delta = IntegerChoice(deltas)
        let useDeltas = delta.cost < plain.cost
        let choice = useDeltas ? delta : plain
        let chosen = useDeltas ? deltas : values
        var descriptor: [UInt8] = []
        var parts: [[UInt8]] = []
        if let distinct = choice.distinct {
            descriptor.append((useDeltas ? 1 : 0) | 2)
            descriptor.append(UInt8(distinct.count))
            for value in distinct { appendVarint(value, to: &descriptor) }
            let bits = indexBits(distinct.count)
            if bits > 0 {
                var indices: [UInt8] = []
                indices.reserveCapacity(chosen.count)
                for value in chosen {
                    var index = 0
                    while distinct[index] != value { index += 1 }
                    indices.append(UInt8(index))
                }
                parts.append(pack(indices, bits: bits))
            }
        } else {
            descriptor.append(useDeltas ? 1 : 0)
            descriptor.append(UInt8(choice.planeBits.count))
            for (plane, bits) in choice.planeBits.enumerated() {
                descriptor.append(UInt8(bits))
                let shift = UInt64(plane * 8)
                parts.append(pack(chosen.map { UInt8(truncatingIfNeeded: $0 >> shift) }, bits: bits))
            }
        }
        return IntegerColumn(descriptor: descriptor, parts: parts)
    }

    /// Bits for an index into `count` dictionary values.
    static func indexBits(_ count: Int) -> Int {
        switch count {
        case ...1: 0
        case 2: 1
        case 3...4: 2
        default: 4
        }
    }

    /// Bits a plane's bytes need when packed: 1, 2, 4 or 8.
    static func packedBits(_ largest: UInt8) -> Int {
        switch largest {
        case ...1: 1
        case 2...3: 2
        case 4...15: 4
        default: 8
        }
    }

    /// Values of `bits` bits each (which they fit in), least significant first within a byte.
    static func pack(_ bytes: [UInt8], bits: Int) -> [UInt8] {
        if bits == 8 { return bytes }
        let perByte = 8 / bits
        var packed = [UInt8](repeating: 0, count: (bytes.count * bits + 7) / 8)
        packed.withUnsafeMutableBufferPointer { out in
            for (index, byte) in bytes.enumerated() {
                out[index / perByte] |= byte << UInt8((index % perByte) * bits)
            }
        }
        return packed
    }

    /// One way to store an integer column, with the order-0 entropy of what deflate would see:
    /// a cheap stand-in for the deflated size.
    struct IntegerChoice {
        /// The distinct values, when there are few enough for a dictionary.
        var distinct: [UInt64]?
        var planeBits: [Int] = []
        var cost: Double = 0

        init(_ values: [UInt64]) {
            var distinct: [UInt64] = []
            var counts: [Int] = []
            for value in values {
                if let index = distinct.firstIndex(of: value) {
                    counts[index] += 1
                } else if distinct.count < LogLineColumns.maximumDictionaryValues {
                    distinct.append(value)
                    counts.append(1)
                } else {
                    distinct.removeAll()
                    break
                }
            }
            if !distinct.isEmpty || values.isEmpty {
                self.distinct = distinct
                cost = LogLineColumns.entropyBits(counts, total: values.count)
                return
            }
            var largest: UInt64 = 0
            for value in values { largest |= value }
            let width = LogLineColumns.planeWidth(largest)
            var histogram = [Int](repeating: 0, count: 256 * width)
            histogram.withUnsafeMutableBufferPointer { counts in
                for value in values {
                    var rest = value
                    for plane in 0..<width {
                        counts[plane &* 256 &+ Int(rest & 0xFF)] &+= 1
                        rest >>= 8
                    }
                }
            }
            for plane in 0..<width {
                let slice = Array(histogram[(plane * 256)..<(plane * 256 + 256)])
                cost += LogLineColumns.entropyBits(slice, total: values.count)
                let largestByte = slice.lastIndex { $0 > 0 } ?? 0
                planeBits.append(LogLineColumns.packedBits(UInt8(largestByte)))
            }
        }
    }

    /// Order-0 entropy, in bits, of `total` symbols counted in `histogram`.
    static func entropyBits(_ histogram: [Int], total: Int) -> Double {
        guard total > 0 else { return 0 }
        var bits = Double(total) * log2(Double(total))
        for count in histogram where count > 0 { bits -= Double(count) * log2(Double(count)) }
        return bits
    }

    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var a = a
        var b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    @inline(__always)
    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    struct Part {
        var bytes: [UInt8]
        var level: Int32
        /// Random-looking but possibly repeating (one trace id on many lines): worth a trial.
        var mayRepeat = false
    }

    enum Method: UInt8 {
        case stored = 0
        case deflate = 1
        case bundled = 2
    }

    /// Compresses the parts and writes header, directory and data.
    static func assemble(header: ByteSink, parts: [Part]) -> [UInt8] {
        var sink = header
        var bundle: [UInt8] = []
        var data: [[UInt8]] = []
        for part in parts {
            let raw = part.bytes
            if raw.isEmpty {
                sink.uvarint(UInt64(Method.stored.rawValue))
                continue
            }
            if raw.count < bundleThreshold {
                bundle.append(contentsOf: raw)
                sink.uvarint(UInt64(raw.count) << 2 | UInt64(Method.bundled.rawValue))
                continue
            }
            let (method, stored) = compress(raw, level: part.level, mayRepeat: part.mayRepeat)
            sink.uvarint(UInt64(raw.count) << 2 | UInt64(method.rawValue))
            if method == .deflate { sink.uvarint(stored.count) }
            data.append(stored)
        }
        if !bundle.isEmpty {
            let (method, stored) = compress(bundle, level: columnLevel, mayRepeat: false)
            sink.uvarint(UInt64(bundle.count) << 2 | UInt64(method.rawValue))
            if method == .deflate { sink.uvarint(stored.count) }
            data.append(stored)
        }
        sink.bytes.reserveCapacity(sink.bytes.count + data.reduce(0) { $0 + $1.count })
        for stored in data { sink.bytes.append(contentsOf: stored) }
        return sink.bytes
    }

    static func compress(_ raw: [UInt8], level: Int32, mayRepeat: Bool) -> (Method, [UInt8]) {
        // Bytes that look random (hex digits, low bytes of identifiers) are stored: deflate would
        // spend time to gain nothing. Hex digits may still repeat (one trace id on many lines),
        // which only a trial shows; a sample keeps the trial cheap. Integer planes cannot: a
        // repeated value is spread over several planes, too short a match for deflate.
        var histogram = [Int](repeating: 0, count: 256)
        histogram.withUnsafeMutableBufferPointer { counts in
            for byte in raw { counts[Int(byte)] += 1 }
        }
        let bits = entropyBits(histogram, total: raw.count)
        if mayRepeat && bits > 7.5 * Double(raw.count) {
            let sample = raw.count <= randomSampleBytes ? raw : Array(raw.prefix(randomSampleBytes))
            if Gzip.compressDeflate(sample, level: 1).count * 100 > sample.count * 95 { return (.stored, raw) }
        } else if bits > 7.8 * Double(raw.count) {
            return (.stored, raw)
        }
        let deflated = Gzip.compressDeflate(raw, level: level)
        return deflated.count < raw.count ? (.deflate, deflated) : (.stored, raw)
    }
}

// MARK: - Decoding

extension LogLineColumns {
    /// Reads an integer column value by value (never all at once: a damaged count could then
    /// make a large allocation).
    struct IntegerReader {
        var count = 0
        var position = 0
        var previous: UInt64 = 0
        var delta = false
        var dictionary = false
        /// Dictionary mode: the values in `dictionaryValues`, and the packed indices.
        var dictionaryStart = 0
        var dictionaryCount = 0
        var indexBits = 0
        var indexStart = 0
        /// Plane mode: the planes in `planes`.
        var firstPlane = 0
        var planeCount = 0
    }

    struct PlaneReader {
        var start = 0
        var bits = 8
    }

    struct DecimalWidth {
        var mode: UInt8 = 0
        var fixedWidth = 0
        var zerosStart = 0
    }

    struct HexReader {
        var count = 0
        var position = 0
        var lengthsStart = 0
        var nibblesStart = 0
        var nibbleCount = 0
        var nibblePosition = 0
    }

    /// A step of rebuilding a line: literal bytes, or the next value of a column.
    struct Operation {
        static let literal: UInt8 = 0
        static let decimal: UInt8 = 1
        static let lowerHex: UInt8 = 2
        /// Hex columns can hold both cases (contexts past `maximumColumnsPerKind` share one), so the
        /// case belongs to the placeholder.
        static let upperHex: UInt8 = 3
        var kind: UInt8
        /// Literal: offset in the literal bytes; otherwise the column.
        var index: Int32
        var length: Int32
    }

    /// The dictionary, parsed: template `t` is `operations[starts[t]..<starts[t + 1]]`.
    struct Templates {
        var operations: [Operation]
        var starts: [Int]
        var literals: [UInt8]
    }

    /// The line being rebuilt. Grows on demand, never past what the header declares for all lines.
    struct LineBuffer {
        var bytes: UnsafeMutablePointer<UInt8>
        var capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 16)
            bytes = .allocate(capacity: self.capacity)
        }

        /// Room for `extra` more bytes after the first `length`.
        @inline(__always)
        mutating func reserve(_ length: Int, _ extra: Int, limit: Int, entry: Int) throws(StorageError) {
            if length + extra <= capacity { return }
            try grow(length, extra, limit: limit, entry: entry)
        }

        mutating func grow(_ length: Int, _ extra: Int, limit: Int, entry: Int) throws(StorageError) {
            let needed = length + extra
            guard needed <= limit else { throw corrupt("entry \(entry) makes the lines longer than declared") }
            let grown = min(max(needed, capacity * 2), limit)
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
            bigger.update(from: bytes, count: length)
            bytes.deallocate()
            bytes = bigger
            capacity = grown
        }
    }

    enum PartRole {
        case dictionary, ids, metadata
        /// Part `part` of integer column `column` (0 the timestamps, 1 + c decimal column c).
        case integers(Int, part: Int)
        case decimalZeros(Int), hexLengths(Int), hexNibbles(Int)

        var name: String {
            switch self {
            case .dictionary: "template dictionary"
            case .ids: "template ids"
            case .integers(0, let part): "timestamps part \(part)"
            case .integers(let column, let part): "part \(part) of decimal column \(column - 1)"
            case .metadata: "metadata"
            case .decimalZeros(let column): "zero counts of decimal column \(column)"
            case .hexLengths(let column): "lengths of hex column \(column)"
            case .hexNibbles(let column): "digits of hex column \(column)"
            }
        }
    }

    /// Decodes what `encode` wrote. Damaged or truncated input throws a `.corrupt` error; no input
    /// traps, and allocations stay within the limits above.
    static func decode(_ bytes: [UInt8]) throws(StorageError) -> [LogEntry] {
        try bytes.withBytes { (raw) throws(StorageError) -> [LogEntry] in try decode(raw) }
    }

    static func corrupt(_ message: String) -> StorageError {
        StorageError(.corrupt, "log chunk columns: \(message)")
    }

    static func decode(_ raw: UnsafeRawBufferPointer) throws(StorageError) -> [LogEntry] {
        var source = ByteSource(raw)
        let versionByte = try source.bytes(1)[0]
        guard versionByte == version else { throw corrupt("unknown version \(versionByte) at byte 0") }
        let count = try source.uvarintInt(limit: maximumEntries)
        let lineBytes = try source.uvarintInt(limit: maximumLineBytes)
        if count == 0 {
            guard lineBytes == 0, source.isAtEnd else { throw corrupt("an empty chunk has more bytes after byte \(source.offset)") }
            return []
        }
        let firstTimestamp = try source.varint()
        let scale = try source.uvarint()
        var integers: [IntegerReader] = []
        var planes: [PlaneReader] = []
        var dictionaryValues: [UInt64] = []
        var roles: [PartRole] = [.dictionary, .ids]
        var columnRoles: [PartRole] = []
        let timestampParts = try readIntegerDescriptor(
            &source, count: count - 1, what: "the timestamps", into: &integers, planes: &planes, dictionaryValues: &dictionaryValues)
        for part in 0..<timestampParts { roles.append(.integers(0, part: part)) }
        let templateCount = try source.uvarintInt(limit: count)

        // Each column takes at least three header bytes.
        let decimalCount = try source.uvarintInt(limit: raw.count / 3)
        var widths: [DecimalWidth] = []
        widths.reserveCapacity(decimalCount)
        for column in 0..<decimalCount {
            let modeAt = source.offset
            var width = DecimalWidth(mode: try source.bytes(1)[0])
            guard width.mode <= 2 else { throw corrupt("decimal column \(column) has width mode \(width.mode) at byte \(modeAt)") }
            if width.mode == 1 {
                width.fixedWidth = Int(try source.bytes(1)[0])
                guard (1...maximumDecimalDigits).contains(width.fixedWidth) else {
                    throw corrupt("decimal column \(column) has width \(width.fixedWidth) at byte \(source.offset - 1)")
                }
            }
            let tokens = try source.uvarintInt(limit: maximumLineBytes)
            let parts = try readIntegerDescriptor(
                &source, count: tokens, what: "decimal column \(column)", into: &integers, planes: &planes, dictionaryValues: &dictionaryValues)
            for part in 0..<parts { columnRoles.append(.integers(column + 1, part: part)) }
            if width.mode == 2 { columnRoles.append(.decimalZeros(column)) }
            widths.append(width)
        }
        let hexCount = try source.uvarintInt(limit: raw.count)
        var hexes: [HexReader] = []
        hexes.reserveCapacity(hexCount)
        for column in 0..<hexCount {
            hexes.append(HexReader(count: try source.uvarintInt(limit: maximumPartBytes)))
            columnRoles.append(.hexLengths(column))
            columnRoles.append(.hexNibbles(column))
        }
        let metadataFlag = try source.bytes(1)[0]
        guard metadataFlag <= 1 else { throw corrupt("metadata flag \(metadataFlag) at byte \(source.offset - 1)") }
        if metadataFlag == 1 { roles.append(.metadata) }
        roles.append(contentsOf: columnRoles)

        // The directory: sizes are checked before anything is inflated, so a damaged size fails
        // fast and cannot make a large allocation.
        var methods: [Method] = []
        var rawLengths: [Int] = []
        var storedLengths: [Int] = []
        var totalRaw = 0
        var totalStored = 0
        var bundledRaw = 0
        for role in roles {
            let at = source.offset
            let (method, rawLength, storedLength) = try directoryEntry(&source, inputCount: raw.count)
            if let expected = expectedLength(role, integers: integers, planes: planes, hexes: hexes),
                expected != rawLength
            {
                throw corrupt("\(role.name) declares \(rawLength) bytes at byte \(at), expected \(expected)")
            }
            totalRaw += rawLength
            guard totalRaw <= maximumPartBytes else { throw corrupt("parts declare more than \(maximumPartBytes) bytes at byte \(at)") }
            if method == .bundled { bundledRaw += rawLength } else { totalStored += storedLength }
            methods.append(method)
            rawLengths.append(rawLength)
            storedLengths.append(storedLength)
        }
        var bundleMethod = Method.stored
        var bundleStored = 0
        if bundledRaw > 0 {
            let at = source.offset
            let (method, rawLength, storedLength) = try directoryEntry(&source, inputCount: raw.count)
            guard method != .bundled, rawLength == bundledRaw else {
                throw corrupt("the bundle at byte \(at) declares \(rawLength) bytes, its parts \(bundledRaw)")
            }
            bundleMethod = method
            bundleStored = storedLength
            totalStored += storedLength
        }
        guard raw.count - source.offset == totalStored else {
            throw corrupt("the parts take \(totalStored) bytes from byte \(source.offset), the input has \(raw.count - source.offset)")
        }

        // Every part, decompressed, in one arena so the hot loop works on one pointer. Manual
        // memory rather than an array: closures over arrays made the loop pay for dynamic
        // exclusivity checks.
        let arena = UnsafeMutablePointer<UInt8>.allocate(capacity: max(totalRaw, 1))
        defer { arena.deallocate() }
        var filled = 0
        var partStarts: [Int] = []
        var inline = source.offset
        var bundleParts: [Int] = []
        for index in roles.indices {
            partStarts.append(filled)
            switch methods[index] {
            case .stored:
                if rawLengths[index] > 0 {
                    (arena + filled).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self) + inline, count: rawLengths[index])
                }
                inline += rawLengths[index]
            case .deflate:
                let stored = UnsafeRawBufferPointer(rebasing: raw[inline..<(inline + storedLengths[index])])
                let part = try inflate(stored, rawLength: rawLengths[index], what: roles[index].name, at: inline)
                (arena + filled).update(from: part, count: part.count)
                inline += storedLengths[index]
            case .bundled:
                bundleParts.append(index)
            }
            filled += rawLengths[index]
        }
        if bundledRaw > 0 {
            let stored = UnsafeRawBufferPointer(rebasing: raw[inline..<(inline + bundleStored)])
            let bundle = bundleMethod == .deflate ? try inflate(stored, rawLength: bundledRaw, what: "the bundle", at: inline) : Array(stored)
            var offset = 0
            for index in bundleParts {
                bundle.withUnsafeBufferPointer { (arena + partStarts[index]).update(from: $0.baseAddress! + offset, count: rawLengths[index]) }
                offset += rawLengths[index]
            }
        }

        var metadataRange: Range<Int>?
        for (index, role) in roles.enumerated() {
            let start = partStarts[index]
            switch role {
            case .integers(let column, let part):
                if integers[column].dictionary {
                    integers[column].indexStart = start
                } else {
                    planes[integers[column].firstPlane + part].start = start
                }
            case .decimalZeros(let column): widths[column].zerosStart = start
            case .hexLengths(let column): hexes[column].lengthsStart = start
            case .hexNibbles(let column):
                hexes[column].nibblesStart = start
                hexes[column].nibbleCount = rawLengths[index] * 2
            case .metadata: metadataRange = start..<(start + rawLengths[index])
            default: break
            }
        }
        let dictionaryRange = partStarts[0]..<(partStarts[0] + rawLengths[0])
        let idsRange = partStarts[1]..<(partStarts[1] + rawLengths[1])
        // Each entry has an id of at least one byte: a larger count is damage.
        guard idsRange.count >= count else { throw corrupt("\(count) entries but \(idsRange.count) bytes of template ids") }

        let base = UnsafePointer(arena)
        for column in hexes.indices {
            // The lengths decide how many nibbles the column has; the bytes must hold exactly those.
            var nibbles = 0
            for index in 0..<hexes[column].count { nibbles += Int(base[hexes[column].lengthsStart + index]) }
            guard (nibbles + 1) / 2 == hexes[column].nibbleCount / 2 else {
                throw corrupt("hex column \(column) has \(hexes[column].nibbleCount / 2) bytes for \(nibbles) digits")
            }
            hexes[column].nibbleCount = nibbles
        }
        let dictionary = try parseDictionary(base, dictionaryRange, templateCount: templateCount, decimalCount: decimalCount, hexes: &hexes)
        return try rebuild(
            base: base, count: count, lineBytes: lineBytes, idsRange: idsRange, dictionary: dictionary,
            columns: Columns(integers: integers, planes: planes, dictionaryValues: dictionaryValues, widths: widths, hexes: hexes),
            timestamps: (firstTimestamp, scale),
            metadata: metadataRange.map { UnsafeRawBufferPointer(start: base + $0.lowerBound, count: $0.count) })
    }

    /// Reads an integer column's descriptor; returns how many parts the column has.
    static func readIntegerDescriptor(
        _ source: inout ByteSource, count: Int, what: String, into integers: inout [IntegerReader], planes: inout [PlaneReader],
        dictionaryValues: inout [UInt64]
    ) throws(StorageError) -> Int {
        let at = source.offset
        let flags = try source.bytes(1)[0]
        guard flags & ~3 == 0 else { throw corrupt("\(what) has flags \(flags) at byte \(at)") }
        var reader = IntegerReader(count: count, delta: flags & 1 == 1, dictionary: flags & 2 == 2)
        let parts: Int
        if reader.dictionary {
            reader.dictionaryCount = Int(try source.bytes(1)[0])
            guard reader.dictionaryCount <= maximumDictionaryValues else {
                throw corrupt("\(what) has \(reader.dictionaryCount) dictionary values at byte \(at + 1)")
            }
            reader.dictionaryStart = dictionaryValues.count
            for _ in 0..<reader.dictionaryCount { dictionaryValues.append(try source.uvarint()) }
            reader.indexBits = indexBits(reader.dictionaryCount)
            parts = reader.indexBits > 0 ? 1 : 0
        } else {
            reader.planeCount = Int(try source.bytes(1)[0])
            guard reader.planeCount <= 8 else { throw corrupt("\(what) has \(reader.planeCount) planes at byte \(at + 1)") }
            reader.firstPlane = planes.count
            for _ in 0..<reader.planeCount {
                let bits = Int(try source.bytes(1)[0])
                guard bits == 1 || bits == 2 || bits == 4 || bits == 8 else {
                    throw corrupt("\(what) has a plane of \(bits) bits at byte \(source.offset - 1)")
                }
                planes.append(PlaneReader(bits: bits))
            }
            parts = reader.planeCount
        }
        integers.append(reader)
        return parts
    }

    static func directoryEntry(_ source: inout ByteSource, inputCount: Int) throws(StorageError) -> (Method, Int, Int) {
        let at = source.offset
        let word = try source.uvarint()
        guard let method = Method(rawValue: UInt8(word & 3)) else { throw corrupt("unknown part method \(word & 3) at byte \(at)") }
        let rawLength = word >> 2
        guard rawLength <= UInt64(maximumPartBytes) else { throw corrupt("a part declares \(rawLength) bytes at byte \(at)") }
        switch method {
        case .stored:
            guard rawLength <= UInt64(inputCount) else { throw corrupt("a stored part of \(rawLength) bytes at byte \(at) is longer than the input") }
            return (method, Int(rawLength), Int(rawLength))
        case .deflate:
            let stored = try source.uvarintInt(limit: inputCount)
            guard stored > 0, rawLength <= UInt64(stored) * UInt64(maximumDeflateRatio) else {
                throw corrupt("a part of \(stored) deflated bytes at byte \(at) declares \(rawLength)")
            }
            return (method, Int(rawLength), stored)
        case .bundled:
            return (method, Int(rawLength), 0)
        }
    }

    static func expectedLength(_ role: PartRole, integers: [IntegerReader], planes: [PlaneReader], hexes: [HexReader]) -> Int? {
        switch role {
        case .integers(let column, let part):
            (integers[column].count * (integers[column].dictionary ? integers[column].indexBits : planes[integers[column].firstPlane + part].bits) + 7) / 8
        case .decimalZeros(let column): integers[column + 1].count
        case .hexLengths(let column): hexes[column].count
        default: nil
        }
    }

    static func inflate(_ stored: UnsafeRawBufferPointer, rawLength: Int, what: String, at offset: Int) throws(StorageError) -> [UInt8] {
        let output: [UInt8]
        do {
            output = try Gzip.inflateStored(stored, length: rawLength)
        } catch {
            throw corrupt("\(what) at byte \(offset): \(error.message)")
        }
        guard output.count == rawLength else {
            throw corrupt("\(what) at byte \(offset) inflates to \(output.count) bytes, declared \(rawLength)")
        }
        return output
    }

    /// Turns each template into operations, assigning columns as the encoder did.
    static func parseDictionary(
        _ base: UnsafePointer<UInt8>, _ range: Range<Int>, templateCount: Int, decimalCount: Int, hexes: inout [HexReader]
    ) throws(StorageError) -> Templates {
        var operations: [Operation] = []
        var operationStarts: [Int] = [0]
        var literals: [UInt8] = []
        literals.reserveCapacity(range.count)
        var assigner = ColumnAssigner()
        var offset = range.lowerBound
        for id in 0..<templateCount {
            let at = offset - range.lowerBound
            guard let length = readVarint(base, &offset, range.upperBound), length <= UInt64(range.upperBound - offset) else {
                throw corrupt("template \(id) at byte \(at) of the dictionary runs past its end")
            }
            let template = base + offset
            let end = Int(length)
            var index = 0
            // Literal bytes since the last placeholder (escapes removed), in one operation.
            var literalStart = literals.count
            while index < end {
                let byte = template[index]
                guard byte >= decimalMark && byte <= upperHexMark else {
                    var runEnd = index + 1
                    while runEnd < end && (template[runEnd] < decimalMark || template[runEnd] > upperHexMark) { runEnd += 1 }
                    literals.append(contentsOf: UnsafeBufferPointer(start: template + index, count: runEnd - index))
                    index = runEnd
                    continue
                }
                if byte == escapeMark {
                    guard index + 1 < end, template[index + 1] >= decimalMark && template[index + 1] <= upperHexMark else {
                        throw corrupt("template \(id) has a bad escape at byte \(at + index)")
                    }
                    literals.append(template[index + 1])
                    index += 2
                    continue
                }
                if literals.count > literalStart {
                    operations.append(Operation(kind: Operation.literal, index: Int32(literalStart), length: Int32(literals.count - literalStart)))
                }
                let (column, _) = assigner.column(template, at: index, mark: byte)
                if byte == decimalMark {
                    guard column < decimalCount else { throw corrupt("templates name more than \(decimalCount) decimal columns") }
                    operations.append(Operation(kind: Operation.decimal, index: column, length: 0))
                } else {
                    guard column < hexes.count else { throw corrupt("templates name more than \(hexes.count) hex columns") }
                    operations.append(Operation(kind: byte == upperHexMark ? Operation.upperHex : Operation.lowerHex, index: column, length: 0))
                }
                literalStart = literals.count
                index += 1
            }
            if literals.count > literalStart {
                operations.append(Operation(kind: Operation.literal, index: Int32(literalStart), length: Int32(literals.count - literalStart)))
            }
            operationStarts.append(operations.count)
            offset += end
        }
        guard offset == range.upperBound else { throw corrupt("the template dictionary has \(range.upperBound - offset) bytes past its templates") }
        guard assigner.decimalColumns == decimalCount, assigner.hexColumns == hexes.count else {
            throw corrupt("templates name \(assigner.decimalColumns) decimal and \(assigner.hexColumns) hex columns, the header \(decimalCount) and \(hexes.count)")
        }
        return Templates(operations: operations, starts: operationStarts, literals: literals)
    }

    @inline(__always)
    static func readVarint(_ base: UnsafePointer<UInt8>, _ offset: inout Int, _ end: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end {
            let byte = base[offset]
            offset += 1
            if shift == 63 && byte > 1 { return nil }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }

    /// Where the column values are, and how far each has been read.
    struct Columns {
        /// The timestamps first, then the decimal columns.
        var integers: [IntegerReader]
        var planes: [PlaneReader]
        var dictionaryValues: [UInt64]
        var widths: [DecimalWidth]
        var hexes: [HexReader]
    }

    /// `bits` bits (1, 2, 4 or 8) at `position` of packed values.
    @inline(__always)
    static func unpack(_ bytes: UnsafePointer<UInt8>, _ bits: Int, _ position: Int) -> Int {
        if bits == 8 { return Int(bytes[position]) }
        let bit = position &* bits
        return Int(bytes[bit >> 3] >> UInt8(truncatingIfNeeded: bit & 7)) & ((1 << bits) - 1)
    }

    /// The next value of an integer column, or nil for a dictionary index past the dictionary.
    /// The caller checks that the column has one.
    @inline(__always)
    static func nextValue(
        _ reader: UnsafeMutablePointer<IntegerReader>, _ base: UnsafePointer<UInt8>, _ planes: UnsafePointer<PlaneReader>,
        _ dictionaryValues: UnsafePointer<UInt64>
    ) -> UInt64? {
        let position = reader.pointee.position
        var value: UInt64 = 0
        if reader.pointee.dictionary {
            let bits = reader.pointee.indexBits
            let index = bits == 0 ? 0 : unpack(base + reader.pointee.indexStart, bits, position)
            guard index < reader.pointee.dictionaryCount else { return nil }
            value = dictionaryValues[reader.pointee.dictionaryStart + index]
        } else {
            let plane = planes + reader.pointee.firstPlane
            var shift: UInt64 = 0
            for index in 0..<reader.pointee.planeCount {
                value |= UInt64(unpack(base + plane[index].start, plane[index].bits, position)) << shift
                shift += 8
            }
        }
        if reader.pointee.delta {
            value = reader.pointee.previous &+ UInt64(bitPattern: unzigzag(value))
            reader.pointee.previous = value
        }
        reader.pointee.position = position + 1
        return value
    }

    /// Rebuilds the entries from the decompressed parts.
    static func rebuild(
        base: UnsafePointer<UInt8>, count: Int, lineBytes: Int, idsRange: Range<Int>, dictionary: Templates, columns: Columns,
        timestamps: (first: Int64, scale: UInt64), metadata: UnsafeRawBufferPointer?
    ) throws(StorageError) -> [LogEntry] {
        // Plain pointers for everything the loop touches: no closures, so no exclusivity checks.
        let operations = UnsafeMutablePointer<Operation>.allocate(capacity: max(dictionary.operations.count, 1))
        operations.initialize(from: dictionary.operations, count: dictionary.operations.count)
        let starts = UnsafeMutablePointer<Int>.allocate(capacity: dictionary.starts.count)
        starts.initialize(from: dictionary.starts, count: dictionary.starts.count)
        let literals = UnsafeMutablePointer<UInt8>.allocate(capacity: max(dictionary.literals.count, 1))
        literals.initialize(from: dictionary.literals, count: dictionary.literals.count)
        let integers = UnsafeMutablePointer<IntegerReader>.allocate(capacity: columns.integers.count)
        integers.initialize(from: columns.integers, count: columns.integers.count)
        let planes = UnsafeMutablePointer<PlaneReader>.allocate(capacity: max(columns.planes.count, 1))
        planes.initialize(from: columns.planes, count: columns.planes.count)
        let dictionaryValues = UnsafeMutablePointer<UInt64>.allocate(capacity: max(columns.dictionaryValues.count, 1))
        dictionaryValues.initialize(from: columns.dictionaryValues, count: columns.dictionaryValues.count)
        let widths = UnsafeMutablePointer<DecimalWidth>.allocate(capacity: max(columns.widths.count, 1))
        widths.initialize(from: columns.widths, count: columns.widths.count)
        let hexes = UnsafeMutablePointer<HexReader>.allocate(capacity: max(columns.hexes.count, 1))
        hexes.initialize(from: columns.hexes, count: columns.hexes.count)
        let digitTables = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
        digitTables.initialize(from: lowerHexDigits, count: 16)
        (digitTables + 16).initialize(from: upperHexDigits, count: 16)
        var line = LineBuffer(capacity: min(lineBytes, 4096))
        defer {
            operations.deallocate()
            starts.deallocate()
            literals.deallocate()
            integers.deallocate()
            planes.deallocate()
            dictionaryValues.deallocate()
            widths.deallocate()
            hexes.deallocate()
            digitTables.deallocate()
            line.bytes.deallocate()
        }
        let templateCount = dictionary.starts.count - 1

        var entries: [LogEntry] = []
        entries.reserveCapacity(count)
        var metadataSource = metadata.map { ByteSource($0) }
        var produced = 0
        var idOffset = idsRange.lowerBound
        var nextNew = 0
        var timestamp = timestamps.first

        for entry in 0..<count {
            guard let word = readVarint(base, &idOffset, idsRange.upperBound) else {
                throw corrupt("the template id of entry \(entry) runs past its part")
            }
            let id: Int
            if word == 0 {
                guard nextNew < templateCount else { throw corrupt("entry \(entry) uses a template past the \(templateCount) stored") }
                id = nextNew
                nextNew += 1
            } else {
                guard word - 1 < UInt64(nextNew) else { throw corrupt("entry \(entry) refers to template \(word - 1) before it appears") }
                id = Int(word - 1)
            }
            let limit = lineBytes - produced
            var length = 0
            for operationIndex in starts[id]..<starts[id + 1] {
                let operation = operations[operationIndex]
                switch operation.kind {
                case Operation.literal:
                    let literal = Int(operation.length)
                    try line.reserve(length, literal, limit: limit, entry: entry)
                    (line.bytes + length).update(from: literals + Int(operation.index), count: literal)
                    length += literal
                case Operation.decimal:
                    let column = Int(operation.index)
                    let reader = integers + 1 + column
                    let position = reader.pointee.position
                    guard position < reader.pointee.count, let value = nextValue(reader, base, planes, dictionaryValues) else {
                        throw corrupt("entry \(entry) reads past the end of decimal column \(column)")
                    }
                    let digits = decimalDigits(value)
                    var width = digits
                    switch widths[column].mode {
                    case 0: break
                    case 1: width = widths[column].fixedWidth
                    default: width = digits + Int(base[widths[column].zerosStart + position])
                    }
                    guard width >= digits, width <= maximumDecimalDigits else {
                        throw corrupt("entry \(entry): decimal column \(column) has \(value) in \(width) digits")
                    }
                    try line.reserve(length, width, limit: limit, entry: entry)
                    var end = length + width
                    var rest = value
                    repeat {
                        end -= 1
                        line.bytes[end] = UInt8(truncatingIfNeeded: rest % 10) &+ 0x30
                        rest /= 10
                    } while rest != 0
                    while end > length {
                        end -= 1
                        line.bytes[end] = 0x30
                    }
                    length += width
                default:
                    let reader = hexes + Int(operation.index)
                    guard reader.pointee.position < reader.pointee.count else {
                        throw corrupt("entry \(entry) reads past the end of hex column \(operation.index)")
                    }
                    let characters = Int(base[reader.pointee.lengthsStart + reader.pointee.position])
                    var nibble = reader.pointee.nibblePosition
                    guard characters >= minimumHexDigits, nibble + characters <= reader.pointee.nibbleCount else {
                        throw corrupt("entry \(entry): hex column \(operation.index) has a token of \(characters) digits")
                    }
                    try line.reserve(length, characters, limit: limit, entry: entry)
                    let alphabet = digitTables + (operation.kind == Operation.upperHex ? 16 : 0)
                    let nibbles = base + reader.pointee.nibblesStart
                    let output = line.bytes + length
                    var index = 0
                    if nibble & 1 == 1 {
                        output[0] = alphabet[Int(nibbles[nibble >> 1] & 0xF)]
                        nibble += 1
                        index = 1
                    }
                    while index + 1 < characters {
                        let byte = nibbles[nibble >> 1]
                        output[index] = alphabet[Int(byte >> 4)]
                        output[index + 1] = alphabet[Int(byte & 0xF)]
                        nibble += 2
                        index += 2
                    }
                    if index < characters {
                        output[index] = alphabet[Int(nibbles[nibble >> 1] >> 4)]
                        nibble += 1
                    }
                    reader.pointee.nibblePosition = nibble
                    reader.pointee.position += 1
                    length += characters
                }
            }
            guard length <= limit else { throw corrupt("entry \(entry) makes the lines longer than the declared \(lineBytes) bytes") }
            produced += length
            let text = length == 0 ? "" : String(decoding: UnsafeBufferPointer(start: line.bytes, count: length), as: UTF8.self)

            if entry > 0 {
                guard let quotient = nextValue(integers, base, planes, dictionaryValues) else {
                    throw corrupt("entry \(entry) has a damaged timestamp")
                }
                timestamp = timestamp &+ Int64(bitPattern: UInt64(bitPattern: unzigzag(quotient)) &* timestamps.scale)
            }
            var labels = Labels()
            if metadataSource != nil { labels = try decodeMetadata(&metadataSource!, entry: entry) }
            entries.append(LogEntry(timestamp: timestamp, line: text, metadata: labels))
        }

        guard idOffset == idsRange.upperBound else { throw corrupt("\(idsRange.upperBound - idOffset) bytes of template ids are left over") }
        guard nextNew == templateCount else { throw corrupt("\(templateCount - nextNew) templates are never used") }
        guard produced == lineBytes else { throw corrupt("the lines take \(produced) bytes, declared \(lineBytes)") }
        if let source = metadataSource, !source.isAtEnd { throw corrupt("metadata has bytes left over at byte \(source.offset)") }
        for column in 0..<columns.integers.count where integers[column].position != integers[column].count {
            throw corrupt("integer column \(column) has \(integers[column].count - integers[column].position) values left over")
        }
        for column in 0..<columns.hexes.count where hexes[column].position != hexes[column].count || hexes[column].nibblePosition != hexes[column].nibbleCount {
            throw corrupt("hex column \(column) has \(hexes[column].count - hexes[column].position) tokens left over")
        }
        return entries
    }

    static func decodeMetadata(_ source: inout ByteSource, entry: Int) throws(StorageError) -> Labels {
        // A label takes at least two bytes.
        let labelCount = try source.uvarintInt(limit: (source.end - source.offset) / 2)
        if labelCount == 0 { return Labels() }
        var labels: [Label] = []
        labels.reserveCapacity(labelCount)
        for _ in 0..<labelCount {
            let name = try source.string()
            labels.append(Label(name, try source.string()))
        }
        return Labels(presorted: labels)
    }
}
