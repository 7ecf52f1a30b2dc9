import Foundation
import GRDB
@testable import LoamStorage
@testable import LoamTracking
import LoamTestSupport
import Testing

/// Metric series in the catalog: appended in order, never overwritten, the latest value chosen as MLflow does,
/// NaN and infinities kept, history paged, and catalogs from before `v5-metric-series` carried over point for point.
@Suite struct MetricSeriesTests {
    func store() throws -> (SQLiteTrackingStore, URL) {
        let dir = try TestEnvironment.temporaryDirectory()
        return (try SQLiteTrackingStore(catalog: SQLiteMetaStore(path: dir.appendingPathComponent("catalog.sqlite").path)), dir)
    }

    func newRun(_ meta: SQLiteTrackingStore) async throws -> String {
        try await meta.createRun(experimentID: "0", name: "r", userID: "u", startTime: 1, tags: [:], artifactRoot: "mlflow-artifacts:/0").id
    }

    @Test func pointsAppendInOrderAndTheLatestIsTheLargestStepThenTimeThenValue() async throws {
        let (meta, dir) = try store()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await newRun(meta)
        // Steps arrive out of order; step 5 is logged twice with the same timestamp.
        let loss = [(3, 10, 0.5), (5, 11, 0.25), (1, 12, 0.9), (5, 11, 0.75), (4, 13, 0.3)].map {
            MetricPoint(key: "loss", value: $0.2, timestamp: Int64($0.1), step: Int64($0.0))
        }
        let other = MetricPoint(key: "acc", value: 0.1, timestamp: 1, step: 0)
        try await meta.appendMetrics(Array(loss.prefix(2)).map { (run, $0) } + [(run, other)])
        try await meta.appendMetrics(Array(loss.dropFirst(2)).map { (run, $0) })
        #expect(try await meta.metricHistory(runID: run, key: "loss", offset: 0, limit: 100) == loss)
        #expect(try await meta.metricHistory(runID: run, key: "acc", offset: 0, limit: 100) == [other])
        let latest = try #require(try await meta.run(id: run)).metrics
        #expect(latest == [other, MetricPoint(key: "loss", value: 0.75, timestamp: 11, step: 5)])
    }

    @Test func historyPagesFromAnOffset() async throws {
        let (meta, dir) = try store()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await newRun(meta)
        let points = (0..<2_500).map { MetricPoint(key: "x", value: Double($0), timestamp: Int64($0), step: Int64($0)) }
        try await meta.appendMetrics(points.map { (run, $0) })
        var read: [MetricPoint] = []
        while true {
            let page = try await meta.metricHistory(runID: run, key: "x", offset: read.count, limit: 1_000)
            if page.isEmpty { break }
            read += page
        }
        #expect(read == points)
        #expect(try await meta.metricHistory(runID: run, key: "never logged", offset: 0, limit: 10).isEmpty)
        await #expect(throws: TrackingError.notFound("no run with id nope")) { try await meta.metricHistory(runID: "nope", key: "x", offset: 0, limit: 1) }
    }

    @Test func nanAndInfinitiesAreKept() async throws {
        let (meta, dir) = try store()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await newRun(meta)
        try await meta.log(runID: run, metrics: [.nan, .infinity, -.infinity, 2].enumerated().map {
            MetricPoint(key: "g", value: $0.element, timestamp: 7, step: Int64($0.offset))
        }, params: [], tags: [])
        let values = try await meta.metricHistory(runID: run, key: "g", offset: 0, limit: 10).map(\.value)
        #expect(values.count == 4 && values[0].isNaN && values[1] == .infinity && values[2] == -.infinity && values[3] == 2)
        try await meta.appendMetrics([(run, MetricPoint(key: "g", value: .nan, timestamp: 8, step: 9))])
        #expect(try #require(try await meta.run(id: run)).metrics.first?.value.isNaN == true)
    }

    @Test func aCatalogFromBeforeMetricSeriesKeepsEveryPoint() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("catalog.sqlite").path
        // A catalog as v4 wrote it: one row per point in `metrics`, the latest per series in `latest_metrics`.
        let old = try DatabaseQueue(path: path)
        try SQLiteTrackingStore.migrator.migrate(old, upTo: "v4-tracking")
        try await old.write { db in
            try db.execute(sql: "INSERT INTO runs (id, experiment_id, name, user_id, status, start_time, artifact_uri) VALUES ('r1', 0, 'a', 'u', 'RUNNING', 1, '')")
            for (key, value, step) in [("loss", 0.9, 0), ("acc", 0.1, 0), ("loss", 0.5, 1), ("loss", 0.7, 0)] {
                try db.execute(sql: "INSERT INTO metrics (run_id, key, value, timestamp, step) VALUES ('r1', ?, ?, 5, ?)", arguments: [key, value, step])
            }
            try db.execute(sql: "INSERT INTO latest_metrics VALUES ('r1', 'loss', 0.5, 5, 1), ('r1', 'acc', 0.1, 5, 0)")
        }
        try old.close()
        let meta = try SQLiteTrackingStore(catalog: SQLiteMetaStore(path: path))
        #expect(try await meta.metricHistory(runID: "r1", key: "loss", offset: 0, limit: 10).map(\.value) == [0.9, 0.5, 0.7])
        #expect(try #require(try await meta.run(id: "r1")).metrics == [MetricPoint(key: "acc", value: 0.1, timestamp: 5, step: 0),
                                                                       MetricPoint(key: "loss", value: 0.5, timestamp: 5, step: 1)])
        try await meta.appendMetrics([("r1", MetricPoint(key: "loss", value: 0.1, timestamp: 6, step: 2))])
        #expect(try await meta.metricHistory(runID: "r1", key: "loss", offset: 2, limit: 10).map(\.value) == [0.7, 0.1])
    }
}

/// A catalog written before tracking became its own module (artifacts in v4-tracking's table) opens,
/// keeps its artifacts as gc roots, and its runs read as before.
@Suite struct CatalogUpgradeTests {
    @Test func artifactsFromBeforeTheObjectIndexStayIndexed() async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("catalog.sqlite").path
        let old = try DatabaseQueue(path: path)
        try SQLiteMetaStore.migrator.migrate(old, upTo: "v3-access")
        try SQLiteTrackingStore.migrator.migrate(old)
        let object = String(repeating: "ab", count: 32)
        try await old.write { db in
            // What v4-tracking created before v6-object-index took the table over.
            try db.execute(sql: "CREATE TABLE artifacts (path TEXT PRIMARY KEY NOT NULL, object TEXT NOT NULL, size INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO artifacts VALUES ('0/r1/artifacts/model.bin', ?, 7)", arguments: [object])
            try db.execute(sql: "INSERT INTO runs (id, experiment_id, name, user_id, status, start_time, artifact_uri) VALUES ('r1', 0, 'a', 'u', 'FINISHED', 1, '')")
        }
        try old.close()
        let meta = try SQLiteMetaStore(path: path)
        #expect(try await meta.indexedObjects() == [try ObjectID(hex: object)])
        #expect(try await meta.indexedPaths(under: "0/r1/").map(\.path) == ["0/r1/artifacts/model.bin"])
        let tracking = try SQLiteTrackingStore(catalog: meta)
        #expect(try await tracking.run(id: "r1")?.info.status == .finished)
    }
}
