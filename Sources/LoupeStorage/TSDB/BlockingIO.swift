import NIOPosix

/// Runs file-heavy work (writing and merging blocks) on NIO's blocking thread pool, off Swift's
/// cooperative threads, which must never wait on a disk.
public enum BlockingIO {
    public static func run<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await NIOThreadPool.singleton.runIfActive(body)
    }
}
