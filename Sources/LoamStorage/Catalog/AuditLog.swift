import Crypto
import Foundation
import GRDB

/// Who is acting and through what, for the audit log: the CLI sets it per command, `loam serve` per request
/// (the token's user and the route), `Repository` adds each commit's message. Library callers who set
/// nothing are recorded as the process's user with the command `library`.
public struct AuditContext: Sendable {
    public var user: String
    public var command: String

    public init(user: String, command: String) {
        self.user = user
        self.command = command
    }

    @TaskLocal public static var current: AuditContext?
    /// Applied to every command and detail before it is logged: the CLI (and `loam serve` in it) installs one that
    /// redacts personal data, so a value in a WHERE never reaches the log. Set once, at startup.
    nonisolated(unsafe) public static var redact: @Sendable (String) -> String = { $0 }
    /// What the write says of itself: a commit's message (the statement, the import, the label …).
    @TaskLocal public static var detail: String?
}

/// One entry of the audit log. Entries never hold data values: who, when, what command or route, which
/// ref moved from which commit to which, and the write's own message (the query text of SQL writes).
///
/// The chain covers `detail` through a salted commitment (`detailHash` = SHA-256 of `detailSalt`, 0x1F,
/// `detail`), so an erasure can redact a value from an old entry's detail and destroy its salt without
/// breaking the chain, while any other edit still fails verification.
public struct AuditEntry: Sendable, Equatable, Encodable {
    public let seq: Int64
    public let time: Double
    public let user: String
    public let action: String
    public let target: String
    public let detail: String
    /// 32 random hex digits; empty once an erasure redacted the detail.
    public let detailSalt: String
    public let detailHash: String
    /// The previous entry's hash (64 zeros for the first).
    public let prev: String
    /// SHA-256 over `prev` and this entry's fields (`AuditEntry.canonical`), hex.
    public let hash: String

    public init(seq: Int64, time: Double, user: String, action: String, target: String, detail: String, detailSalt: String,
                detailHash: String, prev: String, hash: String) {
        (self.seq, self.time, self.user, self.action, self.target) = (seq, time, user, action, target)
        (self.detail, self.detailSalt, self.detailHash, self.prev, self.hash) = (detail, detailSalt, detailHash, prev, hash)
    }

    /// The bytes hashed: the fields joined by 0x1F, times as their 17 significant digits.
    public static func canonical(seq: Int64, time: Double, user: String, action: String, target: String, detailHash: String, prev: String) -> [UInt8] {
        Array([String(seq), String(format: "%.17g", time), user, action, target, detailHash, prev].joined(separator: "\u{1F}").utf8)
    }

    /// The commitment to a detail: SHA-256 of the salt, 0x1F and the detail.
    public static func detailDigest(salt: String, detail: String) -> String { digest(Array((salt + "\u{1F}" + detail).utf8)) }

    public static func digest(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    public static let genesis = String(repeating: "0", count: 64)

    /// An erasure entry's target names the entries whose detail it redacted: "… redacted entries 4,9".
    public var redactedEntries: [Int64] {
        guard action == "erase", let range = target.range(of: "redacted entries ") else { return [] }
        return target[range.upperBound...].prefix { $0.isNumber || $0 == "," }.split(separator: ",").compactMap { Int64($0) }
    }
}

extension AuditEntry {
    /// The entry that follows `last` (nil: the first): who from `context` (else `LOAM_AUTHOR`, the user, with
    /// the command `library`), the command and the write's note as its redacted detail under a fresh salt,
    /// chained to `last`'s hash. Every catalog appends what this returns, inside the change's transaction.
    public static func next(after last: (seq: Int64, hash: String)?, context: AuditContext?, detailNote: String?, action: String, target: String,
                            detail: String?) -> AuditEntry {
        let seq = (last?.seq ?? 0) + 1
        let prev = last?.hash ?? genesis
        let time = Date().timeIntervalSince1970
        let env = ProcessInfo.processInfo.environment
        let user = context?.user ?? env["LOAM_AUTHOR"] ?? env["USER"] ?? getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "unknown"
        let command = context?.command ?? "library"
        let text = AuditContext.redact([command, detail ?? detailNote].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " — "))
        let salt = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let detailHash = detailDigest(salt: salt, detail: text)
        let hash = digest(canonical(seq: seq, time: time, user: user, action: action, target: target, detailHash: detailHash, prev: prev))
        return AuditEntry(seq: seq, time: time, user: user, action: action, target: target, detail: text, detailSalt: salt, detailHash: detailHash,
                          prev: prev, hash: hash)
    }
}

/// The catalog's tamper-evident log of writes and server reads: an append-only table whose entries each
/// hold the previous entry's hash. Appended in the same transaction as the change it records.
public protocol AuditLog: Sendable {
    /// Appends one entry (for events that are not ref moves: server reads, access changes).
    func appendAudit(action: String, target: String, detail: String) async throws
    /// Entries in order, optionally filtered.
    func auditEntries(user: String?, since: Date?, containing: String?) async throws -> [AuditEntry]
}

extension SQLiteMetaStore: AuditLog {
    static func registerAudit(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-audit") { db in
            try db.execute(sql: """
                CREATE TABLE audit_log (seq INTEGER PRIMARY KEY, time REAL NOT NULL, user TEXT NOT NULL, action TEXT NOT NULL,
                    target TEXT NOT NULL, detail TEXT NOT NULL, detail_salt TEXT NOT NULL, detail_hash TEXT NOT NULL,
                    prev TEXT NOT NULL, hash TEXT NOT NULL);
                """)
        }
    }

    /// Appends an entry inside the caller's transaction: the next seq, chained to the last entry's hash.
    @discardableResult
    public static func audit(_ db: Database, _ context: AuditContext?, _ detailNote: String?, action: String, target: String, detail: String? = nil) throws -> Int64 {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").map { (seq: $0["seq"] as Int64, hash: $0["hash"] as String) }
        let entry = AuditEntry.next(after: last, context: context, detailNote: detailNote, action: action, target: target, detail: detail)
        try db.execute(sql: """
            INSERT INTO audit_log (seq, time, user, action, target, detail, detail_salt, detail_hash, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [entry.seq, entry.time, entry.user, entry.action, entry.target, entry.detail, entry.detailSalt, entry.detailHash, entry.prev, entry.hash])
        return entry.seq
    }

    public func appendAudit(action: String, target: String, detail: String) async throws {
        let context = AuditContext.current
        try await write { db in _ = try Self.audit(db, context, nil, action: action, target: target, detail: detail) }
    }

    public func auditEntries(user: String?, since: Date?, containing: String?) async throws -> [AuditEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM audit_log WHERE (?1 IS NULL OR user = ?1) AND (?2 IS NULL OR time >= ?2)
                  AND (?3 IS NULL OR instr(target, ?3) > 0 OR instr(detail, ?3) > 0) ORDER BY seq
                """, arguments: [user, since?.timeIntervalSince1970, containing]).map { row in
                AuditEntry(seq: row["seq"], time: row["time"], user: row["user"], action: row["action"], target: row["target"],
                           detail: row["detail"], detailSalt: row["detail_salt"], detailHash: row["detail_hash"], prev: row["prev"], hash: row["hash"])
            }
        }
    }
}
