import Foundation
import Loam

/// A run as `loam runs list/show/compare --json` prints it: identity, state, params,
/// tags, the latest value of each metric, and the Loam dataset reads it recorded.
public struct RunView: Encodable, Sendable {
    public struct Metric: Encodable, Sendable {
        public let value: Double
        public let step: Int64
        public let timestamp: Int64
    }

    public struct Read: Encodable, Sendable {
        public let dataset: String
        public let commit: String
        public let read: EpochRead
    }

    public let id: String
    public let name: String
    public let experimentID: String
    public let experiment: String?
    public let user: String
    public let status: String
    public let lifecycleStage: String
    public let startTime: Int64
    public let endTime: Int64?
    public let params: [String: String]
    public let tags: [String: String]
    public let metrics: [String: Metric]
    public let reads: [Read]

    enum CodingKeys: String, CodingKey {
        case id, name, experiment, user, status, params, tags, metrics, reads
        case experimentID = "experiment_id", lifecycleStage = "lifecycle_stage", startTime = "start_time", endTime = "end_time"
    }

    /// `experiment` is the experiment's name, when known.
    public init(_ run: TrackedRun, experiment: String? = nil) {
        id = run.info.id
        name = run.info.name
        experimentID = run.info.experimentID
        self.experiment = experiment
        user = run.info.userID
        status = run.info.status.rawValue
        lifecycleStage = run.info.lifecycleStage.rawValue
        startTime = run.info.startTime
        endTime = run.info.endTime
        params = run.params
        tags = run.tags
        metrics = Dictionary(run.metrics.map { ($0.key, Metric(value: $0.value, step: $0.step, timestamp: $0.timestamp)) }, uniquingKeysWith: { $1 })
        reads = run.reads.map { Read(dataset: $0.dataset, commit: $0.commit, read: $0.read) }
    }
}
