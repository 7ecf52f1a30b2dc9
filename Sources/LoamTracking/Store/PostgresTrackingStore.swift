import Foundation
import LoamCloud
import LoamStorage
import PostgresNIO

/// The tracking store and the model registry in a PostgreSQL catalog, beside its refs: the tables of the
/// embedded store under migrations of the same names (`v4-tracking`, `v5-metric-series`, `v7-models`), so
/// several `loam serve` processes answer MLflow's API over one database. Every write is one transaction
/// with its audit entry; rows that concurrent writers could both change (a metric series, a logged model,
/// a registered model) are locked with `SELECT … FOR UPDATE` first, in a fixed order, so no update is lost
/// and no two writers wait on each other in a circle.
///
/// ```swift
/// let store = PostgresTrackingStore(catalog: try PostgresMetaStore(url: "postgres://loam@db:5432/loam"))
/// let tracker = Tracker(repository: repo, store: store)
/// ```
public final class PostgresTrackingStore: TrackingStore, ModelStore {
    let catalog: PostgresMetaStore
    private var logger: Logger { catalog.logger }

    public init(catalog: PostgresMetaStore) { self.catalog = catalog }

    static let migrations: [PostgresMigration] = [
        PostgresMigration("v4-tracking", [
            """
            CREATE TABLE experiments (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE, artifact_location TEXT NOT NULL,
                lifecycle_stage TEXT NOT NULL DEFAULT 'active', creation_time BIGINT NOT NULL, last_update_time BIGINT NOT NULL)
            """,
            // Ids of new experiments: a sequence, so servers creating experiments at once never pick the same one.
            "CREATE SEQUENCE experiment_ids START 1",
            "CREATE TABLE experiment_tags (experiment_id BIGINT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (experiment_id, key))",
            """
            CREATE TABLE runs (id TEXT PRIMARY KEY, experiment_id BIGINT NOT NULL REFERENCES experiments(id), name TEXT NOT NULL,
                user_id TEXT NOT NULL, status TEXT NOT NULL, start_time BIGINT NOT NULL, end_time BIGINT,
                lifecycle_stage TEXT NOT NULL DEFAULT 'active', artifact_uri TEXT NOT NULL)
            """,
            "CREATE INDEX runs_experiment ON runs (experiment_id)",
            "CREATE TABLE run_params (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key))",
            "CREATE TABLE run_tags (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key))",
            "CREATE TABLE run_inputs (run_id TEXT NOT NULL, position BIGINT NOT NULL, input TEXT NOT NULL, PRIMARY KEY (run_id, position))",
            """
            INSERT INTO experiments (id, name, artifact_location, creation_time, last_update_time)
            VALUES (0, 'Default', 'mlflow-artifacts:/0', (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint)
            """,
        ]),
        // A series is one row (latest value, point count); its points are keyed (series, seq). NaN stays NaN (float8 has it).
        PostgresMigration("v5-metric-series", [
            """
            CREATE TABLE metric_series (id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, key TEXT NOT NULL, points BIGINT NOT NULL,
                value DOUBLE PRECISION NOT NULL, timestamp BIGINT NOT NULL, step BIGINT NOT NULL, UNIQUE (run_id, key))
            """,
            """
            CREATE TABLE metric_points (series BIGINT NOT NULL, seq BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, timestamp BIGINT NOT NULL,
                step BIGINT NOT NULL, PRIMARY KEY (series, seq))
            """,
        ]),
        PostgresMigration("v7-models", [
            "CREATE TABLE logged_models (id TEXT PRIMARY KEY, experiment_id BIGINT NOT NULL, body TEXT NOT NULL)",
            "CREATE INDEX logged_models_experiment ON logged_models (experiment_id)",
            "CREATE TABLE run_outputs (run_id TEXT NOT NULL, position BIGINT NOT NULL, model_id TEXT NOT NULL, step BIGINT NOT NULL, PRIMARY KEY (run_id, position))",
            "CREATE TABLE registered_models (name TEXT PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE model_versions (name TEXT NOT NULL, version BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (name, version))",
            "CREATE TABLE model_version_counters (name TEXT PRIMARY KEY, last BIGINT NOT NULL)",
        ]),
    ]

