import Foundation
import GRDB

/// Logged models, run outputs and the registry in the catalog (migration `v7-models`): each record is one
/// JSON document keyed by its id (`docs/FORMAT.md`, "Models"); every change is a read-modify-write inside
/// one write transaction, so concurrent changes never lose one another.
extension SQLiteTrackingStore: ModelStore {
    static func registerModels(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-models") { db in
            try db.execute(sql: """
                CREATE TABLE logged_models (id TEXT PRIMARY KEY NOT NULL, experiment_id INTEGER NOT NULL, body TEXT NOT NULL);
                CREATE INDEX logged_models_experiment ON logged_models (experiment_id);
                CREATE TABLE run_outputs (run_id TEXT NOT NULL, position INTEGER NOT NULL, model_id TEXT NOT NULL, step INTEGER NOT NULL,
                    PRIMARY KEY (run_id, position));
                CREATE TABLE registered_models (name TEXT PRIMARY KEY NOT NULL, body TEXT NOT NULL);
                CREATE TABLE model_versions (name TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (name, version));
                CREATE TABLE model_version_counters (name TEXT PRIMARY KEY NOT NULL, last INTEGER NOT NULL);
                """)
        }
    }

    private static func text<T: Encodable>(_ value: T) throws -> String { try ModelRecord.text(value) }

    private static func fetch<T: Decodable>(_ db: Database, _ type: T.Type, _ sql: String, _ arguments: StatementArguments) throws -> [T] {
        try String.fetchAll(db, sql: sql, arguments: arguments).map { try ModelRecord.decode(T.self, $0) }
    }

    // MARK: logged models

    public func insertLoggedModel(_ model: LoggedModel) async throws {
        try await audited("create logged model \(model.id)") { db in
            try db.execute(sql: "INSERT INTO logged_models (id, experiment_id, body) VALUES (?, ?, ?)",
                           arguments: [model.id, Int64(model.experimentID) ?? 0, try Self.text(model)])
        }
    }

    public func loggedModel(id: String) async throws -> LoggedModel? {
        try await pool.read { db in try Self.fetch(db, LoggedModel.self, "SELECT body FROM logged_models WHERE id = ?", [id]).first }
    }

    public func loggedModels(experimentIDs: [String]) async throws -> [LoggedModel] {
        let ids = experimentIDs.compactMap { Int64($0) }
        return try await pool.read { db in
            try Self.fetch(db, LoggedModel.self, "SELECT body FROM logged_models WHERE experiment_id IN (SELECT value FROM json_each(?))",
                           [try Self.text(ids)])
        }
    }

    public func updateLoggedModel(id: String, _ change: @Sendable (inout LoggedModel) throws -> Void) async throws -> LoggedModel {
        try await audited("update logged model \(id)") { db in
            guard var model = try Self.fetch(db, LoggedModel.self, "SELECT body FROM logged_models WHERE id = ?", [id]).first else {
                throw TrackingError.notFound("no logged model with id \(id)")
            }
            try change(&model)
            try db.execute(sql: "UPDATE logged_models SET body = ? WHERE id = ?", arguments: [try Self.text(model), id])
            return model
        }
    }

    public func logOutputs(runID: String, _ outputs: [ModelOutput]) async throws {
        try await audited("log \(outputs.count) outputs of run \(runID)") { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE id = ?", arguments: [runID]) == 1 else { throw TrackingError.notFound("no run with id \(runID)") }
            var position = (try Int.fetchOne(db, sql: "SELECT max(position) FROM run_outputs WHERE run_id = ?", arguments: [runID]) ?? -1) + 1
            for output in outputs {
                try db.execute(sql: "INSERT INTO run_outputs (run_id, position, model_id, step) VALUES (?, ?, ?, ?)",
                               arguments: [runID, position, output.modelID, output.step])
                position += 1
            }
        }
    }

    public func outputs(runID: String) async throws -> [ModelOutput] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT model_id, step FROM run_outputs WHERE run_id = ? ORDER BY position", arguments: [runID])
                .map { ModelOutput(modelID: $0[0], step: $0[1]) }
        }
    }

    // MARK: registry

    public func insertRegisteredModel(_ model: RegisteredModel) async throws {
        try await audited("register model \(model.name)") { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM registered_models WHERE name = ?", arguments: [model.name]) == 0 else {
                throw TrackingError.exists("registered model '\(model.name)' already exists")
            }
            try db.execute(sql: "INSERT INTO registered_models (name, body) VALUES (?, ?)", arguments: [model.name, try Self.text(model)])
        }
    }

    public func registeredModel(name: String) async throws -> RegisteredModel? {
        try await pool.read { db in try Self.fetch(db, RegisteredModel.self, "SELECT body FROM registered_models WHERE name = ?", [name]).first }
    }

    public func registeredModels() async throws -> [RegisteredModel] {
        try await pool.read { db in try Self.fetch(db, RegisteredModel.self, "SELECT body FROM registered_models ORDER BY name", []) }
    }

    private static func registered(_ db: Database, _ name: String) throws -> RegisteredModel {
        guard let model = try fetch(db, RegisteredModel.self, "SELECT body FROM registered_models WHERE name = ?", [name]).first else {
            throw TrackingError.notFound("no registered model named '\(name)'")
        }
        return model
    }

    public func updateRegisteredModel(name: String, _ change: @Sendable (inout RegisteredModel) throws -> Void) async throws -> RegisteredModel {
        try await audited("update registered model \(name)") { db in
            var model = try Self.registered(db, name)
            try change(&model)
            try db.execute(sql: "UPDATE registered_models SET body = ? WHERE name = ?", arguments: [try Self.text(model), name])
            return model
        }
    }

    public func renameRegisteredModel(from: String, to: String) async throws -> RegisteredModel {
        try await audited("rename registered model \(from) to \(to)") { db in
            var model = try Self.registered(db, from)
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM registered_models WHERE name = ?", arguments: [to]) == 0 else {
                throw TrackingError.exists("registered model '\(to)' already exists")
            }
            model.name = to
            model.lastUpdateTime = Tracker.now
            try db.execute(sql: "DELETE FROM registered_models WHERE name = ?", arguments: [from])
            try db.execute(sql: "INSERT INTO registered_models (name, body) VALUES (?, ?)", arguments: [to, try Self.text(model)])
            for var version in try Self.fetch(db, ModelVersion.self, "SELECT body FROM model_versions WHERE name = ?", [from]) {
                version.name = to
                try db.execute(sql: "UPDATE model_versions SET name = ?, body = ? WHERE name = ? AND version = ?",
                               arguments: [to, try Self.text(version), from, version.version])
            }
            try db.execute(sql: "UPDATE model_version_counters SET name = ? WHERE name = ?", arguments: [to, from])
            return model
        }
    }

    public func deleteRegisteredModel(name: String) async throws {
        try await audited("delete registered model \(name)") { db in
            _ = try Self.registered(db, name)
            for sql in ["registered_models", "model_versions", "model_version_counters"].map({ "DELETE FROM \($0) WHERE name = ?" }) {
                try db.execute(sql: sql, arguments: [name])
            }
        }
    }

    public func insertModelVersion(name: String, _ make: @Sendable (Int64) -> ModelVersion) async throws -> ModelVersion {
        try await audited("create a version of \(name)") { db in
            var model = try Self.registered(db, name)
            let next = (try Int64.fetchOne(db, sql: "SELECT last FROM model_version_counters WHERE name = ?", arguments: [name]) ?? 0) + 1
            let version = make(next)
            try db.execute(sql: "INSERT OR REPLACE INTO model_version_counters (name, last) VALUES (?, ?)", arguments: [name, next])
            try db.execute(sql: "INSERT INTO model_versions (name, version, body) VALUES (?, ?, ?)", arguments: [name, next, try Self.text(version)])
            model.lastUpdateTime = version.creationTime
            try db.execute(sql: "UPDATE registered_models SET body = ? WHERE name = ?", arguments: [try Self.text(model), name])
            return version
        }
    }

    public func modelVersion(name: String, version: Int64) async throws -> ModelVersion? {
        try await pool.read { db in
            try Self.fetch(db, ModelVersion.self, "SELECT body FROM model_versions WHERE name = ? AND version = ?", [name, version]).first
        }
    }

    public func modelVersions(name: String?) async throws -> [ModelVersion] {
        try await pool.read { db in
            if let name { return try Self.fetch(db, ModelVersion.self, "SELECT body FROM model_versions WHERE name = ? ORDER BY version", [name]) }
            return try Self.fetch(db, ModelVersion.self, "SELECT body FROM model_versions ORDER BY name, version", [])
        }
    }

    public func updateModelVersion(name: String, version: Int64, _ change: @Sendable (inout ModelVersion) throws -> Void) async throws -> ModelVersion {
        try await audited("update \(name) version \(version)") { db in
            guard var found = try Self.fetch(db, ModelVersion.self, "SELECT body FROM model_versions WHERE name = ? AND version = ?", [name, version]).first else {
                throw TrackingError.notFound("registered model '\(name)' has no version \(version)")
            }
            try change(&found)
            try db.execute(sql: "UPDATE model_versions SET body = ? WHERE name = ? AND version = ?", arguments: [try Self.text(found), name, version])
            return found
        }
    }

    public func deleteModelVersion(name: String, version: Int64) async throws {
        try await audited("delete \(name) version \(version)") { db in
            var model = try Self.registered(db, name)
            try db.execute(sql: "DELETE FROM model_versions WHERE name = ? AND version = ?", arguments: [name, version])
            guard db.changesCount == 1 else { throw TrackingError.notFound("registered model '\(name)' has no version \(version)") }
            model.aliases = model.aliases.filter { $0.value != version }
            model.lastUpdateTime = Tracker.now
            try db.execute(sql: "UPDATE registered_models SET body = ? WHERE name = ?", arguments: [try Self.text(model), name])
        }
    }
}

/// A model record as the stores keep it: one JSON document (sorted keys; NaN and the infinities as strings).
enum ModelRecord {
    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return e
    }()

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return d
    }()

    static func text<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try decoder.decode(T.self, from: Data(text.utf8)) }
}
