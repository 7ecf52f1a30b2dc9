import Foundation
import Loam
import LoamCloud
import LoamStorage
import LoamTestSupport
import LoamTracking
import Testing

/// The tracking and registry contract through `Tracker`, on the embedded catalog and on PostgreSQL: the same
/// answers from both, and from a second opening of the repository (another server) the same state; concurrent
/// writers through two openings lose no metric point, no experiment name is taken twice, no version number
/// is given twice.
@Suite struct TrackingConformanceTests {
    /// A fresh repository of the pair, and a second opening of it (its own catalog connections, as another server has).
    static func trackers(_ pair: BackendPair, in dir: URL) async throws -> (Tracker, Tracker) {
        let path = dir.appendingPathComponent("repo")
        let first = try await Repository.initialize(at: path, backends: try pair.backends())
        return (try Tracker(repository: first), try Tracker(repository: try Repository.open(at: path)))
    }

    @Test(arguments: BackendPair.available)
    func experimentsRunsAndMetricsRoundTrip(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (tracker, other) = try await Self.trackers(pair, in: dir)
        let cats = try await tracker.createExperiment(name: "cats ü", tags: ["team": "vision"])
        #expect(cats.artifactLocation == "mlflow-artifacts:/\(cats.id)")
        await #expect(throws: TrackingError.self) { try await other.createExperiment(name: "cats ü") }
        #expect(try await other.experiment(named: "cats ü") == cats)
        #expect(try await tracker.searchExperiments().items.map(\.name).sorted() == ["Default", "cats ü"])

        let run = try await tracker.createRun(experimentID: cats.id, name: "first", user: "ada")
        let points = [MetricPoint(key: "loss", value: 0.5, timestamp: 10, step: 1), MetricPoint(key: "loss", value: .nan, timestamp: 11, step: 2),
                      MetricPoint(key: "loss", value: .infinity, timestamp: 12, step: 0), MetricPoint(key: "acc", value: -.infinity, timestamp: 13, step: 0)]
        try await tracker.logBatch(runID: run.info.id, metrics: points, params: [("lr", "0.1"), ("lr", "0.1")], tags: [("stage", "a"), ("stage", "b")])
        // A changed param rejects the whole batch: the metric beside it is not kept either.
        await #expect(throws: TrackingError.paramChanged(key: "lr", old: "0.1", new: "0.2")) {
            try await other.logBatch(runID: run.info.id, metrics: [MetricPoint(key: "f1", value: 1, timestamp: 1, step: 1)], params: [("lr", "0.2")])
        }
        try await tracker.logInputs(runID: run.info.id, ["b-input", "a-input"])
        try await other.logInputs(runID: run.info.id, ["c-input"])

        let seen = try await other.run(id: run.info.id)
        #expect(seen.params == ["lr": "0.1"])
        #expect(seen.tags["stage"] == "b")
        #expect(seen.inputs == ["b-input", "a-input", "c-input"])
        #expect(seen.metrics.map(\.key) == ["acc", "loss"])
        // The latest point is the largest (step, timestamp, value): step 2, whose value is NaN.
        #expect(seen.metrics[1].step == 2 && seen.metrics[1].value.isNaN)
        #expect(seen.metrics[0].value == -.infinity)
        let history = try await other.metricHistory(runID: run.info.id, key: "loss").items
        #expect(history.map(\.step) == [1, 2, 0])
        #expect(history[0].value == 0.5 && history[1].value.isNaN && history[2].value == .infinity)
        #expect(try await other.metricHistory(runID: run.info.id, key: "f1").items.isEmpty)
        #expect(try await tracker.run(id: run.info.id) == seen)

        _ = try await other.updateRun(id: run.info.id, status: .finished, endTime: 99, name: "renamed")
        let updated = try await tracker.run(id: run.info.id)
        #expect(updated.info.status == .finished && updated.info.endTime == 99 && updated.info.name == "renamed")
        #expect(updated.tags["mlflow.runName"] == "renamed")
        #expect(try await tracker.findRun(String(run.info.id.prefix(10))).info.id == run.info.id)
        try await tracker.deleteTag(runID: run.info.id, key: "stage")
        await #expect(throws: TrackingError.self) { try await other.deleteTag(runID: run.info.id, key: "stage") }
        await #expect(throws: TrackingError.self) { try await other.run(id: "0123456789abcdef0123456789abcdef") }

