import Foundation
import Loam
import LoamFormat
import LoamLabels
import LoamTestSupport
import Testing

/// Labelling tasks on the embedded catalog and on PostgreSQL + S3, through two openings of one repository
/// (two servers): annotators racing through both get every item exactly as often as it needs, never one
/// twice, and a skip passes the item on across servers.
@Suite struct LabelTaskConformanceTests {
    /// A repository of the pair holding `rows` reviews and a sentiment schema; tasks over it from two openings.
    static func setup(_ pair: BackendPair, in dir: URL, rows: Int) async throws -> (LabelTasks, LabelTasks, [UInt64]) {
        let path = dir.appendingPathComponent("repo")
        let repo = try await Repository.initialize(at: path, backends: try pair.backends())
        let fields = [Field(name: "text", type: .utf8)]
        let texts = try ArrowArray.fromValues((0..<rows).map { .string("review \($0) ü") }, type: .utf8)
        try await repo.createDataset("reviews", schema: Schema(fields: fields), batches: [RecordBatch(schema: Schema(fields: fields), columns: [texts])], message: "reviews")
        let tasks = try LabelTasks(repository: repo)
        try await tasks.labels.define(LabelSchema(name: "sentiment", kind: .single, classes: ["neg", "pos"]), on: "reviews")
        var ids: [UInt64] = []
        try await repo.dataset("reviews").scan(columns: [], includeRowID: true) { b in for i in 0..<b.length { ids.append(b.columns[0].buffers[1].load(i, as: UInt64.self)) } }
        return (tasks, try LabelTasks(repository: try Repository.open(at: path)), ids)
    }

    @Test(arguments: BackendPair.available)
    func annotatorsRacingThroughTwoServersGetEachItemAsOftenAsItNeeds(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b, ids) = try await Self.setup(pair, in: dir, rows: 24)
        let task = try await a.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews", annotators: 2, overlap: 1, by: "mia")
        let people = ["ana", "bob", "cy", "dee"]
        for p in people { try await b.setMember(task.id, user: p, role: .annotator, by: "mia") }
        #expect(try await a.members(task.id, by: "mia").count == 5)
        #expect(try await b.tasks(dataset: "reviews").map(\.id) == [task.id])

        let given = try await withThrowingTaskGroup(of: [(UInt64, String)].self) { group in
            for (n, person) in people.enumerated() {
                group.addTask {
                    var mine: [(UInt64, String)] = []
                    var turn = n
                    while true {
                        let tasks = turn % 2 == 0 ? a : b  // each annotator alternates between the servers
                        turn += 1
                        guard let item = try await tasks.next(task.id, annotator: person) else { return mine }
                        #expect(item.yours == nil)
                        mine.append((item.rowID, person))
                        try await tasks.submit(task.id, rowID: item.rowID, annotator: person, input: .text(person == "dee" ? "neg" : "pos"))
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        var byRow: [UInt64: [String]] = [:]
        for (row, person) in given { byRow[row, default: []].append(person) }
        #expect(Set(byRow.keys) == Set(ids))
        for id in ids { #expect(byRow[id]!.count == 2 && Set(byRow[id]!).count == 2, "row \(id): \(byRow[id]!)") }
        let progress = try await b.progress(task.id, by: "mia")
        #expect(progress.complete == 24 && progress.annotations == 48)
        #expect(try await a.labels.annotations(of: "reviews", schema: "sentiment").filter { $0.task == task.id }.count == 48)
    }

    @Test(arguments: BackendPair.available)
    func aSkipOnOneServerPassesTheItemOnThroughTheOther(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b, _) = try await Self.setup(pair, in: dir, rows: 3)
        let task = try await a.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews ORDER BY text DESC", by: "mia")
        for p in ["ana", "bob"] { try await a.setMember(task.id, user: p, role: .annotator, by: "mia") }
        let first = try #require(try await a.next(task.id, annotator: "ana"))
        #expect(first.uncertainty == nil && first.position == 0)
        #expect(try await b.next(task.id, annotator: "ana") == first)  // still open: the same item, from the other server
        let other = try #require(try await b.next(task.id, annotator: "bob"))
        #expect(other.rowID != first.rowID)
        try await b.skip(task.id, rowID: first.rowID, annotator: "ana")
        try await a.submit(task.id, rowID: other.rowID, annotator: "bob", input: .text("pos"))
        #expect(try await b.next(task.id, annotator: "bob")?.rowID == first.rowID)  // ana's skip went to bob
        await #expect(throws: LabelError.self) { try await b.setMember(task.id, user: "eve", role: .manager, by: "ana") }
        try await b.close(task.id, by: "mia")
        #expect(try await a.tasks().first?.status == "closed")
    }

    @Test(arguments: BackendPair.available)
    func preLabelScoresQueueTheLeastSureFirst(_ pair: BackendPair) async throws {
        let dir = try TestEnvironment.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (a, b, ids) = try await Self.setup(pair, in: dir, rows: 6)
        let scores = [0.99, 0.51, 0.8, 0.6, 0.95]  // the sixth row has no pre-label
        try await a.labels.annotate(zip(ids, scores).map { Labeler.Draft(rowID: $0, schema: "sentiment", annotator: "model-v1", input: .text("pos"),
                                                                      source: .model, model: "bert", score: $1) }, on: "reviews")
        let task = try await a.create(dataset: "reviews", schema: "sentiment", query: "SELECT _rowid FROM reviews", by: "mia")
        var order: [UInt64] = [], uncertain: [Double?] = []
        while let item = try await b.next(task.id, annotator: "mia") {
            order.append(item.rowID)
            uncertain.append(item.uncertainty)
            try await b.submit(task.id, rowID: item.rowID, annotator: "mia", input: .text("neg"))
        }
        #expect(order == [ids[1], ids[3], ids[2], ids[4], ids[0], ids[5]])
        #expect(uncertain.last! == nil && uncertain.dropLast().allSatisfy { $0 != nil })
    }
}
