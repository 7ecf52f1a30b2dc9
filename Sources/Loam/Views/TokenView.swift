import Foundation
import LoamStorage

/// A token as listings show it: never the secret, salt or hash.
public struct TokenView: Encodable, Sendable, Equatable {
    public let id: String
    public let user: String
    public let role: String
    /// Nil: the whole repository.
    public let dataset: String?
    /// ISO 8601.
    public let created: String
    /// ISO 8601; nil: never.
    public let expires: String?

    public init(_ token: StoredToken) {
        expires = token.expires.map { ISO8601DateFormatter().string(from: $0) }
        id = token.id
        user = token.user
        role = token.role
        dataset = token.dataset
        created = ISO8601DateFormatter().string(from: token.created)
    }

    enum CodingKeys: String, CodingKey { case id, user, role, dataset, created, expires }

    /// `dataset` is written as null when the token is repository-wide.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(user, forKey: .user)
        try c.encode(role, forKey: .role)
        try c.encode(dataset, forKey: .dataset)
        try c.encode(created, forKey: .created)
        try c.encode(expires, forKey: .expires)
    }
}
