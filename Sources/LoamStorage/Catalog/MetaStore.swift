import Foundation

/// A named pointer to a commit.
public struct Ref: Hashable, Sendable, Codable {
    public enum Kind: String, Sendable, Codable { case branch, tag }
    public let name: String
    public let kind: Kind
    public let commit: ObjectID

    public init(name: String, kind: Kind, commit: ObjectID) {
        self.name = name
        self.kind = kind
        self.commit = commit
    }

    /// Git's rules, narrowed: letters, digits, `.`, `_`, `-`, `/`.
    public static func validate(_ name: String) throws {
        let allowed = name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-/".unicodeScalars.contains($0) }
        guard !name.isEmpty, allowed, !name.contains(".."), !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"),
              name != "HEAD", name.count <= 200 else {
            throw StorageError.invalidRefName(name)
        }
    }
}

/// One move of a ref, kept so that commits recently reachable survive garbage collection.
public struct RefLogEntry: Hashable, Sendable {
    public let name: String
    public let old: ObjectID?
    public let new: ObjectID?
    public let time: Date

    public init(name: String, old: ObjectID?, new: ObjectID?, time: Date) {
        self.name = name
        self.old = old
        self.new = new
        self.time = time
    }
}

/// The transactional catalog: branch heads, tags, the current branch, the
/// dataset registry and the row-id allocator. Small, mutable, shared state;
/// the data itself lives in the `ObjectStore`.
///
/// ```swift
/// let meta = try SQLiteMetaStore(path: ".loam/catalog.sqlite")
/// try await meta.compareAndSwap(branch: "main", expected: old, new: commit)
/// ```
public protocol MetaStore: TrackingStore {
    func ref(named name: String) async throws -> Ref?
    func refs(kind: Ref.Kind?) async throws -> [Ref]
    /// Creates a ref; throws `refExists` when the name is taken.
    func createRef(_ ref: Ref) async throws
    /// Moves `branch` from `expected` to `new` atomically, or throws `refConflict`.
    /// `expected == nil` creates the branch and fails if it exists.
    func compareAndSwap(branch: String, expected: ObjectID?, new: ObjectID) async throws
    func deleteRef(named name: String) async throws
    /// Renames a ref, keeping its commit; fails if `to` exists.
    func renameRef(_ name: String, to: String) async throws
    /// Every move of a ref (creation, commit, reset, deletion) newer than `since`, newest first.
    func refLog(since: Date) async throws -> [RefLogEntry]

    func currentBranch() async throws -> String
    func setCurrentBranch(_ name: String) async throws

    /// Reserves `count` consecutive, never-reused row ids.
    func allocateRowIDs(_ count: Int) async throws -> Range<UInt64>

    /// Records that a dataset exists (idempotent) and lists every dataset ever created.
    func registerDataset(_ name: String, createdBy commit: ObjectID) async throws
    func registeredDatasets() async throws -> [String]

    func setting(_ key: String) async throws -> String?
    func setSetting(_ key: String, _ value: String) async throws

    /// Users and their tokens (the server's access control). Tokens are stored as salted hashes only.
    func addUser(_ name: String) async throws
    func users() async throws -> [String]
    func addToken(_ token: StoredToken) async throws
    func token(id: String) async throws -> StoredToken?
    func tokens() async throws -> [StoredToken]
    /// Removes a token; false when there was none.
    func revokeToken(id: String) async throws -> Bool
}

/// A token as the catalog keeps it: never the secret, only a salted SHA-256 of it.
public struct StoredToken: Sendable, Equatable {
    public let id: String
    public let user: String
    /// reader, writer or admin.
    public let role: String
    /// The one dataset the token may touch; nil for the whole repository.
    public let dataset: String?
    public let salt: String
    public let hash: String
    public let created: Date

    public init(id: String, user: String, role: String, dataset: String?, salt: String, hash: String, created: Date) {
        self.id = id
        self.user = user
        self.role = role
        self.dataset = dataset
        self.salt = salt
        self.hash = hash
        self.created = created
    }
}
