import Foundation
import Loam
import LoamCloud
import LoamStorage
import Synchronization

/// Experiment tracking: experiments, runs, params, metric series, tags, logged
/// inputs (typed Loam dataset reads), artifacts, search with MLflow's filter
/// grammar, paging, MLflow's limits, and reproducing a run's batches. Every
/// rule lives here; the MLflow REST routes of `loam serve`, `loam runs` and the
/// Python client only translate to and from it.
///
/// ```swift
/// let tracker = try Tracker(repository: repo)
/// let run = try await tracker.createRun(experimentID: nil, name: "baseline")
/// try await tracker.logMetrics(runID: run.info.id, [MetricPoint(key: "loss", value: 0.3, timestamp: now, step: 7)])
/// let page = try await tracker.searchRuns(RunSearch(experimentIDs: ["0"], filter: "metrics.loss < 0.5"))
/// ```
public final class Tracker: Sendable {
    /// MLflow's limits on what one request may carry.
    public struct Limits: Sendable {
        public var metricsPerBatch = 1000
        public var paramsPerBatch = 100
        public var tagsPerBatch = 100
        public var itemsPerBatch = 1000
        public var keyBytes = 250
        public var paramValueBytes = 6000
        public var experimentsPerPage = 1000
        public var runsPerPage = 50_000
        public var pointsPerPage = 25_000

        public init() {}
    }

    public let repository: Repository
    public let store: any TrackingStore
    /// Logged models and the registry: the store itself when it keeps them (as `SQLiteTrackingStore` does).
    public let models: (any ModelStore)?
    public let limits: Limits
    let metricLog: MetricLog
    /// Runs known to exist and be active, so a metric needs no catalog read before its write.
    private let activeRuns = Mutex(Set<String>())

    /// The experiment that runs without one join (MLflow's "Default", id 0).
    public static let defaultExperimentID = "0"

    /// The tracker over the repository's own catalog: its SQLite file, or its PostgreSQL database.
    public convenience init(repository: Repository, limits: Limits = Limits()) throws {
        switch repository.meta {
        case let catalog as SQLiteMetaStore: try self.init(repository: repository, store: SQLiteTrackingStore(catalog: catalog), limits: limits)
        case let catalog as PostgresMetaStore: self.init(repository: repository, store: PostgresTrackingStore(catalog: catalog), limits: limits)
        default: throw TrackingError.invalid("this repository's catalog (\(type(of: repository.meta))) keeps no tracking tables")
        }
    }

