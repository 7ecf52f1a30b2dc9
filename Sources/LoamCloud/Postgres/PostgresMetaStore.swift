import Foundation
import Logging
import LoamStorage
import PostgresNIO
import Synchronization

/// The catalog on a PostgreSQL server: refs, the reflog, settings, the dataset registry, the row-id
/// counter, users and tokens, the object index and the audit log — the tables of the embedded catalog,
/// created by migrations of the same names. Several `loam serve` processes share one: every branch move
/// is a compare-and-swap in a transaction (`SELECT … FOR UPDATE`, then the update, the reflog and the
/// audit entry, committed together), so writers through different servers never lose an update.
///
/// ```swift
/// let meta = try PostgresMetaStore(url: "postgres://loam@127.0.0.1:5432/loam")
/// try await meta.compareAndSwap(branch: "main", expected: old, new: commit)
/// ```
public final class PostgresMetaStore: MetaStore, AuditLog, @unchecked Sendable {
    public let client: PostgresClient
    /// The URL without its password, for messages.
    public let location: String
    private let running: Task<Void, Never>
    /// The migrations' run: started on first use, started again after a failure (the server may be back).
    private let migration = Mutex<Task<Void, Error>?>(nil)
    /// The capabilities' schemas (`prepare`), by name: each applied once per process.
    private let schemas = Mutex<[String: Task<Void, Error>]>([:])
    public let logger = Logger(label: "loam.postgres")
    private let connectSeconds: Int

    /// `postgres://user[:password]@host[:port]/database` (`?sslmode=require` for TLS); the password may also
    /// come from `PGPASSWORD`. Connections are pooled (at most `maxConnections`); the migrations run on first use,
    /// which fails after `connectSeconds` when the server does not answer.
    public init(url: String, maxConnections: Int = 16, connectSeconds: Int = 20, env: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.connectSeconds = connectSeconds
        let config = try Self.configuration(url, env: env)
        location = config.location
        var options = PostgresClient.Configuration.Options()
        options.maximumConnections = max(2, maxConnections)
        options.connectTimeout = .seconds(10)
        var clientConfig = PostgresClient.Configuration(host: config.host, port: config.port, username: config.user, password: config.password,
                                                        database: config.database, tls: config.tls ? .require(.makeClientConfiguration()) : .disable)
        clientConfig.options = options
        let client = PostgresClient(configuration: clientConfig, backgroundLogger: Logger(label: "loam.postgres", factory: { _ in SwiftLogNoOpLogHandler() }))
        self.client = client
        running = Task.detached { await client.run() }
    }

    deinit { running.cancel() }

    struct Parsed { var host: String; var port: Int; var user: String; var password: String?; var database: String; var tls: Bool; var location: String }

