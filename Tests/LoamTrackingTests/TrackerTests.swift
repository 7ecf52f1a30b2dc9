import Foundation
import Loam
import LoamFormat
import LoamStorage
import LoamTestSupport
@testable import LoamTracking
import Synchronization
import Testing

/// A fresh repository and its tracker; the caller removes the folder.
func makeTracker() async throws -> (Tracker, URL) {
    let dir = try TestEnvironment.temporaryDirectory("loam-tracking")
    let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
    return (try Tracker(repository: repo), dir)
}

/// The rules of experiment tracking, as the library holds them (the MLflow routes only translate).
@Suite struct TrackerTests {
    @Test func runsJoinTheDefaultExperimentAndTakeTheirNameAndUserFromTags() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await tracker.createRun(creator: "token-user", tags: ["mlflow.runName": "from-tag", "mlflow.user": "ada"])
        #expect(run.info.experimentID == Tracker.defaultExperimentID)
        #expect(run.info.name == "from-tag" && run.info.userID == "ada")
        let byToken = try await tracker.createRun(name: "n", creator: "token-user")
        #expect(byToken.info.userID == "token-user" && byToken.tags["mlflow.runName"] == "n")
        #expect(run.info.artifactURI == "mlflow-artifacts:/0/\(run.info.id)/artifacts")
        await #expect(throws: TrackingError.notFound("no experiment with id 42")) { try await tracker.createRun(experimentID: "42") }
    }

    @Test func paramsAreWriteOnceAndKeysAndBatchesHaveMLflowsLimits() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try await tracker.createRun().info.id
        try await tracker.logParam(runID: id, key: "lr", value: "0.1")
        try await tracker.logParam(runID: id, key: "lr", value: "0.1")  // the same value again is fine
        await #expect(throws: TrackingError.paramChanged(key: "lr", old: "0.1", new: "0.2")) { try await tracker.logParam(runID: id, key: "lr", value: "0.2") }
        await #expect(throws: TrackingError.invalid("a key must be 1 to 250 bytes, not ''")) { try await tracker.setTag(runID: id, key: "", value: "x") }
        let long = String(repeating: "k", count: 251)
        await #expect(throws: TrackingError.invalid("a key must be 1 to 250 bytes, not '\(long.prefix(40))'")) {
            try await tracker.logMetrics(runID: id, [MetricPoint(key: long, value: 1, timestamp: 1, step: 0)])
        }
        await #expect(throws: TrackingError.invalid("param 'big': values are at most 6000 bytes (got 6001)")) {
            try await tracker.logParam(runID: id, key: "big", value: String(repeating: "v", count: 6001))
        }
        let tooMany = (0..<1001).map { MetricPoint(key: "m", value: Double($0), timestamp: 1, step: Int64($0)) }
        await #expect(throws: TrackingError.invalid("a batch holds at most 1000 metrics, 100 params and 100 tags, 1000 in all (got 1001, 0, 0)")) {
            try await tracker.logBatch(runID: id, metrics: tooMany)
        }
        // Nothing of a refused batch was written.
        #expect(try await tracker.metricHistory(runID: id, key: "m").items.isEmpty)
        #expect(try await tracker.run(id: id).params == ["lr": "0.1"])
    }

    @Test func aDeletedRunTakesNoMetricsUntilRestored() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try await tracker.createRun().info.id
        let point = MetricPoint(key: "loss", value: 1, timestamp: 1, step: 0)
        try await tracker.logMetrics(runID: id, [point])  // the run is now known active
        try await tracker.setLifecycle(runID: id, .deleted)
        await #expect(throws: TrackingError.invalid("run \(id) is deleted; restore it before logging to it")) { try await tracker.logMetrics(runID: id, [point]) }
        try await tracker.setLifecycle(runID: id, .active)
        try await tracker.logMetrics(runID: id, [point])
        #expect(try await tracker.metricHistory(runID: id, key: "loss").items == [point, point])
        await #expect(throws: TrackingError.notFound("no run with id nope")) { try await tracker.logMetrics(runID: "nope", [point]) }
        // A step interval given backwards is refused by name, not trapped on.
        await #expect(throws: TrackingError.invalid("start_step (5) is after end_step (1)")) {
            try await tracker.metricHistory(runIDs: [id], key: "loss", fromStep: 5, toStep: 1)
        }
        #expect(try await tracker.metricHistory(runIDs: [id], key: "loss", fromStep: 0, toStep: 0).count == 2)
    }

    @Test func searchFiltersOrdersAndPagesWithTokens() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        var ids: [String] = []
        for i in 0..<7 {
            let id = try await tracker.createRun(name: "r\(i)", startTime: Int64(100 + i)).info.id
            try await tracker.logBatch(runID: id, metrics: [MetricPoint(key: "loss", value: Double(i % 3), timestamp: 1, step: 0)],
                                       params: [("lr", i.isMultiple(of: 2) ? "0.1" : "0.2")])
            ids.append(id)
        }
        let filtered = try await tracker.searchRuns(RunSearch(experimentIDs: ["0"], filter: "params.lr = '0.1' and metrics.loss < 2",
                                                              orderBy: ["metrics.loss DESC"]))
        // lr 0.1: runs 0, 2, 4, 6 with loss 0, 2, 1, 0; loss < 2 drops run 2; ties newest first.
        #expect(filtered.items.map(\.info.name) == ["r4", "r6", "r0"])
        var seen: [String] = [], token: String? = nil
        repeat {
            let page = try await tracker.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 3, pageToken: token))
            #expect(page.items.count <= 3)
            seen += page.items.map(\.info.id)
            token = page.nextPageToken
        } while token != nil
        #expect(seen == ids.reversed())
        await #expect(throws: TrackingError.invalid("invalid page_token 'not a token' (pass back the next_page_token of the previous page)")) {
            try await tracker.searchRuns(RunSearch(experimentIDs: ["0"], pageToken: "not a token"))
        }
        await #expect(throws: TrackingError.invalid("max_results must be between 1 and 50000, not 0")) {
            try await tracker.searchRuns(RunSearch(experimentIDs: ["0"], maxResults: 0))
        }
        await #expect(throws: TrackingError.invalid("clauses join with AND in 'params.lr = '0.1' or params.lr = '0.2''")) {
            try await tracker.searchRuns(RunSearch(experimentIDs: ["0"], filter: "params.lr = '0.1' or params.lr = '0.2'"))
        }
    }

    @Test func aRunIsFoundByAUniquePrefix() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try await tracker.createRun().info.id
        #expect(try await tracker.findRun(String(id.prefix(6)).uppercased()).info.id == id)
        await #expect(throws: TrackingError.notFound("no run 'zzzz' (see `loam runs list`)")) { try await tracker.findRun("zzzz") }
    }

    @Test func artifactsAreObjectsKeptByGarbageCollection() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try await tracker.createRun()
        let base = "0/\(run.info.id)/artifacts"
        try await tracker.putArtifact(path: base + "/model/weights.bin", bytes: Array("weights".utf8))
        try await tracker.putArtifact(path: base + "/notes.txt", bytes: Array("hello".utf8))
        let report = try await tracker.repository.gc(grace: 0)
        #expect(report.deleted == 0)
        let bytes = try await tracker.artifact(path: base + "/model/weights.bin")
        #expect(Array(UnsafeRawBufferPointer(start: bytes.pointer, count: bytes.count)) == Array("weights".utf8))
        let listed = try await tracker.runArtifacts(runID: run.info.id)
        #expect(listed.files == [ArtifactEntry(path: "model", isDirectory: true, size: nil), ArtifactEntry(path: "notes.txt", isDirectory: false, size: 5)])
        await #expect(throws: TrackingError.invalid("artifact paths cannot contain '..' or NUL, not '0/../secret'")) {
            try await tracker.putArtifact(path: "0/../secret", bytes: [1])
        }
        #expect(try await tracker.runArtifacts(runID: run.info.id, path: ".").files == listed.files)  // "." is the run's root
        #expect(try await tracker.artifacts(in: base + "/./model/", relativeTo: base) == [ArtifactEntry(path: "model/weights.bin", isDirectory: false, size: 7)])
        try await tracker.deleteArtifact(path: base + "/notes.txt")
        await #expect(throws: TrackingError.notFound("no artifact at \(base)/notes.txt")) { try await tracker.artifact(path: base + "/notes.txt") }
        #expect(try await tracker.repository.gc(grace: 0).deleted == 1)  // "hello" is no longer named
    }
}

