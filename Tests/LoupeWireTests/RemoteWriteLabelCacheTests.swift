import LoupeModel
import LoupeWire
import Testing

@Suite("Remote write 1.0: label sets reused from the head's cache")
struct RemoteWriteLabelCacheTests {
    /// What a head does after appending: keep its own label set under the hash the decoder reported.
    static func remember(_ request: RemoteWriteRequest, in cache: RemoteWriteLabelCache) {
        for series in request.series {
            if let hash = series.rawLabelsHash { cache.remember(series.labels, seriesRef: 7, for: hash) }
        }
    }

    static func withoutHashes(_ request: RemoteWriteRequest) -> RemoteWriteRequest {
        var request = request
        for index in request.series.indices {
            request.series[index].rawLabelsHash = nil
            request.series[index].seriesRefHint = nil
        }
        return request
    }

    static func storedIdentically(_ lhs: Labels, _ rhs: Labels) -> Bool {
        lhs.storage.withUnsafeBufferPointer { left in rhs.storage.withUnsafeBufferPointer { $0.baseAddress == left.baseAddress } }
    }

    @Test func aKnownLabelSetIsReusedAndANewOneIsReported() throws {
        let bytes = RW.v1Request([
            RW.v1Series([("__name__", "up"), ("instance", "a:1"), ("job", "api")]),
            RW.v1Series([("__name__", "up"), ("instance", "b:1"), ("job", "api")], [RW.sample(0, 5)]),
        ])
        let cache = RemoteWriteLabelCache()
        let plain = try RemoteWriteV1.decode(bytes)
        let first = try RemoteWriteV1.decode(bytes, labelCache: cache)
        #expect(Self.withoutHashes(first) == plain)
        #expect(first.series.allSatisfy { $0.rawLabelsHash != nil })
        #expect(Set(first.series.compactMap(\.rawLabelsHash)).count == 2)
        Self.remember(first, in: cache)

        let second = try RemoteWriteV1.decode(bytes, labelCache: cache)
        #expect(Self.withoutHashes(second) == plain, "reused label sets decode to the same request")
        #expect(second.series.allSatisfy { $0.rawLabelsHash == nil && $0.seriesRefHint == 7 }, "nothing new to remember; the ref is passed on")
        for (reused, remembered) in zip(second.series, first.series) {
            #expect(Self.storedIdentically(reused.labels, remembered.labels), "the cached label set itself is handed out")
        }
    }

    @Test func aCachedSetIsUsedOnlyWhenTheBytesMatchIt() throws {
        // The usual field layout (checked in place) and value-before-name (the general field loop).
        let encodings = [
            RW.v1Request([RW.v1Series([("__name__", "up"), ("job", "api")])]),
            RW.v1Request([.message(1, [
                .message(1, [.string(2, "up"), .string(1, "__name__")]), .message(1, [.string(2, "api"), .string(1, "job")]),
                RW.sample(1, 1),
            ])]),
        ]
        for bytes in encodings {
            let cache = RemoteWriteLabelCache()
            let hash = try #require(try RemoteWriteV1.decode(bytes, labelCache: cache).series.first?.rawLabelsHash)
            // A different label set under the same hash (a collision, or a stale entry) must not be taken.
            let impostors: [Labels] = [
                ["__name__": "up", "job": "apj"], ["__name__": "up", "job": "ap"], ["__name__": "up", "job": "apix"],
                ["__name__": "up", "jab": "api"], ["__name__": "up"], ["__name__": "up", "job": "api", "x": "y"],
            ]
            for impostor in impostors {
                cache.remember(impostor, seriesRef: 1, for: hash)
                let decoded = try RemoteWriteV1.decode(bytes, labelCache: cache)
                #expect(decoded.series.first?.labels == ["__name__": "up", "job": "api"])
                #expect(decoded.series.first?.rawLabelsHash == hash)
                #expect(decoded.series.first?.seriesRefHint == nil)
            }
            // The right label set under that hash is taken.
            cache.remember(["__name__": "up", "job": "api"], seriesRef: 3, for: hash)
            #expect(try RemoteWriteV1.decode(bytes, labelCache: cache).series.first?.seriesRefHint == 3)
        }
    }