    // MARK: - Running statements

    /// `body` on one connection, once the tracking tables exist.
    private func read<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await catalog.prepare("tracking", Self.migrations)
        return try await catalog.withConnection(body)
    }

    /// `body` in one transaction that also appends an audit entry (action `track`) naming what changed — ids
    /// and keys, never values.
    private func audited<T: Sendable>(_ target: String, _ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await catalog.prepare("tracking", Self.migrations)
        return try await catalog.transaction { [catalog] c in
            let result = try await body(c)
            try await catalog.audit(c, action: "track", target: target, detail: nil)
            return result
        }
    }

    private func rows(_ c: PostgresConnection, _ query: PostgresQuery) async throws -> [PostgresRow] {
        try await c.query(query, logger: logger).collect()
    }

    private static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    private func requireRun(_ c: PostgresConnection, _ id: String) async throws {
        guard !(try await rows(c, "SELECT 1 FROM runs WHERE id = \(id)")).isEmpty else { throw TrackingError.notFound("no run with id \(id)") }
    }

    // MARK: - experiments

    private static let experimentColumns = "id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"

    /// The experiments of `rows` (in their order), with their tags.
    private func experiments(_ c: PostgresConnection, _ found: [PostgresRow]) async throws -> [Experiment] {
        let decoded = try found.map { try $0.decode((Int64, String, String, String, Int64, Int64).self) }
        var tags: [Int64: [String: String]] = [:]
        for row in try await rows(c, "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id = ANY(\(decoded.map(\.0)))") {
            let (id, key, value) = try row.decode((Int64, String, String).self)
            tags[id, default: [:]][key] = value
        }
        return decoded.map { id, name, location, stage, created, updated in
            Experiment(id: String(id), name: name, artifactLocation: location, lifecycleStage: LifecycleStage(rawValue: stage) ?? .active,
                       creationTime: created, lastUpdateTime: updated, tags: tags[id] ?? [:])
        }
    }

    public func createExperiment(name: String, artifactRoot: String, tags: [String: String]) async throws -> Experiment {
        try await audited("create experiment \(name)") { c in
            let now = Self.now
            let inserted = try await self.rows(c, """
                INSERT INTO experiments (id, name, artifact_location, creation_time, last_update_time)
                SELECT id, \(name), CASE WHEN \(artifactRoot) = '' THEN 'mlflow-artifacts:/' || id ELSE \(artifactRoot) END, \(now), \(now)
                FROM (SELECT nextval('experiment_ids') AS id) n
                ON CONFLICT (name) DO NOTHING RETURNING id, artifact_location
                """)
            guard let row = inserted.first else { throw TrackingError.exists("experiment '\(name)' already exists") }
            let (id, location) = try row.decode((Int64, String).self)
            _ = try await self.rows(c, """
                INSERT INTO experiment_tags (experiment_id, key, value) SELECT \(id), k, v FROM unnest(\(Array(tags.keys))::text[], \(Array(tags.values))::text[]) AS t(k, v)
                """)
            return Experiment(id: String(id), name: name, artifactLocation: location, lifecycleStage: .active, creationTime: now, lastUpdateTime: now, tags: tags)
        }
    }

    public func experiment(id: String) async throws -> Experiment? {
        guard let n = Int64(id) else { return nil }
        return try await read { c in
            try await self.experiments(c, try await self.rows(c, "SELECT \(unescaped: Self.experimentColumns) FROM experiments WHERE id = \(n)")).first
        }
    }

    public func experiment(named name: String) async throws -> Experiment? {
        try await read { c in
            try await self.experiments(c, try await self.rows(c, "SELECT \(unescaped: Self.experimentColumns) FROM experiments WHERE name = \(name)")).first
        }
    }

    public func experiments() async throws -> [Experiment] {
        try await read { c in try await self.experiments(c, try await self.rows(c, "SELECT \(unescaped: Self.experimentColumns) FROM experiments ORDER BY id")) }
    }

    public func updateExperiment(id: String, name: String?, lifecycleStage: LifecycleStage?) async throws {
        try await audited("update experiment \(id)") { c in
            guard let n = Int64(id), !(try await self.rows(c, "SELECT 1 FROM experiments WHERE id = \(n) FOR UPDATE")).isEmpty else {
                throw TrackingError.notFound("no experiment with id \(id)")
            }
            if let name {
                guard try await self.rows(c, "SELECT 1 FROM experiments WHERE name = \(name) AND id != \(n)").isEmpty else {
                    throw TrackingError.exists("experiment '\(name)' already exists")
                }
                _ = try await self.rows(c, "UPDATE experiments SET name = \(name), last_update_time = \(Self.now) WHERE id = \(n)")
            }
            if let stage = lifecycleStage?.rawValue {
                _ = try await self.rows(c, "UPDATE experiments SET lifecycle_stage = \(stage), last_update_time = \(Self.now) WHERE id = \(n)")
                _ = try await self.rows(c, "UPDATE runs SET lifecycle_stage = \(stage) WHERE experiment_id = \(n)")
            }
        }
    }

    public func setExperimentTag(id: String, key: String, value: String) async throws {
        try await audited("tag experiment \(id) \(key)") { c in
            guard let n = Int64(id), !(try await self.rows(c, "SELECT 1 FROM experiments WHERE id = \(n)")).isEmpty else {
                throw TrackingError.notFound("no experiment with id \(id)")
            }
            _ = try await self.rows(c, """
                INSERT INTO experiment_tags (experiment_id, key, value) VALUES (\(n), \(key), \(value))
                ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value
                """)
        }
    }

    // MARK: - runs

    private static let runColumns = "id, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri"

    private static func runInfo(_ row: PostgresRow) throws -> RunInfo {
        let (id, experiment, name, user, status, start, end, stage, uri) = try row.decode((String, Int64, String, String, String, Int64, Int64?, String, String).self)
        return RunInfo(id: id, experimentID: String(experiment), name: name, userID: user, status: RunStatus(rawValue: status) ?? .running,
                       startTime: start, endTime: end, lifecycleStage: LifecycleStage(rawValue: stage) ?? .active, artifactURI: uri)
    }

    /// The runs with their latest metrics (by key), params, tags and inputs: four statements for all of them.
    private func trackedRuns(_ c: PostgresConnection, _ infos: [RunInfo]) async throws -> [TrackedRun] {
        let ids = infos.map(\.id)
        var metrics: [String: [MetricPoint]] = [:], params: [String: [String: String]] = [:], tags: [String: [String: String]] = [:], inputs: [String: [String]] = [:]
        for row in try await rows(c, "SELECT run_id, key, value, timestamp, step FROM metric_series WHERE run_id = ANY(\(ids)) ORDER BY key COLLATE \"C\"") {
            let (run, key, value, timestamp, step) = try row.decode((String, String, Double, Int64, Int64).self)
            metrics[run, default: []].append(MetricPoint(key: key, value: value, timestamp: timestamp, step: step))
        }
        for row in try await rows(c, "SELECT run_id, key, value FROM run_params WHERE run_id = ANY(\(ids))") {
            let (run, key, value) = try row.decode((String, String, String).self)
            params[run, default: [:]][key] = value
        }
        for row in try await rows(c, "SELECT run_id, key, value FROM run_tags WHERE run_id = ANY(\(ids))") {
            let (run, key, value) = try row.decode((String, String, String).self)
            tags[run, default: [:]][key] = value
        }
        for row in try await rows(c, "SELECT run_id, input FROM run_inputs WHERE run_id = ANY(\(ids)) ORDER BY run_id, position") {
            let (run, input) = try row.decode((String, String).self)
            inputs[run, default: []].append(input)
        }
        return infos.map { TrackedRun(info: $0, metrics: metrics[$0.id] ?? [], params: params[$0.id] ?? [:], tags: tags[$0.id] ?? [:], inputs: inputs[$0.id] ?? []) }
    }

    public func createRun(experimentID: String, name: String, userID: String, startTime: Int64, tags: [String: String], artifactRoot: String) async throws -> RunInfo {
        try await audited("create run in experiment \(experimentID)") { c in
            guard let n = Int64(experimentID),
                  let stage = try await self.rows(c, "SELECT lifecycle_stage FROM experiments WHERE id = \(n) FOR SHARE").first.map({ try $0.decode(String.self) }) else {
                throw TrackingError.notFound("no experiment with id \(experimentID)")
            }
            guard stage == "active" else { throw TrackingError.invalid("experiment \(experimentID) is deleted; restore it before adding runs") }
            let id = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let info = RunInfo(id: id, experimentID: experimentID, name: name, userID: userID, status: .running, startTime: startTime, endTime: nil,
                               lifecycleStage: .active, artifactURI: "\(artifactRoot)/\(id)/artifacts")
            _ = try await self.rows(c, """
                INSERT INTO runs (id, experiment_id, name, user_id, status, start_time, artifact_uri)
                VALUES (\(id), \(n), \(name), \(userID), \(info.status.rawValue), \(startTime), \(info.artifactURI))
                """)
            _ = try await self.rows(c, "INSERT INTO run_tags (run_id, key, value) SELECT \(id), k, v FROM unnest(\(Array(tags.keys))::text[], \(Array(tags.values))::text[]) AS t(k, v)")
            return info
        }
    }

    public func run(id: String) async throws -> TrackedRun? {
        try await read { c in
            let infos = try await self.rows(c, "SELECT \(unescaped: Self.runColumns) FROM runs WHERE id = \(id)").map(Self.runInfo)
            return try await self.trackedRuns(c, infos).first
        }
    }

    public func runs(experimentIDs: [String]) async throws -> [TrackedRun] {
        let ids = experimentIDs.compactMap(Int64.init)
        return try await read { c in
            try await self.trackedRuns(c, try await self.rows(c, "SELECT \(unescaped: Self.runColumns) FROM runs WHERE experiment_id = ANY(\(ids))").map(Self.runInfo))
        }
    }

    public func runs(idPrefix prefix: String, limit: Int) async throws -> [RunInfo] {
        try await read { c in
            try await self.rows(c, "SELECT \(unescaped: Self.runColumns) FROM runs WHERE starts_with(id, \(prefix)) ORDER BY id COLLATE \"C\" LIMIT \(Int64(limit))")
                .map(Self.runInfo)
        }
    }

    public func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?, lifecycleStage: LifecycleStage?) async throws -> RunInfo {
        try await audited("update run \(id)") { c in
            guard let row = try await self.rows(c, """
                UPDATE runs SET status = coalesce(\(status?.rawValue), status), end_time = coalesce(\(endTime), end_time),
                    name = coalesce(\(name), name), lifecycle_stage = coalesce(\(lifecycleStage?.rawValue), lifecycle_stage)
                WHERE id = \(id) RETURNING \(unescaped: Self.runColumns)
                """).first else { throw TrackingError.notFound("no run with id \(id)") }
            if let name {
                _ = try await self.rows(c, """
                    INSERT INTO run_tags (run_id, key, value) VALUES (\(id), 'mlflow.runName', \(name)) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
                    """)
            }
            return try Self.runInfo(row)
        }
    }

    public func log(runID: String, metrics: [MetricPoint], params: [(String, String)], tags: [(String, String)]) async throws {
        try await audited("log to run \(runID): \(metrics.count) metrics, \(params.count) params, \(tags.count) tags") { c in
            guard let stage = try await self.rows(c, "SELECT lifecycle_stage FROM runs WHERE id = \(runID) FOR SHARE").first.map({ try $0.decode(String.self) }) else {
                throw TrackingError.notFound("no run with id \(runID)")
            }
            guard stage == "active" else { throw TrackingError.invalid("run \(runID) is deleted; restore it before logging to it") }
            if !params.isEmpty {
                // Write-once: insert what is new, then every value given must be the one kept.
                _ = try await self.rows(c, """
                    INSERT INTO run_params (run_id, key, value) SELECT \(runID), k, v FROM unnest(\(params.map(\.0))::text[], \(params.map(\.1))::text[]) AS p(k, v)
                    ON CONFLICT (run_id, key) DO NOTHING
                    """)
                var kept: [String: String] = [:]
                for row in try await self.rows(c, "SELECT key, value FROM run_params WHERE run_id = \(runID) AND key = ANY(\(params.map(\.0)))") {
                    let (key, value) = try row.decode((String, String).self)
                    kept[key] = value
                }
                for (key, value) in params where kept[key] != value {
                    throw TrackingError.paramChanged(key: key, old: kept[key] ?? "", new: value)
                }
            }
            // The last write of a key wins (one upsert may not touch a row twice, so repeats are folded first).
            var last: [String: String] = [:], order: [String] = []
            for (key, value) in tags {
                if last.updateValue(value, forKey: key) == nil { order.append(key) }
            }
            if !order.isEmpty {
                _ = try await self.rows(c, """
                    INSERT INTO run_tags (run_id, key, value) SELECT \(runID), k, v FROM unnest(\(order)::text[], \(order.map { last[$0]! })::text[]) AS t(k, v)
                    ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value
                    """)
            }
            if let name = last["mlflow.runName"] { _ = try await self.rows(c, "UPDATE runs SET name = \(name) WHERE id = \(runID)") }
            try await self.append(c, metrics.map { (runID, $0) })
        }
    }

    public func appendMetrics(_ points: [(runID: String, point: MetricPoint)]) async throws {
        try await appendMetrics(points, callers: [])
    }

    public func appendMetrics(_ points: [(runID: String, point: MetricPoint)], callers: [MetricCaller]) async throws {
        guard !points.isEmpty else { return }
        try await catalog.prepare("tracking", Self.migrations)
        try await catalog.transaction { [catalog] c in
            try await self.append(c, points)
            for caller in callers {
                try await catalog.audit(c, context: caller.context, detailNote: nil, action: "track",
                                        target: "log \(caller.points) metric points to run\(caller.runs.count == 1 ? "" : "s") \(caller.runs.joined(separator: ", "))",
                                        detail: nil)
            }
        }
    }

    /// Appends points to their series in order, each series locked (`FOR UPDATE`) while its count and latest
    /// value (the largest (step, timestamp, value), as MLflow orders them) move. Series are locked in one
    /// order — by run, then key — so two servers appending to the same series never deadlock.
    private func append(_ c: PostgresConnection, _ points: [(runID: String, point: MetricPoint)]) async throws {
        struct Series: Hashable, Comparable {
            let run: String, key: String
            static func < (a: Series, b: Series) -> Bool { (a.run, a.key) < (b.run, b.key) }
        }
        var groups: [Series: [MetricPoint]] = [:]
        for (run, point) in points { groups[Series(run: run, key: point.key), default: []].append(point) }
        for series in groups.keys.sorted() {
            let new = groups[series]!
            _ = try await rows(c, """
                INSERT INTO metric_series (run_id, key, points, value, timestamp, step) VALUES (\(series.run), \(series.key), 0, \(new[0].value), \(new[0].timestamp), \(new[0].step))
                ON CONFLICT (run_id, key) DO NOTHING
                """)
            guard let row = try await rows(c, "SELECT id, points, value, timestamp, step FROM metric_series WHERE run_id = \(series.run) AND key = \(series.key) FOR UPDATE").first else {
                throw TrackingError.notFound("metric series \(series.key) of run \(series.run) vanished while appending")
            }
            let (id, count, value, timestamp, step) = try row.decode((Int64, Int64, Double, Int64, Int64).self)
            var latest = MetricPoint(key: series.key, value: value, timestamp: timestamp, step: step)
            for point in new where point.isLater(than: latest) { latest = point }
            _ = try await rows(c, """
                INSERT INTO metric_points (series, seq, value, timestamp, step)
                SELECT \(id), \(count) + n - 1, v, t, s FROM unnest(\(new.map(\.value))::float8[], \(new.map(\.timestamp))::bigint[], \(new.map(\.step))::bigint[])
                    WITH ORDINALITY AS p(v, t, s, n)
                """)
            _ = try await rows(c, """
                UPDATE metric_series SET points = \(count + Int64(new.count)), value = \(latest.value), timestamp = \(latest.timestamp), step = \(latest.step) WHERE id = \(id)
                """)
        }
    }

    public func deleteTag(runID: String, key: String) async throws {
        try await audited("delete tag \(key) of run \(runID)") { c in
            try await self.requireRun(c, runID)
            guard !(try await self.rows(c, "DELETE FROM run_tags WHERE run_id = \(runID) AND key = \(key) RETURNING key")).isEmpty else {
                throw TrackingError.notFound("run \(runID) has no tag '\(key)'")
            }
        }
    }

    public func logInputs(runID: String, inputs: [String]) async throws {
        try await audited("log \(inputs.count) inputs to run \(runID)") { c in
            guard !(try await self.rows(c, "SELECT 1 FROM runs WHERE id = \(runID) FOR UPDATE")).isEmpty else { throw TrackingError.notFound("no run with id \(runID)") }
            _ = try await self.rows(c, """
                INSERT INTO run_inputs (run_id, position, input)
                SELECT \(runID), coalesce((SELECT max(position) + 1 FROM run_inputs WHERE run_id = \(runID)), 0) + n - 1, i
                FROM unnest(\(inputs)::text[]) WITH ORDINALITY AS t(i, n)
                """)
        }
    }

    public func metricHistory(runID: String, key: String, offset: Int, limit: Int) async throws -> [MetricPoint] {
        try await read { c in
            try await self.requireRun(c, runID)
            return try await self.rows(c, """
                SELECT p.value, p.timestamp, p.step FROM metric_points p JOIN metric_series s ON s.id = p.series
                WHERE s.run_id = \(runID) AND s.key = \(key) AND p.seq >= \(Int64(offset)) ORDER BY p.seq LIMIT \(Int64(limit))
                """).map {
                let (value, timestamp, step) = try $0.decode((Double, Int64, Int64).self)
                return MetricPoint(key: key, value: value, timestamp: timestamp, step: step)
            }
        }
    }

    // MARK: - logged models

    private func records<T: Decodable>(_ c: PostgresConnection, _ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        try await rows(c, query).map { try ModelRecord.decode(T.self, try $0.decode(String.self)) }
    }

    public func insertLoggedModel(_ model: LoggedModel) async throws {
        let body = try ModelRecord.text(model)
        try await audited("create logged model \(model.id)") { c in
            _ = try await self.rows(c, "INSERT INTO logged_models (id, experiment_id, body) VALUES (\(model.id), \(Int64(model.experimentID) ?? 0), \(body))")
        }
    }

    public func loggedModel(id: String) async throws -> LoggedModel? {
        try await read { c in try await self.records(c, LoggedModel.self, "SELECT body FROM logged_models WHERE id = \(id)").first }
    }

    public func loggedModels(experimentIDs: [String]) async throws -> [LoggedModel] {
        let ids = experimentIDs.compactMap { Int64($0) }
        return try await read { c in try await self.records(c, LoggedModel.self, "SELECT body FROM logged_models WHERE experiment_id = ANY(\(ids))") }
    }

    public func updateLoggedModel(id: String, _ change: @Sendable (inout LoggedModel) throws -> Void) async throws -> LoggedModel {
        try await audited("update logged model \(id)") { c in
            guard var model = try await self.records(c, LoggedModel.self, "SELECT body FROM logged_models WHERE id = \(id) FOR UPDATE").first else {
                throw TrackingError.notFound("no logged model with id \(id)")
            }
            try change(&model)
            _ = try await self.rows(c, "UPDATE logged_models SET body = \(try ModelRecord.text(model)) WHERE id = \(id)")
            return model
        }
    }

    public func logOutputs(runID: String, _ outputs: [ModelOutput]) async throws {
        try await audited("log \(outputs.count) outputs of run \(runID)") { c in
            guard !(try await self.rows(c, "SELECT 1 FROM runs WHERE id = \(runID) FOR UPDATE")).isEmpty else { throw TrackingError.notFound("no run with id \(runID)") }
            _ = try await self.rows(c, """
                INSERT INTO run_outputs (run_id, position, model_id, step)
                SELECT \(runID), coalesce((SELECT max(position) + 1 FROM run_outputs WHERE run_id = \(runID)), 0) + n - 1, m, s
                FROM unnest(\(outputs.map(\.modelID))::text[], \(outputs.map(\.step))::bigint[]) WITH ORDINALITY AS t(m, s, n)
                """)
        }
    }

    public func outputs(runID: String) async throws -> [ModelOutput] {
        try await read { c in
            try await self.rows(c, "SELECT model_id, step FROM run_outputs WHERE run_id = \(runID) ORDER BY position").map {
                let (model, step) = try $0.decode((String, Int64).self)
                return ModelOutput(modelID: model, step: step)
            }
        }
    }

    // MARK: - registry

    public func insertRegisteredModel(_ model: RegisteredModel) async throws {
        let body = try ModelRecord.text(model)
        try await audited("register model \(model.name)") { c in
            guard !(try await self.rows(c, "INSERT INTO registered_models (name, body) VALUES (\(model.name), \(body)) ON CONFLICT (name) DO NOTHING RETURNING name")).isEmpty else {
                throw TrackingError.exists("registered model '\(model.name)' already exists")
            }
        }
    }

    public func registeredModel(name: String) async throws -> RegisteredModel? {
        try await read { c in try await self.records(c, RegisteredModel.self, "SELECT body FROM registered_models WHERE name = \(name)").first }
    }

    public func registeredModels() async throws -> [RegisteredModel] {
        try await read { c in try await self.records(c, RegisteredModel.self, "SELECT body FROM registered_models ORDER BY name COLLATE \"C\"") }
    }

    /// The registered model, locked until the transaction ends: changes to it and to its versions queue here.
    private func registered(_ c: PostgresConnection, _ name: String) async throws -> RegisteredModel {
        guard let model = try await records(c, RegisteredModel.self, "SELECT body FROM registered_models WHERE name = \(name) FOR UPDATE").first else {
            throw TrackingError.notFound("no registered model named '\(name)'")
        }
        return model
    }

    public func updateRegisteredModel(name: String, _ change: @Sendable (inout RegisteredModel) throws -> Void) async throws -> RegisteredModel {
        try await audited("update registered model \(name)") { c in
            var model = try await self.registered(c, name)
            try change(&model)
            _ = try await self.rows(c, "UPDATE registered_models SET body = \(try ModelRecord.text(model)) WHERE name = \(name)")
            return model
        }
    }

    public func renameRegisteredModel(from: String, to: String) async throws -> RegisteredModel {
        try await audited("rename registered model \(from) to \(to)") { c in
            var model = try await self.registered(c, from)
            model.name = to
            model.lastUpdateTime = Tracker.now
            guard !(try await self.rows(c, "INSERT INTO registered_models (name, body) VALUES (\(to), \(try ModelRecord.text(model))) ON CONFLICT (name) DO NOTHING RETURNING name")).isEmpty else {
                throw TrackingError.exists("registered model '\(to)' already exists")
            }
            _ = try await self.rows(c, "DELETE FROM registered_models WHERE name = \(from)")
            for var version in try await self.records(c, ModelVersion.self, "SELECT body FROM model_versions WHERE name = \(from)") {
                version.name = to
                _ = try await self.rows(c, "UPDATE model_versions SET name = \(to), body = \(try ModelRecord.text(version)) WHERE name = \(from) AND version = \(version.version)")
            }
            _ = try await self.rows(c, "UPDATE model_version_counters SET name = \(to) WHERE name = \(from)")
            return model
        }
    }

    public func deleteRegisteredModel(name: String) async throws {
        try await audited("delete registered model \(name)") { c in
            _ = try await self.registered(c, name)
            _ = try await self.rows(c, "DELETE FROM model_versions WHERE name = \(name)")
            _ = try await self.rows(c, "DELETE FROM model_version_counters WHERE name = \(name)")
            _ = try await self.rows(c, "DELETE FROM registered_models WHERE name = \(name)")
        }
    }

    public func insertModelVersion(name: String, _ make: @Sendable (Int64) -> ModelVersion) async throws -> ModelVersion {
        try await audited("create a version of \(name)") { c in
            var model = try await self.registered(c, name)
            let next = try await self.rows(c, """
                INSERT INTO model_version_counters (name, last) VALUES (\(name), 1) ON CONFLICT (name) DO UPDATE SET last = model_version_counters.last + 1 RETURNING last
                """)[0].decode(Int64.self)
            let version = make(next)
            _ = try await self.rows(c, "INSERT INTO model_versions (name, version, body) VALUES (\(name), \(next), \(try ModelRecord.text(version)))")
            model.lastUpdateTime = version.creationTime
            _ = try await self.rows(c, "UPDATE registered_models SET body = \(try ModelRecord.text(model)) WHERE name = \(name)")
            return version
        }
    }

    public func modelVersion(name: String, version: Int64) async throws -> ModelVersion? {
        try await read { c in try await self.records(c, ModelVersion.self, "SELECT body FROM model_versions WHERE name = \(name) AND version = \(version)").first }
    }

    public func modelVersions(name: String?) async throws -> [ModelVersion] {
        try await read { c in
            try await self.records(c, ModelVersion.self, """
                SELECT body FROM model_versions WHERE \(name)::text IS NULL OR name = \(name) ORDER BY name COLLATE "C", version
                """)
        }
    }

    public func updateModelVersion(name: String, version: Int64, _ change: @Sendable (inout ModelVersion) throws -> Void) async throws -> ModelVersion {
        try await audited("update \(name) version \(version)") { c in
            guard var found = try await self.records(c, ModelVersion.self, "SELECT body FROM model_versions WHERE name = \(name) AND version = \(version) FOR UPDATE").first else {
                throw TrackingError.notFound("registered model '\(name)' has no version \(version)")
            }
            try change(&found)
            _ = try await self.rows(c, "UPDATE model_versions SET body = \(try ModelRecord.text(found)) WHERE name = \(name) AND version = \(version)")
            return found
        }
    }

    public func deleteModelVersion(name: String, version: Int64) async throws {
        try await audited("delete \(name) version \(version)") { c in
            var model = try await self.registered(c, name)
            guard !(try await self.rows(c, "DELETE FROM model_versions WHERE name = \(name) AND version = \(version) RETURNING version")).isEmpty else {
                throw TrackingError.notFound("registered model '\(name)' has no version \(version)")
            }
            model.aliases = model.aliases.filter { $0.value != version }
            model.lastUpdateTime = Tracker.now
            _ = try await self.rows(c, "UPDATE registered_models SET body = \(try ModelRecord.text(model)) WHERE name = \(name)")
        }
    }
}
