/// A run's state (MLflow's `RunStatus`).
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running = "RUNNING", scheduled = "SCHEDULED", finished = "FINISHED", failed = "FAILED", killed = "KILLED"

    /// The status named `text`, or an error listing the statuses.
    public init(parsing text: String) throws {
        guard let status = RunStatus(rawValue: text) else {
            throw TrackingError.invalid("unknown run status '\(text.prefix(40))' (one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = status
    }
}

/// A run's identity and state.
public struct RunInfo: Sendable, Equatable {
    public let id: String
    public let experimentID: String
    public var name: String
    public var userID: String
    public var status: RunStatus
    /// Unix milliseconds.
    public var startTime: Int64
    public var endTime: Int64?
    public var lifecycleStage: LifecycleStage
    public let artifactURI: String

    public init(id: String, experimentID: String, name: String, userID: String, status: RunStatus, startTime: Int64, endTime: Int64?,
                lifecycleStage: LifecycleStage, artifactURI: String) {
        self.id = id
        self.experimentID = experimentID
        self.name = name
        self.userID = userID
        self.status = status
        self.startTime = startTime
        self.endTime = endTime
        self.lifecycleStage = lifecycleStage
        self.artifactURI = artifactURI
    }
}

/// A run with its latest metrics (one point per key, sorted by key), params, tags
/// and logged inputs (MLflow `DatasetInput` JSON objects, in logging order).
///
/// ```swift
/// let run = try await tracker.run(id: id)
/// for read in run.reads { print(read) }   // the Loam datasets it trained on
/// ```
public struct TrackedRun: Sendable, Equatable {
    public var info: RunInfo
    public var metrics: [MetricPoint]
    public var params: [String: String]
    public var tags: [String: String]
    public var inputs: [String]

    public init(info: RunInfo, metrics: [MetricPoint], params: [String: String], tags: [String: String], inputs: [String]) {
        self.info = info
        self.metrics = metrics
        self.params = params
        self.tags = tags
        self.inputs = inputs
    }

    /// The Loam dataset reads among the inputs, in logging order (other inputs are skipped).
    public var reads: [DatasetRead] { inputs.compactMap(DatasetRead.init(input:)) }
}