    /// The parts of a postgres:// URL; the password is never part of `location`.
    static func configuration(_ url: String, env: [String: String]) throws -> Parsed {
        guard let parsed = URLComponents(string: url), ["postgres", "postgresql"].contains(parsed.scheme ?? ""), let host = parsed.host, !host.isEmpty else {
            throw CloudError.configuration("'\(Self.redacted(url))' is not a PostgreSQL URL: give postgres://user@host:port/database")
        }
        let database = String(parsed.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw CloudError.configuration("\(Self.redacted(url)) names no database: end it with /DATABASE") }
        let user = parsed.user ?? env["PGUSER"] ?? env["USER"] ?? "postgres"
        let sslmode = parsed.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "require"].contains(sslmode) else {
            throw CloudError.configuration("sslmode=\(sslmode) in \(Self.redacted(url)) is not supported: use sslmode=require or sslmode=disable")
        }
        let port = parsed.port ?? 5432
        return Parsed(host: host, port: port, user: user, password: parsed.password ?? env["PGPASSWORD"], database: database,
                      tls: sslmode == "require", location: "postgres://\(user)@\(host):\(port)/\(database)")
    }

    /// `url` with any password replaced by `***`.
    public static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }

    /// `body`'s result, or an error naming `message` after `seconds`: the caller stops waiting then, even where
    /// `body` (a connection attempt the pool keeps retrying) does not stop at once when cancelled.
    static func withDeadline<T: Sendable>(seconds: Int, _ message: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let settled = Settled()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let work = Task {
                let result: Result<T, Error>
                do { result = .success(try await body()) } catch { result = .failure(error) }
                if settled.first() { continuation.resume(with: result) }
            }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                if settled.first() {
                    work.cancel()
                    continuation.resume(throwing: CloudError.postgres("\(message) (no answer in \(seconds) s)"))
                }
            }
        }
    }

    /// True for the first caller only: whichever of the work and the timer finishes first answers.
    final class Settled: Sendable {
        private let done = Mutex(false)
        func first() -> Bool { done.withLock { let first = !$0; $0 = true; return first } }
    }

    // MARK: - Running statements

    /// Waits for the migrations (run once per process), then runs `body`; PostgreSQL's errors come back as
    /// `CloudError.postgres` with the server's message.
    private func run<T>(_ body: () async throws -> T) async throws -> T {
        let (client, location, seconds) = (client, location, connectSeconds)
        let task = migration.withLock { current in
            if let current { return current }
            let task = Task {
                try await Self.withDeadline(seconds: seconds, "cannot reach the PostgreSQL catalog at \(location): check that the server runs and the URL") {
                    do { try await PostgresMigrations.apply(PostgresMigrations.catalog, client) } catch let error as PSQLError {
                        throw CloudError.postgres("cannot prepare the PostgreSQL catalog at \(location): \(Self.message(error))")
                    }
                }
            }
            current = task
            return task
        }
        do { try await task.value } catch {
            migration.withLock { if $0 == task { $0 = nil } }
            throw error
        }
        do { return try await body() } catch let error as PSQLError {
            throw CloudError.postgres("the PostgreSQL catalog at \(location): \(Self.message(error))")
        }
    }

    /// Applies a capability's own migrations (the tracking tables, the label tasks') beside the catalog's, once
    /// per process: the stores that keep tables in this database call it before their first statement.
    public func prepare(_ schema: String, _ migrations: [PostgresMigration]) async throws {
        let (client, location) = (client, location)
        let task = schemas.withLock { running in
            if let task = running[schema] { return task }
            let task = Task {
                try await self.run {
                    do { try await PostgresMigrations.apply(migrations, client) } catch let error as PSQLError {
                        throw CloudError.postgres("cannot prepare the \(schema) tables of the PostgreSQL catalog at \(location): \(Self.message(error))")
                    }
                }
            }
            running[schema] = task
            return task
        }
        do { try await task.value } catch {
            schemas.withLock { if $0[schema] == task { $0[schema] = nil } }
            throw error
        }
    }

    static func message(_ error: PSQLError) -> String {
        if let text = error.serverInfo?[.message] { return text + (error.serverInfo?[.detail].map { " (\($0))" } ?? "") }
        return String(reflecting: error)
    }

    /// Rows of one statement, outside a transaction.
    public func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await run { try await client.query(query, logger: logger).collect() }
    }

    /// `body` on one pooled connection, each statement in its own implicit transaction (reads of several statements).
    public func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await run { try await client.withConnection(body) }
    }

    /// `body` in one transaction on one pooled connection: committed when it returns, rolled back when it throws
    /// (its own error is rethrown, not wrapped).
    public func transaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await run {
            try await client.withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
        }
    }

    private static var now: Double { Date().timeIntervalSince1970 }

    /// The reflog entry and the audit entry of a ref move, in the move's transaction.
    private func log(_ c: PostgresConnection, _ name: String, old: String?, new: String?) async throws {
        try await c.query("INSERT INTO ref_log (name, old_commit, new_commit, time) VALUES (\(name), \(old), \(new), \(Self.now))", logger: logger)
        let (action, target) = RefLogEntry.auditText(name, old: old, new: new)
        try await audit(c, action: action, target: target, detail: nil)
    }

    /// Appends an audit entry inside `c`'s transaction, for `context` (the task's caller unless given); a
    /// transaction-scoped advisory lock orders appenders, so the chain stays one line across servers.
    public func audit(_ c: PostgresConnection, context: AuditContext? = AuditContext.current, detailNote: String? = AuditContext.detail,
                      action: String, target: String, detail: String?) async throws {
        try await c.query("SELECT pg_advisory_xact_lock(\(PostgresMigrations.auditLock))", logger: logger)
        var last: (seq: Int64, hash: String)?
        for try await (seq, hash) in try await c.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", logger: logger).decode((Int64, String).self) {
            last = (seq, hash)
        }
        let e = AuditEntry.next(after: last, context: context, detailNote: detailNote, action: action, target: target, detail: detail)
        try await c.query("""
            INSERT INTO audit_log (seq, time, user_name, action, target, detail, detail_salt, detail_hash, prev, hash)
            VALUES (\(e.seq), \(e.time), \(e.user), \(e.action), \(e.target), \(e.detail), \(e.detailSalt), \(e.detailHash), \(e.prev), \(e.hash))
            """, logger: logger)
    }

    private static func ref(_ name: String, _ kind: String, _ commit: String) throws -> Ref {
        Ref(name: name, kind: Ref.Kind(rawValue: kind) ?? .branch, commit: try ObjectID(hex: commit))
    }

    private func single<T: PostgresDecodable>(_ query: PostgresQuery, as: T.Type) async throws -> T? {
        try await rows(query).first.map { try $0.decode(T.self) }
    }

    // MARK: - RefStore

    public func ref(named name: String) async throws -> Ref? {
        try await rows("SELECT name, kind, commit_id FROM refs WHERE name = \(name)").first.map {
            let (n, k, c) = try $0.decode((String, String, String).self)
            return try Self.ref(n, k, c)
        }
    }

    public func refs(kind: Ref.Kind?) async throws -> [Ref] {
        try await rows("SELECT name, kind, commit_id FROM refs WHERE \(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue) ORDER BY name COLLATE \"C\"").map {
            let (n, k, c) = try $0.decode((String, String, String).self)
            return try Self.ref(n, k, c)
        }
    }

    public func createRef(_ ref: Ref) async throws {
        try Ref.validate(ref.name)
        try await transaction { c in
            let inserted = try await c.query("""
                INSERT INTO refs (name, kind, commit_id, updated_at) VALUES (\(ref.name), \(ref.kind.rawValue), \(ref.commit.hex), \(Self.now))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: logger).collect()
            guard !inserted.isEmpty else { throw StorageError.refExists(ref.name) }
            try await log(c, ref.name, old: nil, new: ref.commit.hex)
        }
    }

    public func compareAndSwap(branch: String, expected: ObjectID?, new: ObjectID) async throws {
        if expected == nil { try Ref.validate(branch) }
        let held = BranchTurn.held
        try await transaction { c in
            let current = try await c.query("SELECT commit_id FROM refs WHERE name = \(branch) AND kind = 'branch' FOR UPDATE", logger: logger)
                .collect().first.map { try $0.decode(String.self) }
            FailPoint.hit("ref-transaction")
            guard current == expected?.hex else {
                throw StorageError.refConflict(branch: branch, expected: expected?.hex, actual: current)
            }
            // A writer elsewhere holds the branch's turn (`withBranchTurn`): this move yields to it, as a lost race.
            if !held, try await !Self.decide(c.query("SELECT pg_try_advisory_xact_lock_shared(\(Self.turnKey), hashtext(\(branch)))", logger: logger)) {
                throw StorageError.refConflict(branch: branch, expected: expected?.hex, actual: current)
            }
            if let expected {
                try await c.query("UPDATE refs SET commit_id = \(new.hex), updated_at = \(Self.now) WHERE name = \(branch) AND commit_id = \(expected.hex)",
                                  logger: logger)
            } else {
                // Two creators race past the SELECT (there was no row to lock): the key decides, the loser conflicts.
                let inserted = try await c.query("""
                    INSERT INTO refs (name, kind, commit_id, updated_at) VALUES (\(branch), 'branch', \(new.hex), \(Self.now))
                    ON CONFLICT (name) DO NOTHING RETURNING name
                    """, logger: logger).collect()
                guard !inserted.isEmpty else { throw StorageError.refConflict(branch: branch, expected: nil, actual: "another writer's commit") }
            }
            try await log(c, branch, old: expected?.hex, new: new.hex)
        }
    }

    /// The first half of a branch turn's advisory-lock key (the second is the branch name's hash); the
    /// two-key space is apart from the single keys of `PostgresMigrations`.
    static let turnKey: Int32 = 0x6C6F_616D  // "loam"

    static func decide(_ rows: PostgresRowSequence) async throws -> Bool {
        for try await granted in rows.decode(Bool.self) { return granted }
        return false
    }

    /// A session advisory lock on one pooled connection, polled (a waiter holds no connection while it
    /// sleeps, so waiters cannot starve the holder of connections), unlocked when `body` ends. A holder that
    /// dies drops its connection, and PostgreSQL the lock with it.
    public func withBranchTurn<T: Sendable>(_ branch: String, _ body: () async throws -> T) async throws -> T {
        var pause: UInt64 = 1_000_000  // 1 ms, doubling to 50 ms
        while true {
            let done: T? = try await run {
                try await client.withConnection { c -> T? in
                    let lock = try await Self.decide(c.query("SELECT pg_try_advisory_lock(\(Self.turnKey), hashtext(\(branch)))", logger: logger))
                    guard lock else { return nil }
                    do {
                        let value = try await body()
                        _ = try await c.query("SELECT pg_advisory_unlock(\(Self.turnKey), hashtext(\(branch)))", logger: logger).collect()
                        return value
                    } catch {
                        _ = try? await c.query("SELECT pg_advisory_unlock(\(Self.turnKey), hashtext(\(branch)))", logger: logger).collect()
                        throw error
                    }
                }
            }
            if let done { return done }
            try await Task.sleep(nanoseconds: UInt64.random(in: pause / 2...pause))
            pause = min(pause * 2, 50_000_000)
        }
    }

    public func deleteRef(named name: String) async throws {
        try await transaction { c in
            guard let old = try await c.query("DELETE FROM refs WHERE name = \(name) RETURNING commit_id", logger: logger).collect().first else {
                throw StorageError.refNotFound(name)
            }
            try await log(c, name, old: try old.decode(String.self), new: nil)
        }
    }

    public func renameRef(_ name: String, to: String) async throws {
        try Ref.validate(to)
        try await transaction { c in
            guard let row = try await c.query("SELECT commit_id FROM refs WHERE name = \(name) FOR UPDATE", logger: logger).collect().first else {
                throw StorageError.refNotFound(name)
            }
            let old = try row.decode(String.self)
            guard try await c.query("SELECT 1 FROM refs WHERE name = \(to)", logger: logger).collect().isEmpty else { throw StorageError.refExists(to) }
            try await c.query("UPDATE refs SET name = \(to), updated_at = \(Self.now) WHERE name = \(name)", logger: logger)
            try await c.query("UPDATE settings SET value = \(to) WHERE key = 'current_branch' AND value = \(name)", logger: logger)
            try await log(c, name, old: old, new: nil)
            try await log(c, to, old: nil, new: old)
        }
    }

    public func refLog(since: Date) async throws -> [RefLogEntry] {
        try await rows("SELECT name, old_commit, new_commit, time FROM ref_log WHERE time >= \(since.timeIntervalSince1970) ORDER BY id DESC").map {
            let (name, old, new, time) = try $0.decode((String, String?, String?, Double).self)
            return RefLogEntry(name: name, old: try old.map { try ObjectID(hex: $0) }, new: try new.map { try ObjectID(hex: $0) },
                               time: Date(timeIntervalSince1970: time))
        }
    }

    public func currentBranch() async throws -> String { try await setting("current_branch") ?? "main" }

    public func setCurrentBranch(_ name: String) async throws { try await setSetting("current_branch", name) }

    /// One statement in its own implicit transaction: the counter's row is locked for that statement only,
    /// never across a commit, so concurrent importers do not queue behind each other's work.
    public func allocateRowIDs(_ count: Int) async throws -> Range<UInt64> {
        guard count >= 0 else { throw StorageError.invalid("cannot reserve \(count) row ids") }
        let end = try await single("UPDATE counters SET next = next + \(Int64(count)) WHERE name = 'rowid' RETURNING next", as: Int64.self) ?? Int64(count)
        return UInt64(end - Int64(count))..<UInt64(end)
    }

    public func registerDataset(_ name: String, createdBy commit: ObjectID) async throws {
        _ = try await rows("INSERT INTO datasets (name, created_by, created_at) VALUES (\(name), \(commit.hex), \(Self.now)) ON CONFLICT (name) DO NOTHING")
    }

    public func registeredDatasets() async throws -> [String] {
        try await rows("SELECT name FROM datasets ORDER BY name COLLATE \"C\"").map { try $0.decode(String.self) }
    }

    public func setting(_ key: String) async throws -> String? {
        try await single("SELECT value FROM settings WHERE key = \(key)", as: String.self)
    }

    public func setSetting(_ key: String, _ value: String) async throws {
        _ = try await rows("INSERT INTO settings (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    }

    // MARK: - AccessStore

    public func addUser(_ name: String) async throws {
        try await transaction { c in
            let inserted = try await c.query("INSERT INTO users (name, created_at) VALUES (\(name), \(Self.now)) ON CONFLICT (name) DO NOTHING RETURNING name",
                                             logger: logger).collect()
            guard !inserted.isEmpty else { throw StorageError.invalid("user '\(name)' exists") }
            try await audit(c, action: "add user", target: name, detail: nil)
        }
    }

    public func users() async throws -> [String] {
        try await rows("SELECT name FROM users ORDER BY name COLLATE \"C\"").map { try $0.decode(String.self) }
    }

    public func addToken(_ token: StoredToken) async throws {
        try await transaction { c in
            guard !(try await c.query("SELECT 1 FROM users WHERE name = \(token.user) FOR SHARE", logger: logger).collect().isEmpty) else {
                throw StorageError.invalid("no user '\(token.user)' (add one with `loam user add \(token.user)`)")
            }
            try await c.query("""
                INSERT INTO tokens (id, user_name, role, dataset, salt, hash, created_at, expires_at)
                VALUES (\(token.id), \(token.user), \(token.role), \(token.dataset), \(token.salt), \(token.hash), \(token.created.timeIntervalSince1970),
                        \(token.expires?.timeIntervalSince1970))
                """, logger: logger)
            try await audit(c, action: "create token", target: token.auditTarget, detail: nil)
        }
    }

    private static func token(_ row: PostgresRow) throws -> StoredToken {
        let (id, user, role, dataset, salt, hash, created, expires) = try row.decode((String, String, String, String?, String, String, Double, Double?).self)
        return StoredToken(id: id, user: user, role: role, dataset: dataset, salt: salt, hash: hash, created: Date(timeIntervalSince1970: created),
                           expires: expires.map { Date(timeIntervalSince1970: $0) })
    }

    public func token(id: String) async throws -> StoredToken? {
        try await rows("SELECT id, user_name, role, dataset, salt, hash, created_at, expires_at FROM tokens WHERE id = \(id)").first.map(Self.token)
    }

    public func tokens() async throws -> [StoredToken] {
        try await rows("SELECT id, user_name, role, dataset, salt, hash, created_at, expires_at FROM tokens ORDER BY user_name COLLATE \"C\", created_at")
            .map(Self.token)
    }

    public func revokeToken(id: String) async throws -> Bool {
        try await transaction { c in
            guard !(try await c.query("DELETE FROM tokens WHERE id = \(id) RETURNING id", logger: logger).collect().isEmpty) else { return false }
            try await audit(c, action: "revoke token", target: id, detail: nil)
            return true
        }
    }

    public func removeUser(_ name: String) async throws -> Int {
        try await transaction { c in
            guard !(try await c.query("SELECT 1 FROM users WHERE name = \(name) FOR UPDATE", logger: logger).collect().isEmpty) else {
                throw StorageError.invalid("no user '\(name)' (see `loam user list`)")
            }
            let tokens = try await c.query("DELETE FROM tokens WHERE user_name = \(name) RETURNING id", logger: logger).collect().count
            try await c.query("DELETE FROM users WHERE name = \(name)", logger: logger)
            try await audit(c, action: "remove user", target: "\(name) and \(tokens) token(s)", detail: nil)
            return tokens
        }
    }

    // MARK: - ObjectIndex

    public func indexObject(path: String, object: ObjectID, size: Int) async throws {
        _ = try await rows("""
            INSERT INTO artifacts (path, object, size) VALUES (\(path), \(object.hex), \(Int64(size)))
            ON CONFLICT (path) DO UPDATE SET object = excluded.object, size = excluded.size
            """)
    }

    public func indexedObject(path: String) async throws -> (object: ObjectID, size: Int)? {
        try await rows("SELECT object, size FROM artifacts WHERE path = \(path)").first.map {
            let (object, size) = try $0.decode((String, Int64).self)
            return (try ObjectID(hex: object), Int(size))
        }
    }

    public func indexedPaths(under prefix: String) async throws -> [(path: String, size: Int)] {
        try await rows("SELECT path, size FROM artifacts WHERE starts_with(path, \(prefix)) ORDER BY path COLLATE \"C\"").map {
            let (path, size) = try $0.decode((String, Int64).self)
            return (path, Int(size))
        }
    }

    public func removeIndexedObject(path: String) async throws -> Bool {
        !(try await rows("DELETE FROM artifacts WHERE path = \(path) RETURNING path").isEmpty)
    }

    public func indexedObjects() async throws -> Set<ObjectID> {
        Set(try await rows("SELECT DISTINCT object FROM artifacts").map { try ObjectID(hex: try $0.decode(String.self)) })
    }

    // MARK: - AuditLog

    public func appendAudit(action: String, target: String, detail: String) async throws {
        try await transaction { c in try await audit(c, action: action, target: target, detail: detail) }
    }

    public func auditEntries(user: String?, since: Date?, containing: String?) async throws -> [AuditEntry] {
        try await rows("""
            SELECT seq, time, user_name, action, target, detail, detail_salt, detail_hash, prev, hash FROM audit_log
            WHERE (\(user)::text IS NULL OR user_name = \(user)) AND (\(since?.timeIntervalSince1970)::float8 IS NULL OR time >= \(since?.timeIntervalSince1970))
              AND (\(containing)::text IS NULL OR strpos(target, \(containing)) > 0 OR strpos(detail, \(containing)) > 0)
            ORDER BY seq
            """).map {
            let (seq, time, user, action, target, detail, salt, detailHash, prev, hash) =
                try $0.decode((Int64, Double, String, String, String, String, String, String, String, String).self)
            return AuditEntry(seq: seq, time: time, user: user, action: action, target: target, detail: detail, detailSalt: salt,
                              detailHash: detailHash, prev: prev, hash: hash)
        }
    }
}
