import Foundation
import GRDB

/// The embedded catalog: one SQLite file in WAL mode, with versioned migrations.
/// Every ref move is a compare-and-swap inside an immediate transaction, so
/// two processes committing to one branch never lose an update.
///
/// Capability stores (`SQLiteTrackingStore`, …) open over the same `pool` and
/// register their own migrations; GRDB records every applied migration in one
/// `grdb_migrations` table, so the file has one migration history.
public final class SQLiteMetaStore: MetaStore {
    /// The database, for the capability stores that share this file.
    public let pool: DatabasePool
    public let path: String

    public init(path: String) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // Deleted and overwritten content is zeroed, so an erased value leaves no copy in a free page.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        do {
            let opened = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(opened)
            (pool, fullDisk) = (opened, false)
        } catch {
            // A full disk has no room for the WAL's index (-shm): reads still work from the file itself, opened
            // immutable, when no write is pending in the WAL. Writes then fail (they would anyway) as "disk full".
            let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int ?? 0  // none: 0
            guard Self.diskIsFull(path), walSize == 0,
                  let readOnly = try? Self.immutable(path), (try? readOnly.read { try Self.migrator.hasCompletedMigrations($0) }) == true else {
                if Self.diskIsFull(path) {
                    throw StorageError.io("the disk is full: cannot open the catalog \(path) (SQLite needs room for its -shm file); free space, then run it again")
                }
                throw StorageError.io("cannot open the catalog \(path): \(error)")
            }
            (pool, fullDisk) = (readOnly, true)
        }
    }

    /// True when the catalog was opened read-only because the disk is full.
    public let fullDisk: Bool

    /// A write transaction; a full disk (now, or when the catalog was opened) is `StorageError.diskFull`.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        guard !fullDisk else { throw StorageError.diskFull(path: path) }
        do { return try await pool.write(body) } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw StorageError.diskFull(path: path)
        }
    }

    /// Whether the file system holding `path` has (almost) no space left for unprivileged writes.
    public static func diskIsFull(_ path: String) -> Bool {
        var info = statvfs()
        guard statvfs((path as NSString).deletingLastPathComponent, &info) == 0 else { return false }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize) < 64 * 1024
    }

    /// The catalog opened read-only as an immutable file (SQLite's `immutable=1`: no locks, no -shm).
    private static func immutable(_ path: String) throws -> DatabasePool {
        var config = Configuration()
        config.readonly = true
        let escaped = path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? path
        return try DatabasePool(path: "file:\(escaped)?immutable=1", configuration: config)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE refs (
                    name TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('branch', 'tag')),
                    commit_id TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE datasets (
                    name TEXT PRIMARY KEY NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, next INTEGER NOT NULL);
                INSERT INTO counters (name, next) VALUES ('rowid', 0);
                INSERT INTO settings (key, value) VALUES ('current_branch', 'main');
                """)
        }
        migrator.registerMigration("v2-reflog") { db in
            try db.execute(sql: """
                CREATE TABLE ref_log (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    name TEXT NOT NULL,
                    old_commit TEXT,
                    new_commit TEXT,
                    time REAL NOT NULL
                );
                CREATE INDEX ref_log_time ON ref_log (time);
                """)
        }
        migrator.registerMigration("v3-access") { db in
            try db.execute(sql: """
                CREATE TABLE users (name TEXT PRIMARY KEY NOT NULL, created_at REAL NOT NULL);
                CREATE TABLE tokens (
                    id TEXT PRIMARY KEY NOT NULL,
                    user TEXT NOT NULL REFERENCES users(name),
                    role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
                    dataset TEXT,
                    salt TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                """)
        }
        // Named objects outside commits (experiment artifacts). Catalogs from before this migration
        // got the same table from `v4-tracking`, which no longer creates it.
        migrator.registerMigration("v6-object-index") { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS artifacts (path TEXT PRIMARY KEY NOT NULL, object TEXT NOT NULL, size INTEGER NOT NULL);
                """)
        }
        registerAudit(&migrator)
        registerErasure(&migrator)
        registerKeyring(&migrator)
        migrator.registerMigration("v12-token-expiry") { db in
            try db.execute(sql: "ALTER TABLE tokens ADD COLUMN expires_at REAL")
        }
        return migrator
    }

    /// Logs a ref move in the reflog and the audit log, inside the move's transaction (`audit`: the acting
    /// user and command and the write's message, captured before the transaction began).
    private func log(_ db: Database, _ name: String, old: String?, new: String?, audit: (AuditContext?, String?)) throws {
        try db.execute(sql: "INSERT INTO ref_log (name, old_commit, new_commit, time) VALUES (?, ?, ?, ?)",
                       arguments: [name, old, new, Date().timeIntervalSince1970])
        let (action, target) = RefLogEntry.auditText(name, old: old, new: new)
        try Self.audit(db, audit.0, audit.1, action: action, target: target)
    }

    /// The audit context of the calling task, to hand into a write transaction (task-locals do not cross into GRDB's queue).
    private var auditNote: (AuditContext?, String?) { (AuditContext.current, AuditContext.detail) }

    private func decodeRef(_ row: Row) throws -> Ref {
        Ref(name: row["name"], kind: Ref.Kind(rawValue: row["kind"]) ?? .branch, commit: try ObjectID(hex: row["commit_id"]))
    }

    public func ref(named name: String) async throws -> Ref? {
        // Decoded inside the read: a Sendable result lets GRDB run it off the caller's thread.
        try await pool.read { [self] db in try Row.fetchOne(db, sql: "SELECT * FROM refs WHERE name = ?", arguments: [name]).map(decodeRef) }
    }

    public func refs(kind: Ref.Kind?) async throws -> [Ref] {
        try await pool.read { [self] db in
            let rows = try kind.map { try Row.fetchAll(db, sql: "SELECT * FROM refs WHERE kind = ? ORDER BY name", arguments: [$0.rawValue]) }
                ?? Row.fetchAll(db, sql: "SELECT * FROM refs ORDER BY name")
            return try rows.map(decodeRef)
        }
    }

    public func createRef(_ ref: Ref) async throws {
        let note = auditNote
        try Ref.validate(ref.name)
        try await write { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM refs WHERE name = ?", arguments: [ref.name]) != nil {
                throw StorageError.refExists(ref.name)
            }
            try db.execute(sql: "INSERT INTO refs (name, kind, commit_id, updated_at) VALUES (?, ?, ?, ?)",
                           arguments: [ref.name, ref.kind.rawValue, ref.commit.hex, Date().timeIntervalSince1970])
            try log(db, ref.name, old: nil, new: ref.commit.hex, audit: note)
        }
    }

    public func compareAndSwap(branch: String, expected: ObjectID?, new: ObjectID) async throws {
        let note = auditNote
        try await write { db in
            let current = try String.fetchOne(db, sql: "SELECT commit_id FROM refs WHERE name = ? AND kind = 'branch'", arguments: [branch])
            FailPoint.hit("ref-transaction")
            guard current == expected?.hex else {
                throw StorageError.refConflict(branch: branch, expected: expected?.hex, actual: current)
            }
            if expected == nil {
                try Ref.validate(branch)
                try db.execute(sql: "INSERT INTO refs (name, kind, commit_id, updated_at) VALUES (?, 'branch', ?, ?)",
                               arguments: [branch, new.hex, Date().timeIntervalSince1970])
            } else {
                try db.execute(sql: "UPDATE refs SET commit_id = ?, updated_at = ? WHERE name = ? AND commit_id = ?",
                               arguments: [new.hex, Date().timeIntervalSince1970, branch, expected?.hex])
            }
            try log(db, branch, old: expected?.hex, new: new.hex, audit: note)
        }
    }

    public func deleteRef(named name: String) async throws {
        let note = auditNote
        try await write { db in
            let old = try String.fetchOne(db, sql: "SELECT commit_id FROM refs WHERE name = ?", arguments: [name])
            guard old != nil else { throw StorageError.refNotFound(name) }
            try db.execute(sql: "DELETE FROM refs WHERE name = ?", arguments: [name])
            try log(db, name, old: old, new: nil, audit: note)
        }
    }

    public func renameRef(_ name: String, to: String) async throws {
        let note = auditNote
        try Ref.validate(to)
        try await write { db in
            guard let old = try String.fetchOne(db, sql: "SELECT commit_id FROM refs WHERE name = ?", arguments: [name]) else {
                throw StorageError.refNotFound(name)
            }
            if try Row.fetchOne(db, sql: "SELECT 1 FROM refs WHERE name = ?", arguments: [to]) != nil { throw StorageError.refExists(to) }
            try db.execute(sql: "UPDATE refs SET name = ?, updated_at = ? WHERE name = ?", arguments: [to, Date().timeIntervalSince1970, name])
            if try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = 'current_branch'") == name {
                try db.execute(sql: "UPDATE settings SET value = ? WHERE key = 'current_branch'", arguments: [to])
            }
            try log(db, name, old: old, new: nil, audit: note)
            try log(db, to, old: nil, new: old, audit: note)
        }
    }

    public func refLog(since: Date) async throws -> [RefLogEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM ref_log WHERE time >= ? ORDER BY id DESC", arguments: [since.timeIntervalSince1970]).map { row in
                RefLogEntry(name: row["name"], old: try (row["old_commit"] as String?).map { try ObjectID(hex: $0) },
                            new: try (row["new_commit"] as String?).map { try ObjectID(hex: $0) },
                            time: Date(timeIntervalSince1970: row["time"]))
            }
        }
    }

    public func currentBranch() async throws -> String {
        try await setting("current_branch") ?? "main"
    }

    public func setCurrentBranch(_ name: String) async throws {
        try await setSetting("current_branch", name)
    }

    public func allocateRowIDs(_ count: Int) async throws -> Range<UInt64> {
        try await write { db in
            let start = try Int64.fetchOne(db, sql: "SELECT next FROM counters WHERE name = 'rowid'") ?? 0
            try db.execute(sql: "UPDATE counters SET next = ? WHERE name = 'rowid'", arguments: [start + Int64(count)])
            return UInt64(start)..<UInt64(start + Int64(count))
        }
    }

    public func registerDataset(_ name: String, createdBy commit: ObjectID) async throws {
        try await write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO datasets (name, created_by, created_at) VALUES (?, ?, ?)",
                           arguments: [name, commit.hex, Date().timeIntervalSince1970])
        }
    }

    public func registeredDatasets() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM datasets ORDER BY name") }
    }

    public func setting(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) }
    }

    public func setSetting(_ key: String, _ value: String) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [key, value])
        }
    }

    public func addUser(_ name: String) async throws {
        let note = auditNote
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM users WHERE name = ?", arguments: [name]) == 0 else {
                throw StorageError.invalid("user '\(name)' exists")
            }
            try db.execute(sql: "INSERT INTO users (name, created_at) VALUES (?, ?)", arguments: [name, Date().timeIntervalSince1970])
            try Self.audit(db, note.0, note.1, action: "add user", target: name)
        }
    }

    public func users() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM users ORDER BY name") }
    }

    public func addToken(_ token: StoredToken) async throws {
        let note = auditNote
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM users WHERE name = ?", arguments: [token.user]) == 1 else {
                throw StorageError.invalid("no user '\(token.user)' (add one with `loam user add \(token.user)`)")
            }
            try db.execute(sql: "INSERT INTO tokens (id, user, role, dataset, salt, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [token.id, token.user, token.role, token.dataset, token.salt, token.hash, token.created.timeIntervalSince1970,
                                       token.expires?.timeIntervalSince1970])
            try Self.audit(db, note.0, note.1, action: "create token", target: token.auditTarget)
        }
    }

    private static func decodeToken(_ row: Row) -> StoredToken {
        StoredToken(id: row["id"], user: row["user"], role: row["role"], dataset: row["dataset"], salt: row["salt"], hash: row["hash"],
                    created: Date(timeIntervalSince1970: row["created_at"]), expires: (row["expires_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    public func token(id: String) async throws -> StoredToken? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]).map(Self.decodeToken) }
    }

    public func tokens() async throws -> [StoredToken] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY user, created_at").map(Self.decodeToken) }
    }

    public func revokeToken(id: String) async throws -> Bool {
        let note = auditNote
        return try await write { db in
            try db.execute(sql: "DELETE FROM tokens WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { return false }
            try Self.audit(db, note.0, note.1, action: "revoke token", target: id)
            return true
        }
    }

    public func removeUser(_ name: String) async throws -> Int {
        let note = auditNote
        return try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM users WHERE name = ?", arguments: [name]) == 1 else {
                throw StorageError.invalid("no user '\(name)' (see `loam user list`)")
            }
            try db.execute(sql: "DELETE FROM tokens WHERE user = ?", arguments: [name])
            let tokens = db.changesCount
            try db.execute(sql: "DELETE FROM users WHERE name = ?", arguments: [name])
            try Self.audit(db, note.0, note.1, action: "remove user", target: "\(name) and \(tokens) token(s)")
            return tokens
        }
    }

    public func indexObject(path: String, object: ObjectID, size: Int) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO artifacts (path, object, size) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET object = excluded.object, size = excluded.size",
                           arguments: [path, object.hex, size])
        }
    }

    public func indexedObject(path: String) async throws -> (object: ObjectID, size: Int)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT object, size FROM artifacts WHERE path = ?", arguments: [path]).map { (try ObjectID(hex: $0["object"]), $0["size"]) }
        }
    }

    public func indexedPaths(under prefix: String) async throws -> [(path: String, size: Int)] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT path, size FROM artifacts WHERE substr(path, 1, ?) = ? ORDER BY path", arguments: [prefix.utf8.count, prefix])
                .map { ($0["path"], $0["size"]) }
        }
    }

    public func removeIndexedObject(path: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM artifacts WHERE path = ?", arguments: [path])
            return db.changesCount > 0
        }
    }

    public func indexedObjects() async throws -> Set<ObjectID> {
        try await pool.read { db in Set(try String.fetchAll(db, sql: "SELECT DISTINCT object FROM artifacts").map { try ObjectID(hex: $0) }) }
    }
}
