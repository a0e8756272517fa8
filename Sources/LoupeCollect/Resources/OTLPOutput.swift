/// Where a pipeline ships its data over OTLP, and how.
public struct OTLPOutput: Sendable, Hashable {
    public enum TransportProtocol: String, Sendable, Hashable {
        case grpc, http
    }

    public enum Compression: String, Sendable, Hashable, CaseIterable {
        case none, gzip, snappy, zstd
    }

    public enum Authentication: Sendable, Hashable {
        case basic(user: ValueSource, password: ValueSource)
        case oauth2(OAuth2)
    }

    /// OAuth2 client credentials: the token is fetched from `tokenURL` and renewed before it expires.
    public struct OAuth2: Sendable, Hashable {
        public var tokenURL: ValueSource
        public var clientID: ValueSource
        public var clientSecret: ValueSource
        public var scopes: [String]
        public var params: [String: String]
    }

    public struct Header: Sendable, Hashable {
        public var name: String
        /// Put before the value with a space (`Bearer`).
        public var prefix: String
        public var value: ValueSource
    }

    public struct TLS: Sendable, Hashable {
        /// Plain text, no TLS.
        public var insecure = false
        /// TLS without checking the server's certificate.
        public var insecureSkipVerify = false
        public var ca: ValueSource?
        public var cert: ValueSource?
        public var key: ValueSource?

        public init() {}
    }

    public enum Temporality: String, Sendable, Hashable {
        case preserve, delta
    }

    public var transport: TransportProtocol = .grpc
    public var endpoint: ValueSource
    /// HTTP only: replaces `/v1/logs`, `/v1/metrics` or `/v1/traces`.
    public var path: String?
    public var authentication: Authentication?
    public var headers: [Header] = []
    public var tls: TLS?
    public var compression: Compression = .gzip
    /// Metric pipelines only.
    public var temporality: Temporality = .preserve

    public init(endpoint: ValueSource) { self.endpoint = endpoint }

    /// Every value the output takes, literal or from a secret.
    public var valueSources: [ValueSource] {
        var sources = [endpoint] + headers.map(\.value)
        switch authentication {
        case .basic(let user, let password): sources += [user, password]
        case .oauth2(let oauth2): sources += [oauth2.tokenURL, oauth2.clientID, oauth2.clientSecret]
        case nil: break
        }
        if let tls { sources += [tls.ca, tls.cert, tls.key].compactMap { $0 } }
        return sources
    }

