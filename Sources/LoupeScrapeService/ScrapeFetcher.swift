import AsyncHTTPClient
import Foundation
import LoupeScrape
import LoupeWire
import NIOCore
import NIOSSL

/// The HTTP side of a scrape: one `HTTPClient` per scrape pool (its TLS settings), requests shaped as
/// Prometheus sends them, gzip, body limits, timeouts.
struct ScrapeFetcher: Sendable {
    /// Bodies are capped even without `body_size_limit`.
    static let maximumBodyBytes = 256 << 20

    let config: ScrapeConfig
    let client: HTTPClient?
    /// Why no client could be made (unreadable CA file, bad key, ...); every scrape then fails with it.
    let clientError: ScrapeError?
    let userAgent: String

    init(config: ScrapeConfig, userAgent: String) {
        self.config = config
        self.userAgent = userAgent
        do {
            client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: try Self.clientConfiguration(config, dnsOverride: [:]))
            clientError = nil
        } catch {
            client = nil
            clientError = error
        }
    }

    static func clientConfiguration(_ config: ScrapeConfig, dnsOverride: [String: String]) throws(ScrapeError) -> HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let caFile = config.tls.caFile {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            if let certFile = config.tls.certFile, let keyFile = config.tls.keyFile {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            }
        } catch {
            throw ScrapeError(.invalidConfiguration, "job \"\(config.jobName)\": tls_config: \(error)")
        }
        if config.tls.insecureSkipVerify { tls.certificateVerification = .none }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .follow(max: 10, allowCycles: false),
            timeout: HTTPClient.Configuration.Timeout(connect: .milliseconds(config.scrapeTimeout)), decompression: .disabled)
        configuration.dnsOverride = dnsOverride
        return configuration
    }

    func shutdown() async {
        try? await client?.shutdown()
    }

    struct Body: Sendable {
        var bytes: [UInt8]
        var contentType: String?
    }

    /// Fetches a target's exposition within its timeout.
    func fetch<C: Clock>(_ target: ScrapeTarget, clock: C) async -> Result<Body, ScrapeError> where C.Duration == Duration {
        guard var client else { return .failure(clientError ?? ScrapeError(.unreachable, "no HTTP client")) }
        var url = target.url
        var ownClient: HTTPClient?
        if let serverName = config.tls.serverName, target.scheme == "https" {
            // Verify the certificate (and send SNI) for server_name: connect to the target's host under that name.
            let (host, port) = Self.split(target.address)
            var rewritten = target
            rewritten.address = port.map { "\(serverName):\($0)" } ?? serverName
            url = rewritten.url
            do {
                let configuration = try Self.clientConfiguration(config, dnsOverride: [serverName: host])
                let dedicated = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
                ownClient = dedicated
                client = dedicated
            } catch {
                return .failure(error)
            }
        }
        defer {
            if let ownClient { Task { try? await ownClient.shutdown() } }
        }
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: ExpositionFormat.scrapeAcceptHeader)
        request.headers.add(name: "Accept-Encoding", value: "gzip")
        request.headers.add(name: "User-Agent", value: userAgent)
        request.headers.add(name: "X-Prometheus-Scrape-Timeout-Seconds", value: Self.seconds(target.timeout))
        if ownClient != nil { request.headers.replaceOrAdd(name: "Host", value: target.address) }
        switch authorizationHeader() {
        case .success(let value?): request.headers.add(name: "Authorization", value: value)
        case .success(nil): break
        case .failure(let error): return .failure(error)
        }
        let limit = config.bodySizeLimit > 0 ? min(config.bodySizeLimit, Self.maximumBodyBytes) : Self.maximumBodyBytes
        let timeout = Duration.milliseconds(target.timeout)
        let displayURL = target.url
        let request2 = request
        let httpClient = client
        do {
            return .success(try await withThrowingTaskGroup(of: Body?.self) { group in
                group.addTask {
                    let response = try await httpClient.execute(request2, timeout: .milliseconds(target.timeout))
                    guard response.status == .ok else {
                        throw ScrapeError(.httpStatus, "server returned HTTP status \(response.status.code) \(response.status.reasonPhrase)")
                    }
                    var buffer: ByteBuffer
                    do {
                        buffer = try await response.body.collect(upTo: limit)
                    } catch is NIOTooManyBytesError {
                        throw ScrapeError(.limitExceeded, "body size limit exceeded (limit: \(limit) bytes)")
                    }
                    var bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
                    let encoding = response.headers.first(name: "Content-Encoding")?.lowercased() ?? ""
                    if encoding == "gzip" {
                        do {
                            bytes = try Gzip.decompress(bytes, maximumOutputBytes: limit)
                        } catch {
                            throw ScrapeError(.invalidExposition, "gzip: \(error)")
                        }
                    } else if !encoding.isEmpty, encoding != "identity" {
                        throw ScrapeError(.invalidExposition, "unsupported Content-Encoding \"\(encoding)\"")
                    }
                    return Body(bytes: bytes, contentType: response.headers.first(name: "Content-Type"))
                }
                group.addTask {
                    try await clock.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                guard let first else {
                    throw ScrapeError(.unreachable, "Get \"\(displayURL)\": context deadline exceeded (scrape timeout \(PrometheusDuration.format(milliseconds: target.timeout)))")
                }
                return first
            })
        } catch let error as ScrapeError {
            return .failure(error)
        } catch {
            return .failure(ScrapeError(.unreachable, "Get \"\(displayURL)\": \(error)"))
        }
    }

    /// The `Authorization` header value; credential files are read at every scrape.
    func authorizationHeader() -> Result<String?, ScrapeError> {
        func read(_ path: String, _ what: String) throws(ScrapeError) -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ScrapeError(.invalidConfiguration, "unable to read \(what) file \(path)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        do throws(ScrapeError) {
            if let basic = config.basicAuth {
                let password = try basic.passwordFile.map { path throws(ScrapeError) in try read(path, "password") } ?? basic.password ?? ""
                return .success("Basic " + Data("\(basic.username):\(password)".utf8).base64EncodedString())
            }
            if let authorization = config.authorization {
                let credentials = try authorization.credentialsFile.map { path throws(ScrapeError) in try read(path, "credentials") }
                    ?? authorization.credentials ?? ""
                return .success("\(authorization.type) \(credentials)")
            }
            return .success(nil)
        } catch {
            return .failure(error)
        }
    }

    static func seconds(_ milliseconds: Int64) -> String {
        let whole = milliseconds / 1000
        let fraction = milliseconds % 1000
        if fraction == 0 { return String(whole) }
        var text = String(fraction)
        while text.count < 3 { text = "0" + text }
        while text.hasSuffix("0") { text.removeLast() }
        return "\(whole).\(text)"
    }

    /// `host:port` → host (without IPv6 brackets) and port.
    static func split(_ address: String) -> (String, String?) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.index(after: address.startIndex)..<close])
            let rest = address[address.index(after: close)...]
            return (host, rest.hasPrefix(":") ? String(rest.dropFirst()) : nil)
        }
        if let colon = address.lastIndex(of: ":") {
            return (String(address[..<colon]), String(address[address.index(after: colon)...]))
        }
        return (address, nil)
    }
}
