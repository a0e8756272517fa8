import NIOCore
import NIOHTTP1
import NIOPosix

/// Why an HTTP exchange did not produce a response.
struct HTTP1ClientError: Error, Sendable, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A complete HTTP response: head and the whole body (up to the client's limit).
struct HTTP1Response: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
    /// Whether the server allows another request on this connection.
    var isKeepAlive: Bool
}

/// One HTTP/1.1 connection carrying requests one at a time (keep-alive, no pipelining).
///
/// Deliberately minimal, just what a load generator needs: bodies are sent with `Content-Length`, responses are
/// read to their end so the next request starts on a clean stream, and the connection is only reused when both
/// sides agree to keep it alive. Framing of responses (length, chunked, read-until-close) is NIO's decoder's job.
///
/// Not `Sendable`: a connection belongs to the one task that opened it (see `withConnection`).
final class HTTP1Connection {
    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>
    private var responseParts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    /// `Host` header value.
    let authority: String
    /// False once the server asked to close, or an exchange broke off halfway: then the stream is in an unknown
    /// state and the connection must not carry another request.
    private(set) var isReusable = true

    /// Responses bodies beyond this are read (to keep the stream in sync) but not kept; OTLP responses are tiny.
    static let maximumKeptResponseBodyBytes = 1 << 20

    private init(
        channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
        responseParts: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator, authority: String
    ) {
        self.channel = channel
        self.outbound = outbound
        self.responseParts = responseParts
        self.authority = authority
    }

    /// Connects to `host:port`, runs `body` with the connection, then closes it (also when `body` throws).
    static func withConnection<Result: Sendable>(
        host: String, port: Int, eventLoopGroup: any EventLoopGroup, connectTimeout: Duration,
        _ body: (HTTP1Connection) async throws -> Result
    ) async throws -> Result {
        let asyncChannel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(TimeAmount(connectTimeout))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        // IPv6 literals need their brackets back in the Host header.
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return try await asyncChannel.executeThenClose { inbound, outbound in
            let connection = HTTP1Connection(
                channel: asyncChannel.channel, outbound: outbound, responseParts: inbound.makeAsyncIterator(), authority: authority)
            return try await body(connection)
        }
    }

    /// Sends one `POST` and reads the whole response.
    ///
    /// After `timeout`, or when the surrounding task is cancelled, the connection is closed, which ends the exchange
    /// with an error; either way the connection is then not reusable.
    func post(path: String, headers: HTTPHeaders, body: ByteBuffer, timeout: Duration) async throws -> HTTP1Response {
        guard isReusable else { throw HTTP1ClientError(message: "the connection cannot carry another request") }
        // Assume the worst until the exchange completes cleanly.
        isReusable = false

        let channel = self.channel
        // Closing the channel is the one way to interrupt reads and writes that are already waiting.
        let timeoutTask = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.close(promise: nil) }
        defer { timeoutTask.cancel() }
        let started = ContinuousClock.now
        let response = try await withTaskCancellationHandler {
            try await exchange(path: path, headers: headers, body: body)
        } onCancel: {
            channel.close(promise: nil)
        }
        // A response completing just as the timer fires may race with the close it schedules; such a connection
        // is dropped rather than risk the next request failing on it.
        if started.duration(to: .now) >= timeout - .milliseconds(100) { isReusable = false }
        return response
    }

    private func exchange(path: String, headers: HTTPHeaders, body: ByteBuffer) async throws -> HTTP1Response {
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        head.headers.replaceOrAdd(name: "Host", value: authority)
        // An explicit length keeps NIO's encoder from switching to chunked encoding, which some servers handle
        // less efficiently and which would make byte counts differ from the body size.
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        try await outbound.write(contentsOf: [.head(head), .body(.byteBuffer(body)), .end(nil)])

        var responseHead: HTTPResponseHead?
        var responseBody = ByteBuffer()
        // 1xx responses are dropped by NIO's decoder, so the first head is the final response.
        while let part = try await responseParts.next() {
            switch part {
            case .head(let receivedHead):
                responseHead = receivedHead
            case .body(var chunk):
                if responseBody.readableBytes < Self.maximumKeptResponseBodyBytes { responseBody.writeBuffer(&chunk) }
            case .end:
                guard let responseHead else {
                    throw HTTP1ClientError(message: "the server ended a response that never started")
                }
                isReusable = responseHead.isKeepAlive
                return HTTP1Response(
                    status: responseHead.status, headers: responseHead.headers, body: responseBody, isKeepAlive: responseHead.isKeepAlive)
            }
        }
        throw HTTP1ClientError(
            message: responseHead == nil
                ? "the connection closed before a response arrived" : "the connection closed in the middle of a response")
    }
}