/// Forwards every call to a real store; the test stores below change only the metric write.
class ForwardingStore: TrackingStore, @unchecked Sendable {
    let inner: any TrackingStore
    init(_ inner: any TrackingStore) { self.inner = inner }

    func appendMetrics(_ points: [(runID: String, point: MetricPoint)]) async throws { try await inner.appendMetrics(points) }
    func createExperiment(name: String, artifactRoot: String, tags: [String: String]) async throws -> Experiment {
        try await inner.createExperiment(name: name, artifactRoot: artifactRoot, tags: tags)
    }
    func experiment(id: String) async throws -> Experiment? { try await inner.experiment(id: id) }
    func experiment(named name: String) async throws -> Experiment? { try await inner.experiment(named: name) }
    func experiments() async throws -> [Experiment] { try await inner.experiments() }
    func updateExperiment(id: String, name: String?, lifecycleStage: LifecycleStage?) async throws {
        try await inner.updateExperiment(id: id, name: name, lifecycleStage: lifecycleStage)
    }
    func setExperimentTag(id: String, key: String, value: String) async throws { try await inner.setExperimentTag(id: id, key: key, value: value) }
    func createRun(experimentID: String, name: String, userID: String, startTime: Int64, tags: [String: String], artifactRoot: String) async throws -> RunInfo {
        try await inner.createRun(experimentID: experimentID, name: name, userID: userID, startTime: startTime, tags: tags, artifactRoot: artifactRoot)
    }
    func run(id: String) async throws -> TrackedRun? { try await inner.run(id: id) }
    func runs(experimentIDs: [String]) async throws -> [TrackedRun] { try await inner.runs(experimentIDs: experimentIDs) }
    func runs(idPrefix prefix: String, limit: Int) async throws -> [RunInfo] { try await inner.runs(idPrefix: prefix, limit: limit) }
    func updateRun(id: String, status: RunStatus?, endTime: Int64?, name: String?, lifecycleStage: LifecycleStage?) async throws -> RunInfo {
        try await inner.updateRun(id: id, status: status, endTime: endTime, name: name, lifecycleStage: lifecycleStage)
    }
    func log(runID: String, metrics: [MetricPoint], params: [(String, String)], tags: [(String, String)]) async throws {
        try await inner.log(runID: runID, metrics: metrics, params: params, tags: tags)
    }
    func deleteTag(runID: String, key: String) async throws { try await inner.deleteTag(runID: runID, key: key) }
    func logInputs(runID: String, inputs: [String]) async throws { try await inner.logInputs(runID: runID, inputs: inputs) }
    func metricHistory(runID: String, key: String, offset: Int, limit: Int) async throws -> [MetricPoint] {
        try await inner.metricHistory(runID: runID, key: key, offset: offset, limit: limit)
    }
}

