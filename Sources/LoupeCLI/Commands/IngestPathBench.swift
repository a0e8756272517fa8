import ArgumentParser
import LoupeBench
import LoupeModel
import LoupeStorage
import LoupeWire

/// The CPU cost of the remote-write ingest path without a server: snappy decompression, protobuf
/// decoding (with the head's label cache) and the head append, single-threaded, per sample.
///
/// The server benchmark (`scripts/bench-remote-write.sh`) shares two noisy cores with its load
/// generator and waits on fsync; this one isolates the work a core does per sample, so changes to
/// the path can be compared run to run.
struct IngestPathBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest-path",
        abstract: "Measure remote-write decompression, decoding and head appends per sample, single-threaded, without a server.")

    @Option(help: "Active series (~500 per simulated host).")
    var series: Int = 10_000

    @Option(help: "Series per request (the remote-write bench sends 1,250 with 4 connections).")
    var batchSeries: Int = 1_250

    @Option(help: "Scrapes of every series, one sample per series per request; the first creates the series and is not counted.")
    var rounds: Int = 241

    func validate() throws {
        guard series >= 500 else { throw ValidationError("--series must be at least 500") }
        guard batchSeries > 0 else { throw ValidationError("--batch-series must be positive") }
        guard rounds >= 2 else { throw ValidationError("--rounds must be at least 2") }
    }

    func run() throws {
        let generated = NodeExporterSamples.generate(hosts: series / 500, rounds: rounds)
        var requests: [[[UInt8]]] = []  // per round, the compressed requests
        for round in 0..<rounds {
            var bodies: [[UInt8]] = []
            var start = 0
            while start < generated.count {
                let batch = generated[start..<min(generated.count, start + batchSeries)].map {
                    TimeSeries(labels: $0.labels, samples: [$0.samples[round]])
                }
                bodies.append(Snappy.compress(RemoteWriteV1.encode(RemoteWriteRequest(series: batch))))
                start += batchSeries
            }
            requests.append(bodies)
        }
        let requestCount = requests[0].count
        print("\(generated.count) series, \(requestCount) requests of ≤ \(batchSeries) series per round, \(rounds) rounds")

        let head = TSDBHead()
        let clock = ContinuousClock()
        var decompressNs: [Double] = []
        var decodeNs: [Double] = []
        var appendNs: [Double] = []
        var appended = 0
        for (round, bodies) in requests.enumerated() {
            var decompressTime = Duration.zero
            var decodeTime = Duration.zero
            var appendTime = Duration.zero
            var samples = 0
            for body in bodies {
                var protobuf: [UInt8] = []
                decompressTime += try clock.measure { protobuf = try Snappy.decompress(body, maximumOutputBytes: 64 << 20) }
                var request = RemoteWriteRequest()
                decodeTime += try clock.measure { request = try RemoteWriteV1.decode(protobuf, labelCache: head.labelCache) }
                var result = HeadAppendResult()
                appendTime += clock.measure { result = head.append(request.series) }
                samples += result.samplesAppended
            }
            appended += samples
            guard round > 0, samples > 0 else { continue }
            func perSample(_ duration: Duration) -> Double {
                (Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9) / Double(samples)
            }
            decompressNs.append(perSample(decompressTime))
            decodeNs.append(perSample(decodeTime))
            appendNs.append(perSample(appendTime))
        }
        guard appended == generated.count * rounds else {
            throw ValidationError("the head took \(appended) of \(generated.count * rounds) samples")
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func best(_ values: [Double]) -> Double { values.min() ?? 0 }
        let totals = zip(zip(decompressNs, decodeNs), appendNs).map { $0.0 + $0.1 + $1 }
        print("stage              median ns/sample   best ns/sample")
        for (name, values) in [("snappy", decompressNs), ("decode", decodeNs), ("head append", appendNs), ("total", totals)] {
            print(
                name.rightPadded(18) + BenchFormat.fixed(median(values), decimals: 1).leftPadded(18)
                    + BenchFormat.fixed(best(values), decimals: 1).leftPadded(17))
        }
        print("summary ns_per_sample=\(BenchFormat.fixed(median(totals), decimals: 1)) samples_per_core_second=\(Int(1e9 / median(totals)))")
    }
}
