import Crypto
import Foundation
import LoamFormat

/// Column masking: what a reader in a role sees of a column. Policies are versioned data — schema metadata
/// `loam.mask.<column id>` of the dataset, changed by a commit — so a policy has a history like the rows.
///
/// ```swift
/// let policy = MaskPolicy(method: .hash, roles: ["reader"])   // readers see a keyed hash; writers, admins the value
/// ```
public struct MaskPolicy: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable {
        /// Text becomes `***`; any other type becomes null.
        case redact
        /// Text (and bytes) become the first 32 hex digits of HMAC-SHA256 under the repository's masking key:
        /// equal values stay equal, so joins and GROUP BY still work.
        case hash
    }

    public var method: Method
    /// The roles that see the masked value.
    public var roles: [String]

    public init(method: Method, roles: [String]) {
        self.method = method
        self.roles = roles.sorted()
    }

    public static let metadataPrefix = "loam.mask."

    public func encoded() -> String {
        "{\"method\":\"\(method.rawValue)\",\"roles\":[\(roles.map { "\"\($0)\"" }.joined(separator: ","))]}"
    }

    public static func decode(_ text: String) -> MaskPolicy? {
        try? JSONDecoder().decode(MaskPolicy.self, from: Data(text.utf8))
    }
}

/// Who is reading, for masking: `loam serve` sets the token's role and the repository's masking key per
/// request; nil reads every column as stored (the CLI and the library are the repository's owner).
public enum ReadPolicy {
    @TaskLocal public static var role: String?
    @TaskLocal public static var hashKey: [UInt8] = []
}

extension TableSchema {
    /// Every column's policy, by column id.
    public var maskPolicies: [Int: MaskPolicy] {
        var out: [Int: MaskPolicy] = [:]
        for (key, value) in metadata ?? [:] where key.hasPrefix(MaskPolicy.metadataPrefix) {
            if let id = Int(key.dropFirst(MaskPolicy.metadataPrefix.count)), let policy = MaskPolicy.decode(value) { out[id] = policy }
        }
        return out
    }

    /// The policy masking column `id` for the current reader, if any.
    public func mask(columnID id: Int) -> MaskPolicy? {
        guard let role = ReadPolicy.role, let value = metadata?[MaskPolicy.metadataPrefix + String(id)],
              let policy = MaskPolicy.decode(value), policy.roles.contains(role) else { return nil }
        return policy
    }

    /// The names of the columns masked for the current reader.
    public var maskedColumns: Set<String> {
        Set(columns.compactMap { column in column.id.flatMap { mask(columnID: $0) } != nil ? column.name : nil })
    }
}

extension ArrowArray {
    /// This column as a reader under `policy` sees it: same type and length, nulls kept.
    public func masked(_ policy: MaskPolicy, key: [UInt8]) -> ArrowArray {
        let builder = ArrayBuilder(type: type)
        let symmetric = SymmetricKey(data: key)
        for i in 0..<length {
            let cell: Value
            if isNull(i) {
                cell = .null
            } else {
                switch (policy.method, type) {
                case (.redact, .utf8), (.redact, .largeUtf8): cell = .string("***")
                case (.hash, .utf8), (.hash, .largeUtf8), (.hash, .binary), (.hash, .largeBinary):
                    let digest = HMAC<SHA256>.authenticationCode(for: bytes(at: i), using: symmetric)
                    let hex = digest.prefix(16).map { String(format: "%02x", $0) }.joined()
                    cell = type == .utf8 || type == .largeUtf8 ? .string(hex) : .binary(Array(hex.utf8))
                default: cell = .null
                }
            }
            try? builder.append(cell)
        }
        return builder.finish()
    }
}