/// A real SQLite tracking store that counts its metric transactions and refuses points keyed "poison".
final class CountingStore: ForwardingStore, @unchecked Sendable {
    let transactions = Mutex(0)

    override func appendMetrics(_ points: [(runID: String, point: MetricPoint)]) async throws {
        transactions.withLock { $0 += 1 }
        if points.contains(where: { $0.point.key == "poison" }) { throw TrackingError.invalid("poisoned batch") }
        try await inner.appendMetrics(points)
    }

    /// The SQLite store underneath, for reads that bypass the tracker.
    var sqlite: SQLiteTrackingStore { inner as! SQLiteTrackingStore }
}

/// A store whose first metric write waits at a gate, then fails like GRDB does when its task was cancelled.
final class GatedStore: ForwardingStore, @unchecked Sendable {
    private let gate = Mutex<(open: Bool, waiter: CheckedContinuation<Void, Never>?, entered: Bool)>((false, nil, false))
    var entered: Bool { gate.withLock { $0.entered } }
    func open() { gate.withLock { g in g.open = true; g.waiter?.resume(); g.waiter = nil } }

    override func appendMetrics(_ points: [(runID: String, point: MetricPoint)]) async throws {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let wait = gate.withLock { g -> Bool in
                g.entered = true
                if g.open { return false }
                g.waiter = c
                return true
            }
            if !wait { c.resume() }
        }
        try Task.checkCancellation()
        try await inner.appendMetrics(points)
    }
}

