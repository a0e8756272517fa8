import LoupeModel

/// The series `loupe bench remote-write` sends, generated in memory: for storage benchmarks that
/// need the same values without a server (`loupe bench chunks`).
public enum NodeExporterSamples {
    public struct Series: Sendable {
        public var labels: Labels
        public var samples: [FloatSample]
    }

    /// `hosts` × the node-exporter catalog, `rounds` scrapes 15 s apart from `firstTimestamp`.
    public static func generate(
        hosts: Int, rounds: Int, values: RemoteWriteValueModel = .realistic, seed: UInt64 = 0x5EED,
        firstTimestamp: Int64 = 1_700_000_000_000
    ) -> [Series] {
        let catalog = NodeExporterCatalog()
        let interval = RemoteWriteLoadGenerator.scrapeIntervalMilliseconds
        return (0..<(hosts * catalog.templates.count)).map { index in
            let slot = RemoteWriteShard.makeSlot(index, generation: 0, catalog: catalog, seed: seed, values: values)
            let samples = (0..<rounds).map { scrape in
                let timestamp = firstTimestamp + Int64(scrape) * interval
                return FloatSample(timestamp: timestamp, value: RemoteWriteShard.value(slot, scrape: scrape, timestamp: timestamp))
            }
            return Series(labels: slot.labels, samples: samples)
        }
    }
}
