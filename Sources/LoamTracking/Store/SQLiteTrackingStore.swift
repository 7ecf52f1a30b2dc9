import Foundation
import GRDB
import GRDBSQLite
import LoamStorage

/// The tracking store in the embedded catalog: its tables live in the
/// repository's `catalog.sqlite`, beside the refs, with migrations of their own
/// (`v4-tracking`, `v5-metric-series`, `v7-models`) in the file's one migration history.
///
/// ```swift
/// let store = try SQLiteTrackingStore(catalog: sqliteMetaStore)
/// ```
public final class SQLiteTrackingStore: TrackingStore {
    let pool: DatabasePool

    /// Opens over the catalog's database, applying the tracking migrations it lacks.
    public init(catalog: SQLiteMetaStore) throws {
        pool = catalog.pool
        do { try Self.migrator.migrate(pool) } catch { throw StorageError.io("cannot migrate the tracking tables of \(catalog.path): \(error)") }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        register(&migrator)
        registerModels(&migrator)
        return migrator
    }
    static func register(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-tracking") { db in
            try db.execute(sql: """
                CREATE TABLE experiments (
                    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, artifact_location TEXT NOT NULL,
                    lifecycle_stage TEXT NOT NULL DEFAULT 'active', creation_time INTEGER NOT NULL, last_update_time INTEGER NOT NULL);
                CREATE TABLE experiment_tags (experiment_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (experiment_id, key));
                CREATE TABLE runs (
                    id TEXT PRIMARY KEY NOT NULL, experiment_id INTEGER NOT NULL REFERENCES experiments(id), name TEXT NOT NULL,
                    user_id TEXT NOT NULL, status TEXT NOT NULL, start_time INTEGER NOT NULL, end_time INTEGER,
                    lifecycle_stage TEXT NOT NULL DEFAULT 'active', artifact_uri TEXT NOT NULL);
                CREATE INDEX runs_experiment ON runs (experiment_id);
                CREATE TABLE run_params (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
                CREATE TABLE run_tags (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
                CREATE TABLE metrics (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, key TEXT NOT NULL,
                    value REAL NOT NULL, timestamp INTEGER NOT NULL, step INTEGER NOT NULL);
                CREATE INDEX metrics_series ON metrics (run_id, key, seq);
                CREATE TABLE latest_metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL NOT NULL, timestamp INTEGER NOT NULL,
                    step INTEGER NOT NULL, PRIMARY KEY (run_id, key));
                CREATE TABLE run_inputs (run_id TEXT NOT NULL, position INTEGER NOT NULL, input TEXT NOT NULL, PRIMARY KEY (run_id, position));
                """)
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try db.execute(sql: "INSERT INTO experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (0, 'Default', 'mlflow-artifacts:/0', ?, ?)",
                           arguments: [now, now])
        }
        // A metric series is one row (its latest value and point count); its points are clustered by (series, seq),
        // so an append touches one B-tree and a history read is one range. NaN is stored as NULL.
        migrator.registerMigration("v5-metric-series") { db in
            try db.execute(sql: """
                CREATE TABLE metric_series (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, key TEXT NOT NULL, points INTEGER NOT NULL,
                    value REAL, timestamp INTEGER NOT NULL, step INTEGER NOT NULL, UNIQUE (run_id, key));
                CREATE TABLE metric_points (series INTEGER NOT NULL, seq INTEGER NOT NULL, value REAL, timestamp INTEGER NOT NULL,
                    step INTEGER NOT NULL, PRIMARY KEY (series, seq)) WITHOUT ROWID;
                INSERT INTO metric_series (run_id, key, points, value, timestamp, step)
                    SELECT l.run_id, l.key, (SELECT count(*) FROM metrics m WHERE m.run_id = l.run_id AND m.key = l.key), l.value, l.timestamp, l.step
                    FROM latest_metrics l;
                INSERT INTO metric_points (series, seq, value, timestamp, step)
                    SELECT s.id, row_number() OVER (PARTITION BY m.run_id, m.key ORDER BY m.seq) - 1, m.value, m.timestamp, m.step
                    FROM metrics m JOIN metric_series s ON s.run_id = m.run_id AND s.key = m.key;
                DROP TABLE metrics;
                DROP TABLE latest_metrics;
                """)
        }
    }

    private static func experiment(_ db: Database, _ row: Row) throws -> Experiment {
        let id: Int64 = row["id"]
        let tags = try Row.fetchAll(db, sql: "SELECT key, value FROM experiment_tags WHERE experiment_id = ?", arguments: [id])
        return Experiment(id: String(id), name: row["name"], artifactLocation: row["artifact_location"], lifecycleStage: LifecycleStage(rawValue: row["lifecycle_stage"]) ?? .active,
                          creationTime: row["creation_time"], lastUpdateTime: row["last_update_time"],
                          tags: Dictionary(tags.map { ($0["key"], $0["value"]) }, uniquingKeysWith: { $1 }))
    }

    private static func runInfo(_ row: Row) -> RunInfo {
        RunInfo(id: row["id"], experimentID: String(row["experiment_id"] as Int64), name: row["name"], userID: row["user_id"], status: RunStatus(rawValue: row["status"]) ?? .running,
                startTime: row["start_time"], endTime: row["end_time"], lifecycleStage: LifecycleStage(rawValue: row["lifecycle_stage"]) ?? .active, artifactURI: row["artifact_uri"])
    }

    private static func trackedRun(_ db: Database, _ info: RunInfo) throws -> TrackedRun {
        let metrics = try Row.fetchAll(db, sql: "SELECT key, value, timestamp, step FROM metric_series WHERE run_id = ? ORDER BY key", arguments: [info.id])
            .map { MetricPoint(key: $0["key"], value: $0["value"] ?? .nan, timestamp: $0["timestamp"], step: $0["step"]) }
        let params = try Row.fetchAll(db, sql: "SELECT key, value FROM run_params WHERE run_id = ?", arguments: [info.id])
        let tags = try Row.fetchAll(db, sql: "SELECT key, value FROM run_tags WHERE run_id = ?", arguments: [info.id])
        let inputs = try String.fetchAll(db, sql: "SELECT input FROM run_inputs WHERE run_id = ? ORDER BY position", arguments: [info.id])
        return TrackedRun(info: info, metrics: metrics, params: Dictionary(params.map { ($0["key"], $0["value"]) }, uniquingKeysWith: { $1 }),
                          tags: Dictionary(tags.map { ($0["key"], $0["value"]) }, uniquingKeysWith: { $1 }), inputs: inputs)
    }

    /// A write transaction that also appends an audit entry (action `track`) naming what changed — ids and keys,
    /// never values. Metric points get theirs in the group commit's transaction, one per caller.
    func audited<T: Sendable>(_ target: String, _ body: @Sendable (Database) throws -> T) async throws -> T {
        let note = (AuditContext.current, AuditContext.detail)
        return try await pool.write { db in
            let result = try body(db)
            try SQLiteMetaStore.audit(db, note.0, note.1, action: "track", target: target)
            return result
        }
    }

    public func createExperiment(name: String, artifactRoot: String, tags: [String: String]) async throws -> Experiment {
        try await audited("create experiment \(name)") { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM experiments WHERE name = ?", arguments: [name]) == 0 else {
                throw TrackingError.exists("experiment '\(name)' already exists")
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let id = (try Int64.fetchOne(db, sql: "SELECT max(id) FROM experiments") ?? 0) + 1
            let location = artifactRoot.isEmpty ? "mlflow-artifacts:/\(id)" : artifactRoot
            try db.execute(sql: "INSERT INTO experiments (id, name, artifact_location, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)",
                           arguments: [id, name, location, now, now])
            for (key, value) in tags {
                try db.execute(sql: "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)", arguments: [id, key, value])
            }
            return Experiment(id: String(id), name: name, artifactLocation: location, lifecycleStage: .active, creationTime: now, lastUpdateTime: now, tags: tags)
        }
    }

    public func experiment(id: String) async throws -> Experiment? {
        guard let n = Int64(id) else { return nil }
        return try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM experiments WHERE id = ?", arguments: [n]).map { try Self.experiment(db, $0) } }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM experiments WHERE name = ?", arguments: [name]).map { try Self.experiment(db, $0) } }
    }

    public func experiments() async throws -> [Experiment] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM experiments ORDER BY id").map { try Self.experiment(db, $0) } }
    }

    public func updateExperiment(id: String, name: String?, lifecycleStage: LifecycleStage?) async throws {
        try await audited("update experiment \(id)") { db in
            guard let n = Int64(id), try Int.fetchOne(db, sql: "SELECT count(*) FROM experiments WHERE id = ?", arguments: [n]) == 1 else {
                throw TrackingError.notFound("no experiment with id \(id)")
            }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            if let name {
                guard try Int.fetchOne(db, sql: "SELECT count(*) FROM experiments WHERE name = ? AND id != ?", arguments: [name, n]) == 0 else {
                    throw TrackingError.exists("experiment '\(name)' already exists")
                }
                try db.execute(sql: "UPDATE experiments SET name = ?, last_update_time = ? WHERE id = ?", arguments: [name, now, n])
            }
            if let lifecycleStage {
                try db.execute(sql: "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE id = ?", arguments: [lifecycleStage.rawValue, now, n])
                try db.execute(sql: "UPDATE runs SET lifecycle_stage = ? WHERE experiment_id = ?", arguments: [lifecycleStage.rawValue, n])
            }
        }
    }

    public func setExperimentTag(id: String, key: String, value: String) async throws {
        try await audited("tag experiment \(id) \(key)") { db in
            guard let n = Int64(id), try Int.fetchOne(db, sql: "SELECT count(*) FROM experiments WHERE id = ?", arguments: [n]) == 1 else {
                throw TrackingError.notFound("no experiment with id \(id)")
            }
            try db.execute(sql: "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                           arguments: [n, key, value])
        }
    }

    public func createRun(experimentID: String, name: String, userID: String, startTime: Int64, tags: [String: String], artifactRoot: String) async throws -> RunInfo {
        try await audited("create run in experiment \(experimentID)") { db in
            guard let n = Int64(experimentID), let stage = try String.fetchOne(db, sql: "SELECT lifecycle_stage FROM experiments WHERE id = ?", arguments: [n]) else {
                throw TrackingError.notFound("no experiment with id \(experimentID)")
            }
            guard stage == "active" else { throw TrackingError.invalid("experiment \(experimentID) is deleted; restore it before adding runs") }
            let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let info = RunInfo(id: id, experimentID: experimentID, name: name, userID: userID, status: .running, startTime: startTime, endTime: nil,
                               lifecycleStage: .active, artifactURI: "\(artifactRoot)/\(id)/artifacts")
            try db.execute(sql: "INSERT INTO runs (id, experiment_id, name, user_id, status, start_time, artifact_uri) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [id, n, name, userID, info.status.rawValue, startTime, info.artifactURI])
            for (key, value) in tags { try db.execute(sql: "INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?)", arguments: [id, key, value]) }
            return info
        }
    }

    public func run(id: String) async throws -> TrackedRun? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]).map { try Self.trackedRun(db, Self.runInfo($0)) }
        }
    }

    public func runs(experimentIDs: [String]) async throws -> [TrackedRun] {
        let ids = experimentIDs.compactMap(Int64.init)
        return try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE experiment_id IN (\(ids.map { _ in "?" }.joined(separator: ",")))",
                                        arguments: StatementArguments(ids))
            return try rows.map { try Self.trackedRun(db, Self.runInfo($0)) }
        }
    }

    public func runs(idPrefix prefix: String, limit: Int) async throws -> [RunInfo] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY id LIMIT ?", arguments: [prefix.utf8.count, prefix, limit]).map(Self.runInfo)
        }
    }

    public func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?, lifecycleStage: LifecycleStage?) async throws -> RunInfo {
        try await audited("update run \(id)") { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE id = ?", arguments: [id]) == 1 else { throw TrackingError.notFound("no run with id \(id)") }
            if let status { try db.execute(sql: "UPDATE runs SET status = ? WHERE id = ?", arguments: [status.rawValue, id]) }
            if let endTime { try db.execute(sql: "UPDATE runs SET end_time = ? WHERE id = ?", arguments: [endTime, id]) }
            if let name {
                try db.execute(sql: "UPDATE runs SET name = ? WHERE id = ?", arguments: [name, id])
                try db.execute(sql: "INSERT INTO run_tags (run_id, key, value) VALUES (?, 'mlflow.runName', ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                               arguments: [id, name])
            }
            if let lifecycleStage { try db.execute(sql: "UPDATE runs SET lifecycle_stage = ? WHERE id = ?", arguments: [lifecycleStage.rawValue, id]) }
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) else { throw TrackingError.notFound("no run with id \(id)") }
            return Self.runInfo(row)
        }
    }

    public func log(runID: String, metrics: [MetricPoint], params: [(String, String)], tags: [(String, String)]) async throws {
        try await audited("log to run \(runID): \(metrics.count) metrics, \(params.count) params, \(tags.count) tags") { db in
            guard let stage = try String.fetchOne(db, sql: "SELECT lifecycle_stage FROM runs WHERE id = ?", arguments: [runID]) else {
                throw TrackingError.notFound("no run with id \(runID)")
            }
            guard stage == "active" else { throw TrackingError.invalid("run \(runID) is deleted; restore it before logging to it") }
            for (key, value) in params {
                if let old = try String.fetchOne(db, sql: "SELECT value FROM run_params WHERE run_id = ? AND key = ?", arguments: [runID, key]) {
                    guard old == value else { throw TrackingError.paramChanged(key: key, old: old, new: value) }
                } else {
                    try db.execute(sql: "INSERT INTO run_params (run_id, key, value) VALUES (?, ?, ?)", arguments: [runID, key, value])
                }
            }
            for (key, value) in tags {
                try db.execute(sql: "INSERT INTO run_tags (run_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value",
                               arguments: [runID, key, value])
                if key == "mlflow.runName" { try db.execute(sql: "UPDATE runs SET name = ? WHERE id = ?", arguments: [value, runID]) }
            }
            try Self.append(db, metrics.map { (runID, $0) })
        }
    }

    public func appendMetrics(_ points: [(runID: String, point: MetricPoint)]) async throws {
        try await appendMetrics(points, callers: [])
    }

    public func appendMetrics(_ points: [(runID: String, point: MetricPoint)], callers: [MetricCaller]) async throws {
        guard !points.isEmpty else { return }
        try await pool.write { db in
            try Self.append(db, points)
            for caller in callers {
                try SQLiteMetaStore.audit(db, caller.context, nil, action: "track",
                                          target: "log \(caller.points) metric points to run\(caller.runs.count == 1 ? "" : "s") \(caller.runs.joined(separator: ", "))")
            }
        }
    }

    /// Appends points to their series in order; each series' latest value (the largest (step, timestamp, value),
    /// as MLflow orders them) and point count move once. The points go in through one raw prepared statement:
    /// GRDB's argument binding costs more than SQLite's insert here.
    private static func append(_ db: Database, _ points: [(runID: String, point: MetricPoint)]) throws {
        struct Series: Hashable { let run: String, key: String }
        var order: [Series] = [], groups: [Series: [MetricPoint]] = [:]
        for (run, point) in points {
            let series = Series(run: run, key: point.key)
            if groups[series] == nil { order.append(series) }
            groups[series, default: []].append(point)
        }
        let find = try db.cachedStatement(sql: "SELECT id, points, value, timestamp, step FROM metric_series WHERE run_id = ? AND key = ?")
        let update = try db.cachedStatement(sql: "UPDATE metric_series SET points = ?, value = ?, timestamp = ?, step = ? WHERE id = ?")
        let create = try db.cachedStatement(sql: "INSERT INTO metric_series (run_id, key, points, value, timestamp, step) VALUES (?, ?, ?, ?, ?, ?)")
        let sql = "INSERT INTO metric_points (series, seq, value, timestamp, step) VALUES (?, ?, ?, ?, ?)"
        var insert: OpaquePointer?
        func check(_ code: CInt, _ expected: CInt = SQLITE_OK) throws {
            guard code == expected else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)), sql: sql)
            }
        }
        try check(sqlite3_prepare_v2(db.sqliteConnection, sql, -1, &insert, nil))
        defer { sqlite3_finalize(insert) }
        for series in order {
            let new = groups[series]!
            var id: Int64, count: Int64, latest: MetricPoint
            if let row = try Row.fetchOne(find, arguments: [series.run, series.key]) {
                (id, count) = (row[0], row[1])
                latest = MetricPoint(key: series.key, value: row[2] ?? .nan, timestamp: row[3], step: row[4])
            } else {
                try create.execute(arguments: [series.run, series.key, 0, new[0].value.isNaN ? nil : new[0].value, new[0].timestamp, new[0].step])
                (id, count, latest) = (db.lastInsertedRowID, 0, new[0])
            }
            for point in new {
                try check(sqlite3_bind_int64(insert, 1, id))
                try check(sqlite3_bind_int64(insert, 2, count))
                try check(point.value.isNaN ? sqlite3_bind_null(insert, 3) : sqlite3_bind_double(insert, 3, point.value))
                try check(sqlite3_bind_int64(insert, 4, point.timestamp))
                try check(sqlite3_bind_int64(insert, 5, point.step))
                try check(sqlite3_step(insert), SQLITE_DONE)
                try check(sqlite3_reset(insert))
                count += 1
                if point.isLater(than: latest) { latest = point }
            }
            try update.execute(arguments: [count, latest.value.isNaN ? nil : latest.value, latest.timestamp, latest.step, id])
        }
    }

    public func deleteTag(runID: String, key: String) async throws {
        try await audited("delete tag \(key) of run \(runID)") { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE id = ?", arguments: [runID]) == 1 else { throw TrackingError.notFound("no run with id \(runID)") }
            try db.execute(sql: "DELETE FROM run_tags WHERE run_id = ? AND key = ?", arguments: [runID, key])
            guard db.changesCount > 0 else { throw TrackingError.notFound("run \(runID) has no tag '\(key)'") }
        }
    }

    public func logInputs(runID: String, inputs: [String]) async throws {
        try await audited("log \(inputs.count) inputs to run \(runID)") { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE id = ?", arguments: [runID]) == 1 else { throw TrackingError.notFound("no run with id \(runID)") }
            var position = (try Int.fetchOne(db, sql: "SELECT max(position) FROM run_inputs WHERE run_id = ?", arguments: [runID]) ?? -1) + 1
            for input in inputs {
                try db.execute(sql: "INSERT INTO run_inputs (run_id, position, input) VALUES (?, ?, ?)", arguments: [runID, position, input])
                position += 1
            }
        }
    }

    public func metricHistory(runID: String, key: String, offset: Int, limit: Int) async throws -> [MetricPoint] {
        try await pool.read { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE id = ?", arguments: [runID]) == 1 else { throw TrackingError.notFound("no run with id \(runID)") }
            guard let series = try Int64.fetchOne(db, sql: "SELECT id FROM metric_series WHERE run_id = ? AND key = ?", arguments: [runID, key]) else { return [] }
            return try Row.fetchAll(db, sql: "SELECT value, timestamp, step FROM metric_points WHERE series = ? AND seq >= ? ORDER BY seq LIMIT ?",
                                    arguments: [series, offset, limit])
                .map { MetricPoint(key: key, value: $0[0] ?? .nan, timestamp: $0[1], step: $0[2]) }
        }
    }
}
