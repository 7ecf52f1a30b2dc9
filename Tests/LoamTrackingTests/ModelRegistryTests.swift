import Foundation
import Loam
@testable import LoamTracking
import Testing

/// Logged models and the registry as the library holds their rules (the MLflow routes only translate;
/// `python/tests/test_mlflow_models.py` drives them with the real `mlflow` client).
@Suite struct ModelRegistryTests {
    @Test func aLoggedModelLivesUnderItsExperimentAndIsFinalizedOnce() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await tracker.createRun(name: "train")
        let model = try await tracker.createLoggedModel(experimentID: "0", name: "clf", sourceRunID: run.info.id, params: ["C": "1"])
        #expect(model.id.hasPrefix("m-") && model.id.count == 34 && model.status == .pending)
        #expect(model.artifactURI == "mlflow-artifacts:/0/models/\(model.id)/artifacts")
        await #expect(throws: TrackingError.notFound("no run with id nope")) { try await tracker.createLoggedModel(experimentID: "0", sourceRunID: "nope") }
        await #expect(throws: (any Error).self) { try await tracker.finalizeLoggedModel(id: model.id, status: .pending) }
        #expect(try await tracker.finalizeLoggedModel(id: model.id, status: .ready).status == .ready)
        try await tracker.logLoggedModelParams(id: model.id, ["C": "1", "penalty": "l2"])
        await #expect(throws: TrackingError.paramChanged(key: "C", old: "1", new: "2")) { try await tracker.logLoggedModelParams(id: model.id, ["C": "2"]) }
        try await tracker.logModelMetrics([model.id: [ModelMetric(point: MetricPoint(key: "acc", value: .nan, timestamp: 1, step: 0),
                                                                  runID: run.info.id, datasetName: "t", datasetDigest: "abc")]])
        let stored = try await tracker.loggedModel(id: model.id)
        #expect(stored.params == ["C": "1", "penalty": "l2"] && stored.metrics.count == 1 && stored.metrics[0].point.value.isNaN)
        try await tracker.logOutputs(runID: run.info.id, [ModelOutput(modelID: model.id, step: 3)])
        #expect(try await tracker.outputs(runID: run.info.id) == [ModelOutput(modelID: model.id, step: 3)])
        let found = try await tracker.searchLoggedModels(experimentIDs: ["0"], ModelSearch(filter: "params.penalty = 'l2' and metrics.acc IS NOT NULL"))
        #expect(found.items.map(\.id) == [model.id])
        try await tracker.deleteLoggedModel(id: model.id)
        await #expect(throws: TrackingError.notFound("no logged model with id \(model.id)")) { try await tracker.loggedModel(id: model.id) }
        #expect(try await tracker.loggedModel(id: model.id, allowDeleted: true).lifecycleStage == .deleted)
    }

    @Test func versionNumbersAreNeverReusedAndAliasesFollowTheirVersion() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await tracker.createRun()
        let model = try await tracker.createLoggedModel(experimentID: "0", sourceRunID: run.info.id)
        _ = try await tracker.createRegisteredModel(name: "ranker", tags: ["team": "search"])
        await #expect(throws: TrackingError.exists("registered model 'ranker' already exists")) { try await tracker.createRegisteredModel(name: "ranker") }
        await #expect(throws: (any Error).self) { try await tracker.createModelVersion(name: "ranker", source: "models:/\(model.id)") }  // model_id missing
        let v1 = try await tracker.createModelVersion(name: "ranker", source: "models:/\(model.id)", modelID: model.id)
        #expect(v1.version == 1 && v1.modelID == model.id && v1.runID == run.info.id && v1.storageLocation == model.artifactURI)
        let v2 = try await tracker.createModelVersion(name: "ranker", source: "s3://bucket/other")
        #expect(v2.version == 2 && v2.modelID == nil && v2.storageLocation == "s3://bucket/other")
        try await tracker.setRegisteredModelAlias(name: "ranker", alias: "prod", version: 2)
        await #expect(throws: (any Error).self) { try await tracker.setRegisteredModelAlias(name: "ranker", alias: "v3", version: 1) }
        #expect(try await tracker.modelVersion(name: "ranker", alias: "prod").version == 2)
        try await tracker.deleteModelVersion(name: "ranker", version: 2)
        #expect(try await tracker.registeredModel(name: "ranker").aliases.isEmpty)
        #expect(try await tracker.createModelVersion(name: "ranker", source: "s3://bucket/third").version == 3)  // 2 is never reused

        _ = try await tracker.transitionStage(name: "ranker", version: 1, stage: "production", archiveExisting: false)
        _ = try await tracker.transitionStage(name: "ranker", version: 3, stage: "Production", archiveExisting: true)
        #expect(try await tracker.modelVersion(name: "ranker", version: 1).stage == "Archived")
        #expect(try await tracker.latestVersions(name: "ranker").map(\.version) == [1, 3])

        let renamed = try await tracker.renameRegisteredModel(name: "ranker", to: "ranker2")
        #expect(renamed.tags == ["team": "search"])
        #expect(try await tracker.searchModelVersions(ModelSearch(filter: "name = 'ranker2'")).items.map(\.version) == [3, 1])
        #expect(try await tracker.createModelVersion(name: "ranker2", source: "x").version == 4)  // the counter moved with the name
        await #expect(throws: TrackingError.notFound("no registered model named 'ranker'")) { try await tracker.registeredModel(name: "ranker") }
        #expect(try await tracker.registrations(modelID: model.id).map(\.name) == ["ranker2"])
        try await tracker.deleteRegisteredModel(name: "ranker2")
        #expect(try await tracker.searchModelVersions(ModelSearch()).items.isEmpty)
    }
}
