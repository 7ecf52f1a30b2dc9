import Crypto
import Foundation

/// Bearer tokens: `loam_<id>_<secret>`. The catalog keeps the id, a random salt and
/// SHA-256(salt ‖ secret); the secret itself exists only in the token handed out once.
public enum Tokens {
    /// A fresh token for `user` with `role` (and optionally one dataset): the text to hand out, and what to store.
    public static func issue(user: String, role: String, dataset: String?, expires: Date? = nil) -> (token: String, stored: StoredToken) {
        let id = hex(random(6)), secret = hex(random(24)), salt = hex(random(16))
        let stored = StoredToken(id: id, user: user, role: role, dataset: dataset, salt: salt, hash: digest(salt: salt, secret: secret), created: Date(),
                                 expires: expires)
        return ("loam_\(id)_\(secret)", stored)
    }

    /// The id and secret of a token's text, or nil when it is not shaped like one.
    public static func parse(_ token: String) -> (id: String, secret: String)? {
        let parts = token.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "loam", parts[1].count == 12, parts[2].count == 48,
              (parts[1] + parts[2]).allSatisfy(\.isHexDigit) else { return nil }
        return (String(parts[1]), String(parts[2]))
    }

    /// Whether `secret` is the one `stored` was issued with (compared in constant time).
    public static func matches(_ secret: String, _ stored: StoredToken) -> Bool {
        let a = Array(digest(salt: stored.salt, secret: secret).utf8), b = Array(stored.hash.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    static func digest(salt: String, secret: String) -> String {
        hex(Array(SHA256.hash(data: Array((salt + secret).utf8))))
    }

    private static func random(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
