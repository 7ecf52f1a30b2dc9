/// Whether an experiment or run is live or in the trash (MLflow's `lifecycle_stage`).
public enum LifecycleStage: String, Sendable, Codable {
    case active, deleted
}

/// Which of active and deleted entries a search returns (MLflow's `ViewType`).
public enum ViewType: String, Sendable, Codable {
    case activeOnly = "ACTIVE_ONLY", deletedOnly = "DELETED_ONLY", all = "ALL"

    func includes(_ stage: LifecycleStage) -> Bool {
        switch self {
        case .all: return true
        case .activeOnly: return stage == .active
        case .deletedOnly: return stage == .deleted
        }
    }
}

/// An experiment, as MLflow models it: a named group of runs with an artifact location.
///
/// ```swift
/// let e = try await tracker.createExperiment(name: "sentiment")
/// print(e.id, e.artifactLocation)   // "1", "mlflow-artifacts:/1"
/// ```
public struct Experiment: Sendable, Equatable {
    public let id: String
    public var name: String
    public let artifactLocation: String
    public var lifecycleStage: LifecycleStage
    /// Unix milliseconds.
    public let creationTime: Int64
    public var lastUpdateTime: Int64
    public var tags: [String: String]

    public init(id: String, name: String, artifactLocation: String, lifecycleStage: LifecycleStage, creationTime: Int64, lastUpdateTime: Int64,
                tags: [String: String]) {
        self.id = id
        self.name = name
        self.artifactLocation = artifactLocation
        self.lifecycleStage = lifecycleStage
        self.creationTime = creationTime
        self.lastUpdateTime = lastUpdateTime
        self.tags = tags
    }
}