/// Group commit: a logged point is committed before the call returns, and concurrent callers share transactions.
@Suite struct GroupCommitTests {
    func makeCounting() async throws -> (Tracker, CountingStore, URL) {
        let dir = try TestEnvironment.temporaryDirectory("loam-group-commit")
        let repo = try await Repository.initialize(at: dir.appendingPathComponent("repo"))
        let store = CountingStore(try SQLiteTrackingStore(catalog: try #require(repo.meta as? SQLiteMetaStore)))
        return (Tracker(repository: repo, store: store), store, dir)
    }

    @Test func everyReturnedCallIsAlreadyReadableAndConcurrentCallsShareCommits() async throws {
        let (tracker, store, dir) = try await makeCounting()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try await tracker.createRun().info.id
        let callers = 16, callsEach = 25
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<callers {
                group.addTask {
                    for i in 0..<callsEach {
                        let point = MetricPoint(key: "c\(c)", value: Double(i), timestamp: 1, step: Int64(i))
                        try await tracker.logMetrics(runID: id, [point])
                        // Acknowledged means committed: a fresh read (no flush) already has it.
                        let stored = try await store.sqlite.metricHistory(runID: id, key: "c\(c)", offset: i, limit: 1)
                        #expect(stored == [point])
                    }
                }
            }
            try await group.waitForAll()
        }
        for c in 0..<callers {
            #expect(try await tracker.metricHistory(runID: id, key: "c\(c)").items.map(\.step) == (0..<Int64(callsEach)).map { $0 })
        }
        let transactions = store.transactions.withLock { $0 }
        #expect(transactions < callers * callsEach, "\(transactions) transactions for \(callers * callsEach) calls: no commit was shared")
    }

    /// The caller writing a shared transaction is cancelled (its client went away): its own points are
    /// refused, and the callers that waited on its transaction are written all the same.
    @Test func aCancelledWriterFailsAloneAndTheWaitingCallersAreWritten() async throws {
        let (plain, counting, dir) = try await makeCounting()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gated = GatedStore(counting)
        let tracker = Tracker(repository: plain.repository, store: gated)
        let id = try await tracker.createRun().info.id
        let writer = Task { try await tracker.logMetrics(runID: id, [MetricPoint(key: "writer", value: 1, timestamp: 1, step: 0)]) }
        while !gated.entered { await Task.yield() }  // the writer holds the transaction, waiting at the gate
        let followers = (0..<3).map { i in Task { try await tracker.logMetrics(runID: id, [MetricPoint(key: "f\(i)", value: 1, timestamp: 1, step: 0)]) } }
        try await Task.sleep(for: .milliseconds(50))  // the followers queue behind the writer
        writer.cancel()
        gated.open()
        await #expect(throws: CancellationError.self) { try await writer.value }
        for follower in followers { try await follower.value }
        for i in 0..<3 { #expect(try await tracker.metricHistory(runID: id, key: "f\(i)").items.count == 1) }
        #expect(try await tracker.metricHistory(runID: id, key: "writer").items.isEmpty)
    }

    @Test func aFailingCallFailsAloneWhenItsTransactionWasShared() async throws {
        let (tracker, _, dir) = try await makeCounting()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = try await tracker.createRun().info.id
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for i in 0..<40 {
                group.addTask {
                    do {
                        try await tracker.logMetrics(runID: id, [MetricPoint(key: i == 17 ? "poison" : "ok", value: Double(i), timestamp: 1, step: Int64(i))])
                        return (i, true)
                    } catch TrackingError.invalid("poisoned batch") {
                        return (i, false)
                    }
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(results.filter { !$0.value }.map(\.key) == [17])
        #expect(Set(try await tracker.metricHistory(runID: id, key: "ok").items.map(\.step)) == Set((0..<40).filter { $0 != 17 }.map(Int64.init)))
    }
}

/// A run's recorded read gives back exactly the batches the epoch read produced.
@Suite struct LineageTests {
    @Test func reproduceGivesBackTheRecordedBatchesAtTheRecordedCommit() async throws {
        let (tracker, dir) = try await makeTracker()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repo = tracker.repository
        let csv = "id,x\n" + (0..<300).map { "\($0),\($0 * 2)" }.joined(separator: "\n") + "\n"
        try await repo.importData(from: try TestEnvironment.write(csv, to: "t.csv", in: dir), into: "t")
        let ds = try await repo.dataset("t")
        let read = EpochRead(columns: ["id"], batchSize: 32, seed: 5, epoch: 1, rank: 1, worldSize: 2, startBatch: 1)
        var expected: [[Value]] = []
        try await ds.epochBatches(read) { _, batch in expected.append((0..<batch.length).map { batch.columns[0].value(at: $0) }) }

        let source = #"{"dataset":"t","commit":"\#(ds.commit.hex)","columns":["id"],"batch_size":32,"seed":5,"epoch":1,"rank":1,"world_size":2,"start_batch":1}"#
        let input = String(decoding: try JSONSerialization.data(withJSONObject: ["dataset": ["name": "t", "source_type": "loam", "source": source]]), as: UTF8.self)
        let run = try await tracker.createRun()
        try await tracker.logInputs(runID: run.info.id, [#"{"dataset":{"source_type":"http","source":"x"}}"#, input])
        // Later writes do not change what the run read.
        try await repo.importData(from: try TestEnvironment.write("id,x\n1000,1\n", to: "u.csv", in: dir), into: "t")

        let stored = try await tracker.run(id: run.info.id)
        #expect(stored.reads == [DatasetRead(dataset: "t", commit: ds.commit.hex, read: read)])
        #expect(stored.reads[0].description == "t @ \(ds.commit.hex.prefix(12)), columns id, shuffle seed 5 epoch 1, batch 32, rank 1 of 2, from batch 1")
        var indexes: [Int] = [], got: [[Value]] = []
        let (_, schema) = try await tracker.reproduce(stored) { index, batch in
            indexes.append(index)
            #expect(batch.schema.fields.map(\.name) == ["_rowid", "id"])
            got.append((0..<batch.length).map { batch.columns[1].value(at: $0) })
        }
        #expect(got == expected && !got.isEmpty)
        #expect(indexes == Array(1..<(1 + indexes.count)))
        #expect(schema.fields.map(\.name) == ["id"])
        await #expect(throws: TrackingError.invalid("input must be 0…0: run \(run.info.id.prefix(12)) recorded 1 reads")) {
            try await tracker.reproduce(stored, input: 1) { _, _ in }
        }
    }

    @Test func anEpochReadOutOfRangeIsRefusedByName() async throws {
        #expect(throws: LoamError.invalidArgument("rank must be 0…1 for world_size 2, not 2")) { try EpochRead(rank: 2, worldSize: 2).validate() }
        #expect(throws: LoamError.invalidArgument("batch_size must be at least 1, not 0")) { try EpochRead(batchSize: 0).validate() }
        #expect(throws: LoamError.invalidArgument("batch_size × world_size must be below 2⁶³, not \(Int.max / 2)")) {
            try EpochRead(batchSize: Int.max / 2, worldSize: 3).validate()
        }
    }
}
