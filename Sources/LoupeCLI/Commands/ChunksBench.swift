import ArgumentParser
import LoupeBench
import LoupeModel
import LoupeStorage

/// Compares chunk encodings on the remote-write benchmark's series, without a server: bytes per
/// sample of chunk data, and single-threaded encode and decode speed.
struct ChunksBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunks",
        abstract: "Compare chunk encodings (Prometheus XOR, Loupe's optimized XOR and packed chunks) on node-exporter-like series.")

    @Option(help: "Hosts (each is the node-exporter catalog of 500 series).")
    var hosts: Int = 4

    @Option(help: "Scrapes per series, 15 s apart (480 = 2 h).")
    var rounds: Int = 480

    @Option(help: "Value model: realistic or synthetic.")
    var values: String = "realistic"

    @Option(help: "Families to list with their packed size.")
    var families: Int = 12

    func run() throws {
        let model = RemoteWriteValueModel(rawValue: values) ?? .realistic
        let series = NodeExporterSamples.generate(hosts: hosts, rounds: rounds, values: model)
        let sampleCount = series.reduce(0) { $0 + $1.samples.count }
        print("\(series.count) series × \(rounds) samples (\(model.rawValue) values) = \(sampleCount) samples")
        print("encoding                         bytes/sample   chunks   encode ns/sample   decode ns/sample")
        let clock = ContinuousClock()

        func report(_ name: String, chunkBytes: Int, chunks: Int, encode: Duration, decode: Duration) {
            let perSample = Double(chunkBytes) / Double(sampleCount)
            func ns(_ duration: Duration) -> Double {
                Double(duration.components.seconds) * 1e9 / Double(sampleCount) + Double(duration.components.attoseconds) / 1e9 / Double(sampleCount)
            }
            print(
                name.rightPadded(32) + " " + BenchFormat.fixed(perSample, decimals: 3).leftPadded(12) + " " + String(chunks).leftPadded(8)
                    + " " + BenchFormat.fixed(ns(encode), decimals: 1).leftPadded(18) + " " + BenchFormat.fixed(ns(decode), decimals: 1).leftPadded(18))
        }

        func decodeAll(_ chunks: [[Chunk]]) -> (Duration, Double) {
            var checksum = 0.0
            let time = clock.measure {
                for list in chunks {
                    for chunk in list {
                        var iterator = chunk.makeIterator()
                        while let sample = iterator.next() {
                            if case .float(let float) = sample { checksum += float.value }
                        }
                    }
                }
            }
            return (time, checksum)
        }

        func xorChunks(_ samples: [FloatSample], perChunk: Int, optimize: Bool) -> [Chunk] {
            var result: [Chunk] = []
            var start = 0
            while start < samples.count {
                var appender = XORChunkAppender()
                for sample in samples[start..<min(samples.count, start + perChunk)] { _ = appender.append(sample) }
                result.append(Chunk(optimize ? appender.chunk.optimized() : appender.chunk))
                start += perChunk
            }
            return result
        }

        func packedChunks(_ samples: [FloatSample], perChunk: Int) -> [Chunk] {
            PackedFloatChunk.chunks(packing: samples, maximumSamples: perChunk).map(Chunk.init)
        }

        var reference = 0.0
        var packedByFamily: [String: (bytes: Int, samples: Int)] = [:]
        let encodings: [(String, ([FloatSample]) -> [Chunk])] = [
            ("Prometheus XOR, 120 per chunk", { xorChunks($0, perChunk: 120, optimize: false) }),
            ("Loupe XOR (optimized), 240", { xorChunks($0, perChunk: 240, optimize: true) }),
            ("packed, 240 per chunk", { packedChunks($0, perChunk: 240) }),
            ("packed, 480 per chunk", { packedChunks($0, perChunk: 480) }),
            ("packed, 960 per chunk", { packedChunks($0, perChunk: 960) }),
        ]
        for (index, (name, encode)) in encodings.enumerated() {
            var chunks: [[Chunk]] = []
            chunks.reserveCapacity(series.count)
            let encodeTime = clock.measure {
                for entry in series { chunks.append(encode(entry.samples)) }
            }
            let (decodeTime, checksum) = decodeAll(chunks)
            if index == 0 { reference = checksum } else if checksum.bitPattern != reference.bitPattern && !(checksum.isNaN && reference.isNaN) {
                throw ValidationError("\(name) decoded different values (checksum \(checksum) vs \(reference))")
            }
            let bytes = chunks.reduce(0) { $0 + $1.reduce(0) { $0 + $1.bytes.count } }
            report(name, chunkBytes: bytes, chunks: chunks.reduce(0) { $0 + $1.count }, encode: encodeTime, decode: decodeTime)
            if name == "packed, 480 per chunk" {
                for (entry, list) in zip(series, chunks) {
                    let family = entry.labels["__name__"] ?? ""
                    packedByFamily[family, default: (0, 0)].bytes += list.reduce(0) { $0 + $1.bytes.count }
                    packedByFamily[family, default: (0, 0)].samples += entry.samples.count
                }
            }
        }
        let total = packedByFamily.values.reduce(0) { $0 + $1.bytes }
        print("\nlargest families, packed 480 per chunk: share of bytes, bytes/sample")
        for (family, figures) in packedByFamily.sorted(by: { $0.value.bytes > $1.value.bytes }).prefix(families) {
            print("  " + family.rightPadded(44)
                + BenchFormat.fixed(100 * Double(figures.bytes) / Double(total), decimals: 1).leftPadded(6) + " %" + BenchFormat.fixed(Double(figures.bytes) / Double(figures.samples), decimals: 3).leftPadded(9))
        }
    }
}