        // Deleting the experiment deletes its runs; a deleted experiment takes no new run.
        try await tracker.setLifecycle(experimentID: cats.id, .deleted)
        #expect(try await other.run(id: run.info.id).info.lifecycleStage == .deleted)
        await #expect(throws: TrackingError.self) { try await other.createRun(experimentID: cats.id) }
        try await other.renameExperiment(id: cats.id, to: "dogs")
        #expect(try await tracker.experiment(id: cats.id).name == "dogs")
    }

    @Test(arguments: BackendPair.available)
    func concurrentWritersThroughTwoServersLoseNothing(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try await Self.trackers(pair, in: dir)
        let run = try await a.createRun(name: "shared")
        // Eight writers, half through each server, append 25 points each to the same two series.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                let tracker = writer % 2 == 0 ? a : b
                group.addTask {
                    for i in 0..<25 {
                        let step = Int64(writer * 100 + i)
                        try await tracker.logMetrics(runID: run.info.id, [MetricPoint(key: "loss", value: Double(step), timestamp: step, step: step),
                                                                          MetricPoint(key: "acc", value: Double(-step), timestamp: step, step: step)])
                    }
                }
            }
            try await group.waitForAll()
        }
        for key in ["loss", "acc"] {
            let history = try await b.metricHistory(runID: run.info.id, key: key, maxResults: 1000).items
            #expect(history.count == 200)
            #expect(Set(history.map(\.step)).count == 200)
            for writer in 0..<8 {  // each writer's points in its own order
                let own = history.map(\.step).filter { $0 / 100 == writer }
                #expect(own == own.sorted())
            }
        }
        #expect(try await a.run(id: run.info.id).metrics.first { $0.key == "loss" }?.step == 724)

        // Six servers' worth of creators race for one experiment name: exactly one wins.
        let created = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<6 {
                let tracker = i % 2 == 0 ? a : b
                group.addTask {
                    do { _ = try await tracker.createExperiment(name: "race"); return true } catch TrackingError.exists { return false }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(created == 1)

        // Versions made at once through both servers get the numbers 1…10, each once.
        _ = try await a.createRegisteredModel(name: "clf")
        let versions = try await withThrowingTaskGroup(of: Int64.self) { group in
            for i in 0..<10 {
                let tracker = i % 2 == 0 ? a : b
                group.addTask { try await tracker.createModelVersion(name: "clf", source: "s3://models/\(i)").version }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions.sorted() == Array(1...10))
    }

    @Test(arguments: BackendPair.available)
    func theRegistryRenamesDeletesAndKeepsAliasesTrue(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b) = try await Self.trackers(pair, in: dir)
        _ = try await a.createRegisteredModel(name: "clf", description: "first", tags: ["k": "v"])
        await #expect(throws: TrackingError.self) { try await b.createRegisteredModel(name: "clf") }
        let run = try await a.createRun(name: "training")
        let model = try await a.createLoggedModel(experimentID: run.info.experimentID, name: "clf", sourceRunID: run.info.id)
        try await b.logOutputs(runID: run.info.id, [ModelOutput(modelID: model.id, step: 3)])
        #expect(try await a.outputs(runID: run.info.id) == [ModelOutput(modelID: model.id, step: 3)])
        try await b.setLoggedModelTags(id: model.id, ["score": "0.9"])
        #expect(try await a.loggedModel(id: model.id).tags == ["score": "0.9"])

        let v1 = try await a.createModelVersion(name: "clf", source: "models:/\(model.id)", runID: run.info.id, modelID: model.id)
        let v2 = try await b.createModelVersion(name: "clf", source: "s3://bucket/model")
        try await b.setRegisteredModelAlias(name: "clf", alias: "champion", version: v2.version)
        #expect(try await a.modelVersion(name: "clf", alias: "champion") == v2)
        _ = try await a.renameRegisteredModel(name: "clf", to: "classifier")
        await #expect(throws: TrackingError.self) { try await b.registeredModel(name: "clf") }
        #expect(try await b.modelVersion(name: "classifier", version: v1.version).source == "models:/\(model.id)")
        #expect(try await b.modelVersion(name: "classifier", alias: "champion").version == v2.version)
        try await a.deleteModelVersion(name: "classifier", version: v2.version)
        #expect(try await b.registeredModel(name: "classifier").aliases.isEmpty)  // the alias went with its version
        // A number once given is not given again.
        #expect(try await b.createModelVersion(name: "classifier", source: "s3://bucket/model-3").version == 3)
        try await b.deleteRegisteredModel(name: "classifier")
        await #expect(throws: TrackingError.self) { try await a.modelVersion(name: "classifier", version: 1) }
        _ = try await a.createRegisteredModel(name: "classifier")
        #expect(try await a.createModelVersion(name: "classifier", source: "s3://bucket/again").version == 1)
    }
}