    public init(repository: Repository, store: any TrackingStore, models: (any ModelStore)? = nil, limits: Limits = Limits()) {
        self.repository = repository
        self.store = store
        self.models = models ?? store as? any ModelStore
        self.limits = limits
        metricLog = MetricLog(store: store)
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    // MARK: - experiments

    @discardableResult
    public func createExperiment(name: String, artifactLocation: String? = nil, tags: [String: String] = [:]) async throws -> Experiment {
        guard !name.isEmpty else { throw TrackingError.invalid("an experiment needs a name") }
        for key in tags.keys { try checkKey(key) }
        return try await store.createExperiment(name: name, artifactRoot: artifactLocation ?? "", tags: tags)
    }

    public func experiment(id: String) async throws -> Experiment {
        guard let e = try await store.experiment(id: id) else { throw TrackingError.notFound("no experiment with id \(id)") }
        return e
    }

    public func experiment(named name: String) async throws -> Experiment {
        guard let e = try await store.experiment(named: name) else {
            let names = try await store.experiments().map(\.name)
            throw TrackingError.notFound("no experiment named '\(name)' (experiments: \(names.joined(separator: ", ")))")
        }
        return e
    }

    /// Experiments newest first, filtered and paged.
    public func searchExperiments(_ search: ExperimentSearch = ExperimentSearch()) async throws -> Page<Experiment> {
        let filter = try RunFilter(search.filter)
        let order = try search.orderBy.map(RunFilter.orderKey)
        for (key, _) in order where key.entity != .attribute || !["name", "experiment_id", "creation_time", "last_update_time"].contains(key.name) {
            throw TrackingError.invalid("experiments order by name, experiment_id, creation_time or last_update_time, not '\(key.name)'")
        }
        let matching = try await store.experiments().filter { search.view.includes($0.lifecycleStage) && filter.matches($0) }
        // MLflow's default: newest first; then experiment ids ascending.
        let list = Self.sorted(matching, order.isEmpty ? [(try RunFilter.orderKey("creation_time DESC").0, false)] : order, value: { key, e in
            switch key.name {
            case "name": return .text(e.name)
            case "experiment_id": return .number(Double(e.id) ?? 0)
            case "creation_time": return .number(Double(e.creationTime))
            default: return .number(Double(e.lastUpdateTime))
            }
        }) { (Int($0.id) ?? 0) < (Int($1.id) ?? 0) }
        return try Page(list, size: search.maxResults ?? limits.experimentsPerPage, limit: limits.experimentsPerPage, token: search.pageToken)
    }

    public func renameExperiment(id: String, to name: String) async throws {
        guard !name.isEmpty else { throw TrackingError.invalid("an experiment needs a name") }
        try await store.updateExperiment(id: id, name: name, lifecycleStage: nil)
    }

    /// Moves an experiment and its runs to the trash (`deleted`) or back (`active`).
    public func setLifecycle(experimentID: String, _ stage: LifecycleStage) async throws {
        try await store.updateExperiment(id: experimentID, name: nil, lifecycleStage: stage)
        activeRuns.withLock { $0.removeAll() }
    }

    public func setExperimentTag(experimentID: String, key: String, value: String) async throws {
        try checkKey(key)
        try await store.setExperimentTag(id: experimentID, key: key, value: value)
    }

    // MARK: - runs

    /// A new run in `experimentID` (the default experiment when nil), named `name` (or its
    /// `mlflow.runName` tag, or a generated name), by `user` (or its `mlflow.user` tag, or
    /// `creator`: the user whose token created it).
    @discardableResult
    public func createRun(experimentID: String? = nil, name: String? = nil, user: String? = nil, creator: String? = nil, startTime: Int64? = nil,
                          tags: [String: String] = [:]) async throws -> TrackedRun {
        let experiment = try await self.experiment(id: experimentID ?? Self.defaultExperimentID)
        for key in tags.keys { try checkKey(key) }
        var tags = tags
        let name = name ?? tags["mlflow.runName"] ?? "run-\(UUID().uuidString.prefix(8).lowercased())"
        tags["mlflow.runName"] = name
        let info = try await store.createRun(experimentID: experiment.id, name: name, userID: user ?? tags["mlflow.user"] ?? creator ?? "",
                                             startTime: startTime ?? Self.now, tags: tags, artifactRoot: experiment.artifactLocation)
        return try await run(id: info.id)
    }

    public func run(id: String) async throws -> TrackedRun {
        guard let run = try await store.run(id: id) else { throw TrackingError.notFound("no run with id \(id)") }
        return run
    }

    /// A run by id or by a unique prefix of it (as `loam runs` accepts them).
    public func findRun(_ idOrPrefix: String) async throws -> TrackedRun {
        let prefix = idOrPrefix.lowercased()
        if let run = try await store.run(id: prefix) { return run }
        let matches = try await store.runs(idPrefix: prefix, limit: 2)
        guard matches.count == 1, !prefix.isEmpty else {
            throw TrackingError.notFound(matches.isEmpty ? "no run '\(idOrPrefix)' (see `loam runs list`)" : "'\(idOrPrefix)' matches several runs; give more digits")
        }
        return try await run(id: matches[0].id)
    }

    public func updateRun(id: String, status: RunStatus? = nil, endTime: Int64? = nil, name: String? = nil) async throws -> RunInfo {
        try await store.updateRun(id: id, status: status, endTime: endTime, name: name, lifecycleStage: nil)
    }

    /// Moves a run to the trash (`deleted`) or back (`active`); a deleted run takes no more logging.
    public func setLifecycle(runID: String, _ stage: LifecycleStage) async throws {
        _ = try await store.updateRun(id: runID, status: nil, endTime: nil, name: nil, lifecycleStage: stage)
        activeRuns.withLock { _ = $0.remove(runID) }
    }

    /// Runs of the chosen experiments, filtered, ordered (newest first after the order keys) and paged.
    public func searchRuns(_ search: RunSearch) async throws -> Page<TrackedRun> {
        let filter = try RunFilter(search.filter)
        let order = try search.orderBy.map(RunFilter.orderKey)
        let runs = try await store.runs(experimentIDs: search.experimentIDs).filter { search.view.includes($0.info.lifecycleStage) && filter.matches($0) }
        let sorted = Self.sorted(runs, order, value: { $0.value($1) }) { a, b in
            a.info.startTime != b.info.startTime ? a.info.startTime > b.info.startTime : a.info.id < b.info.id
        }
        return try Page(sorted, size: search.maxResults ?? 1000, limit: limits.runsPerPage, token: search.pageToken)
    }

    /// `items` by the order keys (missing values last, whatever the direction), then `tieBreak`.
    static func sorted<Item>(_ items: [Item], _ order: [(RunFilter.Key, Bool)], value: (RunFilter.Key, Item) -> RunFilter.Value?,
                             tieBreak: (Item, Item) -> Bool) -> [Item] {
        items.sorted { a, b in
            for (key, ascending) in order {
                switch (value(key, a), value(key, b)) {
                case (nil, nil): continue
                case (nil, _): return false
                case (_, nil): return true
                case (let x?, let y?):
                    if x == y { continue }
                    return ascending ? x < y : y < x
                }
            }
            return tieBreak(a, b)
        }
    }

    // MARK: - logging

    /// Appends metric points to a run's series; returns once they are durable in the catalog.
    public func logMetrics(runID: String, _ points: [MetricPoint]) async throws {
        for point in points { try checkKey(point.key) }
        try await requireActive(runID)
        try await metricLog.append(points.map { (runID, $0) })
    }

    /// MLflow's log-batch: at most 1000 metrics, 100 params and 100 tags, 1000 items in all.
    /// Params and tags commit first, then the metrics.
    public func logBatch(runID: String, metrics: [MetricPoint] = [], params: [(String, String)] = [], tags: [(String, String)] = []) async throws {
        guard metrics.count <= limits.metricsPerBatch, params.count <= limits.paramsPerBatch, tags.count <= limits.tagsPerBatch,
              metrics.count + params.count + tags.count <= limits.itemsPerBatch else {
            throw TrackingError.invalid("a batch holds at most \(limits.metricsPerBatch) metrics, \(limits.paramsPerBatch) params and "
                                        + "\(limits.tagsPerBatch) tags, \(limits.itemsPerBatch) in all (got \(metrics.count), \(params.count), \(tags.count))")
        }
        for point in metrics { try checkKey(point.key) }
        if !params.isEmpty || !tags.isEmpty { try await log(runID: runID, params: params, tags: tags) }
        if !metrics.isEmpty { try await logMetrics(runID: runID, metrics) }
    }

    public func logParam(runID: String, key: String, value: String) async throws {
        try await log(runID: runID, params: [(key, value)], tags: [])
    }

    public func setTag(runID: String, key: String, value: String) async throws {
        try await log(runID: runID, params: [], tags: [(key, value)])
    }

    public func deleteTag(runID: String, key: String) async throws {
        try await store.deleteTag(runID: runID, key: key)
    }

    /// Records inputs (MLflow `DatasetInput` JSON objects; a Loam read is one with source_type "loam").
    public func logInputs(runID: String, _ inputs: [String]) async throws {
        try await store.logInputs(runID: runID, inputs: inputs)
    }

    private func log(runID: String, params: [(String, String)], tags: [(String, String)]) async throws {
        for (key, value) in params {
            try checkKey(key)
            guard value.utf8.count <= limits.paramValueBytes else {
                throw TrackingError.invalid("param '\(key.prefix(40))': values are at most \(limits.paramValueBytes) bytes (got \(value.utf8.count))")
            }
        }
        for (key, _) in tags { try checkKey(key) }
        try await store.log(runID: runID, metrics: [], params: params, tags: tags)
    }

    private func requireActive(_ runID: String) async throws {
        if activeRuns.withLock({ $0.contains(runID) }) { return }
        let run = try await run(id: runID)
        guard run.info.lifecycleStage == .active else { throw TrackingError.invalid("run \(runID) is deleted; restore it before logging to it") }
        activeRuns.withLock { _ = $0.insert(runID) }
    }

    func checkKey(_ key: String) throws {
        guard !key.isEmpty, key.utf8.count <= limits.keyBytes else {
            throw TrackingError.invalid("a key must be 1 to \(limits.keyBytes) bytes, not '\(key.prefix(40))'")
        }
    }

    // MARK: - metric history

    /// One page of a metric's points, in logging order.
    public func metricHistory(runID: String, key: String, maxResults: Int? = nil, pageToken: String? = nil) async throws -> Page<MetricPoint> {
        let size = max(1, min(maxResults ?? limits.pointsPerPage, limits.pointsPerPage))
        let offset = try Page<MetricPoint>.offset(pageToken)
        let points = try await store.metricHistory(runID: runID, key: key, offset: offset, limit: size + 1)
        return Page(items: Array(points.prefix(size)), nextPageToken: points.count > size ? Page<MetricPoint>.token(offset + size) : nil)
    }

    /// For each run, at most `maxResults` points of `key` with steps in `steps`, spread evenly over
    /// the series (the first and last kept): MLflow's get-history-bulk-interval.
    public func metricHistory(runIDs: [String], key: String, fromStep: Int64 = .min, toStep: Int64 = .max,
                              maxResults: Int? = nil) async throws -> [(runID: String, point: MetricPoint)] {
        guard fromStep <= toStep else { throw TrackingError.invalid("start_step (\(fromStep)) is after end_step (\(toStep))") }
        let steps = fromStep...toStep
        let size = max(1, min(maxResults ?? limits.pointsPerPage, limits.pointsPerPage))
        var out: [(runID: String, point: MetricPoint)] = []
        for id in runIDs {
            let points = try await store.metricHistory(runID: id, key: key, offset: 0, limit: .max).filter { steps.contains($0.step) }
            let chosen = points.count <= size ? points : (0..<size).map { points[$0 * (points.count - 1) / max(size - 1, 1)] }
            out += chosen.map { (id, $0) }
        }
        return out
    }
}

/// What `Tracker.searchRuns` looks for.
public struct RunSearch: Sendable {
    public var experimentIDs: [String]
    /// MLflow's filter grammar; empty matches every run.
    public var filter: String
    /// Keys as `metrics.loss DESC`, `attributes.start_time`, …
    public var orderBy: [String]
    public var view: ViewType
    public var maxResults: Int?
    public var pageToken: String?

