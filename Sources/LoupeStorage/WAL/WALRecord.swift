import LoupeModel

/// One acknowledged write: a batch of one signal for one tenant, as the client sent it.
public struct WALRecord: Sendable, Equatable {
    public var signal: Signal
    public var tenant: Tenant
    /// The smallest and largest item timestamp of the batch; used to expire whole segments.
    public var timeBounds: TimeBounds
    /// Opaque to the WAL (canonical OTLP protobuf).
    public var payload: [UInt8]

    public init(signal: Signal, tenant: Tenant, timeBounds: TimeBounds, payload: [UInt8]) {
        self.signal = signal
        self.tenant = tenant
        self.timeBounds = timeBounds
        self.payload = payload
    }
}
