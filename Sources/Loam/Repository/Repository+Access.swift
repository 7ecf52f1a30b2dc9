import Foundation
import LoamStorage

/// What a token may do: reader (read every route), writer (also import and write SQL), admin (everything).
public enum Role: String, Sendable, CaseIterable, Comparable {
    case reader, writer, admin

    private var rank: Int { Role.allCases.firstIndex(of: self)! }
    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

/// The user and role a valid bearer token carries.
public struct Grant: Sendable, Equatable {
    public let user: String
    public let role: Role
    /// The one dataset the token is for; nil for the whole repository.
    public let dataset: String?

    public init(user: String, role: Role, dataset: String?) {
        self.user = user
        self.role = role
        self.dataset = dataset
    }

    /// Whether this grant covers `role` on `dataset` (nil: the repository as a whole). A grant for a
    /// dataset covers its labels too (`<dataset>__labels`).
    public func allows(_ role: Role, dataset name: String?) -> Bool {
        guard self.role >= role else { return false }
        guard let dataset else { return true }
        return name == dataset || name == dataset + "__labels"
    }
}

extension Repository {
    public func addUser(_ name: String) async throws {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }) else {
            throw LoamError.invalidArgument("'\(name)' is not a user name: use 1–64 letters, digits, '.', '_', '-' or '@'")
        }
        try await meta.addUser(name)
    }

    public func users() async throws -> [String] { try await meta.users() }

    /// Removes a user and all their tokens (their commits and audit entries stay); returns how many tokens went.
    @discardableResult
    public func removeUser(_ name: String) async throws -> Int { try await meta.removeUser(name) }

    /// A new bearer token; its text is returned once and only its salted hash is stored.
    public func createToken(user: String, role: Role, dataset: String? = nil, expires: Date? = nil) async throws -> String {
        if let dataset { try Self.validateDatasetName(dataset) }
        if let expires, expires <= Date() { throw LoamError.invalidArgument("the token would expire at once: give a time in the future") }
        let (token, stored) = Tokens.issue(user: user, role: role.rawValue, dataset: dataset, expires: expires)
        try await meta.addToken(stored)
        return token
    }

    public func tokens() async throws -> [StoredToken] { try await meta.tokens() }

    /// Revokes a token by id (the 12 hex digits after `loam_`); false when there is none.
    public func revokeToken(id: String) async throws -> Bool { try await meta.revokeToken(id: id) }

    /// The grant of a bearer token, or nil when the token is malformed, unknown, revoked or wrong.
    public func authenticate(_ token: String) async throws -> Grant? {
        guard let (id, secret) = Tokens.parse(token), let stored = try await meta.token(id: id), Tokens.matches(secret, stored),
              let role = Role(rawValue: stored.role) else { return nil }
        if let expires = stored.expires, expires <= Date() {
            throw LoamError.tokenExpired("the token \(stored.id) of '\(stored.user)' expired at \(ISO8601DateFormatter().string(from: expires)); create a new one with `loam token create`")
        }
        return Grant(user: stored.user, role: role, dataset: stored.dataset)
    }
}