    static func read(_ node: ResourceNode, allowsTemporality: Bool) throws(PipelineError) -> OTLPOutput {
        var allowed = ["protocol", "endpoint", "path", "authentication", "headers", "tls", "compression"]
        if allowsTemporality { allowed.append("temporality") }
        let fields = try node.fields(allowed: allowed)
        var output = OTLPOutput(endpoint: try ValueSource.read(try fields.required("endpoint")))
        if let transport = fields["protocol"] {
            let text = try transport.string()
            guard let value = TransportProtocol(rawValue: text) else { throw transport.error("\"\(text)\" is not a protocol; use grpc or http") }
            output.transport = value
        }
        if case .value(let endpoint) = output.endpoint {
            let endpointNode = try fields.required("endpoint")
            try Self.checkEndpoint(endpoint, node: try endpointNode.fields(allowed: ["value", "valueFrom"])["value"] ?? endpointNode)
        }
        if let path = fields["path"] {
            guard output.transport == .http else { throw path.error("only for protocol http") }
            let text = try path.string()
            guard text.hasPrefix("/") else { throw path.error("must start with /") }
            output.path = text
        }
        if let authentication = fields["authentication"] {
            let kinds = try authentication.fields(allowed: ["basic", "oauth2"])
            switch (kinds["basic"], kinds["oauth2"]) {
            case (let basic?, nil):
                let parts = try basic.fields(allowed: ["user", "password"])
                output.authentication = .basic(
                    user: try ValueSource.read(try parts.required("user")), password: try ValueSource.read(try parts.required("password")))
            case (nil, let oauth2?):
                let parts = try oauth2.fields(allowed: ["tokenURL", "clientID", "clientSecret", "scopes", "params"])
                let tokenURL = try ValueSource.read(try parts.required("tokenURL"))
                if case .value(let url) = tokenURL, !(url.hasPrefix("https://") || url.hasPrefix("http://")) {
                    throw try parts.required("tokenURL").error("\"\(url)\" is not an http or https URL")
                }
                output.authentication = .oauth2(OAuth2(
                    tokenURL: tokenURL, clientID: try ValueSource.read(try parts.required("clientID")),
                    clientSecret: try ValueSource.read(try parts.required("clientSecret")),
                    scopes: try parts["scopes"]?.strings() ?? [], params: try parts["params"]?.stringMap() ?? [:]))
            case (nil, nil): throw authentication.error("needs one of basic or oauth2")
            case (_?, _?): throw authentication.error("basic and oauth2 exclude each other; give one")
            }
        }
        if let headers = fields["headers"] {
            for element in try headers.sequence() {
                let parts = try element.fields(allowed: ["name", "prefix", "value", "valueFrom"])
                let name = try parts.required("name").string()
                guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }) else {
                    throw try parts.required("name").error("\"\(name)\" is not an HTTP header name")
                }
                output.headers.append(Header(name: name, prefix: try parts.string("prefix") ?? "", value: try ValueSource.read(parts, of: element)))
            }
        }
        if let tlsNode = fields["tls"] {
            let parts = try tlsNode.fields(allowed: ["insecure", "insecureSkipVerify", "ca", "cert", "key"])
            var tls = TLS()
            tls.insecure = try parts.bool("insecure", default: false)
            tls.insecureSkipVerify = try parts.bool("insecureSkipVerify", default: false)
            tls.ca = try parts["ca"].map { node throws(PipelineError) in try ValueSource.read(node) }
            tls.cert = try parts["cert"].map { node throws(PipelineError) in try ValueSource.read(node) }
            tls.key = try parts["key"].map { node throws(PipelineError) in try ValueSource.read(node) }
            if (tls.cert == nil) != (tls.key == nil) { throw tlsNode.error("cert and key go together; give both or neither") }
            if tls.insecure && (tls.ca != nil || tls.cert != nil) { throw tlsNode.error("insecure (no TLS) excludes ca, cert and key") }
            output.tls = tls
        }
        if let compression = fields["compression"] {
            let text = try compression.string()
            guard let value = Compression(rawValue: text) else {
                throw compression.error("\"\(text)\" is not a compression; use none, gzip, snappy or zstd")
            }
            if (value == .snappy || value == .zstd) && output.transport == .grpc {
                throw compression.error("\(value.rawValue) is for protocol http; gRPC takes gzip or none", code: .unsupported)
            }
            output.compression = value
        }
        if let temporality = fields["temporality"] {
            let text = try temporality.string()
            guard let value = Temporality(rawValue: text) else { throw temporality.error("\"\(text)\" is not a temporality; use preserve or delta") }
            output.temporality = value
        }
        return output
    }

    /// `host:port`, or an http or https URL with a host.
    static func checkEndpoint(_ endpoint: String, node: ResourceNode) throws(PipelineError) {
        if let endpoint = OTLPEndpoint(endpoint) {
            _ = endpoint
            return
        }
        throw node.error("\"\(endpoint)\" is not an endpoint; give host:port or an http(s) URL", code: .invalid)
    }
}

/// An endpoint taken apart: scheme, host, port and base path.
public struct OTLPEndpoint: Sendable, Hashable {
    public var secure: Bool?
    public var host: String
    public var port: Int?
    /// The URL's path without a trailing slash; empty for `host:port`.
    public var basePath: String

    /// `host:port` (scheme left to the TLS settings), or `http[s]://host[:port][/path]`.
    public init?(_ text: String) {
        var rest = Substring(text)
        if rest.hasPrefix("https://") {
            secure = true
            rest = rest.dropFirst(8)
        } else if rest.hasPrefix("http://") {
            secure = false
            rest = rest.dropFirst(7)
        } else {
            secure = nil
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            guard secure != nil else { return nil }
            path = String(rest[slash...])
            rest = rest[..<slash]
            while path.hasSuffix("/") { path.removeLast() }
        }
        var hostPart = rest
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { return nil }
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy({ !$0.isWhitespace && $0 != "@" && $0 != "?" && $0 != "#" }) else { return nil }
        host = String(hostPart)
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { return nil }
            self.port = port
        } else {
            guard secure != nil else { return nil }
            port = nil
        }
        basePath = path
    }
}
