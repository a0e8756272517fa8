import Testing

@testable import LoupeWire

/// Content-Encodings of OTLP/HTTP bodies: names, round trips, snappy's two formats, limits, and
/// random or cut bodies that never crash.
@Suite struct ContentEncodingTests {
    let body: [UInt8] = Array((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31 % 251) })

    @Test func headerNames() {
        #expect(ContentEncoding(header: "GZIP") == .gzip && ContentEncoding(header: "x-gzip") == .gzip)
        #expect(ContentEncoding(header: " snappy ") == .snappy && ContentEncoding(header: "x-snappy-framed") == .snappyFramed)
        #expect(ContentEncoding(header: "") == .identity && ContentEncoding(header: "identity") == .identity)
        #expect(ContentEncoding(header: "deflate") == .deflate)
        #expect(ContentEncoding(header: "br") == nil && ContentEncoding(header: "ZSTD") == .zstd)
    }

    @Test(arguments: [ContentEncoding.identity, .gzip, .deflate, .zstd, .snappy, .snappyFramed])
    func roundTrips(encoding: ContentEncoding) throws {
        let encoded = encoding.encode(body[...])
        #expect(try encoding.decode(encoded, maximumOutputBytes: body.count) == body)
        if encoding != .identity { #expect(encoded.count < body.count) }
    }

    @Test func zstdFramesOneAfterAnotherAndAnEmptyBody() throws {
        let two = Zstd.compress(body[..<1000]) + Zstd.compress(body[1000...])
        #expect(try Zstd.decompress(two, maximumOutputBytes: 1 << 20) == body)
        #expect(throws: ZstdError.self) { try Zstd.decompress([], maximumOutputBytes: 10) }
        #expect(try Zstd.decompress(Zstd.compress([][...]), maximumOutputBytes: 10) == [])
    }

    @Test func snappyIsReadAsBlockOrFramedByItsFirstBytes() throws {
        let block = Snappy.compress(body)
        let framed = Snappy.compressFramed(body)
        #expect(try ContentEncoding.snappy.decode(block, maximumOutputBytes: 1 << 20) == body)
        #expect(try ContentEncoding.snappy.decode(framed, maximumOutputBytes: 1 << 20) == body)
        #expect(throws: ContentEncoding.Failure.self) { try ContentEncoding.snappyFramed.decode(block, maximumOutputBytes: 1 << 20) }
    }

    @Test(arguments: [ContentEncoding.identity, .gzip, .deflate, .zstd, .snappy, .snappyFramed])
    func overTheLimitIsTooLarge(encoding: ContentEncoding) {
        do {
            _ = try encoding.decode(encoding.encode(body[...]), maximumOutputBytes: body.count - 1)
            Issue.record("\(encoding) decoded past the limit")
        } catch {
            #expect(error.tooLarge, "\(error)")
        }
    }

    @Test(arguments: [ContentEncoding.gzip, .deflate, .zstd, .snappy, .snappyFramed])
    func randomAndCutBodiesNeverCrash(encoding: ContentEncoding) {
        var generator = SystemRandomNumberGenerator()
        let valid = encoding.encode(body[...])
        for cut in stride(from: 0, to: valid.count, by: max(1, valid.count / 200)) {
            do {
                let decoded = try encoding.decode(Array(valid[..<cut]), maximumOutputBytes: 1 << 20)
                #expect(decoded.count <= body.count)
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
        for _ in 0..<300 {
            var bytes = valid
            for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            let random = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for input in [bytes, random] {
                do {
                    _ = try encoding.decode(input, maximumOutputBytes: 1 << 20)
                } catch {
                    #expect(!error.message.isEmpty)
                }
            }
        }
    }
}
