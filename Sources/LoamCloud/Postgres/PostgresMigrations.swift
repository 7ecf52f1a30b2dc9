import Foundation
import Logging
import PostgresNIO

/// One named step of a schema on PostgreSQL: its statements run in one transaction, once per database.
public struct PostgresMigration: Sendable {
    public let name: String
    public let statements: [String]

    public init(_ name: String, _ statements: [String]) {
        self.name = name
        self.statements = statements
    }
}

/// The PostgreSQL catalog's schema, as migrations named like the embedded catalog's (`v1`, `v2-reflog`, …),
/// recorded in `loam_migrations` — beside the migrations of the capabilities that keep tables there
/// (tracking, label tasks), which `PostgresMetaStore.prepare` applies the same way.
enum PostgresMigrations {
    /// Advisory lock keys (any 64-bit numbers no other user of the database picks): migrations, the audit chain.
    static let migrationLock: Int64 = 0x6C6F_616D_0001
    static let auditLock: Int64 = 0x6C6F_616D_0002

    static let catalog: [PostgresMigration] = [
        PostgresMigration("v1", [
            "CREATE TABLE refs (name TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('branch', 'tag')), commit_id TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            "CREATE TABLE datasets (name TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE counters (name TEXT PRIMARY KEY, next BIGINT NOT NULL)",
            "INSERT INTO counters (name, next) VALUES ('rowid', 0)",
            "INSERT INTO settings (key, value) VALUES ('current_branch', 'main')",
        ]),
        PostgresMigration("v2-reflog", [
            "CREATE TABLE ref_log (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, old_commit TEXT, new_commit TEXT, time DOUBLE PRECISION NOT NULL)",
            "CREATE INDEX ref_log_time ON ref_log (time)",
        ]),
        PostgresMigration("v3-access", [
            "CREATE TABLE users (name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL)",
            """
            CREATE TABLE tokens (id TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES users(name),
                role TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')), dataset TEXT, salt TEXT NOT NULL, hash TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL)
            """,
        ]),
        PostgresMigration("v6-object-index", ["CREATE TABLE artifacts (path TEXT PRIMARY KEY, object TEXT NOT NULL, size BIGINT NOT NULL)"]),
        PostgresMigration("v9-audit", [
            """
            CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, time DOUBLE PRECISION NOT NULL, user_name TEXT NOT NULL, action TEXT NOT NULL,
                target TEXT NOT NULL, detail TEXT NOT NULL, detail_salt TEXT NOT NULL, detail_hash TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL)
            """,
        ]),
        PostgresMigration("v12-token-expiry", ["ALTER TABLE tokens ADD COLUMN expires_at DOUBLE PRECISION"]),
    ]

    static func apply(_ migrations: [PostgresMigration], _ client: PostgresClient) async throws {
        let logger = Logger(label: "loam.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        // One transaction under an advisory lock: servers that start together apply each migration once.
        try await client.withConnection { c in
            try await c.query("BEGIN", logger: logger)
            do {
                try await c.query("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
                try await c.query("CREATE TABLE IF NOT EXISTS loam_migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)", logger: logger)
                for migration in migrations {
                    let done = try await c.query("SELECT 1 FROM loam_migrations WHERE name = \(migration.name)", logger: logger).collect()
                    guard done.isEmpty else { continue }
                    for statement in migration.statements { try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await c.query("INSERT INTO loam_migrations (name, applied_at) VALUES (\(migration.name), \(Date().timeIntervalSince1970))", logger: logger)
                }
                try await c.query("COMMIT", logger: logger)
            } catch {
                _ = try? await c.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }
}
