import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

/// What one erasure changes in the catalog, all in one transaction: the replacement map, the artifact
/// index, the catalog's own text (tracking tags and params, task queries, audit details) and the audit entry.
public struct ErasureRecord: Sendable {
    /// Old object → the object rewritten without the erased rows or values.
    public var replacements: [(old: ObjectID, new: ObjectID)]
    /// Artifacts rewritten with the erased values blanked: path → new object and size.
    public var artifacts: [(path: String, object: ObjectID, size: Int)]
    /// The erased text values, removed from every text cell of the catalog (never logged).
    public var needles: [String]
    /// The audit entry's target before the redacted entries are appended: "users: 3 rows …".
    public var target: String
    /// The proof, for the audit entry's detail: counts and hashes, never values.
    public var proof: String

    public init(replacements: [(old: ObjectID, new: ObjectID)], artifacts: [(path: String, object: ObjectID, size: Int)],
                needles: [String], target: String, proof: String) {
        (self.replacements, self.artifacts, self.needles, self.target, self.proof) = (replacements, artifacts, needles, target, proof)
    }
}

/// The catalog's side of erasure: the replacement map and the transaction that records an erasure.
public protocol ErasureStore: ReplacementSource {
    /// Records the erasure atomically; returns the audit entry's seq and how many catalog cells were redacted.
    func commitErasure(_ record: ErasureRecord) async throws -> (seq: Int64, cells: Int, auditEntries: [Int64])
    /// Writes the WAL back into the catalog file and truncates it, so no old page image keeps an erased value.
    func checkpoint() throws
    /// Tells other processes the map changed (before any replaced file is deleted).
    func bumpReplacementsVersion()
}

extension SQLiteMetaStore: ErasureStore {
    static func registerErasure(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v10-erasure") { db in
            try db.execute(sql: """
                CREATE TABLE object_replacements (old TEXT PRIMARY KEY NOT NULL, new TEXT NOT NULL, erasure INTEGER NOT NULL);
                """)
        }
    }

    public func objectReplacements() throws -> [ObjectID: ObjectID] {
        try pool.read { db in
            var map: [ObjectID: ObjectID] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT old, new FROM object_replacements") {
                map[try ObjectID(hex: row["old"])] = try ObjectID(hex: row["new"])
            }
            return map
        }
    }

    /// `.loam/replacements.stamp` grows by a byte with each erasure: a `stat` tells a process whether to re-read the
    /// map, so the check on every read never waits on SQLite.
    var replacementsStamp: String { (path as NSString).deletingLastPathComponent + "/replacements.stamp" }

    public func replacementsVersion() throws -> Int64 {
        var info = stat()
        return stat(replacementsStamp, &info) == 0 ? Int64(info.st_size) : 0
    }

    public func bumpReplacementsVersion() {
        let fd = open(replacementsStamp, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { return }
        var byte: UInt8 = 0x2E
        _ = Glibc.write(fd, &byte, 1)
        _ = fsync(fd)
        close(fd)
    }

    public func commitErasure(_ record: ErasureRecord) async throws -> (seq: Int64, cells: Int, auditEntries: [Int64]) {
        let note = (AuditContext.current, AuditContext.detail)
        let outcome = try await write { db in
            var cells = 0
            // Text cells of every table but the map, the migrations and the audit log (handled below).
            let tables = try String.fetchAll(db, sql: """
                SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
                  AND name NOT IN ('object_replacements', 'grdb_migrations', 'audit_log')
                """)
            for table in tables {
                let columns = try Row.fetchAll(db, sql: "SELECT name, type FROM pragma_table_info(?)", arguments: [table])
                    .filter { ($0["type"] as String).uppercased().contains("TEXT") }.map { $0["name"] as String }
                for column in columns {
                    for needle in record.needles {
                        try db.execute(sql: "UPDATE OR IGNORE \"\(table)\" SET \"\(column)\" = replace(\"\(column)\", ?1, '[erased]') WHERE instr(\"\(column)\", ?1) > 0",
                                       arguments: [needle])
                        cells += db.changesCount
                    }
                }
            }
            // Audit details: redacted, their salt destroyed (the chain still verifies; the erasure entry names them).
            var redacted: Set<Int64> = []
            for needle in record.needles {
                redacted.formUnion(try Int64.fetchAll(db, sql: "SELECT seq FROM audit_log WHERE instr(detail, ?) > 0", arguments: [needle]))
                try db.execute(sql: "UPDATE audit_log SET detail = replace(detail, ?1, '[erased]'), detail_salt = '' WHERE instr(detail, ?1) > 0",
                               arguments: [needle])
            }
            for artifact in record.artifacts {
                try db.execute(sql: "UPDATE artifacts SET object = ?, size = ? WHERE path = ?", arguments: [artifact.object.hex, artifact.size, artifact.path])
            }
            let entries = redacted.sorted()
            let target = record.target + (entries.isEmpty ? "" : "; redacted entries " + entries.map(String.init).joined(separator: ","))
            let seq = try Self.audit(db, note.0.map { AuditContext(user: $0.user, command: "loam erase") }, nil,
                                     action: "erase", target: target, detail: record.proof)
            for (old, new) in record.replacements {
                // An object replaced again: earlier replacements that led to it now lead to its replacement.
                try db.execute(sql: "UPDATE object_replacements SET new = ? WHERE new = ?", arguments: [new.hex, old.hex])
                try db.execute(sql: "INSERT OR REPLACE INTO object_replacements (old, new, erasure) VALUES (?, ?, ?)", arguments: [old.hex, new.hex, seq])
            }
            return (seq, cells, entries)
        }
        bumpReplacementsVersion()
        return outcome
    }

    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    }
}
