import LoamStorage

/// Where the tracker keeps experiments, runs, params, tags, inputs and metric
/// series: the tracking capability's own catalog protocol, implemented on SQLite
/// (`SQLiteTrackingStore`) and on PostgreSQL (`PostgresTrackingStore`). Stores keep data; the rules
/// (limits, defaults, search, paging) live in `Tracker`.
public protocol TrackingStore: Sendable {
    /// A new experiment with the next id; `artifactRoot` empty means `mlflow-artifacts:/<id>`.
    /// Throws `exists` when the name is taken.
    func createExperiment(name: String, artifactRoot: String, tags: [String: String]) async throws -> Experiment
    func experiment(id: String) async throws -> Experiment?
    func experiment(named name: String) async throws -> Experiment?
    func experiments() async throws -> [Experiment]
    /// Renames and/or moves an experiment (and its runs) between active and deleted.
    func updateExperiment(id: String, name: String?, lifecycleStage: LifecycleStage?) async throws
    func setExperimentTag(id: String, key: String, value: String) async throws

    func createRun(experimentID: String, name: String, userID: String, startTime: Int64, tags: [String: String], artifactRoot: String) async throws -> RunInfo
    func run(id: String) async throws -> TrackedRun?
    func runs(experimentIDs: [String]) async throws -> [TrackedRun]
    /// Runs whose id starts with `prefix` (at most `limit`).
    func runs(idPrefix prefix: String, limit: Int) async throws -> [RunInfo]
    func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?, lifecycleStage: LifecycleStage?) async throws -> RunInfo
    /// Params are write-once: the same value again is fine, another value throws `paramChanged`.
    /// Metrics are appended in order, never overwritten. Tags: the last write wins. One transaction.
    func log(runID: String, metrics: [MetricPoint], params: [(String, String)], tags: [(String, String)]) async throws
    /// Appends metric points of many runs in one transaction (group commit).
    func appendMetrics(_ points: [(runID: String, point: MetricPoint)]) async throws
    /// The same, with an audit entry per caller in that transaction (the catalog's store; others ignore `callers`).
    func appendMetrics(_ points: [(runID: String, point: MetricPoint)], callers: [MetricCaller]) async throws
    func deleteTag(runID: String, key: String) async throws
    func logInputs(runID: String, inputs: [String]) async throws
    /// A metric's points in logging order, from `offset`, at most `limit`.
    func metricHistory(runID: String, key: String, offset: Int, limit: Int) async throws -> [MetricPoint]
}

/// One caller of a group commit, for its audit entry: who, through what, how many points to which runs.
public struct MetricCaller: Sendable {
    public let context: AuditContext?
    public let points: Int
    public let runs: [String]

    public init(context: AuditContext?, points: [(runID: String, point: MetricPoint)]) {
        self.context = context
        self.points = points.count
        var seen: [String] = []
        for (run, _) in points where !seen.contains(run) { seen.append(run) }
        runs = seen
    }
}

extension TrackingStore {
    public func appendMetrics(_ points: [(runID: String, point: MetricPoint)], callers: [MetricCaller]) async throws {
        try await appendMetrics(points)
    }
}
