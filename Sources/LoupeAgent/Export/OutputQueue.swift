import Dispatch
import LoupeStorage
import LoupeWire
import Synchronization

/// A pipeline's durable output queue. Requests are stored as the output sends them (compressed for
/// an OTLP/HTTP output): compressing then runs in the inputs, alongside the sending of earlier
/// requests instead of before each one, and the queue writes and syncs the compressed bytes.
public struct OutputQueue: Sendable {
    public let disk: DiskQueue
    /// How requests are stored: the Content-Encoding of an OTLP/HTTP output, identity otherwise.
    public let encoding: ContentEncoding

    public init(disk: DiskQueue, encoding: ContentEncoding) {
        self.disk = disk
        self.encoding = encoding
    }

    /// Queues one encoded export request of `itemCount` items, durably.
    public func append(itemCount: Int, request: [UInt8]) throws(StorageError) {
        try disk.append([QueuedRequest.frame(itemCount: itemCount, request: request, encoding: encoding)])
    }

    /// Queues several requests, compressed side by side on as many threads, with one sync.
    public func append(_ requests: [(itemCount: Int, request: [UInt8])]) throws(StorageError) {
        guard requests.count > 1 else {
            if let only = requests.first { try append(itemCount: only.itemCount, request: only.request) }
            return
        }
        let frames = Mutex([[UInt8]](repeating: [], count: requests.count))
        DispatchQueue.concurrentPerform(iterations: requests.count) { index in
            let frame = QueuedRequest.frame(itemCount: requests[index].itemCount, request: requests[index].request, encoding: encoding)
            frames.withLock { $0[index] = frame }
        }
        try disk.append(frames.withLock { $0 })
    }
}
