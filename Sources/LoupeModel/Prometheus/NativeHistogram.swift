/// A Prometheus native (sparse, exponential) histogram, with absolute bucket counts.
///
/// Remote write carries integer histograms as bucket deltas; decoders turn them into
/// absolute counts here so the engine works on one form. `isIntegerCounts` remembers
/// the original kind so encoders can write it back as it came.
public struct NativeHistogram: Sendable, Hashable {
    public enum CounterResetHint: Int32, Sendable, Hashable {
        case unknown = 0
        case yes = 1
        case no = 2
        case gauge = 3
    }

    /// A run of `length` consecutive buckets starting `offset` buckets after the previous run.
    public struct BucketSpan: Sendable, Hashable {
        public var offset: Int32
        public var length: UInt32

        public init(offset: Int32, length: UInt32) {
            self.offset = offset
            self.length = length
        }
    }

    /// Schema -53 marks custom bucket boundaries (given in `customValues`); -4...8 are exponential.
    public static let customBucketsSchema: Int32 = -53

    public var counterResetHint: CounterResetHint
    public var schema: Int32
    public var zeroThreshold: Double
    public var zeroCount: Double
    public var count: Double
    public var sum: Double
    public var positiveSpans: [BucketSpan]
    public var positiveBuckets: [Double]
    public var negativeSpans: [BucketSpan]
    public var negativeBuckets: [Double]
    public var customValues: [Double]
    public var isIntegerCounts: Bool

    public init(
        counterResetHint: CounterResetHint = .unknown, schema: Int32 = 0, zeroThreshold: Double = 0, zeroCount: Double = 0,
        count: Double = 0, sum: Double = 0, positiveSpans: [BucketSpan] = [], positiveBuckets: [Double] = [],
        negativeSpans: [BucketSpan] = [], negativeBuckets: [Double] = [], customValues: [Double] = [], isIntegerCounts: Bool = false
    ) {
        self.counterResetHint = counterResetHint
        self.schema = schema
        self.zeroThreshold = zeroThreshold
        self.zeroCount = zeroCount
        self.count = count
        self.sum = sum
        self.positiveSpans = positiveSpans
        self.positiveBuckets = positiveBuckets
        self.negativeSpans = negativeSpans
        self.negativeBuckets = negativeBuckets
        self.customValues = customValues
        self.isIntegerCounts = isIntegerCounts
    }

    public var usesCustomBuckets: Bool { schema == Self.customBucketsSchema }
}
