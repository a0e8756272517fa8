import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// OAuth2 client credentials (RFC 6749 §4.4) for an output: a token fetched from the token URL with
/// the client's id and secret (HTTP Basic, which every server must take), kept until shortly before
/// it expires, and fetched again when the backend says it is no longer good (401).
final class OAuth2TokenSource: Sendable {
    struct Settings: Sendable {
        var tokenURL: String
        var clientID: String
        var clientSecret: String
        var scopes: [String]
        var params: [String: String]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private struct Cached {
        var token: String
        var expiresAt: ContinuousClock.Instant
    }

    private struct TokenResponse: Decodable {
        var access_token: String
        var token_type: String?
        var expires_in: Double?
    }

    let settings: Settings
    private let cached = Mutex<Cached?>(nil)

    init(settings: Settings) { self.settings = settings }

    /// A token good for now: the cached one, or a new one.
    func token(client: HTTPClient) async throws(Failure) -> String {
        let now = ContinuousClock.now
        if let cached = cached.withLock({ $0 }), cached.expiresAt > now { return cached.token }
        let fresh = try await fetch(client: client)
        cached.withLock { $0 = fresh }
        return fresh.token
    }

    /// Forgets the cached token (the backend refused it).
    func invalidate() { cached.withLock { $0 = nil } }

    private func fetch(client: HTTPClient) async throws(Failure) -> Cached {
        var form = [("grant_type", "client_credentials")]
        if !settings.scopes.isEmpty { form.append(("scope", settings.scopes.joined(separator: " "))) }
        for (key, value) in settings.params.sorted(by: { $0.key < $1.key }) { form.append((key, value)) }
        var request = HTTPClientRequest(url: settings.tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let credentials = Self.formEncode(settings.clientID) + ":" + Self.formEncode(settings.clientSecret)
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        request.body = .bytes(ByteBuffer(string: form.map { Self.formEncode($0.0) + "=" + Self.formEncode($0.1) }.joined(separator: "&")))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(30))
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Failure(description: "the OAuth2 token endpoint \(settings.tokenURL) could not be reached: \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            throw Failure(description: "the OAuth2 token endpoint answered \(response.status.code): \(String(buffer: body).prefix(300))")
        }
        guard let token = try? JSONDecoder().decode(TokenResponse.self, from: Data(buffer: body)), !token.access_token.isEmpty else {
            throw Failure(description: "the OAuth2 token endpoint's answer has no access_token: \(String(buffer: body).prefix(300))")
        }
        // Renewed a little before it runs out (a tenth of its life, at most a minute), so no request carries a stale one.
        let lifetime = token.expires_in ?? 3600
        let margin = min(60, lifetime / 10)
        return Cached(token: token.access_token, expiresAt: .now + .milliseconds(Int64(max(0, lifetime - margin) * 1000)))
    }

    /// `application/x-www-form-urlencoded` escaping (RFC 6749 appendix B): ASCII letters, digits
    /// and `-._~` as they are, a space as `+`, every other byte of the UTF-8 as `%XX`.
    static func formEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