    /// Unsorted labels, empty values (dropped), unknown fields and duplicate fields decode as without a
    /// cache, both before and after the cache has seen them.
    @Test func unusualEncodingsDecodeAsWithoutACache() throws {
        let requests: [[UInt8]] = [
            RW.v1Request([RW.v1Series([("job", "api"), ("__name__", "up")])]),
            RW.v1Request([RW.v1Series([("__name__", "up"), ("empty", ""), ("job", "api")])]),
            RW.v1Request([.message(1, [.message(1, [.string(1, "__name__"), .string(2, "up"), .varint(7, 1)]), RW.sample(1, 1)])]),
            RW.v1Request([.message(1, [.message(1, [.string(1, "__name__"), .string(2, "down"), .string(2, "up")]), RW.sample(1, 1)])]),
            RW.v1Request([.message(1, [RW.sample(1, 1), RW.label("__name__", "up"), RW.sample(2, 2), RW.label("job", "x")])]),
        ]
        for bytes in requests {
            let plain = try RemoteWriteV1.decode(bytes)
            let cache = RemoteWriteLabelCache()
            for _ in 0..<3 {
                let decoded = try RemoteWriteV1.decode(bytes, labelCache: cache)
                #expect(Self.withoutHashes(decoded) == plain)
                Self.remember(decoded, in: cache)
            }
        }
    }

    /// The raw-bytes hash covers every length (the 16-byte lanes, the 8-byte step, the overlapping
    /// tail load and short runs) and every byte: label sets differing in one byte or one length hash
    /// apart, and the same bytes always hash alike.
    @Test func rawHashesSeparateLabelSetsOfEveryLength() throws {
        var series: [PB] = []
        for length in 0..<48 {
            let value = String(repeating: "v", count: length)
            series.append(RW.v1Series([("__name__", "m"), ("k", value + "a")]))
            series.append(RW.v1Series([("__name__", "m"), ("k", value + "b")]))
            series.append(RW.v1Series([("k", value + "a")]))
        }
        // Labels split by a sample hash as more than one run.
        series.append(.message(1, [RW.label("__name__", "m"), RW.sample(1, 1), RW.label("k", "split")]))
        let bytes = RW.v1Request(series)
        let first = try RemoteWriteV1.decode(bytes, labelCache: RemoteWriteLabelCache())
        let second = try RemoteWriteV1.decode(bytes, labelCache: RemoteWriteLabelCache())
        let hashes = first.series.compactMap(\.rawLabelsHash)
        #expect(hashes.count == series.count)
        #expect(Set(hashes).count == hashes.count, "every label set has its own hash")
        #expect(second.series.compactMap(\.rawLabelsHash) == hashes, "the same bytes hash the same")
    }

