import Foundation
import LoamFormat
import LoamStorage
import LoamTable

/// A Loam repository: a folder whose `.loam/` holds immutable objects and a
/// SQLite catalog. Every user action is one call here; the CLI and servers
/// are thin fronts over this type.
///
/// ```swift
/// let repo = try await Repository.initialize(at: URL(fileURLWithPath: "pets"))
/// try await repo.importData(from: "reviews.csv", into: "reviews")
/// let ds = try await repo.dataset("reviews", at: "HEAD~1")
/// print(ds.rowCount)
/// ```
public final class Repository: Sendable {
    /// The folder that contains `.loam/`.
    public let root: URL
    /// Where objects live; a local folder here, an S3 bucket at scale. Nothing above names which.
    public let objects: any ObjectStore
    /// Refs, the row-id counter and the dataset registry; SQLite here, PostgreSQL at scale.
    public let meta: any MetaStore
    public let tables: TableStore
    /// The locks that order writers against `gc` and each other (`.loam/locks/`).
    public let locks: WriteLocks
    /// Recorded on commits: `LOAM_AUTHOR`, else the user name.
    public let author: String

    public static let folderName = ".loam"

    /// The embedded default: objects under `.loam/objects`, the catalog in `.loam/catalog.sqlite`.
    convenience init(root: URL) throws {
        let loam = root.appendingPathComponent(Self.folderName)
        try self.init(root: root, objects: try LocalObjectStore(root: loam),
                      meta: try SQLiteMetaStore(path: loam.appendingPathComponent("catalog.sqlite").path))
    }

    /// A repository over any object store and catalog (e.g. S3 and PostgreSQL).
    public init(root: URL, objects: any ObjectStore, meta: any MetaStore) throws {
        self.root = root
        // Objects are read through the replacement map erasure keeps in the catalog (old id → rewritten object).
        let objects = try (meta as? any ReplacementSource).map { try ReplacingObjectStore(base: objects, source: $0) } ?? objects
        self.objects = objects
        self.meta = meta
        tables = TableStore(objects: objects, meta: meta)
        locks = WriteLocks(folder: root.appendingPathComponent(Self.folderName).appendingPathComponent("locks"))
        let env = ProcessInfo.processInfo.environment
        author = env["LOAM_AUTHOR"] ?? env["USER"] ?? getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "unknown"
    }

    /// Creates a repository in `path` (created if missing) with an empty first commit on `main`.
    public static func initialize(at path: URL) async throws -> Repository {
        let loam = path.appendingPathComponent(folderName)
        if FileManager.default.fileExists(atPath: loam.appendingPathComponent("catalog.sqlite").path) {
            throw LoamError.alreadyARepository(path.path)
        }
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        let repo = try Repository(root: path.standardizedFileURL)
        let first = Commit(parents: [], tree: [:], author: repo.author, message: "Initialize repository")
        let id = try await repo.tables.save(first)
        try await repo.meta.compareAndSwap(branch: "main", expected: nil, new: id)
        try await repo.meta.setCurrentBranch("main")
        return repo
    }

    /// Opens the repository whose root is exactly `path`.
    public static func open(at path: URL) throws -> Repository {
        guard FileManager.default.fileExists(atPath: path.appendingPathComponent(folderName).appendingPathComponent("catalog.sqlite").path) else {
            throw LoamError.notARepository(path.path)
        }
        return try Repository(root: path.standardizedFileURL)
    }

    /// Finds a repository like Git: `path` or its nearest parent holding `.loam/`.
    public static func discover(from path: URL) throws -> Repository {
        var current = path.standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: current.appendingPathComponent(folderName).appendingPathComponent("catalog.sqlite").path) {
                return try Repository(root: current)
            }
            let parent = current.deletingLastPathComponent()
            if parent.path == current.path { throw LoamError.notARepository(path.path) }
            current = parent
        }
    }

    /// Names a dataset may take: letters, digits, `_`, `-`, `.`; not starting with `_` or `-`.
    static func validateDatasetName(_ name: String) throws {
        let ok = !name.isEmpty && name.count <= 128 && !name.hasPrefix("_") && !name.hasPrefix("-") && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "_-.".unicodeScalars.contains($0) }
        guard ok else {
            throw LoamError.invalidArgument("'\(name)' is not a valid dataset name: use letters, digits, '_', '-' or '.', not starting with '_', '-' or '.'")
        }
    }
}
