import Foundation

/// A model logged from a run (MLflow 3's `LoggedModel`): its files live under
/// `artifactURI` (`<experiment artifact location>/models/<id>/artifacts`), its
/// lineage is the run that produced it (`sourceRunID`) and, through that run's
/// inputs, the exact data commits it was trained on.
///
/// ```swift
/// let model = try await tracker.createLoggedModel(experimentID: "1", name: "classifier", sourceRunID: run.info.id)
/// print(model.id, model.artifactURI)   // m-3f2a…, mlflow-artifacts:/1/models/m-3f2a…/artifacts
/// ```
public struct LoggedModel: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case pending = "LOGGED_MODEL_PENDING", ready = "LOGGED_MODEL_READY", uploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"
    }

    /// `m-` and 32 hex digits.
    public let id: String
    public let experimentID: String
    public var name: String
    public let artifactURI: String
    /// Unix milliseconds.
    public let creationTime: Int64
    public var lastUpdateTime: Int64
    public var status: Status
    public var statusMessage: String?
    public var creator: String?
    public var modelType: String?
    public var sourceRunID: String?
    public var lifecycleStage: LifecycleStage
    public var tags: [String: String]
    public var params: [String: String]
    /// Metrics logged against this model (by any run), in logging order.
    public var metrics: [ModelMetric]
}

/// A metric point logged with a `model_id` (and optionally the dataset it was computed on).
public struct ModelMetric: Sendable, Equatable, Codable {
    public var point: MetricPoint
    public var runID: String?
    public var datasetName: String?
    public var datasetDigest: String?

    public init(point: MetricPoint, runID: String?, datasetName: String?, datasetDigest: String?) {
        self.point = point
        self.runID = runID
        self.datasetName = datasetName
        self.datasetDigest = datasetDigest
    }
}

/// A run's output: a logged model, at a training step.
public struct ModelOutput: Sendable, Equatable, Codable {
    public var modelID: String
    public var step: Int64

    public init(modelID: String, step: Int64) {
        self.modelID = modelID
        self.step = step
    }
}

/// A name in the model registry; its versions are `ModelVersion`s, its aliases name one version each.
public struct RegisteredModel: Sendable, Equatable, Codable {
    public var name: String
    public let creationTime: Int64
    public var lastUpdateTime: Int64
    public var description: String
    public var user: String?
    public var tags: [String: String]
    /// alias → version.
    public var aliases: [String: Int64]
}

/// One version of a registered model: where its files are (`source`, usually `models:/<logged model id>`,
/// resolved to `storageLocation`), the run and logged model it came from, its stage and tags.
public struct ModelVersion: Sendable, Equatable, Codable {
    public var name: String
    public let version: Int64
    public let creationTime: Int64
    public var lastUpdateTime: Int64
    public var description: String
    public var user: String?
    public let source: String
    /// What `source` resolves to: the logged model's artifact URI, or `source` itself.
    public let storageLocation: String
    public let runID: String?
    public let modelID: String?
    /// "None", "Staging", "Production" or "Archived" (MLflow's deprecated stages).
    public var stage: String
    public var tags: [String: String]
}

/// Where logged models, run outputs and the model registry are kept, beside the tracking
/// tables (`SQLiteTrackingStore`, `PostgresTrackingStore`). Stores keep data; the rules
/// (names, ids, aliases, stages, search) live in `Tracker`.
public protocol ModelStore: Sendable {
    func insertLoggedModel(_ model: LoggedModel) async throws
    func loggedModel(id: String) async throws -> LoggedModel?
    func loggedModels(experimentIDs: [String]) async throws -> [LoggedModel]
    /// Applies `change` in one transaction and returns the result; `notFound` when there is no such model.
    func updateLoggedModel(id: String, _ change: @Sendable (inout LoggedModel) throws -> Void) async throws -> LoggedModel
    func logOutputs(runID: String, _ outputs: [ModelOutput]) async throws
    func outputs(runID: String) async throws -> [ModelOutput]

    /// Throws `exists` when the name is taken.
    func insertRegisteredModel(_ model: RegisteredModel) async throws
    func registeredModel(name: String) async throws -> RegisteredModel?
    func registeredModels() async throws -> [RegisteredModel]
    func updateRegisteredModel(name: String, _ change: @Sendable (inout RegisteredModel) throws -> Void) async throws -> RegisteredModel
    /// Renames the model and its versions in one transaction.
    func renameRegisteredModel(from: String, to: String) async throws -> RegisteredModel
    /// Deletes the model and all its versions.
    func deleteRegisteredModel(name: String) async throws
    /// The next version number (one past the highest ever created), made into a version by `make`, in one transaction.
    func insertModelVersion(name: String, _ make: @Sendable (Int64) -> ModelVersion) async throws -> ModelVersion
    func modelVersion(name: String, version: Int64) async throws -> ModelVersion?
    /// Every version, or those of one model.
    func modelVersions(name: String?) async throws -> [ModelVersion]
    func updateModelVersion(name: String, version: Int64, _ change: @Sendable (inout ModelVersion) throws -> Void) async throws -> ModelVersion
    /// Deletes the version and any alias naming it.
    func deleteModelVersion(name: String, version: Int64) async throws
}