    public init(experimentIDs: [String], filter: String = "", orderBy: [String] = [], view: ViewType = .activeOnly, maxResults: Int? = nil,
                pageToken: String? = nil) {
        self.experimentIDs = experimentIDs
        self.filter = filter
        self.orderBy = orderBy
        self.view = view
        self.maxResults = maxResults
        self.pageToken = pageToken
    }
}

/// What `Tracker.searchExperiments` looks for.
public struct ExperimentSearch: Sendable {
    public var filter: String
    /// `name`, `experiment_id`, `creation_time` or `last_update_time`, each with ASC or DESC.
    public var orderBy: [String]
    public var view: ViewType
    public var maxResults: Int?
    public var pageToken: String?

    public init(filter: String = "", orderBy: [String] = [], view: ViewType = .activeOnly, maxResults: Int? = nil, pageToken: String? = nil) {
        self.filter = filter
        self.orderBy = orderBy
        self.view = view
        self.maxResults = maxResults
        self.pageToken = pageToken
    }
}

/// One page of a listing, with the token of the next page (nil on the last).
/// Tokens are opaque to callers (an offset, base64-encoded, as MLflow's own).
public struct Page<Item: Sendable>: Sendable {
    public let items: [Item]
    public let nextPageToken: String?

    public init(items: [Item], nextPageToken: String?) {
        self.items = items
        self.nextPageToken = nextPageToken
    }

    /// The page of `all` that `token` starts, `size` long (1…`limit`).
    init(_ all: [Item], size: Int, limit: Int, token: String?) throws {
        guard size >= 1, size <= limit else { throw TrackingError.invalid("max_results must be between 1 and \(limit), not \(size)") }
        let offset = try Self.offset(token)
        items = Array(all.dropFirst(offset).prefix(size))
        nextPageToken = offset < all.count - size ? Self.token(offset + size) : nil
    }

    static func token(_ offset: Int) -> String { Data(String(offset).utf8).base64EncodedString() }

    static func offset(_ token: String?) throws -> Int {
        guard let token, !token.isEmpty else { return 0 }
        guard let data = Data(base64Encoded: token), let n = Int(String(decoding: data, as: UTF8.self)), n >= 0, n <= Int(Int32.max) else {
            throw TrackingError.invalid("invalid page_token '\(token.prefix(40))' (pass back the next_page_token of the previous page)")
        }
        return n
    }
}
