/// The tenant every write and every read belongs to.
///
/// Follows the Loki/Mimir/Tempo convention: the tenant is named in the `X-Scope-OrgID`
/// header and, when absent, a single default tenant is used. Names are restricted to the
/// characters those systems accept so a tenant can safely become a directory name.
public struct Tenant: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let name: String

    public static let `default` = Tenant(uncheckedName: "default")
    public static let maximumNameLength = 150

    public init(uncheckedName: String) { self.name = uncheckedName }

    /// Validates a tenant name as it arrives in `X-Scope-OrgID`.
    public init(validating name: String) throws(TenantError) {
        guard !name.isEmpty else { throw TenantError(message: "tenant name is empty") }
        guard name.utf8.count <= Self.maximumNameLength else {
            throw TenantError(message: "tenant name is longer than \(Self.maximumNameLength) bytes")
        }
        guard name != "." && name != ".." else { throw TenantError(message: "tenant name \"\(name)\" is not allowed") }
        for byte in name.utf8 where !Self.isAllowed(byte) {
            throw TenantError(
                message: "tenant name \"\(name)\" contains \"\(Character(Unicode.Scalar(byte)))\"; allowed are letters, digits and !-_.*'()"
            )
        }
        self.name = name
    }

    /// The tenant named by an `X-Scope-OrgID` header value, or the default when there is none.
    public static func fromHeader(_ value: String?) throws(TenantError) -> Tenant {
        guard let value, !value.isEmpty else { return .default }
        return try Tenant(validating: value)
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "*"),
            UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"):
            return true
        default:
            return false
        }
    }

    public var description: String { name }
    public static func < (lhs: Tenant, rhs: Tenant) -> Bool { lhs.name < rhs.name }
}

public struct TenantError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { "invalid X-Scope-OrgID: \(message)" }
}
