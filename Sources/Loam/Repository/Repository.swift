import Foundation
import LoamCloud
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

    /// The embedded default: objects under `.loam/objects`, the catalog in `.loam/catalog.sqlite`. An encrypted
    /// repository's objects are opened with the data keys `keyProvider` unwraps (by default the master key
    /// named by `LOAM_MASTER_KEY` or `LOAM_KEY_FILE`).
    convenience init(root: URL, keyProvider: (any KeyProvider)? = nil) throws {
        let loam = root.appendingPathComponent(Self.folderName)
        if let backends = try Backends.read(in: loam) {
            let (objects, meta) = try backends.open(in: loam)
            try self.init(root: root, objects: objects, meta: meta)
            return
        }
        let local = try LocalObjectStore(root: loam)  // creates .loam/ for a new repository
        let meta = try SQLiteMetaStore(path: loam.appendingPathComponent("catalog.sqlite").path)
        var objects: any ObjectStore = local
        if let active = try meta.wrappedKeys().last {
            guard let provider = try keyProvider ?? MasterKey.fromEnvironment() else {
                throw StorageError.encryption("\(root.path) is encrypted: give its master key with LOAM_KEY_FILE=PATH (a key file) or LOAM_MASTER_KEY=<64 hexadecimal digits>")
            }
            let keys = try meta.dataKeys(with: provider)
            objects = EncryptedObjectStore(base: local, keys: keys, active: keys.first { $0.hexID == active.id }!)
        }
        try self.init(root: root, objects: objects, meta: meta)
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

    /// Creates a repository in `path` (created if missing) with an empty first commit on `main`. With
    /// `encryptingWith`, every object is encrypted under a new data key that the master key wraps. With
    /// `backends`, the catalog and objects live where it says (`.loam/backends.json` records it); when that
    /// catalog already holds a repository, `path` joins it instead (another server over the same data).
    public static func initialize(at path: URL, encryptingWith keyProvider: (any KeyProvider)? = nil, backends: Backends? = nil) async throws -> Repository {
        let loam = path.appendingPathComponent(folderName)
        if isRepository(path) { throw LoamError.alreadyARepository(path.path) }
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        if let backends, backends != Backends() {
            try backends.validate()
            if keyProvider != nil {
                throw LoamError.invalidArgument("--encrypt works on the embedded catalog and objects only for now (the keyring lives in catalog.sqlite)")
            }
            try FileManager.default.createDirectory(at: loam, withIntermediateDirectories: true)
            try backends.write(in: loam)
            do {
                let repo = try Repository(root: path.standardizedFileURL)
                if try await repo.meta.ref(named: "main") == nil { try await repo.createFirstCommit() }
                if let s3 = repo.objects as? S3ObjectStore, let catalog = backends.catalog {
                    try await s3.writeDescriptor(Array(try JSONEncoder().encode(["catalog": catalog])))
                }
                return repo
            } catch {
                try? FileManager.default.removeItem(at: loam.appendingPathComponent(Backends.fileName))
                throw error
            }
        }
        if let keyProvider {
            try FileManager.default.createDirectory(at: loam, withIntermediateDirectories: true)
            try SQLiteMetaStore(path: loam.appendingPathComponent("catalog.sqlite").path).addDataKey(.generate(), wrappedBy: keyProvider)
        }
        let repo = try Repository(root: path.standardizedFileURL, keyProvider: keyProvider)
        try await repo.createFirstCommit()
        return repo
    }

    private func createFirstCommit() async throws {
        let first = Commit(parents: [], tree: [:], author: author, message: "Initialize repository")
        let id = try await tables.save(first)
        try await meta.compareAndSwap(branch: "main", expected: nil, new: id)
        try await meta.setCurrentBranch("main")
    }

    /// Whether `path` holds a repository: an embedded catalog, or a backends file naming remote ones.
    static func isRepository(_ path: URL) -> Bool {
        let loam = path.appendingPathComponent(folderName)
        return FileManager.default.fileExists(atPath: loam.appendingPathComponent("catalog.sqlite").path)
            || FileManager.default.fileExists(atPath: loam.appendingPathComponent(Backends.fileName).path)
    }

    /// Opens the repository whose root is exactly `path`.
    public static func open(at path: URL) throws -> Repository {
        guard isRepository(path) else { throw LoamError.notARepository(path.path) }
        return try Repository(root: path.standardizedFileURL)
    }

    /// Finds a repository like Git: `path` or its nearest parent holding `.loam/`.
    public static func discover(from path: URL) throws -> Repository {
        var current = path.standardizedFileURL
        while true {
            if isRepository(current) { return try Repository(root: current) }
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