    /// The cache's own table: growth keeps every entry, a hash remembered again is overwritten,
    /// and `removeAll` forgets everything.
    @Test func theCacheTableKeepsEveryEntryAcrossGrowth() throws {
        let cache = RemoteWriteLabelCache(shardCount: 4)
        var random = SystemRandomNumberGenerator()
        let hashes = (0..<20_000).map { _ in UInt64.random(in: 0...UInt64.max, using: &random) & ~1 }
        let labels: Labels = ["__name__": "up"]
        for (index, hash) in hashes.enumerated() { cache.remember(labels, seriesRef: UInt64(index), for: hash) }
        #expect(cache.count == Set(hashes).count)
        for (index, hash) in hashes.enumerated() { #expect(cache.candidate(for: hash)?.seriesRef == UInt64(index)) }
        cache.remember(labels, seriesRef: 99, for: hashes[0])
        #expect(cache.candidate(for: hashes[0])?.seriesRef == 99)
        #expect(cache.count == Set(hashes).count, "remembering a known hash again replaces its entry")
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(hashes.prefix(100).allSatisfy { cache.candidate(for: $0) == nil })
    }

    @Test func invalidLabelsAreRefusedWithACacheToo() throws {
        for bytes in [
            RW.v1Request([RW.v1Series([("", "x")])]),
            RW.v1Request([RW.v1Series([("a", "1"), ("a", "2")])]),
            RW.v1Request([.message(1, [.message(1, [.bytes(1, [0xFF, 0xFE]), .string(2, "x")])])]),
        ] {
            #expect(throws: WireError.self) { try RemoteWriteV1.decode(bytes) }
            #expect(throws: WireError.self) { try RemoteWriteV1.decode(bytes, labelCache: RemoteWriteLabelCache()) }
        }
    }

    /// A request long enough for the decoder's lookahead (label sets are looked up after the whole
    /// request is read, each prefetched a few series ahead): known, new and impostor label sets in
    /// one request each end up where they belong.
    @Test func knownNewAndImpostorSetsInOneLongRequest() throws {
        let series = (0..<40).map { index in
            RW.v1Series([("__name__", "m\(index % 3)"), ("instance", "host-\(index):9100"), ("job", "node")], [RW.sample(Double(index), 1)])
        }
        let bytes = RW.v1Request(series)
        let plain = try RemoteWriteV1.decode(bytes)
        let cache = RemoteWriteLabelCache()
        let first = try RemoteWriteV1.decode(bytes, labelCache: cache)
        let hashes = first.series.map(\.rawLabelsHash)
        #expect(hashes.allSatisfy { $0 != nil })
        // Even series are known to the cache; series 10 has an impostor under its hash.
        for index in stride(from: 0, to: 40, by: 2) { cache.remember(first.series[index].labels, seriesRef: UInt64(100 + index), for: hashes[index]!) }
        cache.remember(["__name__": "m1", "instance": "host-10:9100", "job": "nodes"], seriesRef: 999, for: hashes[10]!)
        let second = try RemoteWriteV1.decode(bytes, labelCache: cache)
        #expect(Self.withoutHashes(second) == plain)
        for index in 0..<40 {
            if index % 2 == 0 && index != 10 {
                #expect(second.series[index].seriesRefHint == UInt64(100 + index) && second.series[index].rawLabelsHash == nil, "series \(index)")
            } else {
                #expect(second.series[index].seriesRefHint == nil && second.series[index].rawLabelsHash == hashes[index], "series \(index)")
            }
        }
    }

    /// An invalid label set found after the request is read still names its series and label,
    /// exactly as without a cache.
    @Test func labelErrorsNameTheSameSeriesWithACache() throws {
        var series = (0..<12).map { index in RW.v1Series([("__name__", "m"), ("instance", "host-\(index)")]) }
        series[9] = RW.v1Series([("__name__", "m"), ("a", "1"), ("a", "2")])
        series[10] = .message(1, [.message(1, [.string(1, "__name__"), .bytes(2, [0xFF, 0xFE])]), RW.sample(1, 1)])
        for bad in [9, 10] {
            var request = series
            request[bad == 9 ? 10 : 9] = RW.v1Series([("__name__", "m"), ("instance", "fine")])
            let bytes = RW.v1Request(request)
            let plain = #expect(throws: WireError.self) { try RemoteWriteV1.decode(bytes) }
            let cached = #expect(throws: WireError.self) { try RemoteWriteV1.decode(bytes, labelCache: RemoteWriteLabelCache()) }
            #expect(plain.map { String(describing: $0) } == cached.map { String(describing: $0) })
            #expect(String(describing: cached.map { String(describing: $0) } ?? "").contains("timeseries[\(bad)]"))
        }
    }

    /// The label check compares bytes without `memcmp`: every length (the 8-byte steps and
    /// overlapping tail, the 4-byte pair, single bytes) and every position of a difference.
    @Test func labelBytesCompareAtEveryLengthAndPosition() {
        for length in 0..<40 {
            let text = String((0..<length).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
            var bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { Labels.utf8(of: text, equals: $0) }, "length \(length)")
            #expect(!(bytes + [0x61]).withUnsafeBytes { Labels.utf8(of: text, equals: $0) })
            for position in 0..<length {
                bytes[position] ^= 0x20
                #expect(!bytes.withUnsafeBytes { Labels.utf8(of: text, equals: $0) }, "length \(length), position \(position)")
                bytes[position] ^= 0x20
            }
        }
        let accented = "instance-é-ü-日本"
        #expect(Array(accented.utf8).withUnsafeBytes { Labels.utf8(of: accented, equals: $0) })
    }

    /// Random and truncated requests never crash, and valid ones decode the same with a warm cache.
    @Test func randomAndTruncatedRequests() throws {
        var random = SystemRandomNumberGenerator()
        let cache = RemoteWriteLabelCache()
        let base = RW.v1Request((0..<20).map { index in
            RW.v1Series([("__name__", "m\(index % 3)"), ("instance", "host-\(index)"), ("job", "node")], [RW.sample(Double(index), Int64(index))])
        })
        Self.remember(try RemoteWriteV1.decode(base, labelCache: cache), in: cache)
        for _ in 0..<2_000 {
            var bytes = base
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
            case 1: for _ in 0..<Int.random(in: 1...4, using: &random) { bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random) }
            default: bytes = (0..<Int.random(in: 0...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            let plain = try? RemoteWriteV1.decode(bytes)
            let cached = try? RemoteWriteV1.decode(bytes, labelCache: cache)
            #expect((plain == nil) == (cached == nil), "\(bytes)")
            if let plain, let cached { #expect(Self.withoutHashes(cached) == plain) }
        }
    }
}

extension RW {
    /// A 1.0 `WriteRequest` of these `timeseries` fields.
    static func v1Request(_ series: [PB]) -> [UInt8] { series.bytes }
}
