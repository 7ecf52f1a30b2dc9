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

extension RefLogEntry {
    /// How the audit log names a ref move: its action and "name old→new" with short ids.
    public static func auditText(_ name: String, old: String?, new: String?) -> (action: String, target: String) {
        let action = old == nil ? "create ref" : new == nil ? "delete ref" : "move ref"
        return (action, "\(name) \(old.map { String($0.prefix(12)) } ?? "-")→\(new.map { String($0.prefix(12)) } ?? "-")")
    }
}

/// Branch heads, tags, the reflog, the current branch, the dataset registry
/// and the row-id allocator: the small, mutable state of version control.
///
/// ```swift
/// try await meta.compareAndSwap(branch: "main", expected: old, new: commit)
/// ```
public protocol RefStore: Sendable {
    func ref(named name: String) async throws -> Ref?
    func refs(kind: Ref.Kind?) async throws -> [Ref]
    /// Creates a ref; throws `refExists` when the name is taken.
    func createRef(_ ref: Ref) async throws
    /// Moves `branch` from `expected` to `new` atomically, or throws `refConflict`.
    /// `expected == nil` creates the branch and fails if it exists.
    func compareAndSwap(branch: String, expected: ObjectID?, new: ObjectID) async throws
    /// Runs `body` holding `branch`'s turn exclusively among every process that shares this catalog (the caller
    /// sets `BranchTurn.held` inside): while it runs, other writers' `compareAndSwap` on `branch` fails as a lost race,
    /// so the holder's next attempt cannot lose. A catalog that only this machine uses needs nothing beyond
    /// the local `WriteLocks.turn`, which is the default.
    func withBranchTurn<T: Sendable>(_ branch: String, _ body: () async throws -> T) async throws -> T
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
}

/// Users and their tokens (the server's access control). Tokens are stored as salted hashes only.
public protocol AccessStore: Sendable {
    func addUser(_ name: String) async throws
    func users() async throws -> [String]
    func addToken(_ token: StoredToken) async throws
    func token(id: String) async throws -> StoredToken?
    func tokens() async throws -> [StoredToken]
    /// Removes a token; false when there was none.
    func revokeToken(id: String) async throws -> Bool
    /// Removes a user and every token of theirs, in one transaction; returns how many tokens went.
    func removeUser(_ name: String) async throws -> Int
}

/// Objects kept by name outside any commit (experiment artifacts today): a path
/// names an object, and garbage collection keeps every object named here.
public protocol ObjectIndex: Sendable {
    /// Names `object` (of `size` bytes) `path`, replacing what the path named before.
    func indexObject(path: String, object: ObjectID, size: Int) async throws
    func indexedObject(path: String) async throws -> (object: ObjectID, size: Int)?
    /// Paths that start with `prefix` (a folder, ending in "/", or ""), sorted.
    func indexedPaths(under prefix: String) async throws -> [(path: String, size: Int)]
    /// Forgets a path; false when it named nothing.
    func removeIndexedObject(path: String) async throws -> Bool
    /// Every object some path names (a garbage-collection root).
    func indexedObjects() async throws -> Set<ObjectID>
}

/// The catalog the core layers need: refs, access and the object index. Each
/// capability above (tracking today; labels, audit and quality next) keeps its
/// own store protocol over the same database, so a catalog backend implements
/// the protocols of the capabilities it carries, and none inherits another's tables.
public protocol MetaStore: RefStore, AccessStore, ObjectIndex {}

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
    /// When the token stops working; nil: never.
    public let expires: Date?

    /// How the audit log names the token's creation (never its secret or hash).
    public var auditTarget: String {
        "\(id) for \(user) (\(role)\(dataset.map { " on " + $0 } ?? ""))" + (expires.map { ", expires \(ISO8601DateFormatter().string(from: $0))" } ?? "")
    }

    public init(id: String, user: String, role: String, dataset: String?, salt: String, hash: String, created: Date, expires: Date? = nil) {
        self.expires = expires
        self.id = id
        self.user = user
        self.role = role
        self.dataset = dataset
        self.salt = salt
        self.hash = hash
        self.created = created
    }
}

extension RefStore {
    public func withBranchTurn<T: Sendable>(_ branch: String, _ body: () async throws -> T) async throws -> T { try await body() }
}

/// The turn a writer that lost its branch's race repeatedly takes (`WriteLocks.turn` on this machine,
/// `RefStore.withBranchTurn` across machines).
public enum BranchTurn {
    /// Whether this task holds its branch's turn exclusively: its own ref moves need not wait for it.
    @TaskLocal public static var held = false
}
